#include <doctest/doctest.h>

#include "agent/engine/summary.hpp"

using namespace cs231n;

TEST_CASE("summary table: one row per step, durations right-aligned, the error before the detail") {
  engine::RunOutcome outcome;
  outcome.steps = {{"conda-env", engine::StepStatus::done, 12.34, "env cs231n", "", ""},
                   {"git", engine::StepStatus::skipped, 0, "", "", ""},
                   {"nvidia-driver", engine::StepStatus::failed, 3.0, "the detail", "exited with status 1", ""},
                   {"jupyter", engine::StepStatus::interrupted, 1234.5, "", "", ""}};
  CHECK(engine::summary_table(outcome) ==
        "step           result       duration  detail\n"
        "conda-env      done           12.3 s  env cs231n\n"
        "git            skipped\n"
        "nvidia-driver  failed          3.0 s  exited with status 1\n"
        "jupyter        interrupted  1234.5 s\n");
}

TEST_CASE("summary table: the result column is as wide as the widest result, whichever results appear") {
  engine::RunOutcome outcome;
  outcome.steps = {{"a", engine::StepStatus::done, 0, "ok", "", ""}};
  CHECK(engine::summary_table(outcome) ==
        "step  result       duration  detail\n"
        "a     done                   ok\n");
}
