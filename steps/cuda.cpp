#include "steps/apt.hpp"
#include "steps/common.hpp"
#include "steps/gpu_common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

constexpr const char* k_profile_script = "/etc/profile.d/cs231n-agent-cuda.sh";

std::string profile_script(const std::string& cuda) {
  const std::string home = "/usr/local/cuda-" + cuda;
  return "# Written by cs231n-agent: CUDA " + cuda +
         " for login shells.\n"
         "export PATH=\"" +
         home +
         "/bin${PATH:+:${PATH}}\"\n"
         "export LD_LIBRARY_PATH=\"" +
         home + "/lib64${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}\"\n";
}

class CudaStep : public plan::Step {
 public:
  CudaStep() : Step({.name = "cuda", .after = {"nvidia-driver"}, .resources = {"apt"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    if (auto gate = gpu_gate(gpu_plan)) return *gate;
    if (!gpu_plan.choice.repo_warning.empty()) {
      return plan::skipped("no CUDA toolkit: it comes only from NVIDIA's " + gpu_plan.choice.nvidia_repo +
                           " repository, which is not added here (" + gpu_plan.choice.repo_warning +
                           "); PyTorch's wheels bring their own CUDA runtime");
    }
    const std::string& cuda = gpu_plan.choice.cuda;
    // Not cuda-X-Y: that metapackage pulls cuda-drivers, the newest branch, over the chosen one.
    return plan::will_run("install " + gpu::cuda_toolkit_package(cuda) + " and put it on PATH in " + k_profile_script +
                          " (" + gpu_plan.choice.reasons.front() + ")");
  }

  nlohmann::json inputs(const plan::Context& context) const override { return gpu_inputs(context); }

  std::vector<plan::ExpectedDownload> expected_downloads(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    const std::string package = gpu::cuda_toolkit_package(gpu_plan.choice.cuda);
    return expected_from_nvidia_repo(context, gpu_plan, {package}, package);
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    if (files.exists(run.context().paths.nvidia_repo_unusable_file()))
      return plan::CheckResult{true, "left out: NVIDIA's repository is unusable here"};
    const std::string cuda = plan_gpu(run.context()).choice.cuda;
    if (!files.exists("/usr/local/cuda-" + cuda + "/bin/nvcc")) return plan::CheckResult{false, ""};
    if (files.read(k_profile_script).value_or("") != profile_script(cuda)) return plan::CheckResult{false, ""};
    return plan::CheckResult{true, "CUDA " + cuda + " is in /usr/local/cuda-" + cuda};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    if (files.exists(run.context().paths.nvidia_repo_unusable_file())) {
      run.note(
          "NVIDIA's repository is unusable here, so no CUDA toolkit; PyTorch's wheels bring their own CUDA runtime");
      return plan::ApplyResult{};
    }
    const std::string cuda = plan_gpu(run.context()).choice.cuda;
    const std::string package = gpu::cuda_toolkit_package(cuda);
    if (!missing_packages(files, {package}).empty()) {
      if (auto installed = apt_install(run, {package}, Unpack::as_they_arrive); !installed)
        return std::unexpected(installed.error());
    }
    if (!files.exists("/usr/local/cuda-" + cuda + "/bin/nvcc")) {
      return util::fail(package + " is installed but /usr/local/cuda-" + cuda + "/bin/nvcc is missing");
    }
    if (auto written = files.write_atomic(k_profile_script, profile_script(cuda), 0644); !written) {
      return std::unexpected(written.error());
    }
    return plan::ApplyResult{};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_cuda_step() { return std::make_unique<CudaStep>(); }

}  // namespace cs231n::steps
