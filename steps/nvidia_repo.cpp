#include "steps/common.hpp"
#include "steps/table.hpp"
#include "agent/gpu/compat.hpp"

namespace cs231n::steps {

namespace {

class NvidiaRepoStep : public plan::Step {
 public:
  std::string name() const override { return "nvidia-repo"; }
  std::vector<std::string> after() const override { return {"apt-packages"}; }
  std::vector<std::string> resources() const override { return {"apt"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto choice = choose_gpu(context);
    if (auto gate = gpu_gate(choice)) return *gate;
    const auto repo = gpu::nvidia_repo_name(context.facts.os.id, context.facts.os.version_id);
    return plan::will_run("add NVIDIA's " + repo + " repository through its cuda-keyring package");
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return gpu_inputs(context);
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& /*run*/) const override {
    return plan::CheckResult{false, "", false};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_nvidia_repo_step() { return std::make_unique<NvidiaRepoStep>(); }

}  // namespace cs231n::steps
