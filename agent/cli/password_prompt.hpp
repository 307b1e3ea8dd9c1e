#pragma once

#include <string>

namespace cs231n::cli {

// A new password: from the terminal, asked twice and not echoed (throws Error(usage) when the two
// differ), or else all of standard input without its final line break.
std::string read_new_password();

}  // namespace cs231n::cli
