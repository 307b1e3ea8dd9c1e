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
    if (!context.system.files().exists("/run/systemd/system")) summary += " (systemd is not running here: enabled, not started)";
    return plan::will_run(summary);
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_jupyter_service_step() { return std::make_unique<JupyterServiceStep>(); }

}  // namespace cs231n::steps
