#pragma once

#include <stdexcept>
#include <string>

#include "agent/core/exit_codes.hpp"

namespace cs231n {

// The one exception type. Low-level code returns errors as values (util::Result); code that
// decides the run cannot go on throws Error, and main catches it once, prints
// "cs231n-agent: error: <message>" and exits with code().
// The message is one line naming the problem and the fix.
class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), m_code(code) {}
  ExitCode code() const { return m_code; }

 private:
  ExitCode m_code;
};

}  // namespace cs231n
