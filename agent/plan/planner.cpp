#include "agent/plan/planner.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "agent/core/error.hpp"
#include "agent/util/text_table.hpp"

namespace cs231n::plan {

std::string_view to_string(Action action) {
  switch (action) {
    case Action::run: return "run";
    case Action::done: return "done";
    case Action::skip: return "skip";
    case Action::refuse: return "refuse";
  }
  return "run";
}

Decision will_run(std::string summary) { return {Action::run, "", std::move(summary)}; }
Decision already_done(std::string reason, std::string summary) {
  return {Action::done, std::move(reason), std::move(summary)};
}
Decision skipped(std::string reason, std::string summary) {
  return {Action::skip, std::move(reason), std::move(summary)};
}
Decision refused(std::string reason, std::string summary) {
  return {Action::refuse, std::move(reason), std::move(summary)};
}

bool Plan::has_refusal() const {
  return refusal ||
         std::ranges::any_of(steps, [](const PlannedStep& step) { return step.decision.action == Action::refuse; });
}

// Kahn's algorithm, always taking the earliest ready step in table order, so the order is
// deterministic and as close to the table as `after` allows.
std::vector<const Step*> order_steps(const StepList& steps) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (!index.emplace(steps[i]->info().name, i).second) {
      throw Error(ExitCode::usage,
                  "two steps are named \"" + steps[i]->info().name + "\": rename the custom step in \"steps\"");
    }
  }
  std::vector<std::set<std::size_t>> waiting_on(steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    for (const auto& predecessor : steps[i]->info().after) {
      const auto found = index.find(predecessor);
      if (found == index.end()) {
        throw Error(ExitCode::usage, "step \"" + steps[i]->info().name + "\" comes after \"" + predecessor +
                                         "\", which is not a step: fix its \"after\" list");
      }
      waiting_on[i].insert(found->second);
    }
  }
  std::vector<const Step*> ordered;
  std::vector<bool> placed(steps.size(), false);
  while (ordered.size() < steps.size()) {
    bool progressed = false;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (placed[i]) continue;
      if (std::ranges::all_of(waiting_on[i], [&](std::size_t j) { return placed[j]; })) {
        placed[i] = true;
        ordered.push_back(steps[i].get());
        progressed = true;
        break;
      }
    }
    if (!progressed) {
      std::vector<std::string> stuck;
      for (std::size_t i = 0; i < steps.size(); ++i) {
        if (!placed[i]) stuck.push_back(steps[i]->info().name);
      }
      std::string names;
      for (const auto& name : stuck) names += (names.empty() ? "" : ", ") + name;
      throw Error(ExitCode::usage,
                  "the \"after\" lists of these steps form a cycle: " + names + "; break it in \"steps\"");
    }
  }
  return ordered;
}

namespace {

// For `plan`: recorded done with the same inputs, or already in the wanted state.
Decision done_or_run(const Step& step, const Context& context, const RecordedResults& recorded, Decision decision) {
  if (auto found = recorded.find(step.info().name);
      found != recorded.end() && found->second.fingerprint == fingerprint(step, context)) {
    return already_done("done at " + found->second.finished, decision.summary);
  }
  const auto probe = StepRun::unlogged(context, step.info().name, std::chrono::seconds(30));
  if (auto check = step.check(probe); check && check->done) return already_done(check->detail, decision.summary);
  return decision;
}

}  // namespace

Plan make_plan(const StepList& steps, const Context& context, const RecordedResults& recorded) {
  Plan plan;
  plan.profile = context.config.profile();
  plan.refusal = context.facts.unsupported_reason();
  std::map<std::string, std::string> blocked_by;  // step -> the refused step it depends on
  for (const Step* step : order_steps(steps)) {
    PlannedStep planned{step->info().name, step->info().after, {}};
    std::string blocker;
    for (const auto& predecessor : planned.after) {
      if (auto found = blocked_by.find(predecessor); found != blocked_by.end()) {
        blocker = found->second;
        break;
      }
    }
    if (plan.refusal) {
      planned.decision = refused(*plan.refusal);
    } else if (!blocker.empty()) {
      planned.decision = skipped("comes after " + blocker + ", which was refused");
    } else {
      planned.decision = step->decide(context);
      if (planned.decision.action == Action::run)
        planned.decision = done_or_run(*step, context, recorded, planned.decision);
    }
    if (planned.decision.action == Action::refuse) blocked_by[planned.name] = planned.name;
    if (!blocker.empty()) blocked_by[planned.name] = blocker;
    plan.steps.push_back(std::move(planned));
  }
  return plan;
}

nlohmann::json to_json(const Plan& plan) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& step : plan.steps) {
    steps.push_back({{"name", step.name},
                     {"action", to_string(step.decision.action)},
                     {"reason", step.decision.reason},
                     {"summary", step.decision.summary},
                     {"after", step.after}});
  }
  return {{"profile",
           {{"name", plan.profile.name}, {"requested", plan.profile.requested}, {"reason", plan.profile.reason}}},
          {"refusal", plan.refusal ? nlohmann::json(*plan.refusal) : nlohmann::json(nullptr)},
          {"steps", steps}};
}

std::string to_table(const Plan& plan) {
  std::string text = "Profile: " + plan.profile.name;
  if (plan.profile.requested == "auto") text += " (auto: " + plan.profile.reason + ")";
  text += "\n";
  if (plan.refusal) text += "Refused: " + *plan.refusal + "\n";
  text += "\n";
  // The action column is as wide as the widest action, so that it stays put from one plan to the next.
  std::size_t widest_action = 0;
  for (const auto action : {Action::run, Action::done, Action::skip, Action::refuse}) {
    widest_action = std::max(widest_action, to_string(action).size());
  }
  util::TextTable table({{}, {util::TextTable::Align::left, widest_action}});
  for (const auto& step : plan.steps) {
    const auto& decision = step.decision;
    const std::string& why = decision.action == Action::run ? decision.summary : decision.reason;
    table.add_row({step.name, std::string(to_string(decision.action)), why});
  }
  return text + table.render();
}

}  // namespace cs231n::plan
