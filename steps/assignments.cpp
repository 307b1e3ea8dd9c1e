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
    const std::string folder = expand_home(context, config.string("assignments.folder"));
    const std::string ref = config.string("assignments.ref");
    const std::string summary = "clone " + config.string("assignments.repo") + (ref.empty() ? "" : " at " + ref) + " into " + folder;
    if (context.system.files().exists(folder + "/.git")) return plan::already_done("already cloned into " + folder, summary);
    return plan::will_run(summary);
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_assignments_step() { return std::make_unique<AssignmentsStep>(); }

}  // namespace cs231n::steps
