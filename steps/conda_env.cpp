#include "steps/common.hpp"
#include "steps/table.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::steps {

namespace {

class CondaEnvStep : public plan::Step {
 public:
  std::string name() const override { return "conda-env"; }
  std::vector<std::string> after() const override { return {"anaconda"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    std::string summary = "create conda env " + config.string("conda_env.name") + " from ";
    const std::string file = config.string("conda_env.environment_file");
    if (!file.empty()) return plan::will_run(summary + file);
    return plan::will_run(summary + "python=" + config.string("conda_env.python") + " " +
                          util::join(config.strings("conda_env.packages"), " "));
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"conda_env", context.config.at("conda_env")}, {"prefix", context.config.string("anaconda.prefix")}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const std::string env = run.config().string("conda_env.name");
    const std::string prefix = expand_home(run.context(), run.config().string("anaconda.prefix"));
    if (run.system().files().exists(prefix + "/envs/" + env + "/conda-meta/history")) {
      return plan::CheckResult{true, "env " + env + " exists in " + prefix};
    }
    return plan::CheckResult{false, ""};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_conda_env_step() { return std::make_unique<CondaEnvStep>(); }

}  // namespace cs231n::steps
