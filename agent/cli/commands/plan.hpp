#pragma once

#include <string>
#include <vector>

#include "agent/cli/common_options.hpp"

namespace cs231n::cli {

struct PlanOptions {
  std::string root = "/";
  std::string config_file;
  Paths paths;
  bool json = false;
};

// What `plan` and `run --dry-run` print: every step, or those `only` names (all when empty) less
// those in `skip`, with what each would do. Exit code 4 when the machine is refused.
int print_plan(const PlanOptions& options, const std::vector<std::string>& only = {},
               const std::vector<std::string>& skip = {});

}  // namespace cs231n::cli
