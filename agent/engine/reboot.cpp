#include "agent/engine/reboot.hpp"

#include <spdlog/spdlog.h>

#include "agent/util/strings.hpp"

namespace cs231n::engine {

namespace {

RunOutcome failed(std::string message) {
  RunOutcome outcome;
  outcome.state = RunState::failed;
  outcome.code = ExitCode::step_failed;
  outcome.message = std::move(message);
  return outcome;
}

}  // namespace

RunOutcome reboot_for(const RebootRequest& request, RunRecord& run, const plan::Context& context,
                      const RunOptions& options, const std::function<void()>& save) {
  const int max_reboots = static_cast<int>(context.config.integer("reboot.max_reboots"));
  if (run.reboots >= max_reboots) {
    return failed("step " + request.step + " asked for another reboot, but this run has rebooted " +
                  std::to_string(run.reboots) + " times (reboot.max_reboots): stopping to avoid a reboot loop");
  }
  if (request.boot_id.empty()) {
    return failed("step " + request.step + " asked for a reboot, but the boot id (" + request.boot_id_path +
                  ") cannot be read, so the agent could not tell afterwards whether the machine rebooted");
  }
  run.reboots += 1;
  run.reboot_requested_by = request.step;
  run.reboot_boot_id = request.boot_id;
  RunOutcome outcome;
  outcome.state = RunState::reboot_pending;
  outcome.code = ExitCode::reboot_pending;
  if (options.no_reboot) {
    outcome.message =
        "step " + request.step + " needs a reboot: reboot the machine (sudo reboot) and the agent continues by itself";
    return outcome;
  }
  const auto command =
      options.reboot_command.empty() ? context.config.strings("reboot.command") : options.reboot_command;
  outcome.message = "rebooting (step " + request.step + " asked for it; reboot " + std::to_string(run.reboots) +
                    " of at most " + std::to_string(max_reboots) + "); the agent continues after boot";
  // The state must say reboot-pending before the machine goes down.
  run.state = outcome.state;
  run.message = outcome.message;
  save();
  spdlog::info("{}", outcome.message);
  spdlog::default_logger()->flush();
  if (auto rebooted = context.system.reboot(command); !rebooted) {
    run.reboots -= 1;
    return failed("step " + request.step + " asked for a reboot, but " + util::join(command, " ") +
                  " failed: " + rebooted.error().message + "; reboot the machine by hand");
  }
  return outcome;
}

}  // namespace cs231n::engine
