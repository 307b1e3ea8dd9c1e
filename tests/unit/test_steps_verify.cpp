#include <doctest/doctest.h>

#include "steps/verify.hpp"

using namespace cs231n;

TEST_CASE("verify table: ok or FAIL, the check, its detail") {
  steps::VerifyReport report;
  report.checks = {{"torch", true, "torch 2.1.0 built for CUDA 12.1 in env cs231n"},
                   {"nvidia-smi", true, "Tesla T4, driver 535.104.05"},
                   {"torch.cuda", false, "torch.cuda.is_available() is False"}};
  CHECK(report.to_table() ==
        "ok    torch       torch 2.1.0 built for CUDA 12.1 in env cs231n\n"
        "ok    nvidia-smi  Tesla T4, driver 535.104.05\n"
        "FAIL  torch.cuda  torch.cuda.is_available() is False\n");
}
