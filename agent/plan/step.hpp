#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/config/config.hpp"
#include "agent/detect/facts.hpp"
#include "agent/os/system.hpp"

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
  const os::System& system;
  const detect::Facts& facts;
  const config::Config& config;
};

// One unit of work. Each built-in step is one file in steps/, listed in steps/table.cpp.
class Step {
 public:
  virtual ~Step() = default;
  virtual std::string name() const = 0;
  // Steps this one comes after. Only ordering: a skipped predecessor does not stop it.
  virtual std::vector<std::string> after() const = 0;
  // What the step would do here, without changing anything.
  virtual Decision decide(const Context& context) const = 0;
};

using StepList = std::vector<std::unique_ptr<Step>>;

}  // namespace cs231n::plan
