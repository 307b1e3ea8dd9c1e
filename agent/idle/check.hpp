#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/core/paths.hpp"
#include "agent/idle/signals.hpp"
#include "agent/os/system.hpp"

namespace cs231n::idle {

// Logged-in users are warned this long before the power-off; the timer checks this often.
inline constexpr std::chrono::minutes k_warning_lead{5};
inline constexpr std::chrono::minutes k_check_interval{5};
// How much earlier than planned a check may power off: the timer is not exact to the second, and
// a check five minutes after the warning must not wait five more.
inline constexpr std::chrono::minutes k_timer_slack{1};

// What `idle-check` needs to know, from the config and the facts (settings_from, settings.hpp).
struct Settings {
  bool enabled = true;
  bool gce = true;  // off GCE the machine is never powered off (it may be someone's workstation)
  std::chrono::minutes minutes{60};
  std::vector<std::string> power_off_command{"systemctl", "poweroff"};
  int cpu_load_percent = 50;
  int gpu_percent = 10;
  std::chrono::minutes busy_max{60};  // apply_busy_limit (signals.hpp)
  std::string state_dir = Paths::k_default_state_dir;
  JupyterSource jupyter;
  // Jupyter's folder (assignments.folder) and its owner: the warning is also a file there, which
  // the notebook's file browser shows. Empty without a target user.
  std::string user;
  std::string notebook_dir;
};

// The warning as a file in Jupyter's folder, written as the user when the check warns and removed
// (as the user) by the first check that is not in a warning period any more.
inline constexpr const char* k_warning_file_name = "IDLE-SHUTDOWN-WARNING.txt";

// <state-dir>/idle.json (0600): when this boot was last active, and the pending warning.
struct IdleState {
  std::string boot_id;
  std::optional<TimePoint> last_active;
  std::optional<TimePoint> warned_at;
  std::optional<TimePoint> last_check;
};

std::string idle_state_path(const std::string& state_dir);
// nullopt when missing or unreadable (the idle time then starts at this check).
std::optional<IdleState> load_idle_state(const os::Files& files, const std::string& state_dir);
// Atomic and durable (temp file, fsync, rename, fsync of the folder), like the run state.
util::Result<void> save_idle_state(const os::Files& files, const std::string& state_dir, const IdleState& state);

enum class Action { none, warn, power_off, disabled };
std::string_view to_string(Action action);

// The window arithmetic, without side effects.
struct Verdict {
  Action action = Action::none;
  bool active = false;                 // some signal is busy right now
  TimePoint last_active;               // the idle time runs from here
  TimePoint deadline;                  // last_active + minutes
  std::optional<TimePoint> warned_at;  // the warning of this idle period, if any (now when action is warn)
  std::optional<TimePoint> power_off_at;
};

// `previous` from another boot, or none, starts the idle time now (a VM that was just started
// again must not go down at once). Any active signal makes now the last activity; otherwise the
// newest last_seen of a signal (clamped to now) or the stored time, whichever is later. A warning
// older than the last activity is void. Idle for `minutes` - k_warning_lead: warn once. Power off
// only after that warning, at the deadline, and at least k_warning_lead after the warning (less
// k_timer_slack), so users always get their minutes.
Verdict decide(const std::optional<IdleState>& previous, const std::string& boot_id, const std::vector<Signal>& signals,
               TimePoint now, std::chrono::minutes minutes);

struct Report {
  Action action = Action::none;
  bool dry_run = false;
  std::string reason;  // why the action (or why none), one line
  TimePoint now;
  std::chrono::minutes minutes{0};
  std::optional<Verdict> verdict;  // absent when disabled
  std::vector<Signal> signals;
};

// The message `wall` gets on stdin: how long the VM was idle, what counted as idle, and when it
// powers off.
std::string warning_message(const Verdict& verdict, const std::vector<Signal>& signals, TimePoint now);

// One check: reads every signal, decides, records the state, and warns (`wall`, the message on
// stdin, and k_warning_file_name in Jupyter's folder) or powers off (the configured command, while holding the run lock
// so that no run can start under it) as decided. Why it powers off is logged before the command runs. With dry_run
// nothing is written, warned or run. Disabled, or off GCE: nothing is read or done. Throws Error when the state cannot
// be written or the power-off command fails.
Report run_check(os::System& system, const Settings& settings, bool dry_run,
                 const KernelsFetcher& fetch = fetch_kernels);

nlohmann::json to_json(const Report& report);
// A few lines for a person (and the journal): the verdict, then one line per signal.
std::string to_text(const Report& report);

}  // namespace cs231n::idle
