#include "agent/idle/check.hpp"

#include <algorithm>
#include <cerrno>

#include <spdlog/spdlog.h>

#include "agent/core/error.hpp"
#include "agent/engine/lock.hpp"
#include "agent/engine/state.hpp"
#include "agent/util/strings.hpp"
#include "agent/util/time.hpp"

namespace cs231n::idle {

namespace {

using nlohmann::json;
using std::chrono::minutes;

constexpr int k_idle_state_format = 1;

json time_or_null(const std::optional<TimePoint>& time) { return time ? json(util::iso8601(*time)) : json(nullptr); }

std::optional<TimePoint> time_from(const json& document, const char* key) {
  const auto found = document.find(key);
  if (found == document.end() || !found->is_string()) return std::nullopt;
  return util::parse_iso8601(found->get<std::string>());
}

long long whole_minutes(TimePoint from, TimePoint to) {
  return std::chrono::duration_cast<minutes>(std::max(to - from, TimePoint::duration::zero())).count();
}

// Minutes left until `when`, rounded up, for "in about N minutes".
long long minutes_until(TimePoint now, TimePoint when) {
  const auto left = std::max(when - now, TimePoint::duration::zero());
  return std::chrono::ceil<minutes>(left).count();
}

std::string active_names(const std::vector<Signal>& signals) {
  std::vector<std::string> parts;
  for (const auto& signal : signals) {
    if (signal.active) parts.push_back(signal.name + " (" + signal.detail + ")");
  }
  return util::join(parts, ", ");
}

// Every signal in one line, for the log line that says why the VM goes down.
std::string all_signals(const std::vector<Signal>& signals) {
  std::vector<std::string> parts;
  for (const auto& signal : signals) parts.push_back(signal.name + ": " + signal.detail);
  return util::join(parts, "; ");
}

std::string reason_for(const Verdict& verdict, const Report& report, const Settings& settings) {
  const auto now = report.now;
  const std::string since = "idle for " + std::to_string(whole_minutes(verdict.last_active, now)) + " min (since " +
                            util::iso8601(verdict.last_active) + ", power-off after " +
                            std::to_string(settings.minutes.count()) + " idle minutes)";
  switch (verdict.action) {
    case Action::warn:
      return since + ": " + (report.dry_run ? "would warn" : "warned") + " logged-in users (wall); power-off at " +
             util::iso8601(*verdict.power_off_at);
    case Action::power_off:
      return since + ", warned at " + util::iso8601(*verdict.warned_at) + ": " +
             (report.dry_run ? "would power" : "powering") +
             " the VM off with: " + util::join(settings.power_off_command, " ");
    case Action::none:
    case Action::disabled: break;
  }
  if (verdict.active) return "active now: " + active_names(report.signals) + "; the idle time starts over";
  if (verdict.power_off_at)
    return since + "; warned at " + util::iso8601(*verdict.warned_at) + ", power-off at " +
           util::iso8601(*verdict.power_off_at);
  return since + "; warning at " + util::iso8601(verdict.deadline - k_warning_lead) + ", power-off at " +
         util::iso8601(verdict.deadline) + " at the earliest";
}

void warn_users(os::System& system, const std::string& message) {
  os::Command wall;
  wall.argv = {"wall"};
  wall.input = message;
  wall.timeout = std::chrono::seconds(30);
  const auto result = system.run(wall);
  if (!result) {
    spdlog::warn("cannot warn logged-in users: {}", result.error().message);
  } else if (!result->ok()) {
    spdlog::warn("cannot warn logged-in users: wall {}: {}", result->describe(), result->output_tail);
  }
}

std::string warning_file(const Settings& settings) {
  return settings.notebook_dir.empty() ? std::string() : settings.notebook_dir + "/" + k_warning_file_name;
}

// As the user (it is their folder); a failure is logged, never fatal: wall has warned already.
void run_as_user(os::System& system, const Settings& settings, std::vector<std::string> argv, std::string input,
                 std::string_view what) {
  os::Command command;
  command.argv = std::move(argv);
  command.user = settings.user;
  command.input = std::move(input);
  command.timeout = std::chrono::seconds(30);
  const auto result = system.run(command);
  if (!result) {
    spdlog::warn("cannot {} {}: {}", what, warning_file(settings), result.error().message);
  } else if (!result->ok()) {
    spdlog::warn("cannot {} {}: {} {}: {}", what, warning_file(settings), command.argv.front(), result->describe(),
                 result->output_tail);
  }
}

void show_warning_in_jupyter(os::System& system, const Settings& settings, const std::string& message) {
  if (warning_file(settings).empty()) return;
  run_as_user(system, settings, {"install", "-m", "0644", "/dev/stdin", warning_file(settings)}, message,
              "write the warning to");
}

void remove_warning_from_jupyter(os::System& system, const Settings& settings) {
  if (warning_file(settings).empty()) return;
  // Looked at without following a symlink (a link the user left there is removed, never read);
  // when a folder on the way is one, rm, as the user, sees for itself.
  const auto there = system.files().stat_user_path(warning_file(settings));
  if (!there && there.error().error_number == ENOENT) return;
  run_as_user(system, settings, {"rm", "-f", "--", warning_file(settings)}, "", "remove the warning");
}

}  // namespace

std::string_view to_string(Action action) {
  switch (action) {
    case Action::none: return "none";
    case Action::warn: return "warn";
    case Action::power_off: return "power-off";
    case Action::disabled: return "disabled";
  }
  return "none";
}

std::string idle_state_path(const std::string& state_dir) { return state_dir + "/idle.json"; }

std::optional<IdleState> load_idle_state(const os::Files& files, const std::string& state_dir) {
  const auto text = files.read(idle_state_path(state_dir));
  if (!text) return std::nullopt;
  try {
    const auto document = json::parse(*text);
    if (!document.is_object() || document.value("format", 0) != k_idle_state_format) return std::nullopt;
    return IdleState{document.value("boot_id", ""), time_from(document, "last_active"),
                     time_from(document, "warned_at"), time_from(document, "last_check")};
  } catch (const json::exception&) {
    spdlog::warn("{} is not valid; the idle time starts at this check", idle_state_path(state_dir));
    return std::nullopt;
  }
}

util::Result<void> save_idle_state(const os::Files& files, const std::string& state_dir, const IdleState& state) {
  if (auto made = files.make_dirs(state_dir, 0700); !made) return made;
  const json document = {{"format", k_idle_state_format},
                         {"boot_id", state.boot_id},
                         {"last_active", time_or_null(state.last_active)},
                         {"warned_at", time_or_null(state.warned_at)},
                         {"last_check", time_or_null(state.last_check)}};
  return files.write_atomic(idle_state_path(state_dir), document.dump(2) + "\n", 0600);
}

Verdict decide(const std::optional<IdleState>& previous, const std::string& boot_id, const std::vector<Signal>& signals,
               TimePoint now, minutes window) {
  Verdict verdict;
  const bool same_boot = previous && previous->last_active && previous->boot_id == boot_id;
  verdict.last_active = same_boot ? std::min(*previous->last_active, now) : now;
  for (const auto& signal : signals) {
    verdict.active = verdict.active || signal.active;
    if (signal.last_seen) verdict.last_active = std::max(verdict.last_active, std::min(*signal.last_seen, now));
  }
  if (verdict.active) verdict.last_active = now;
  verdict.deadline = verdict.last_active + window;
  if (same_boot && previous->warned_at && *previous->warned_at >= verdict.last_active && *previous->warned_at <= now) {
    verdict.warned_at = previous->warned_at;
  }
  if (verdict.active || now < verdict.deadline - k_warning_lead) {
    // Not in the last minutes: a warning from before (a longer idle_shutdown.minutes since) is void.
    verdict.warned_at.reset();
    return verdict;
  }
  if (!verdict.warned_at) {
    verdict.action = Action::warn;
    verdict.warned_at = now;
    verdict.power_off_at = std::max(verdict.deadline, now + k_warning_lead);
    return verdict;
  }
  verdict.power_off_at = std::max(verdict.deadline, *verdict.warned_at + k_warning_lead);
  if (now + k_timer_slack >= *verdict.power_off_at) verdict.action = Action::power_off;
  return verdict;
}

std::string warning_message(const Verdict& verdict, const std::vector<Signal>& signals, TimePoint now) {
  const TimePoint power_off_at = verdict.power_off_at.value_or(verdict.deadline);
  const auto jupyter = std::ranges::find(signals, "jupyter", &Signal::name);
  const std::string kernels =
      jupyter == signals.end() || jupyter->discounted.empty() ? "no busy Jupyter kernel, " : jupyter->discounted + "; ";
  return "cs231n-agent: this VM has been idle since " + util::iso8601(verdict.last_active) + " (" + kernels +
         "no terminal input, idle GPU and CPU) and powers off in about " +
         std::to_string(minutes_until(now, power_off_at)) + " minutes, at " + util::iso8601(power_off_at) +
         ".\nType in a terminal or run a notebook cell to keep it running. To turn idle shutdown off: "
         "gcloud compute instances add-metadata VM --metadata cs231n-idle-shutdown=false\n";
}

Report run_check(os::System& system, const Settings& settings, bool dry_run, const KernelsFetcher& fetch) {
  Report report;
  report.now = system.now();
  report.dry_run = dry_run;
  report.minutes = settings.minutes;
  if (!settings.enabled || !settings.gce) {
    report.action = Action::disabled;
    report.reason =
        !settings.enabled
            ? "idle shutdown is disabled (idle_shutdown.enabled is false): nothing to check"
            : "not a GCE VM: idle shutdown never powers off another machine (it may be someone's workstation)";
    return report;
  }
  const auto& files = system.files();
  report.signals = {jupyter_signal(files, settings.jupyter, fetch), ssh_signal(files),
                    gpu_signal(system, settings.gpu_percent), cpu_signal(files, settings.cpu_load_percent),
                    run_signal(files, settings.state_dir)};
  apply_probe_grace(report.signals.front(), jupyter_changed_at(files, settings.jupyter.changed_file), report.now);
  apply_busy_limit(report.signals, report.now, settings.busy_max);
  const std::string boot_id = system.boot_id();
  const auto previous = load_idle_state(files, settings.state_dir);
  auto verdict = decide(previous, boot_id, report.signals, report.now, settings.minutes);

  // Held from here through the power-off command: no run can start on a machine going down.
  std::optional<engine::RunLock> lock;
  if (verdict.action == Action::power_off && !dry_run) {
    if (auto made = files.make_dirs(settings.state_dir, 0700); !made)
      throw Error(ExitCode::step_failed, made.error().message);
    auto taken = engine::RunLock::try_acquire(files, settings.state_dir);
    if (!taken) throw Error(ExitCode::step_failed, "cannot take the run lock: " + taken.error().message);
    if (*taken) {
      lock.emplace(std::move(**taken));
    } else {
      auto& run = report.signals.back();
      run.active = true;
      run.detail = "a cs231n-agent run took the run lock during this check";
      verdict = decide(previous, boot_id, report.signals, report.now, settings.minutes);
    }
  }
  report.verdict = verdict;
  report.action = verdict.action;
  report.reason = reason_for(verdict, report, settings);
  for (const auto& signal : report.signals) {
    if (signal.unknown) spdlog::warn("idle check: {} cannot tell: {}", signal.name, signal.detail);
  }
  if (dry_run) return report;

  const IdleState state{boot_id, verdict.last_active, verdict.warned_at, report.now};
  if (auto saved = save_idle_state(files, settings.state_dir, state); !saved) {
    throw Error(ExitCode::step_failed, "cannot record the idle state: " + saved.error().message);
  }
  if (!verdict.warned_at) remove_warning_from_jupyter(system, settings);
  if (verdict.action == Action::warn) {
    spdlog::warn("{}", report.reason);
    const auto message = warning_message(verdict, report.signals, report.now);
    warn_users(system, message);
    show_warning_in_jupyter(system, settings, message);
  } else if (verdict.action == Action::power_off) {
    // Said before the command runs: the machine may be gone before anything after it is written.
    spdlog::warn("{}. Signals: {}", report.reason, all_signals(report.signals));
    os::Command power_off;
    power_off.argv = settings.power_off_command;
    power_off.timeout = std::chrono::minutes(2);
    const auto result = system.run(power_off);
    if (!result) throw Error(ExitCode::step_failed, "cannot run the power-off command: " + result.error().message);
    if (!result->ok()) {
      throw Error(ExitCode::step_failed, "the power-off command (" + util::join(settings.power_off_command, " ") +
                                             ") " + result->describe() + ": " + result->output_tail);
    }
  }
  return report;
}

json to_json(const Report& report) {
  json signals = json::array();
  for (const auto& signal : report.signals) {
    signals.push_back({{"name", signal.name},
                       {"state", signal.active    ? "active"
                                 : signal.unknown ? "unknown"
                                                  : "quiet"},
                       {"last_seen", time_or_null(signal.last_seen)},
                       {"detail", signal.detail}});
  }
  json document = {{"action", to_string(report.action)}, {"dry_run", report.dry_run},         {"reason", report.reason},
                   {"now", util::iso8601(report.now)},   {"minutes", report.minutes.count()}, {"signals", signals}};
  if (const auto& verdict = report.verdict) {
    document["active"] = verdict->active;
    document["last_active"] = util::iso8601(verdict->last_active);
    document["idle_minutes"] = whole_minutes(verdict->last_active, report.now);
    document["deadline"] = util::iso8601(verdict->deadline);
    document["warned_at"] = time_or_null(verdict->warned_at);
    document["power_off_at"] = time_or_null(verdict->power_off_at);
  }
  return document;
}

std::string to_text(const Report& report) {
  std::string text = report.reason + "\n";
  for (const auto& signal : report.signals) {
    const std::string state = signal.active ? "active" : signal.unknown ? "unknown" : "quiet";
    std::string name = "  " + signal.name;
    name.resize(std::max<std::size_t>(name.size() + 2, 13), ' ');
    text += name + state + std::string(9 - state.size(), ' ') + signal.detail + "\n";
  }
  return text;
}

}  // namespace cs231n::idle
