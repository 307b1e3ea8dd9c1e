#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class JupyterCertStep : public plan::Step {
 public:
  std::string name() const override { return "jupyter-cert"; }
  std::vector<std::string> after() const override { return {"user"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    std::string names = context.facts.hostname.empty() ? "127.0.0.1" : context.facts.hostname + ", 127.0.0.1";
    if (context.facts.gce) names += " and the external IP";
    return plan::will_run("self-signed " + config.string("jupyter.certificate_key") + " certificate for " + names +
                          ", valid " + std::to_string(config.integer("jupyter.certificate_days")) + " days, in " +
                          home_of(context) + "/.jupyter/certs");
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    const auto& config = context.config;
    return {{"key", config.string("jupyter.certificate_key")}, {"days", config.integer("jupyter.certificate_days")},
            {"hostname", context.facts.hostname}, {"user", context.facts.user.name}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& /*run*/) const override {
    return plan::CheckResult{false, "", false};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_jupyter_cert_step() { return std::make_unique<JupyterCertStep>(); }

}  // namespace cs231n::steps
