#include "agent/engine/session.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <thread>

#include "agent/core/error.hpp"
#include "agent/engine/lock.hpp"
#include "agent/util/hash.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::engine {

namespace {

RunLock take_lock(os::System& system, const RunRequest& request) {
  bool announced = false;
  while (true) {
    auto lock = RunLock::try_acquire(system.files(), request.state_dir);
    if (!lock) throw Error(ExitCode::step_failed, "cannot take the run lock: " + lock.error().message);
    if (*lock) return std::move(**lock);
    const auto pid = RunLock::holder(system.files(), request.state_dir).value_or(0);
    if (!request.wait_for_lock) {
      throw Error(ExitCode::busy, "another cs231n-agent run is active (pid " + std::to_string(pid) +
                                      "); wait for it with `cs231n-agent status --wait`, or add --wait");
    }
    if (!announced) {
      spdlog::info("another cs231n-agent run is active (pid {}); waiting for it to end", pid);
      announced = true;
    }
    if (request.options.interrupt && request.options.interrupt->load()) {
      throw Error(ExitCode::interrupted, "interrupted while waiting for the other run");
    }
    system.sleep(std::chrono::milliseconds(200));
  }
}

void install_resume_unit(os::System& system, const std::string& state_dir) {
  const std::string content = resume_unit(state_dir);
  const auto current = system.files().read(std::string("/etc/systemd/system/") + k_resume_unit);
  auto& services = system.services();
  if (!current || *current != content) {
    if (auto installed = services.install_unit(k_resume_unit, content); !installed) {
      spdlog::warn("cannot install {}: {}; after a reboot, run `sudo cs231n-agent resume`", k_resume_unit, installed.error().message);
      return;
    }
  }
  // Enabled, not started: starting it now would only find this run's lock.
  if (auto enabled = services.enable(k_resume_unit, "multi-user.target", false); !enabled) {
    spdlog::warn("cannot enable {}: {}; after a reboot, run `sudo cs231n-agent resume`", k_resume_unit, enabled.error().message);
  }
}

}  // namespace

std::string resume_unit(const std::string& state_dir) {
  return "# Written by cs231n-agent: continues an unfinished setup at every boot (a no-op when done).\n"
         "[Unit]\n"
         "Description=cs231n-agent: continue the cs231n setup after a reboot\n"
         "Wants=network-online.target\n"
         "After=network-online.target\n"
         "ConditionPathExists=" + std::string(k_installed_agent) + "\n"
         "\n"
         "[Service]\n"
         "Type=oneshot\n"
         // --wait: at boot the startup script's `run` may hold the lock; resume checks after it.
         "ExecStart=" + std::string(k_installed_agent) + " resume --wait --state-dir " + state_dir + "\n"
         "TimeoutStartSec=0\n"
         "StandardOutput=journal+console\n"
         "StandardError=journal+console\n"
         "\n"
         "[Install]\n"
         "WantedBy=multi-user.target\n";
}

void install_self(os::System& system, bool force) {
  const auto& files = system.files();
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error || self == k_installed_agent) return;
  auto binary = files.read(self.string(), 256u << 20);
  if (!binary) {
    spdlog::warn("cannot read the running agent ({}) to install it: {}", self.string(), binary.error().message);
    return;
  }
  if (auto installed = files.read(k_installed_agent, 256u << 20); installed) {
    if (*installed == *binary) return;
    os::Command version;
    version.argv = {k_installed_agent, "version"};
    version.capture_stdout = true;
    version.timeout = std::chrono::seconds(10);
    const auto answer = system.run(version);
    const auto words = answer && answer->ok() ? util::split_whitespace(answer->stdout_text) : std::vector<std::string>{};
    const std::string installed_version = words.size() >= 2 ? words[1] : "";
    if (!installed_version.empty() && util::compare_versions(installed_version, CS231N_VERSION) > 0 && !force) {
      spdlog::warn("{} is version {}, newer than this agent ({}): not replacing it (--force would)", k_installed_agent,
                   installed_version, CS231N_VERSION);
      return;
    }
  }
  if (auto made = files.make_dirs("/usr/local/bin", 0755); !made) {
    spdlog::warn("cannot install the agent: {}", made.error().message);
    return;
  }
  if (auto written = files.write_atomic(k_installed_agent, *binary, 0755); !written) {
    spdlog::warn("cannot install the agent to {}: {}", k_installed_agent, written.error().message);
    return;
  }
  spdlog::info("installed cs231n-agent {} as {}", CS231N_VERSION, k_installed_agent);
}

namespace {

// A VM made from another VM's image (scripts/bake-image.sh) carries that VM's state: what belongs
// to one instance runs again.
void forget_other_instance(State& state, const plan::StepList& steps, const std::optional<detect::GceInstance>& instance) {
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

}  // namespace

SessionResult run_session(os::System& system, const StepFactory& make_steps, const RunRequest& request, Progress& progress) {
  if (!system.files().is_host_root()) {
    throw Error(ExitCode::usage, "run and resume change the machine, so they work only on the real root; --root is for "
                                 "detect, plan and status (tests run the agent inside a chroot)");
  }
  SessionResult result;
  // An OS or architecture the agent does not support is refused before anything is written: no
  // state, no lock file, no installed agent, no unit that would run it again at every boot.
  if (const auto unsupported = detect::gather_facts(system, "").unsupported_reason()) {
    result.ran = true;
    result.outcome.state = RunState::refused;
    result.outcome.code = ExitCode::refused;
    result.outcome.message = *unsupported;
    return result;
  }
  const StateStore store(system.files(), request.state_dir);
  store.prepare();
  const auto lock = take_lock(system, request);
  State state = store.load(util::random_hex(4));

  if (request.resume && state.empty()) {
    spdlog::info("nothing to resume: no run was started");
    result.outcome.state = RunState::not_started;
    return result;
  }
  // At a boot after a finished run, resume still re-checks the steps that can break by themselves
  // (a kernel update takes the nvidia module away); everything else recorded done is skipped.
  const bool boot_check = request.resume && state.run.state == RunState::done;
  if (boot_check) spdlog::info("the last run is done; checking again what can break by itself (a kernel update, a reboot)");
  const auto layers = request.resume ? state.run.config_layers : request.config_layers;
  auto facts = detect::gather_facts(system, [&] {
    std::string user;
    for (const auto& layer : layers) {
      if (layer.document.contains("user")) user = layer.document.at("user").get<std::string>();
    }
    return user;
  }());
  facts.instance = request.instance;
  const auto config = config::Config::resolve(layers, facts.os);
  const std::string boot_id_file = request.options.boot_id_file.empty() ? config.string("reboot.boot_id_file") : request.options.boot_id_file;
  const std::string boot_id = read_boot_id(system, boot_id_file);

  if (state.run.state == RunState::reboot_pending) {
    if (boot_id == state.run.reboot_boot_id) {
      result.ran = true;
      result.outcome.state = RunState::reboot_pending;
      result.outcome.code = ExitCode::reboot_pending;
      result.outcome.message = "the reboot that step " + state.run.reboot_requested_by +
                               " asked for has not happened yet (same boot id): reboot the machine (sudo reboot) "
                               "and the agent continues by itself";
      return result;
    }
    spdlog::info("the machine rebooted as step {} asked; continuing run {}", state.run.reboot_requested_by, state.run.id);
  }
  if (state.empty() || state.run.state == RunState::done) {
    RunRecord fresh;
    if (boot_check) {
      fresh.only = state.run.only;
      fresh.skip = state.run.skip;
      fresh.config_layers = state.run.config_layers;
      fresh.confirmed = state.run.confirmed;
    }
    fresh.instance_id = state.run.instance_id;
    state.run = std::move(fresh);
    state.run.id = util::random_hex(6);
    state.run.started = iso8601(system.now());
  }
  RunOptions options = request.options;
  options.only = request.resume ? state.run.only : request.options.only;
  options.skip = request.resume ? state.run.skip : request.options.skip;
  const auto steps = make_steps(config);
  forget_other_instance(state, steps, request.instance);
  const plan::Context context{system, facts, config};
  Engine engine(steps, context, store, state, options, progress);

  if (!request.resume) {
    state.run.only = options.only;
    state.run.skip = options.skip;
    state.run.config_layers = request.config_layers;
  }
  if (!facts.gce && !state.run.confirmed) {
    const std::string question = "This machine is not a GCE VM. cs231n-agent is about to install Anaconda, Jupyter and "
                                 "drivers on it and change its configuration. Go on?";
    if (request.yes) {
      state.run.confirmed = true;
    } else if (!request.confirm) {
      throw Error(ExitCode::usage, "this machine is not a GCE VM and there is no terminal to confirm on: add --yes to "
                                   "let cs231n-agent change it");
    } else if (request.confirm(question)) {
      state.run.confirmed = true;
    } else {
      throw Error(ExitCode::usage, "not confirmed; nothing was changed");
    }
  }
  for (const auto& [name, record] : state.steps) {
    if (record.status != StepStatus::running) continue;
    const int ended = system.end_marked_processes(state.run.id + "/" + name);
    if (ended > 0) spdlog::info("ended {} process(es) left behind by step {} of a killed run", ended, name);
    state.steps[name].status = StepStatus::interrupted;
  }
  state.run.state = RunState::running;
  state.run.pid = static_cast<int>(::getpid());
  state.run.reboot_requested_by.clear();
  state.run.reboot_boot_id.clear();
  state.run.boot_id = boot_id;
  state.run.updated = iso8601(system.now());
  store.save(state);

  install_self(system, request.force);
  install_resume_unit(system, request.state_dir);

  result.outcome = engine.run();
  result.ran = true;
  if (facts.instance && !facts.instance->external_ip.empty()) {
    result.jupyter_url = "https://" + facts.instance->external_ip + ":" + std::to_string(config.integer("jupyter.port")) + "/";
  }
  return result;
}

}  // namespace cs231n::engine
