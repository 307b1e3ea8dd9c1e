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
    const std::string env = config.string("conda_env.name");
    const std::string file = config.string("conda_env.environment_file");
    std::string summary = "create conda env " + env + " from ";
    if (!file.empty()) {
      summary += file;
    } else {
      summary += "python=" + config.string("conda_env.python") + " " + util::join(config.strings("conda_env.packages"), " ");
    }
    const std::string prefix = expand_home(context, config.string("anaconda.prefix"));
    if (context.system.files().exists(prefix + "/envs/" + env + "/conda-meta/history")) {
      return plan::already_done("env " + env + " exists in " + prefix, summary);
    }
    return plan::will_run(summary);
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_conda_env_step() { return std::make_unique<CondaEnvStep>(); }

}  // namespace cs231n::steps
