#pragma once

#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "agent/gpu/compat.hpp"
#include "agent/gpu/repo_index.hpp"
#include "agent/plan/step.hpp"

namespace cs231n::steps {

// The GPU path's choice for this machine: the compatibility table (agent/gpu/compat_table.hpp) and
// what the indexes read at run time say (each read once per process).
struct GpuPlan {
  bool active = false;      // an NVIDIA GPU is present, or gpu.force
  std::string skip_reason;  // when !active
  std::string gpu_names;    // "Tesla T4"
  std::optional<gpu::Refusal> refusal;
  gpu::Choice choice;  // the torch build even when !active (the CPU-only one)
  // Where the torch versions and NVIDIA's repo's packages came from: the index read (its URL) or
  // "cs231n-agent's table (why)".
  std::string torch_source;
  std::string repo_source;
  // Every index the choice read (PyTorch's pages, NVIDIA's package list, apt's lists through
  // apt-cache) and how it went, one line each, for `plan`.
  std::vector<std::string> index_reads;
  std::optional<gpu::RepoContents> repo;  // NVIDIA's repo for this OS, when its Packages index was read
};

GpuPlan plan_gpu(const plan::Context& context);

// What installing `packages` from NVIDIA's repo downloads, for Step::expected_downloads: the
// Size: fields of them and of their dependencies that the repo has (Packages index), less what
// dpkg has installed; what the OS archive brings is a second entry of unknown size. Not known at
// all when the index was not read. `what` names it.
std::vector<plan::ExpectedDownload> expected_from_nvidia_repo(const plan::Context& context, const GpuPlan& gpu_plan,
                                                              const std::vector<std::string>& packages,
                                                              const std::string& what);

// The torch wheels and the nvidia-* wheels they depend on (and torchvision's, when it comes too):
// an estimate (PyTorch's PEP 503 pages give no sizes), for CUDA 12 and later builds; not known for
// others.
plan::ExpectedDownload expected_torch_wheels(const GpuPlan& gpu_plan, bool torchvision);

// Whether torchvision comes with torch (pytorch.torchvision), and the pip install of the choice's
// torch (and torchvision) from pytorch.index_url, or why there is none.
bool wants_torchvision(const plan::Context& context);
std::expected<gpu::TorchInstall, std::string> torch_install_of(const plan::Context& context, const gpu::Choice& choice);

// What the GPU path's steps depend on: the chosen CUDA, driver branch and source, and the OS.
nlohmann::json gpu_inputs(const plan::Context& context);

// A decision for a step of the GPU path when the path is skipped or refused.
std::optional<plan::Decision> gpu_gate(const GpuPlan& gpu_plan);

// Whether a kernel module is loaded now (/proc/modules, read live: facts are from the run's start).
bool module_loaded(const os::Files& files, std::string_view module);

// The packages that bring the chosen driver for `kernel_release`; those whose presence means it is
// installed; and those held so an upgrade cannot swap the branch.
std::vector<std::string> driver_packages(const gpu::Choice& choice, const std::string& kernel_release);
// Ubuntu's signed modules of the choice: linux-modules-nvidia-<branch>-server[-open]-<suffix>, the
// suffix a kernel release ("6.8.0-1015-gcp") or the flavour ("gcp", the meta package).
std::string signed_modules_package(const gpu::Choice& choice, const std::string& suffix);
std::vector<std::string> installed_driver_packages(const gpu::Choice& choice);
std::vector<std::string> held_driver_packages(const gpu::Choice& choice);
// "ubuntu-signed", "nvidia-repo", "nvidia-repo-latest": plan --json and the steps' inputs.
std::string_view driver_source_name(gpu::DriverSource source);

// What nvidia-smi says, or why it could not say it.
struct NvidiaSmiReport {
  bool ok = false;
  std::string error;  // nvidia-smi's own message when !ok
  std::vector<std::string> names;
  std::string driver_version;            // of the first GPU
  std::vector<std::string> persistence;  // "Enabled" / "Disabled" per GPU
};
util::Result<NvidiaSmiReport> query_nvidia_smi(const plan::StepRun& run);

// What the env's Python says of torch (run as the user).
struct TorchReport {
  bool imported = false;
  std::string error;  // the import's last lines when !imported
  std::string version;
  std::string cuda;  // torch.version.cuda; empty for a CPU build
  bool cuda_available = false;
  std::vector<std::string> devices;
  // torchvision.__version__ when it imports (after torch); else empty, and why in torchvision_error.
  std::string torchvision;
  std::string torchvision_error;
};
// Runs the env's Python only when torch's files are there: a check must stay cheap, and `plan
// --root` must not start programs of a fixture tree.
util::Result<TorchReport> query_torch(const plan::StepRun& run);
bool torch_files_present(const os::Files& files, const std::string& env);

}  // namespace cs231n::steps
