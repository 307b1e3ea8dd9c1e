#include <algorithm>

#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/gpu_common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class GpuPersistenceStep : public plan::Step {
 public:
  // `nvidia-smi -pm 1` lasts until the next boot (and nvidia-persistenced's packaged unit often
  // runs with --no-persistence-mode), so every run, at every boot, checks it again.
  GpuPersistenceStep() : Step({.name = "gpu-persistence", .after = {"nvidia-driver"}, .recheck_when_done = true}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    if (auto gate = gpu_gate(gpu_plan)) return *gate;
    if (!context.config.boolean("gpu.persistence")) return plan::skipped("gpu.persistence is false");
    return plan::will_run("turn on persistence mode (nvidia-smi -pm 1), as the tutorial does");
  }

  nlohmann::json inputs(const plan::Context& context) const override { return gpu_inputs(context); }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    if (!module_loaded(run.system().files(), "nvidia")) return plan::CheckResult{false, ""};
    auto smi = query_nvidia_smi(run);
    if (!smi) return std::unexpected(smi.error());
    if (!smi->ok) return plan::CheckResult{false, ""};
    if (!std::ranges::all_of(smi->persistence, [](const std::string& mode) { return mode == "Enabled"; })) {
      return plan::CheckResult{false, ""};
    }
    return plan::CheckResult{true, "persistence mode on for " + util::join(smi->names, ", ")};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    if (auto enabled = run.run(os::Command{.argv = {"nvidia-smi", "-pm", "1"}}); !enabled)
      return std::unexpected(enabled.error());
    return plan::ApplyResult{};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_gpu_persistence_step() { return std::make_unique<GpuPersistenceStep>(); }

}  // namespace cs231n::steps
