#include "steps/common.hpp"
#include "steps/table.hpp"
#include <algorithm>

namespace cs231n::steps {

namespace {

class CudaStep : public plan::Step {
 public:
  std::string name() const override { return "cuda"; }
  std::vector<std::string> after() const override { return {"nvidia-driver"}; }
  std::vector<std::string> resources() const override { return {"apt"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto choice = choose_gpu(context);
    if (auto gate = gpu_gate(choice)) return *gate;
    std::string package = "cuda-toolkit-" + choice.cuda;
    std::ranges::replace(package, '.', '-');
    return plan::will_run("install " + package + " (CUDA " + choice.cuda + ") and put it on PATH");
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return gpu_inputs(context);
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto choice = choose_gpu(run.context());
    if (run.system().files().exists("/usr/local/cuda-" + choice.cuda + "/bin/nvcc")) {
      return plan::CheckResult{true, "CUDA " + choice.cuda + " is in /usr/local/cuda-" + choice.cuda};
    }
    return plan::CheckResult{false, ""};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_cuda_step() { return std::make_unique<CudaStep>(); }

}  // namespace cs231n::steps
