#include "agent/engine/session.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "agent/core/error.hpp"
#include "agent/engine/lock.hpp"
#include "agent/engine/session_steps.hpp"
#include "agent/util/hash.hpp"
#include "agent/util/time.hpp"

namespace cs231n::engine {

namespace {

void require_host_root(const os::System& system) {
  if (!system.files().is_host_root()) {
    throw Error(ExitCode::usage,
                "run and resume change the machine, so they work only on the real root; --root is for "
                "detect, plan and status (tests run the agent inside a chroot)");
  }
}

// An OS or architecture the agent does not support is refused before anything is written: no
// state, no lock file, no installed agent, no unit that would run it again at every boot.
std::optional<SessionResult> refuse_unsupported_system(os::System& system) {
  const auto unsupported = detect::gather_facts(system, "").unsupported_reason();
  if (!unsupported) return std::nullopt;
  SessionResult result;
  result.ran = true;
  result.outcome.state = RunState::refused;
  result.outcome.code = ExitCode::refused;
  result.outcome.message = *unsupported;
  return result;
}

RunLock take_lock(os::System& system, const RunRequest& request) {
  bool announced = false;
  while (true) {
    auto lock = RunLock::try_acquire(system.files(), request.paths.state_dir);
    if (!lock) throw Error(ExitCode::step_failed, "cannot take the run lock: " + lock.error().message);
    if (*lock) return std::move(**lock);
    const auto pid = RunLock::holder(system.files(), request.paths.state_dir).value_or(0);
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

}  // namespace

SessionResult run_session(os::System& system, const StepFactory& make_steps, const RunRequest& request,
                          Progress& progress) {
  require_host_root(system);
  if (auto refusal = refuse_unsupported_system(system)) return *refusal;
  const StateStore store(system.files(), request.paths.state_dir);
  store.prepare();
  const auto lock = take_lock(system, request);
  State state = store.load(util::random_hex(4));

  if (request.resume && state.empty()) {
    spdlog::info("nothing to resume: no run was started");
    return SessionResult{.outcome = {.state = RunState::not_started}};
  }
  // At a boot after a finished run, resume still re-checks the steps that can break by themselves
  // (a kernel update takes the nvidia module away); everything else recorded done is skipped.
  const bool boot_check = request.resume && state.run.state == RunState::done;
  if (boot_check)
    spdlog::info("the last run is done; checking again what can break by itself (a kernel update, a reboot)");
  const auto layers = request.resume ? state.run.config_layers : request.config_layers;
  auto facts = detect::gather_facts(system, user_named_in(layers));
  facts.instance = request.instance;
  const auto config = config::Config::resolve(layers, facts.os);
  const std::string boot_id = read_boot_id(system, boot_id_file(request.options, config));
  if (auto waiting = reboot_still_pending(state.run, boot_id))
    return SessionResult{.outcome = std::move(*waiting), .ran = true};

  start_or_continue_run(state, boot_check, util::random_hex(6), util::iso8601(system.now()));
  RunOptions options = options_for(request, state.run);
  const std::string jupyter_url = request.jupyter_url ? request.jupyter_url(config, facts) : "";
  options.jupyter_url = jupyter_url;
  const auto steps = make_steps(config);
  forget_other_instance(state, steps, request.instance);
  const plan::Context context{system, facts, config, request.paths, net::run_http_settings(config)};
  // Validates the selection before anything below changes the state or the machine.
  Engine engine(steps, context, store, state, options, progress);
  if (!request.resume) record_request(state.run, request);
  confirm_off_gce(facts, state.run, request);
  end_leftover_processes(system, state);
  mark_running(state.run, static_cast<int>(::getpid()), boot_id, util::iso8601(system.now()));
  store.save(state);
  install_self(system, request.force);
  install_resume_unit(system, request.paths);

  return SessionResult{.outcome = engine.run(), .ran = true, .jupyter_url = jupyter_url};
}

}  // namespace cs231n::engine
