#pragma once

#include <string>

namespace cs231n::cli {

// spdlog to stderr (colour only on a terminal) and, when `log_file` is not empty, to that file,
// size-capped with rotation. -v (verbosity 1) adds debug detail, -vv trace.
void setup_logging(int verbosity, const std::string& log_file);

}  // namespace cs231n::cli
