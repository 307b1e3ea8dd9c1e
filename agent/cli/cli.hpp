#pragma once

#include <string>
#include <vector>

namespace cs231n::cli {

// Parses the command line and runs the command. Returns the process exit code; throws
// cs231n::Error for failures (main turns it into one line and its exit code).
int run_cli(const std::vector<std::string>& arguments);

// The exit-code table, as shown at the end of --help and in the README.
std::string exit_code_table();

}  // namespace cs231n::cli
