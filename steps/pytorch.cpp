#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class PytorchStep : public plan::Step {
 public:
  std::string name() const override { return "pytorch"; }
  std::vector<std::string> after() const override { return {"conda-env", "cuda"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto choice = choose_gpu(context);
    const std::string version = context.config.string("pytorch.version");
    const std::string env = context.config.string("conda_env.name");
    const std::string torch = version == "auto" ? std::string("the newest torch") : "torch " + version;
    if (!choice.active) return plan::will_run("install the CPU build of " + torch + " into env " + env + " (no NVIDIA GPU)");
    if (choice.refusal) return plan::skipped("the GPU path was refused: " + *choice.refusal);
    return plan::will_run("install " + torch + " built for CUDA " + choice.cuda + " into env " + env);
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    const auto choice = choose_gpu(context);
    return {{"pytorch", context.config.at("pytorch")}, {"cuda", choice.active ? choice.cuda : "cpu"},
            {"env", context.config.string("conda_env.name")}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& /*run*/) const override {
    return plan::CheckResult{false, "", false};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_pytorch_step() { return std::make_unique<PytorchStep>(); }

}  // namespace cs231n::steps
