#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class NvidiaDriverStep : public plan::Step {
 public:
  std::string name() const override { return "nvidia-driver"; }
  std::vector<std::string> after() const override { return {"nvidia-repo"}; }
  std::vector<std::string> resources() const override { return {"apt"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto choice = choose_gpu(context);
    if (auto gate = gpu_gate(choice)) return *gate;
    std::string summary = "install NVIDIA driver " + std::to_string(choice.driver_branch) + " for " + choice.gpu_names +
                          " with headers for kernel " + context.facts.kernel_release;
    if (context.facts.nouveau_loaded) summary += "; blacklist nouveau and reboot once";
    if (context.facts.secure_boot == detect::SecureBoot::on) summary += "; Secure Boot is on: signed modules only";
    return plan::will_run(summary);
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return gpu_inputs(context);
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& facts = run.facts();
    if (facts.installed.nvidia_smi && facts.nvidia_loaded) return plan::CheckResult{true, "nvidia module loaded and nvidia-smi installed"};
    return plan::CheckResult{false, ""};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_nvidia_driver_step() { return std::make_unique<NvidiaDriverStep>(); }

}  // namespace cs231n::steps
