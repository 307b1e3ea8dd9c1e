#include "agent/engine/state.hpp"

#include <array>
#include <cerrno>
#include <ctime>
#include <stdexcept>
#include <tuple>

#include <spdlog/spdlog.h>

#include "agent/core/error.hpp"
#include "agent/util/time.hpp"

namespace cs231n::engine {

namespace {

using nlohmann::json;

constexpr std::array<std::pair<StepStatus, std::string_view>, 7> k_step_status_names{{
    {StepStatus::pending, "pending"},
    {StepStatus::running, "running"},
    {StepStatus::done, "done"},
    {StepStatus::failed, "failed"},
    {StepStatus::skipped, "skipped"},
    {StepStatus::refused, "refused"},
    {StepStatus::interrupted, "interrupted"},
}};

}  // namespace

std::string_view to_string(StepStatus status) {
  for (const auto& [value, name] : k_step_status_names) {
    if (value == status) return name;
  }
  return "pending";
}

std::optional<StepStatus> parse_step_status(std::string_view text) {
  for (const auto& [value, name] : k_step_status_names) {
    if (name == text) return value;
  }
  return std::nullopt;
}

// Each field is stored under its member's name. Every field is required (a file missing one is
// corrupt and set aside); fields added later are filled in by upgrade(). tests/fixtures/state holds
// files that must keep loading and saving to the same bytes.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StepRecord, status, fingerprint, attempts, started, finished, duration_s, error, log,
                                   boot_id, detail)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RunRecord, id, state, started, updated, ready, reboots, boot_id, reboot_requested_by,
                                   reboot_boot_id, confirmed, instance_id, redo, only, skip, config_layers, pid,
                                   message, order)

// Not NLOHMANN_JSON_SERIALIZE_ENUM: it would be a second table of the names, and it reads an
// unknown name as the first value instead of refusing it.
void to_json(json& value, StepStatus status) { value = to_string(status); }

void from_json(const json& value, StepStatus& status) {
  const auto parsed = parse_step_status(value.get<std::string>());
  if (!parsed) throw std::runtime_error("unknown step status " + value.dump());
  status = *parsed;
}

namespace {

// Format 1 as the first agents wrote it (before instance ids) had no run.instance_id, no run.redo;
// until the ready moment, no run.ready.
void upgrade(json& document) {
  auto& run = document.at("run");
  if (!run.contains("instance_id")) run["instance_id"] = "";
  if (!run.contains("redo")) run["redo"] = json::array();
  if (!run.contains("ready")) run["ready"] = "";
}

}  // namespace

std::optional<long long> ready_after_s(const RunRecord& run) {
  const auto started = util::parse_iso8601(run.started);
  const auto ready = util::parse_iso8601(run.ready);
  if (!started || !ready) return std::nullopt;
  return std::max(0LL,
                  static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(*ready - *started).count()));
}

json to_json(const State& state) {
  return {{"format", k_state_format}, {"agent_version", CS231N_VERSION}, {"run", state.run}, {"steps", state.steps}};
}

State state_from_json(const json& document) {
  json upgraded = document;
  upgrade(upgraded);
  State state;
  state.run = upgraded.at("run").get<RunRecord>();
  state.steps = upgraded.at("steps").get<std::map<std::string, StepRecord>>();
  return state;
}

StateStore::StateStore(const os::Files& files, std::string state_dir) : m_files(files), m_dir(std::move(state_dir)) {}

void StateStore::prepare() const {
  if (auto made = m_files.make_dirs(m_dir + "/logs", 0700); !made) {
    throw Error(ExitCode::step_failed, "cannot create the state folder " + m_dir + ": " + made.error().message);
  }
}

namespace {

enum class Parsed { ok, missing, corrupt, newer };

Parsed parse_state(const os::Files& files, const std::string& path, State& state, std::string& problem, int& format) {
  auto text = files.read(path);
  if (!text) {
    if (text.error().error_number == ENOENT) return Parsed::missing;
    problem = text.error().message;
    return Parsed::corrupt;
  }
  try {
    const auto document = json::parse(*text);
    format = document.at("format").get<int>();
    if (format > k_state_format) return Parsed::newer;
    state = state_from_json(document);
    return Parsed::ok;
  } catch (const std::exception& error) {
    problem = error.what();
    return Parsed::corrupt;
  }
}

}  // namespace

State StateStore::load(const std::string& now_stamp) const {
  // Saves cut short by a kill: the rename never happened, so their temp files hold nothing.
  m_files.remove_stale_temps(state_path());
  State state;
  std::string problem;
  int format = 0;
  switch (parse_state(m_files, state_path(), state, problem, format)) {
    case Parsed::ok: return state;
    case Parsed::missing: return State{};
    case Parsed::newer:
      throw Error(ExitCode::usage, state_path() + " was written by a newer cs231n-agent (state format " +
                                       std::to_string(format) + ", this one reads up to " +
                                       std::to_string(k_state_format) +
                                       "): run that newer agent, or `cs231n-agent reset --all` to start over");
    case Parsed::corrupt: {
      const std::string aside = state_path() + ".corrupt-" + now_stamp;
      std::ignore = m_files.rename(state_path(), aside);
      spdlog::warn("the state file {} could not be read ({}); moved it to {} and re-checking every step", state_path(),
                   problem, aside);
      return State{};
    }
  }
  return State{};
}

std::optional<State> StateStore::peek() const {
  State state;
  std::string problem;
  int format = 0;
  if (parse_state(m_files, state_path(), state, problem, format) == Parsed::ok) return state;
  return std::nullopt;
}

void StateStore::save(const State& state) const {
  if (auto written = m_files.write_atomic(state_path(), to_json(state).dump(1) + "\n", 0600); !written) {
    if (written.error().error_number == ENOSPC || written.error().error_number == EDQUOT) {
      throw Error(ExitCode::no_space, "cannot save the state: no space left on the disk of " +
                                          m_files.host_path(m_dir).string() + " (" + written.error().message +
                                          "); free some space there and run `cs231n-agent run` again");
    }
    throw Error(ExitCode::step_failed, "cannot write the state file: " + written.error().message);
  }
}

}  // namespace cs231n::engine

namespace cs231n {

void to_json(nlohmann::json& value, RunState state) { value = to_string(state); }

void from_json(const nlohmann::json& value, RunState& state) {
  const auto parsed = parse_run_state(value.get<std::string>());
  if (!parsed) throw std::runtime_error("unknown run state " + value.dump());
  state = *parsed;
}

}  // namespace cs231n
