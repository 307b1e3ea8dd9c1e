#include <doctest/doctest.h>

#include "agent/core/exit_codes.hpp"

using namespace cs231n;

TEST_CASE("exit codes: every run state has one name, read back to itself") {
  for (const auto state : {RunState::not_started, RunState::running, RunState::interrupted, RunState::reboot_pending,
                           RunState::failed, RunState::refused, RunState::done}) {
    CHECK(parse_run_state(to_string(state)) == state);
  }
  CHECK(to_string(RunState::reboot_pending) == "reboot-pending");
  CHECK(to_string(RunState::not_started) == "not-started");
  CHECK_FALSE(parse_run_state("sleeping"));
}
