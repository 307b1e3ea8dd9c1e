#include "agent/plan/planner.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "agent/core/error.hpp"
#include "agent/util/strings.hpp"
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

std::string Plan::ready_step() const {
  const auto found = std::ranges::find_if(steps, &PlannedStep::marks_ready);
  return found == steps.end() ? "" : found->name;
}

Bytes& Bytes::operator+=(const Bytes& other) {
  known += other.known;
  complete = complete && other.complete;
  estimate = estimate || other.estimate;
  return *this;
}

Bytes bytes_of(const PlannedStep& step) {
  Bytes bytes;
  if (step.decision.action != Action::run) return bytes;
  for (const auto& download : step.downloads) {
    bytes += Bytes{download.bytes.value_or(0), download.bytes.has_value(), download.estimate};
  }
  return bytes;
}

std::string bytes_text(const Bytes& bytes) {
  if (bytes.known == 0) return bytes.complete ? "" : "?";
  return (bytes.estimate ? "~" : "") + util::human_bytes(bytes.known) + (bytes.complete ? "" : "+?");
}

CriticalPath critical_path(const Plan& plan, const std::string& target) {
  const auto& steps = plan.steps;
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < steps.size(); ++i) index[steps[i].name] = i;
  // The heaviest chain ending at each step (steps are in an order that respects `after`).
  std::vector<std::uint64_t> heaviest(steps.size(), 0);
  std::vector<std::optional<std::size_t>> via(steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    for (const auto& predecessor : steps[i].after) {
      const auto p = index.at(predecessor);
      if (!via[i] || heaviest[p] > heaviest[*via[i]]) via[i] = p;
    }
    heaviest[i] = bytes_of(steps[i]).known + (via[i] ? heaviest[*via[i]] : 0);
  }
  CriticalPath path{target.empty() ? "done" : target, {}, {}, {}};
  if (steps.empty()) return path;
  std::optional<std::size_t> end;
  std::vector<bool> needed(steps.size(), target.empty());
  if (target.empty()) {
    // The end of the run: the heaviest chain, and of equal ones the last to end.
    end = 0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (heaviest[i] >= heaviest[*end]) end = i;
    }
  } else if (index.contains(target)) {
    end = index.at(target);
    needed[*end] = true;
    for (std::size_t i = *end + 1; i-- > 0;) {
      if (!needed[i]) continue;
      for (const auto& predecessor : steps[i].after) needed[index.at(predecessor)] = true;
    }
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (needed[i]) path.needed += bytes_of(steps[i]);
  }
  for (auto at = end; at; at = via[*at]) {
    if (steps[*at].decision.action != Action::run) continue;
    path.steps.insert(path.steps.begin(), steps[*at].name);
    path.bytes += bytes_of(steps[*at]);
  }
  return path;
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
    PlannedStep planned{step->info().name, step->info().after, {}, {}, step->info().marks_ready};
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
    if (planned.decision.action == Action::run) planned.downloads = step->expected_downloads(context);
    if (planned.decision.action == Action::refuse) blocked_by[planned.name] = planned.name;
    if (!blocker.empty()) blocked_by[planned.name] = blocker;
    plan.steps.push_back(std::move(planned));
  }
  return plan;
}

namespace {

nlohmann::json to_json(const Bytes& bytes) {
  return {{"bytes", bytes.known}, {"complete", bytes.complete}, {"estimate", bytes.estimate}};
}

// The paths to the ready moment (when a step marks it) and to the end of the run.
std::vector<CriticalPath> critical_paths(const Plan& plan) {
  std::vector<CriticalPath> paths;
  if (const auto ready = plan.ready_step(); !ready.empty()) paths.push_back(critical_path(plan, ready));
  paths.push_back(critical_path(plan, ""));
  return paths;
}

}  // namespace

nlohmann::json to_json(const Plan& plan) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& step : plan.steps) {
    nlohmann::json downloads = nlohmann::json::array();
    for (const auto& download : step.downloads) {
      downloads.push_back({{"what", download.what},
                           {"bytes", download.bytes ? nlohmann::json(*download.bytes) : nlohmann::json()},
                           {"source", download.source},
                           {"estimate", download.estimate}});
    }
    steps.push_back({{"name", step.name},
                     {"action", to_string(step.decision.action)},
                     {"reason", step.decision.reason},
                     {"summary", step.decision.summary},
                     {"after", step.after},
                     {"downloads", downloads},
                     {"download_bytes", to_json(bytes_of(step))}});
  }
  nlohmann::json paths = nlohmann::json::object();
  for (const auto& path : critical_paths(plan)) {
    nlohmann::json chain = nlohmann::json::array();
    for (const auto& name : path.steps) {
      const auto found = std::ranges::find(plan.steps, name, &PlannedStep::name);
      chain.push_back({{"name", name}, {"download_bytes", to_json(bytes_of(*found))}});
    }
    paths[path.target] = {{"steps", chain}, {"download_bytes", to_json(path.bytes)}, {"needed", to_json(path.needed)}};
  }
  return {{"profile",
           {{"name", plan.profile.name}, {"requested", plan.profile.requested}, {"reason", plan.profile.reason}}},
          {"refusal", plan.refusal ? nlohmann::json(*plan.refusal) : nlohmann::json(nullptr)},
          {"steps", steps},
          {"critical_path", paths}};
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
  text += table.render();

  util::TextTable downloads({{}, {}, {util::TextTable::Align::right}}, "  ");
  for (const auto& step : plan.steps) {
    if (step.decision.action != Action::run) continue;
    for (const auto& download : step.downloads) {
      downloads.add_row({step.name, download.what,
                         bytes_text({download.bytes.value_or(0), download.bytes.has_value(), download.estimate}),
                         download.source});
    }
  }
  if (downloads.empty()) return text;
  text += "\nDownloads (~: an estimate, ?: not known here):\n" + downloads.render();
  text += "\nExpected order: the chain of steps with the most to download, each with its bytes\n";
  for (const auto& path : critical_paths(plan)) {
    std::string chain;
    for (const auto& name : path.steps) {
      const auto bytes = bytes_text(bytes_of(*std::ranges::find(plan.steps, name, &PlannedStep::name)));
      chain += (chain.empty() ? "" : " -> ") + name + (bytes.empty() ? "" : " (" + bytes + ")");
    }
    const auto on_path = bytes_text(path.bytes);
    const auto needed = bytes_text(path.needed);
    text += "  to " + path.target + ": " + (chain.empty() ? "nothing to run" : chain) + "\n";
    text += "    " + (on_path.empty() ? std::string("nothing") : on_path) + " on this path; " +
            (needed.empty() ? std::string("nothing") : needed) + " downloaded before " + path.target + "\n";
  }
  return text;
}

}  // namespace cs231n::plan
