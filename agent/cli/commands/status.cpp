#include <algorithm>
#include <iostream>

#include "agent/cli/commands/commands.hpp"
#include "agent/cli/target.hpp"
#include "agent/engine/lock.hpp"
#include "agent/engine/summary.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::cli {

namespace {

// What the running agent's progress file says of each step's downloads, when it is this run's.
nlohmann::json download_progress(const os::Files& files, const std::string& state_dir, const std::string& run_id) {
  Paths paths;
  paths.state_dir = state_dir;
  // It is replaced whole, so it is JSON; anything else shows nothing (parsed without exceptions).
  const auto document = nlohmann::json::parse(files.read(paths.progress_file()).value_or("{}"), nullptr, false);
  if (!document.is_object() || !document.contains("steps") || !document.at("steps").is_object() ||
      document.value("run", nlohmann::json()) != nlohmann::json(run_id))
    return nlohmann::json::object();
  return document.at("steps");
}

// "downloaded 1.2 GiB of 3.4 GiB (3 files)", "?" for a total not known yet.
std::string downloads_text(const nlohmann::json& progress) {
  const auto bytes = progress.value("bytes", std::uint64_t{0});
  const auto total = progress.value("total", std::uint64_t{0});
  const auto files = progress.value("files", 0u);
  const bool known = progress.value("sizes_unknown", 0u) == 0;
  return "downloaded " + util::human_bytes(bytes) + " of " + (known ? util::human_bytes(total) : std::string("?")) +
         " (" + std::to_string(files) + (files == 1 ? " file)" : " files)");
}

struct StatusOptions {
  std::string root = "/";
  std::string state_dir = Paths::k_default_state_dir;
  bool json = false;
  bool wait = false;
  double timeout_s = 0;
};

// The overall state as `status` reports it: a run whose process died shows as interrupted.
RunState effective_state(const std::optional<engine::State>& state, bool lock_held) {
  if (lock_held) return RunState::running;
  if (!state || state->empty()) return RunState::not_started;
  if (state->run.state == RunState::running) return RunState::interrupted;
  return state->run.state;
}

ExitCode status_exit_code(RunState state) {
  switch (state) {
    case RunState::done: return ExitCode::success;
    case RunState::failed: return ExitCode::step_failed;
    case RunState::not_started: return ExitCode::step_failed;
    case RunState::reboot_pending: return ExitCode::reboot_pending;
    case RunState::refused: return ExitCode::refused;
    case RunState::running: return ExitCode::busy;
    case RunState::interrupted: return ExitCode::interrupted;
  }
  return ExitCode::step_failed;
}

int show_status(const StatusOptions& options) {
  const auto system = open_system(options.root, options.state_dir);
  const engine::StateStore store(system->files(), options.state_dir);
  const auto started = std::chrono::steady_clock::now();
  auto holder = engine::RunLock::holder(system->files(), options.state_dir);
  while (options.wait && holder &&
         (options.timeout_s <= 0 ||
          std::chrono::steady_clock::now() - started < std::chrono::duration<double>(options.timeout_s))) {
    system->sleep(std::chrono::milliseconds(250));
    holder = engine::RunLock::holder(system->files(), options.state_dir);
  }
  const auto state = store.peek();
  const auto overall = effective_state(state, holder.has_value());
  const auto progress =
      state && holder ? download_progress(system->files(), options.state_dir, state->run.id) : nlohmann::json::object();
  std::optional<long long> ready;
  if (state) ready = engine::ready_after_s(state->run);
  nlohmann::json steps = nlohmann::json::array();
  std::vector<engine::SummaryRow> rows;
  if (state) {
    std::vector<std::string> names = state->run.order;
    for (const auto& [name, record] : state->steps) {
      if (std::ranges::find(names, name) == names.end()) names.push_back(name);
    }
    for (const auto& name : names) {
      const auto found = state->steps.find(name);
      const engine::StepRecord record = found == state->steps.end() ? engine::StepRecord{} : found->second;
      std::string status(engine::to_string(record.status));
      if (record.status == engine::StepStatus::running && !holder) status = "interrupted";
      const bool downloading = record.status == engine::StepStatus::running && progress.contains(name);
      steps.push_back({{"name", name},
                       {"status", status},
                       {"duration_s", record.duration_s},
                       {"error", record.error},
                       {"detail", record.detail},
                       {"attempts", record.attempts},
                       {"log", record.log},
                       {"downloads", downloading ? progress.at(name) : nlohmann::json()}});
      std::string note = record.error.empty() ? record.detail : record.error;
      if (downloading) note = downloads_text(progress.at(name));
      rows.push_back({name, status, record.duration_s, note});
    }
  }
  if (options.json) {
    nlohmann::json document = {{"state", to_string(overall)}, {"steps", steps}};
    if (state && !state->empty()) {
      document["run_id"] = state->run.id;
      document["reboots"] = state->run.reboots;
      document["updated"] = state->run.updated;
      document["message"] = state->run.message;
      document["ready_s"] = ready ? nlohmann::json(*ready) : nlohmann::json();
    }
    if (holder) document["pid"] = *holder;
    std::cout << document.dump(2) << "\n";
  } else {
    std::cout << "State: " << to_string(overall);
    if (state && !state->empty()) std::cout << " (run " << state->run.id << ", updated " << state->run.updated << ")";
    if (holder) std::cout << ", pid " << *holder;
    if (state && !state->empty()) {
      std::cout << (ready ? "; ready after " + std::to_string(*ready) + " s" : std::string("; not ready yet"));
    }
    std::cout << "\n";
    if (!rows.empty()) std::cout << engine::summary_table(rows);
    if (state && !state->run.message.empty() && !holder) std::cout << state->run.message << "\n";
  }
  return static_cast<int>(status_exit_code(overall));
}

}  // namespace

CommandRunner add_status_command(CLI::App& command, const LogOptions&) {
  auto options = std::make_shared<StatusOptions>();
  add_root_option(command, options->root);
  add_state_dir_option(command, options->state_dir);
  add_json_flag(command, options->json);
  add_wait_flag(command, options->wait);
  command.add_option("--timeout", options->timeout_s, "With --wait: give up after this many seconds");
  return [options] { return show_status(*options); };
}

}  // namespace cs231n::cli
