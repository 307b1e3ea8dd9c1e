#include "steps/common.hpp"
#include "steps/table.hpp"
#include <algorithm>

namespace cs231n::steps {

namespace {

class CudaStep : public plan::Step {
 public:
  std::string name() const override { return "cuda"; }
  std::vector<std::string> after() const override { return {"nvidia-driver"}; }
  plan::Decision decide(const plan::Context& context) const override {
    const auto choice = choose_gpu(context);
    if (auto gate = gpu_gate(choice)) return *gate;
    std::string package = "cuda-toolkit-" + choice.cuda;
    std::ranges::replace(package, '.', '-');
    const std::string summary = "install " + package + " (CUDA " + choice.cuda + ") and put it on PATH";
    if (context.system.files().exists("/usr/local/cuda-" + choice.cuda + "/bin/nvcc")) {
      return plan::already_done("CUDA " + choice.cuda + " is in /usr/local/cuda-" + choice.cuda, summary);
    }
    return plan::will_run(summary);
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_cuda_step() { return std::make_unique<CudaStep>(); }

}  // namespace cs231n::steps
