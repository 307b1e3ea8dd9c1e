#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/plan/step.hpp"

namespace cs231n::plan {

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

// Orders the steps (table order, moved only as `after` requires) and decides each. A refused step
// refuses nothing else, but every step after it, directly or not, is skipped. An unsupported OS
// or architecture refuses every step. Throws Error(usage) for an `after` naming no step, a cycle,
// or a name used twice.
Plan make_plan(const StepList& steps, const Context& context);

nlohmann::json to_json(const Plan& plan);
std::string to_table(const Plan& plan);

}  // namespace cs231n::plan
