#include "agent/engine/session_steps.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "agent/core/error.hpp"

namespace cs231n::engine {

std::string user_named_in(const std::vector<config::Layer>& layers) {
  std::string user;
  for (const auto& layer : layers) {
    if (layer.document.contains("user")) user = layer.document.at("user").get<std::string>();
  }
  return user;
}

std::string boot_id_file(const RunOptions& options, const config::Config& config) {
  return options.boot_id_file.empty() ? config.string("reboot.boot_id_file") : options.boot_id_file;
}

std::optional<RunOutcome> reboot_still_pending(const RunRecord& run, const std::string& boot_id) {
  if (run.state != RunState::reboot_pending) return std::nullopt;
  if (boot_id != run.reboot_boot_id) {
    spdlog::info("the machine rebooted as step {} asked; continuing run {}", run.reboot_requested_by, run.id);
    return std::nullopt;
  }
  RunOutcome outcome;
  outcome.state = RunState::reboot_pending;
  outcome.code = ExitCode::reboot_pending;
  outcome.message = "the reboot that step " + run.reboot_requested_by +
                    " asked for has not happened yet (same boot id): reboot the machine (sudo reboot) "
                    "and the agent continues by itself";
  return outcome;
}

void start_or_continue_run(State& state, bool boot_check, const std::string& new_id, const std::string& now) {
  if (!state.empty() && state.run.state != RunState::done) return;
  RunRecord fresh;
  if (boot_check) {
    fresh.only = state.run.only;
    fresh.skip = state.run.skip;
    fresh.config_layers = state.run.config_layers;
    fresh.confirmed = state.run.confirmed;
  }
  fresh.instance_id = state.run.instance_id;
  state.run = std::move(fresh);
  state.run.id = new_id;
  state.run.started = now;
}

RunOptions options_for(const RunRequest& request, const RunRecord& run) {
  RunOptions options = request.options;
  if (request.resume) {
    options.only = run.only;
    options.skip = run.skip;
  }
  return options;
}

void record_request(RunRecord& run, const RunRequest& request) {
  run.only = request.options.only;
  run.skip = request.options.skip;
  run.config_layers = request.config_layers;
}

void forget_other_instance(State& state, const plan::StepList& steps,
                           const std::optional<detect::GceInstance>& instance) {
  if (!instance || instance->id.empty()) return;
  if (!state.run.instance_id.empty() && state.run.instance_id != instance->id) {
    for (const auto& step : steps) {
      const auto& name = step->info().name;
      if (!step->info().per_instance || !state.steps.contains(name)) continue;
      spdlog::info("step {} was done on instance {}, this is instance {}: it runs again", name, state.run.instance_id,
                   instance->id);
      state.steps.erase(name);
      // Its check would pass on the copied files (the other VM's TLS key): it must apply.
      if (std::ranges::find(state.run.redo, name) == state.run.redo.end()) state.run.redo.push_back(name);
    }
  }
  state.run.instance_id = instance->id;
}

void confirm_off_gce(const detect::Facts& facts, RunRecord& run, const RunRequest& request) {
  if (facts.gce || run.confirmed) return;
  const std::string question =
      "This machine is not a GCE VM. cs231n-agent is about to install Anaconda, Jupyter and "
      "drivers on it and change its configuration. Go on?";
  if (request.yes) {
    run.confirmed = true;
  } else if (!request.confirm) {
    throw Error(ExitCode::usage,
                "this machine is not a GCE VM and there is no terminal to confirm on: add --yes to "
                "let cs231n-agent change it");
  } else if (request.confirm(question)) {
    run.confirmed = true;
  } else {
    throw Error(ExitCode::usage, "not confirmed; nothing was changed");
  }
}

void end_leftover_processes(os::System& system, State& state) {
  for (auto& [name, record] : state.steps) {
    if (record.status != StepStatus::running) continue;
    const int ended = system.end_marked_processes(state.run.id + "/" + name);
    if (ended > 0) spdlog::info("ended {} process(es) left behind by step {} of a killed run", ended, name);
    record.status = StepStatus::interrupted;
  }
}

void mark_running(RunRecord& run, int pid, const std::string& boot_id, const std::string& now) {
  run.state = RunState::running;
  run.pid = pid;
  // A reboot asked for in this boot is still owed (the agent ended before it rebooted).
  if (run.reboot_boot_id != boot_id) {
    run.reboot_requested_by.clear();
    run.reboot_boot_id.clear();
  }
  run.boot_id = boot_id;
  run.updated = now;
}

}  // namespace cs231n::engine
