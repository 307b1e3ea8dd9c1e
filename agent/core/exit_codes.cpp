#include "agent/core/exit_codes.hpp"

#include <array>
#include <utility>

namespace cs231n {

std::string_view describe(ExitCode code) {
  switch (code) {
    case ExitCode::success: return "success";
    case ExitCode::step_failed: return "a step failed";
    case ExitCode::usage: return "usage or config error";
    case ExitCode::reboot_pending: return "reboot pending";
    case ExitCode::refused: return "unsupported or refused";
    case ExitCode::busy: return "another run is active";
    case ExitCode::network: return "network failure after retries";
    case ExitCode::checksum: return "checksum mismatch";
    case ExitCode::no_space: return "not enough disk space";
    case ExitCode::interrupted: return "interrupted (signal)";
  }
  return "unknown";
}

namespace {
constexpr std::array<std::pair<RunState, std::string_view>, 7> k_run_state_names{{
    {RunState::not_started, "not-started"},
    {RunState::running, "running"},
    {RunState::interrupted, "interrupted"},
    {RunState::reboot_pending, "reboot-pending"},
    {RunState::failed, "failed"},
    {RunState::refused, "refused"},
    {RunState::done, "done"},
}};
}  // namespace

std::string_view to_string(RunState state) {
  for (const auto& [value, name] : k_run_state_names) {
    if (value == state) return name;
  }
  return "unknown";
}

std::optional<RunState> parse_run_state(std::string_view text) {
  for (const auto& [value, name] : k_run_state_names) {
    if (name == text) return value;
  }
  return std::nullopt;
}

}  // namespace cs231n
