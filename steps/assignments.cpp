#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class AssignmentsStep : public plan::Step {
 public:
  std::string name() const override { return "assignments"; }
  std::vector<std::string> after() const override { return {"user", "apt-packages"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    const std::string ref = config.string("assignments.ref");
    return plan::will_run("clone " + config.string("assignments.repo") + (ref.empty() ? "" : " at " + ref) + " into " +
                          expand_home(context, config.string("assignments.folder")));
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"assignments", context.config.at("assignments")}, {"user", context.facts.user.name}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const std::string folder = expand_home(run.context(), run.config().string("assignments.folder"));
    if (run.system().files().exists(folder + "/.git")) return plan::CheckResult{true, "already cloned into " + folder};
    return plan::CheckResult{false, ""};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_assignments_step() { return std::make_unique<AssignmentsStep>(); }

}  // namespace cs231n::steps
