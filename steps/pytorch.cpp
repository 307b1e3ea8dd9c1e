#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/gpu_common.hpp"
#include "steps/pip.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

std::string torch_said(const TorchReport& torch) {
  return "torch " + torch.version + (torch.cuda.empty() ? " (CPU build)" : " built for CUDA " + torch.cuda) +
         (torch.torchvision.empty() ? "" : ", torchvision " + torch.torchvision);
}

class PytorchStep : public plan::Step {
 public:
  // Not after cuda: the wheels bring their own CUDA runtime, so the toolkit (gigabytes of .debs) and
  // torch download side by side; the chosen CUDA version is a plan decision, not an installed fact.
  // After torch-wheels: the wheels it fetched are then only verified here.
  PytorchStep() : Step({.name = "pytorch", .after = {"conda-env", "torch-wheels"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    // The GPU path's first step says why; torch for a refused choice waits for a config that works.
    if (gpu_plan.refusal) return plan::skipped("the GPU path is refused (see nvidia-repo)");
    const auto install = torch_install_of(context, gpu_plan.choice);
    if (!install) return plan::refused(install.error());
    const std::string index = install->index_args.empty() ? "" : " " + util::join(install->index_args, " ");
    return plan::will_run("pip install " + util::join(install->requirements, " ") + index + " into env " +
                          context.config.string("conda_env.name") + " (" + gpu_plan.choice.reasons.back() +
                          "; versions from " + gpu_plan.torch_source + ")");
  }

  std::vector<plan::ExpectedDownload> expected_downloads(const plan::Context& context) const override {
    // torch-wheels fetches them, when it runs; here they are then only verified.
    if (!why_no_prefetch(context)) return {};
    return {expected_torch_wheels(plan_gpu(context), wants_torchvision(context))};
  }

  // torch's requirement stays one string, and torchvision is named only when it is installed: a seed
  // VM's fingerprint is the one of before torchvision came (test_plan_step pins both profiles').
  nlohmann::json inputs(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    const auto install = torch_install_of(context, gpu_plan.choice);
    if (!install) return {{"refused", install.error()}};
    nlohmann::json inputs{
        {"requirement", install->requirements.front()}, {"index", install->index_args}, {"env", env_dir(context)}};
    if (install->requirements.size() > 1)
      inputs["with"] = std::vector<std::string>(install->requirements.begin() + 1, install->requirements.end());
    return inputs;
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
    // A torchvision that does not import beside this torch (none, or built for another) is pip's to fix.
    if (wants_torchvision(run.context()) && torch->torchvision.empty()) return plan::CheckResult{false, ""};
    return plan::CheckResult{true, torch_said(*torch)};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto choice = plan_gpu(run.context()).choice;
    const auto install = torch_install_of(run.context(), choice);
    if (!install) return util::fail(install.error());
    if (auto installed =
            pip_install(run, env_dir(run.context()) + "/bin/python", install->requirements, install->index_args);
        !installed)
      return std::unexpected(installed.error());
    auto torch = query_torch(run);
    if (!torch) return std::unexpected(torch.error());
    const std::string installed = util::join(install->requirements, " ");
    if (!torch->imported) return util::fail("pip installed " + installed + ", but " + torch->error);
    if (wants_torchvision(run.context()) && torch->torchvision.empty())
      return util::fail("pip installed " + installed + ", but import torchvision says " + torch->torchvision_error);
    run.note(torch_said(*torch));
    return plan::ApplyResult{};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_pytorch_step() { return std::make_unique<PytorchStep>(); }

}  // namespace cs231n::steps
