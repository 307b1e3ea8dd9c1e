#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class JupyterConfigStep : public plan::Step {
 public:
  std::string name() const override { return "jupyter-config"; }
  std::vector<std::string> after() const override { return {"jupyter-password", "jupyter-cert", "conda-env", "assignments"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    return plan::will_run("write the cs231n block of " + home_of(context) +
                          "/.jupyter/jupyter_notebook_config.py and jupyter_server_config.py (https, port " +
                          std::to_string(config.integer("jupyter.port")) + ", notebooks in " +
                          expand_home(context, config.string("assignments.folder")) + ")");
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"port", context.config.integer("jupyter.port")}, {"folder", context.config.string("assignments.folder")},
            {"user", context.facts.user.name}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& /*run*/) const override {
    return plan::CheckResult{false, "", false};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_jupyter_config_step() { return std::make_unique<JupyterConfigStep>(); }

}  // namespace cs231n::steps
