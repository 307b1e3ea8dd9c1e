#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {
namespace {
constexpr const char* k_generated_password_file = "/root/cs231n-jupyter-password";
}  // namespace
}  // namespace cs231n::steps

namespace cs231n::steps {

namespace {

class JupyterPasswordStep : public plan::Step {
 public:
  std::string name() const override { return "jupyter-password"; }
  std::vector<std::string> after() const override { return {}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    const std::string algorithm = config.string("jupyter.hash_algorithm");
    if (!config.string("jupyter.password_hash").empty()) return plan::will_run("use the password hash from the config");
    const std::string file = config.string("jupyter.password_file");
    if (!file.empty()) return plan::will_run("hash the password in " + file + " with " + algorithm);
    return plan::will_run("make a random password, kept in " + std::string(k_generated_password_file) +
                          " (root only), and hash it with " + algorithm);
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    const auto& config = context.config;
    return {{"password_hash", config.string("jupyter.password_hash")},
            {"password_file", config.string("jupyter.password_file")},
            {"algorithm", config.string("jupyter.hash_algorithm")}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& /*run*/) const override {
    return plan::CheckResult{false, "", false};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_jupyter_password_step() { return std::make_unique<JupyterPasswordStep>(); }

}  // namespace cs231n::steps
