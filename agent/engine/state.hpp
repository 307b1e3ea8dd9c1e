#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/config/config.hpp"
#include "agent/core/exit_codes.hpp"
#include "agent/os/files.hpp"

namespace cs231n::engine {

// A step's status in the state file.
enum class StepStatus { pending, running, done, failed, skipped, refused, interrupted };
std::string_view to_string(StepStatus status);
std::optional<StepStatus> parse_step_status(std::string_view text);

struct StepRecord {
  StepStatus status = StepStatus::pending;
  std::string fingerprint;  // of the inputs when it was last recorded done
  int attempts = 0;         // times apply() ran
  std::string started;      // ISO 8601, UTC
  std::string finished;
  double duration_s = 0;
  std::string error;    // last error line
  std::string log;      // path of the step's log
  std::string boot_id;  // boot in which it last ran
  std::string detail;   // why done / skipped / refused
};

struct RunRecord {
  std::string id;
  RunState state = RunState::not_started;
  std::string started;  // when the run began (its first boot)
  std::string updated;
  // When the machine became usable: the step that marks it (StepInfo::marks_ready) ended done in
  // this run. Empty until then.
  std::string ready;
  int reboots = 0;
  std::string boot_id;              // boot in which the state was last written
  std::string reboot_requested_by;  // the step that asked for the pending reboot (set when it asks)
  std::string reboot_boot_id;       // the boot that must end before the run goes on
  bool confirmed = false;           // the operator agreed to change this machine (off GCE)
  std::string instance_id;          // the GCE instance the steps were done on (empty off GCE)
  std::vector<std::string> redo;    // steps that must apply even when their check passes (a new instance)
  std::vector<std::string> only;    // the step selection, reused by `resume`
  std::vector<std::string> skip;
  std::vector<config::Layer> config_layers;  // the config the run was started with
  int pid = 0;
  std::string message;             // the last run's closing message
  std::vector<std::string> order;  // step names in plan order, for `status`
};

// Whole seconds from the run's start to its ready moment; nullopt until it is ready.
std::optional<long long> ready_after_s(const RunRecord& run);

struct State {
  RunRecord run;
  std::map<std::string, StepRecord> steps;
  bool empty() const { return run.id.empty(); }
};

inline constexpr int k_state_format = 1;

// The state file's document: {"format", "agent_version", "run", "steps"}, each record's fields under
// their member names, the enums by the names to_string gives. A format 1 document from before
// instance ids (no run.instance_id, no run.redo) or before the ready moment (no run.ready) is
// upgraded on reading; a newer format is refused by StateStore.
nlohmann::json to_json(const State& state);
// Throws (std::runtime_error, nlohmann::json::exception; with what is wrong) for a document that
// is not a valid state: a missing or mistyped field, an unknown status.
State state_from_json(const nlohmann::json& document);

// Step statuses in JSON, by the names of the one table (to_string); nlohmann finds these by ADL.
// An unknown name throws std::runtime_error.
void to_json(nlohmann::json& value, StepStatus status);
void from_json(const nlohmann::json& value, StepStatus& status);

// <state-dir>/state.json, written atomically and durably (temp file, fsync, rename, fsync dir).
class StateStore {
 public:
  StateStore(const os::Files& files, std::string state_dir);

  const std::string& dir() const { return m_dir; }
  std::string state_path() const { return m_dir + "/state.json"; }
  std::string log_path(const std::string& step) const { return m_dir + "/logs/" + step + ".log"; }

  // A missing file is an empty state. A corrupt one is moved aside (state.json.corrupt-<time>)
  // with a warning, and the run goes on from an empty state, re-checking every step. A file from
  // a newer format is refused: Error(usage).
  State load(const std::string& now_stamp) const;
  // Reads without moving anything aside (for `status`): nullopt when missing or corrupt.
  std::optional<State> peek() const;
  // Replaces the file whole or not at all. Throws Error(no_space) naming the state dir when its
  // disk is full, Error(step_failed) for any other write failure.
  void save(const State& state) const;
  // Creates the state dir (0700) and its logs folder.
  void prepare() const;

 private:
  const os::Files& m_files;
  std::string m_dir;
};

}  // namespace cs231n::engine

namespace cs231n {
// Run states in JSON, by the names of core's one table (to_string); an unknown name throws
// std::runtime_error. Here rather than in core, which does not know JSON.
void to_json(nlohmann::json& value, RunState state);
void from_json(const nlohmann::json& value, RunState& state);
}  // namespace cs231n

// A config layer as {"source", "config"} (config::to_json, config::layer_from_json). A serializer
// rather than from_json(json, Layer&), because a Layer has no default constructor.
template <>
struct nlohmann::adl_serializer<cs231n::config::Layer> {
  static void to_json(nlohmann::json& value, const cs231n::config::Layer& layer) {
    value = cs231n::config::to_json(layer);
  }
  static cs231n::config::Layer from_json(const nlohmann::json& value) { return cs231n::config::layer_from_json(value); }
};
