#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class GpuPersistenceStep : public plan::Step {
 public:
  std::string name() const override { return "gpu-persistence"; }
  std::vector<std::string> after() const override { return {"nvidia-driver"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto choice = choose_gpu(context);
    if (auto gate = gpu_gate(choice)) return *gate;
    if (!context.config.boolean("gpu.persistence")) return plan::skipped("gpu.persistence is false");
    return plan::will_run("turn on persistence mode (nvidia-smi -pm 1)");
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

std::unique_ptr<plan::Step> make_gpu_persistence_step() { return std::make_unique<GpuPersistenceStep>(); }

}  // namespace cs231n::steps
