#pragma once

#include <expected>
#include <string>

namespace cs231n::util {

// Low-level failure as a value: what went wrong, in words fit for the one-line error a user sees,
// and the errno behind it when there is one (0 otherwise).
struct Failure {
  std::string message;
  int error_number = 0;
  // An exit code from the agent's table that fits this failure better than "a step failed"
  // (network, checksum, disk space); 0 when none does.
  int exit_code = 0;
};

template <typename T>
using Result = std::expected<T, Failure>;

using Unexpected = std::unexpected<Failure>;

inline Unexpected fail(std::string message, int error_number = 0) {
  return std::unexpected(Failure{std::move(message), error_number, 0});
}

}  // namespace cs231n::util
