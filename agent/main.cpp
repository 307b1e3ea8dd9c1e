#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "agent/cli/cli.hpp"
#include "agent/core/error.hpp"

int main(int argc, char** argv) {
  const std::vector<std::string> arguments(argv + 1, argv + argc);
  try {
    return cs231n::cli::run_cli(arguments);
  } catch (const cs231n::Error& error) {
    std::fprintf(stderr, "cs231n-agent: error: %s\n", error.what());
    return static_cast<int>(error.code());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cs231n-agent: error: unexpected failure: %s\n", error.what());
    return static_cast<int>(cs231n::ExitCode::step_failed);
  }
}
