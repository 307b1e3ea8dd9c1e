#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/config/config.hpp"
#include "agent/core/paths.hpp"
#include "agent/detect/facts.hpp"
#include "agent/net/http.hpp"
#include "agent/os/system.hpp"
#include "agent/util/result.hpp"

namespace cs231n::plan {

enum class Action { run, done, skip, refuse };
std::string_view to_string(Action action);

struct Decision {
  Action action = Action::run;
  std::string reason;   // why done / skip / refuse; empty for run
  std::string summary;  // what the step does (or would do) on this machine, one line
};

Decision will_run(std::string summary);
Decision already_done(std::string reason, std::string summary);
Decision skipped(std::string reason, std::string summary = "");
Decision refused(std::string reason, std::string summary = "");

// What a step may look at when it decides. Deciding is read-only.
struct Context {
  os::System& system;
  const detect::Facts& facts;
  const config::Config& config;
  const Paths& paths = Paths::defaults();
  // How the run's downloads are made: one connection budget for all of them (run_http_settings);
  // steps take them from StepRun::http(), which adds the step's meter.
  net::HttpSettings http = net::default_http_settings();
};

// Whether the system is already in the state a step wants.
struct CheckResult {
  bool done = false;
  std::string detail;     // "account ann exists"
  bool checkable = true;  // false: the step has no way to tell (a custom step without "check")
};

struct ApplyResult {
  bool reboot = false;  // the step is done, but the machine must reboot before dependents run
};

// One step being checked or applied: the context plus the step's log, its deadline and the
// interrupt flag. Commands go through run() so that each gets the log, the remaining time, the
// interrupt flag and the marker that lets a later run find processes left behind by a killed one.
class StepRun {
 public:
  // `meter` (may be null) counts the step's downloads, for `status`; `lane`: whether the student
  // waits for this step (net::ConnectionBudget gives those downloads the link first);
  // `ready_claim` (may be null): the step's part in the budget's count of ready-path steps.
  StepRun(const Context& context, std::string step_name, std::filesystem::path log_path,
          std::chrono::steady_clock::time_point deadline, const std::atomic<bool>* interrupt,
          std::string process_marker, net::TransferMeter* meter = nullptr, net::Lane lane = net::Lane::ready_path,
          net::ReadyPathClaim* ready_claim = nullptr);
  // A run outside the engine's bookkeeping, with no log and no process marker: the checks of
  // `plan` and of the engine's --only test, `verify` from the command line, tests.
  static StepRun unlogged(const Context& context, std::string step_name, std::chrono::steady_clock::duration timeout,
                          const std::atomic<bool>* interrupt = nullptr);

  const Context& context() const { return m_context; }
  os::System& system() const { return m_context.system; }
  const config::Config& config() const { return m_context.config; }
  const detect::Facts& facts() const { return m_context.facts; }
  const std::filesystem::path& log_path() const { return m_log_path; }
  bool interrupted() const { return m_interrupt && m_interrupt->load(); }
  const std::atomic<bool>* interrupt_flag() const { return m_interrupt; }
  // The settings every download of the step is made with: the run's (its connection budget),
  // the step's lane of it and the step's meter.
  net::HttpSettings http() const;
  // The step downloads nothing for now (it installs what it fetched): the toolkit's downloads may
  // take the link meanwhile. downloading_again() before a download it did not plan (a fallback).
  void done_downloading() const;
  void downloading_again() const;

  // Runs a command for this step. A command that cannot start or does not succeed is a Failure
  // whose message names the command, how it ended and the last lines of its output.
  util::Result<os::CommandResult> run(os::Command command) const;
  // Like run(), but a non-zero exit is a result, not a failure (for checks).
  util::Result<os::CommandResult> probe(os::Command command) const;
  // The failure run() reports for a command (`shown`, its argv joined) that did not succeed.
  util::Failure failure_of(const std::string& shown, const os::CommandResult& result) const;
  // Appends a line to the step's log.
  void note(const std::string& line) const;

 private:
  const Context& m_context;
  std::string m_step_name;
  std::filesystem::path m_log_path;
  std::chrono::steady_clock::time_point m_deadline;
  const std::atomic<bool>* m_interrupt;
  std::string m_process_marker;
  net::TransferMeter* m_meter;
  net::Lane m_lane;
  net::ReadyPathClaim* m_ready_claim;
};

// A download a step expects to make on this machine, for `plan`'s critical path.
struct ExpectedDownload {
  std::string what;  // "Miniforge3-26.7.2-0-Linux-x86_64.sh", "cuda-toolkit-12-6 and its dependencies"
  std::optional<std::uint64_t> bytes;  // nullopt: not known here ("?")
  std::string source;                  // where the number comes from: "the config", "NVIDIA's Packages index", ...
  bool estimate = false;               // a sourced estimate, not this machine's files
};

// What a step is, apart from what it does: declared once by each step, like cloud-init's module meta.
struct StepInfo {
  std::string name;
  // Steps this one comes after. Only ordering: a skipped predecessor does not stop it.
  std::vector<std::string> after;
  // Exclusive resources: steps sharing one never run at the same time ("apt": the dpkg lock).
  std::vector<std::string> resources = {};
  // Bumped when the step's behaviour changes, so that a newer agent re-runs it.
  int version = 1;
  // What belongs to one VM and must be made again on a VM cloned from its image (the TLS key,
  // the password): forgotten when the GCE instance id changes.
  bool per_instance = false;
  // A step whose wanted state depends on something that must not enter its fingerprint (a
  // password) is checked again on every run even when recorded done; check() must stay cheap.
  bool recheck_when_done = false;
  // Its ending done is the moment the machine is usable (the `ready` step): the engine records the
  // time (state run.ready) and tells its Progress, while the steps nobody waits for go on.
  bool marks_ready = false;
};

// One unit of work. Each built-in step is one file in steps/, listed in steps/table.cpp.
class Step {
 public:
  explicit Step(StepInfo info) : m_info(std::move(info)) {}
  virtual ~Step() = default;
  const StepInfo& info() const { return m_info; }
  // What the step would do here: run, skip or refuse, without changing anything.
  virtual Decision decide(const Context& context) const = 0;
  // The inputs (config values, detected facts) whose change makes the step run again.
  virtual nlohmann::json inputs(const Context& context) const = 0;
  // Cheap and side-effect free: is the system already in the wanted state?
  virtual util::Result<CheckResult> check(const StepRun& run) const = 0;
  // Brings the system into the wanted state. Must be idempotent: it may run again after a crash.
  virtual util::Result<ApplyResult> apply(const StepRun& run) const = 0;
  // What apply() would download here, for `plan` (asked only of a step that would run; it may
  // read an index, like decide()). None by default.
  virtual std::vector<ExpectedDownload> expected_downloads(const Context& /*context*/) const { return {}; }

 private:
  StepInfo m_info;
};

using StepList = std::vector<std::unique_ptr<Step>>;

// The fingerprint the engine records: sha256 over name, version and inputs.
std::string fingerprint(const Step& step, const Context& context);

}  // namespace cs231n::plan
