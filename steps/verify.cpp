#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class VerifyStep : public plan::Step {
 public:
  std::string name() const override { return "verify"; }
  std::vector<std::string> after() const override { return {"pytorch", "gpu-persistence", "jupyter-service"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto choice = choose_gpu(context);
    std::string summary = "import torch in env " + context.config.string("conda_env.name");
    if (choice.active && !choice.refusal) summary += ", check nvidia-smi and torch.cuda.is_available()";
    return plan::will_run(summary);
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    const auto choice = choose_gpu(context);
    return {{"env", context.config.string("conda_env.name")}, {"gpu", choice.active && !choice.refusal}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& /*run*/) const override {
    return plan::CheckResult{false, "", false};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_verify_step() { return std::make_unique<VerifyStep>(); }

}  // namespace cs231n::steps
