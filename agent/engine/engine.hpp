#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "agent/engine/state.hpp"
#include "agent/plan/planner.hpp"

namespace cs231n::engine {

// The machine became usable (a step with StepInfo::marks_ready ended done).
struct ReadyEvent {
  long long seconds = 0;                   // since the run started (its first boot), reboots included
  std::vector<std::string> still_running;  // the selected steps not finished yet, in plan order
  std::string url;                         // RunOptions::jupyter_url
};

// Told about every transition, from the engine's threads (one at a time).
class Progress {
 public:
  virtual ~Progress() = default;
  virtual void started(const std::string& step, int attempt) = 0;
  virtual void finished(const std::string& step, StepStatus status, double duration_s, const std::string& detail) = 0;
  // Called about once a second while steps run, with each running step's elapsed seconds.
  virtual void tick(const std::vector<std::pair<std::string, double>>& running) = 0;
  // Called once per run when the machine becomes usable (and again at a boot that continues a run
  // which was ready before its reboot).
  virtual void ready(const ReadyEvent& /*event*/) {}
};

struct RunOptions {
  std::vector<std::string> only;
  std::vector<std::string> skip;
  unsigned workers = 4;
  bool no_reboot = false;
  std::vector<std::string> reboot_command;  // empty: config reboot.command
  std::string boot_id_file;                 // empty: config reboot.boot_id_file
  const std::atomic<bool>* interrupt = nullptr;
  std::string jupyter_url;  // what ReadyEvent::url says; built by the caller (the engine knows no port)
};

struct StepReport {
  std::string name;
  StepStatus status = StepStatus::pending;
  double duration_s = 0;
  std::string detail;
  std::string error;
  std::string log;
};

struct RunOutcome {
  RunState state = RunState::not_started;
  ExitCode code = ExitCode::success;
  std::string message;  // the closing line: what happened and what to do
  std::vector<StepReport> steps;
};

class Scheduler;

// Runs the steps of one run to its end, a reboot, a failure or an interrupt, recording every
// transition in the state file. The caller holds the run lock and has loaded `state`.
//  - Independent steps run in parallel (options.workers); steps sharing a resource never overlap;
//    steps start in plan order, so the order is deterministic for a given config.
//  - A step recorded done with the same fingerprint never runs again. Otherwise check(); if not
//    done, apply() and check() again: only then is it recorded done.
//  - A failed or refused step stops the steps after it; other branches go on.
//  - A step that asks for a reboot: running steps finish, nothing new starts, the state records
//    reboot-pending with this boot's id, then the reboot command runs (not with no_reboot).
//  - The step that marks the ready moment ending done records it (run.ready) and calls
//    Progress::ready; the run goes on with the rest.
//  - About once a second, each running step's download progress (its meter) goes to
//    Paths::progress_file() for `status`; the file is removed when the run ends.
class Engine {
 public:
  // Validates the selection before anything changes: throws Error(usage) for an unknown step in
  // --only/--skip, or a predecessor outside --only that is not done.
  Engine(const plan::StepList& steps, const plan::Context& context, const StateStore& store, State& state,
         const RunOptions& options, Progress& progress);
  ~Engine();
  RunOutcome run();

 private:
  std::unique_ptr<Scheduler> m_scheduler;
};

// Reads the boot id from `path` (a target path), trimmed; empty when unreadable.
std::string read_boot_id(const os::System& system, const std::string& path);

}  // namespace cs231n::engine
