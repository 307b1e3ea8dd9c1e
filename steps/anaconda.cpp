#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class AnacondaStep : public plan::Step {
 public:
  std::string name() const override { return "anaconda"; }
  std::vector<std::string> after() const override { return {"user", "apt-packages"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    const std::string prefix = expand_home(context, config.string("anaconda.prefix"));
    const std::string installer = file_name_of(config.string("anaconda.installer_url"));
    return plan::will_run("install " + installer + " (sha256 " + config.string("anaconda.installer_sha256").substr(0, 12) +
                          "...) as " + context.facts.user.name + " into " + prefix);
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"user", context.facts.user.name}, {"anaconda", context.config.at("anaconda")}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const std::string prefix = expand_home(run.context(), run.config().string("anaconda.prefix"));
    if (run.system().files().exists(prefix + "/bin/conda")) return plan::CheckResult{true, "conda found in " + prefix};
    return plan::CheckResult{false, ""};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_anaconda_step() { return std::make_unique<AnacondaStep>(); }

}  // namespace cs231n::steps
