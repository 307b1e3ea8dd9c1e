#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/gpu_common.hpp"
#include "steps/pip.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

gpu::TorchInstall install_of(const plan::Context& context, const gpu::Choice& choice) {
  return gpu::torch_install(choice, context.config.string("pytorch.index_url"));
}

class PytorchStep : public plan::Step {
 public:
  // Not after cuda: the wheels bring their own CUDA runtime, so the toolkit (gigabytes of .debs) and
  // torch download side by side; the chosen CUDA version is a plan decision, not an installed fact.
  PytorchStep() : Step({.name = "pytorch", .after = {"conda-env"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    // The GPU path's first step says why; torch for a refused choice waits for a config that works.
    if (gpu_plan.refusal) return plan::skipped("the GPU path is refused (see nvidia-repo)");
    const auto install = install_of(context, gpu_plan.choice);
    const std::string index = install.index_args.empty() ? "" : " " + util::join(install.index_args, " ");
    return plan::will_run("pip install " + install.requirement + index + " into env " +
                          context.config.string("conda_env.name") + " (" + gpu_plan.choice.reasons.back() +
                          "; versions from " + gpu_plan.torch_source + ")");
  }

  std::vector<plan::ExpectedDownload> expected_downloads(const plan::Context& context) const override {
    return {expected_torch_wheels(plan_gpu(context))};
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    const auto install = install_of(context, gpu_plan.choice);
    return {{"requirement", install.requirement}, {"index", install.index_args}, {"env", env_dir(context)}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto choice = plan_gpu(run.context()).choice;
    auto torch = query_torch(run);
    if (!torch) return std::unexpected(torch.error());
    if (!torch->imported) return plan::CheckResult{false, ""};
    if (torch->version != choice.torch_version && torch->version != choice.torch_version + "+" + choice.torch_variant) {
      return plan::CheckResult{false, ""};
    }
    if (torch->cuda != gpu::cuda_of_variant(choice.torch_variant)) return plan::CheckResult{false, ""};
    return plan::CheckResult{true,
                             "torch " + torch->version + (torch->cuda.empty() ? " (CPU)" : " for CUDA " + torch->cuda)};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto choice = plan_gpu(run.context()).choice;
    const auto install = install_of(run.context(), choice);
    if (auto installed =
            pip_install(run, env_dir(run.context()) + "/bin/python", install.requirement, install.index_args);
        !installed)
      return std::unexpected(installed.error());
    auto torch = query_torch(run);
    if (!torch) return std::unexpected(torch.error());
    if (!torch->imported) return util::fail("pip installed " + install.requirement + ", but " + torch->error);
    run.note("torch " + torch->version + (torch->cuda.empty() ? " (CPU build)" : " built for CUDA " + torch->cuda));
    return plan::ApplyResult{};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_pytorch_step() { return std::make_unique<PytorchStep>(); }

}  // namespace cs231n::steps
