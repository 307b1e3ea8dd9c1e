#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class JupyterServiceStep : public plan::Step {
 public:
  std::string name() const override { return "jupyter-service"; }
  std::vector<std::string> after() const override { return {"jupyter-config"}; }

  plan::Decision decide(const plan::Context& context) const override {
    if (!context.config.boolean("jupyter.service")) return plan::skipped("jupyter.service is false");
    std::string summary = "install and enable cs231n-jupyter.service, running Jupyter as " + context.facts.user.name +
                          " from the " + context.config.string("conda_env.name") + " env";
    if (!context.system.services().systemd_running()) summary += " (systemd is not running here: enabled, not started)";
    return plan::will_run(summary);
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"env", context.config.string("conda_env.name")}, {"user", context.facts.user.name},
            {"prefix", context.config.string("anaconda.prefix")}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& /*run*/) const override {
    return plan::CheckResult{false, "", false};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_jupyter_service_step() { return std::make_unique<JupyterServiceStep>(); }

}  // namespace cs231n::steps
