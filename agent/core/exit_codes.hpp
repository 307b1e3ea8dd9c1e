#pragma once

#include <optional>
#include <string_view>

namespace cs231n {

// The one table of exit codes, used by every command (README "Exit codes").
enum class ExitCode : int {
  success = 0,
  step_failed = 1,
  usage = 2,
  reboot_pending = 3,
  refused = 4,
  busy = 5,
  network = 6,
  checksum = 7,
  no_space = 8,
  interrupted = 9,
};

// What each code means, as printed by `cs231n-agent --help` and the README.
std::string_view describe(ExitCode code);

// The one enum of run states, spelled the same in `status`, JSON and guest attributes.
enum class RunState {
  not_started,
  running,
  interrupted,
  reboot_pending,
  failed,
  refused,
  done,
};

std::string_view to_string(RunState state);
std::optional<RunState> parse_run_state(std::string_view text);

}  // namespace cs231n
