#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/engine/session.hpp"

// The named steps of run_session, in the order it takes them. Each is small and, except
// end_leftover_processes, touches only the state in memory, so each is testable alone.
namespace cs231n::engine {

// The target user the config layers name ("" when none does: detect chooses); the last layer that
// names one wins.
std::string user_named_in(const std::vector<config::Layer>& layers);

// The boot id file: the command line's, else the config's reboot.boot_id_file.
std::string boot_id_file(const RunOptions& options, const config::Config& config);

// The pending-reboot check: when the run waits for a reboot and this is still the boot it must
// end (same boot id), the outcome that ends the session; nullopt when the run can go on.
std::optional<RunOutcome> reboot_still_pending(const RunRecord& run, const std::string& boot_id);

// Starts a new run record when there is no run or the last one is done, else continues the
// recorded one. A new record keeps the instance id; on a boot check (resume after a finished run)
// also the finished run's selection, config and confirmation.
void start_or_continue_run(State& state, bool boot_check, const std::string& new_id, const std::string& now);

// The options the engine runs with: the request's, with the recorded selection on resume.
RunOptions options_for(const RunRequest& request, const RunRecord& run);

// Records what `run` asked for (selection and config layers), for a later resume.
void record_request(RunRecord& run, const RunRequest& request);

// A VM made from another VM's image (scripts/bake-image.sh) carries that VM's state: what belongs
// to one instance runs again, and must apply (its check would pass on the copied files). Records
// this instance's id.
void forget_other_instance(State& state, const plan::StepList& steps,
                           const std::optional<detect::GceInstance>& instance);

// Off GCE, the operator must agree once per run (--yes or the confirm question) before the
// machine changes. Throws Error(usage) when not confirmed or there is no way to ask.
void confirm_off_gce(const detect::Facts& facts, RunRecord& run, const RunRequest& request);

// Ends the processes that steps of a killed run left behind (found by their marker) and records
// those steps as interrupted.
void end_leftover_processes(os::System& system, State& state);

// Records that this process runs the run now, in this boot; clears the reboot it waited for once
// the machine has rebooted (one asked for in this boot is still owed).
void mark_running(RunRecord& run, int pid, const std::string& boot_id, const std::string& now);

}  // namespace cs231n::engine
