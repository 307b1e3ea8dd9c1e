#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/plan/step.hpp"

namespace cs231n::plan {

// What the state file says of a step that was recorded done (the engine's record).
struct RecordedDone {
  std::string fingerprint;
  std::string finished;  // ISO 8601 time
};
using RecordedResults = std::map<std::string, RecordedDone>;

struct PlannedStep {
  std::string name;
  std::vector<std::string> after;
  Decision decision;
  std::vector<ExpectedDownload> downloads;  // of a step that would run
  bool marks_ready = false;
};

struct Plan {
  config::ProfileChoice profile;
  std::vector<PlannedStep> steps;  // in an order that respects `after`
  // Set when the whole machine is refused (unsupported OS or architecture).
  std::optional<std::string> refusal;

  bool has_refusal() const;
  // The step that marks the ready moment, "" when there is none.
  std::string ready_step() const;
};

// Bytes to download, as far as known: `complete` is false when a download's size is not known,
// `estimate` when one is an estimate.
struct Bytes {
  std::uint64_t known = 0;
  bool complete = true;
  bool estimate = false;
  Bytes& operator+=(const Bytes& other);
};
Bytes bytes_of(const PlannedStep& step);
// "1.2 GB", "~2.4 GB" (an estimate), "1.2 GB+?" (part unknown), "?" (none known), "" for nothing.
std::string bytes_text(const Bytes& bytes);

// The expected order of the work: the chain of `after` that ends at `target` (a step's name, or
// "" for the end of the run) whose steps download the most. Downloads are what takes a course
// VM's minutes, so that chain is the critical path; a step that would not run weighs nothing and
// is left out of `steps`.
struct CriticalPath {
  std::string target;              // "ready", or "done" for the whole run
  std::vector<std::string> steps;  // in plan order, only steps that would run
  Bytes bytes;                     // of the steps on the path
  Bytes needed;                    // of every step that would run before the target (the path's and the others')
};
CriticalPath critical_path(const Plan& plan, const std::string& target);

// Table order, moved only as `after` requires: deterministic. Throws Error(usage) for an `after`
// naming no step, a cycle, or a name used twice.
std::vector<const Step*> order_steps(const StepList& steps);

// Orders the steps and decides each. A refused step refuses nothing else, but every step after it,
// directly or not, is skipped. An unsupported OS or architecture refuses every step. A step that
// would run is "done" when `recorded` has it with the same fingerprint, or its check() says so.
Plan make_plan(const StepList& steps, const Context& context, const RecordedResults& recorded = {});

// Both with each step's downloads and the critical paths to ready (when a step marks it) and to done.
nlohmann::json to_json(const Plan& plan);
std::string to_table(const Plan& plan);

}  // namespace cs231n::plan
