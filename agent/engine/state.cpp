#include "agent/engine/state.hpp"

#include <array>
#include <ctime>
#include <stdexcept>
#include <tuple>

#include <spdlog/spdlog.h>

#include "agent/core/error.hpp"

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

json to_json(const State& state) {
  json steps = json::object();
  for (const auto& [name, step] : state.steps) {
    steps[name] = {{"status", to_string(step.status)}, {"fingerprint", step.fingerprint}, {"attempts", step.attempts},
                   {"started", step.started},          {"finished", step.finished},       {"duration_s", step.duration_s},
                   {"error", step.error},              {"log", step.log},                 {"boot_id", step.boot_id},
                   {"detail", step.detail}};
  }
  const auto& run = state.run;
  return {{"format", k_state_format},
          {"agent_version", CS231N_VERSION},
          {"run",
           {{"id", run.id},
            {"state", to_string(run.state)},
            {"started", run.started},
            {"updated", run.updated},
            {"reboots", run.reboots},
            {"boot_id", run.boot_id},
            {"reboot_requested_by", run.reboot_requested_by},
            {"reboot_boot_id", run.reboot_boot_id},
            {"confirmed", run.confirmed},
            {"instance_id", run.instance_id},
            {"redo", run.redo},
            {"only", run.only},
            {"skip", run.skip},
            {"config_layers", [&] {
               json layers = json::array();
               for (const auto& layer : run.config_layers) layers.push_back(config::to_json(layer));
               return layers;
             }()},
            {"pid", run.pid},
            {"message", run.message},
            {"order", run.order}}},
          {"steps", steps}};
}

State state_from_json(const json& document) {
  State state;
  const auto& run = document.at("run");
  state.run.id = run.at("id").get<std::string>();
  const auto run_state = parse_run_state(run.at("state").get<std::string>());
  if (!run_state) throw std::runtime_error("unknown run state " + run.at("state").dump());
  state.run.state = *run_state;
  state.run.started = run.at("started").get<std::string>();
  state.run.updated = run.at("updated").get<std::string>();
  state.run.reboots = run.at("reboots").get<int>();
  state.run.boot_id = run.at("boot_id").get<std::string>();
  state.run.reboot_requested_by = run.at("reboot_requested_by").get<std::string>();
  state.run.reboot_boot_id = run.at("reboot_boot_id").get<std::string>();
  state.run.confirmed = run.at("confirmed").get<bool>();
  // Written from 0.1.1 on; a state from before has none.
  state.run.instance_id = run.value("instance_id", "");
  state.run.redo = run.value("redo", std::vector<std::string>{});
  state.run.only = run.at("only").get<std::vector<std::string>>();
  state.run.skip = run.at("skip").get<std::vector<std::string>>();
  for (const auto& layer : run.at("config_layers")) state.run.config_layers.push_back(config::layer_from_json(layer));
  state.run.pid = run.at("pid").get<int>();
  state.run.message = run.at("message").get<std::string>();
  state.run.order = run.at("order").get<std::vector<std::string>>();
  for (const auto& [name, step] : document.at("steps").items()) {
    StepRecord record;
    const auto status = parse_step_status(step.at("status").get<std::string>());
    if (!status) throw std::runtime_error("unknown status of step " + name);
    record.status = *status;
    record.fingerprint = step.at("fingerprint").get<std::string>();
    record.attempts = step.at("attempts").get<int>();
    record.started = step.at("started").get<std::string>();
    record.finished = step.at("finished").get<std::string>();
    record.duration_s = step.at("duration_s").get<double>();
    record.error = step.at("error").get<std::string>();
    record.log = step.at("log").get<std::string>();
    record.boot_id = step.at("boot_id").get<std::string>();
    record.detail = step.at("detail").get<std::string>();
    state.steps[name] = record;
  }
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
    case Parsed::ok:
      return state;
    case Parsed::missing:
      return State{};
    case Parsed::newer:
      throw Error(ExitCode::usage, state_path() + " was written by a newer cs231n-agent (state format " + std::to_string(format) +
                                       ", this one reads up to " + std::to_string(k_state_format) +
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
    throw Error(written.error().error_number == ENOSPC ? ExitCode::no_space : ExitCode::step_failed,
                "cannot write the state file: " + written.error().message);
  }
}

}  // namespace cs231n::engine
