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
};

struct Plan {
  config::ProfileChoice profile;
  std::vector<PlannedStep> steps;  // in an order that respects `after`
  // Set when the whole machine is refused (unsupported OS or architecture).
  std::optional<std::string> refusal;

  bool has_refusal() const;
};

// Table order, moved only as `after` requires: deterministic. Throws Error(usage) for an `after`
// naming no step, a cycle, or a name used twice.
std::vector<const Step*> order_steps(const StepList& steps);

// Orders the steps and decides each. A refused step refuses nothing else, but every step after it,
// directly or not, is skipped. An unsupported OS or architecture refuses every step. A step that
// would run is "done" when `recorded` has it with the same fingerprint, or its check() says so.
Plan make_plan(const StepList& steps, const Context& context, const RecordedResults& recorded = {});

nlohmann::json to_json(const Plan& plan);
std::string to_table(const Plan& plan);

}  // namespace cs231n::plan
