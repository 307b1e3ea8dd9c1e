#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/gpu/torch_index.hpp"

namespace cs231n::gpu {

// The one compatibility table (FACTS.md, "GPU, driver, CUDA and PyTorch compatibility"): GCE's GPUs,
// CUDA releases and their repos, the OS releases cs231n-agent supports and their signed drivers,
// torch builds. Data only, in compat_table.cpp; the choice made from it is choose.hpp. Pure: no I/O.

struct GpuModel {
  std::string_view device_id;     // PCI device id under vendor 10de, lowercase hex
  std::string_view name;          // "Tesla T4"
  std::string_view architecture;  // "Turing"
  int compute_capability;         // 75 for sm_75
  int max_driver_branch;          // newest driver branch that works on it (0: no limit)
  std::string_view min_cuda;      // oldest CUDA that knows the architecture
  int max_cuda_major = 0;         // newest CUDA major with kernels for it (0: no limit)
  bool retired_on_gce = false;    // GCE no longer offers it
  // The first driver branch that knows the architecture, where newer than its CUDA's minor-version
  // minimum (which is what runs a CUDA program, not what drives a new GPU); 0: no such limit.
  int min_driver_branch = 0;
};

// NVIDIA's open kernel modules drive Turing (sm_75) and newer, and only they drive Blackwell; the
// proprietary ones drive everything up to Blackwell. NVIDIA recommends open from Turing on.
// Source: NVIDIA Driver Installation Guide, "Kernel Modules"
// (https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/kernel-modules.html).
inline constexpr int k_open_modules_from = 75;
inline constexpr int k_open_modules_only_from = 100;
// The first driver branch with open kernel modules (same guide: "Starting in the 515 driver release series").
inline constexpr int k_open_modules_from_branch = 515;
inline bool wants_open_modules(const GpuModel& model) { return model.compute_capability >= k_open_modules_from; }

inline constexpr std::string_view k_nvidia_vendor = "10de";

std::span<const GpuModel> gpu_models();
std::optional<GpuModel> find_gpu(std::string_view device_id);
// "Tesla T4", or "NVIDIA 10de:XXXX" for an id not in the table.
std::string gpu_display_name(std::string_view device_id);

// The driver branches cs231n-agent prefers.
struct DriverBranches {
  int long_term;  // preferred where it fits
  int cuda10;     // preferred with CUDA 10.0
};
const DriverBranches& driver_branches();

struct CudaRelease {
  std::string version;  // "10.0"
  // The PyTorch builds that run beside this toolkit, preferred first: the ones made with it, then
  // older ones of the same major (a wheel brings its own CUDA runtime; the driver is what counts).
  std::vector<std::string_view> torch_variants;
  int min_driver_branch;                // from the CUDA release notes
  std::string_view min_driver_version;  // "410.48"
  std::vector<std::string_view> repos;  // NVIDIA repo distro names it is published for
};

std::optional<CudaRelease> find_cuda(std::string_view version);
// Newest first: `auto` takes the first that fits.
const std::vector<CudaRelease>& cuda_releases();
// The CUDA version a torch variant was built with: "cu126" -> "12.6"; "cpu" -> "".
std::string cuda_of_variant(std::string_view variant);
// A release the table does not know (read from NVIDIA's repo): the minimum driver of its major,
// the torch variants of the table of the same major and not newer, no repos (the reader knows).
// Empty variants when no torch build has one of its major.
CudaRelease cuda_release_of_major(const std::string& version);
// "cuda-toolkit-12-6" for "12.6": the toolkit alone (cuda-X-Y would pull the newest driver).
std::string cuda_toolkit_package(std::string_view version);

// An OS release cs231n-agent supports: the one list, which detect's verdict uses too.
struct OsSupport {
  std::string_view id;           // os-release ID
  std::string_view version_id;   // os-release VERSION_ID
  std::string_view nvidia_repo;  // "ubuntu2204"
  // Driver branches the OS ships as prebuilt, signed modules for the GCP kernel flavour (they load
  // with Secure Boot on): linux-modules-nvidia-<branch>-server[-open]-<kernel>, not the
  // transitional names that only point at another branch.
  std::vector<int> signed_gcp_branches;
  // NVIDIA's repo for this OS: the branches it has cuda-drivers-<branch> for, and the branch its
  // unsuffixed packages (cuda-drivers, nvidia-open) bring when it has no branch packages (0: none).
  std::vector<int> repo_driver_branches;
  int repo_latest_branch = 0;
  // Signed with NVIDIA's key 3bf863cc, whose binding signature is SHA1: APT 3 (sqv) rejects it.
  bool repo_key_sha1 = true;
};

// Grouped by OS, oldest release first.
const std::vector<OsSupport>& supported_oses();
// Empty when cs231n-agent does not support the OS.
std::optional<OsSupport> find_os(std::string_view os_id, std::string_view version_id);
// NVIDIA's repo name for an OS ("ubuntu2204", "debian12"), or empty when NVIDIA has none.
std::string nvidia_repo_name(std::string_view os_id, std::string_view version_id);
// "Ubuntu 16.04, 18.04, 20.04, 22.04, 24.04 and Debian 11, 12", for messages.
std::string supported_os_list();
// "Ubuntu 14.04" for "ubuntu1404", "Debian 12" for "debian12".
std::string os_label_of_repo(std::string_view repo);

struct TorchBuild {
  std::string_view version;                // "2.7.1"
  std::vector<std::string_view> variants;  // "cu118", "cu126", "cpu"
  std::string_view python_min;             // "3.9"
  std::string_view python_max;             // "3.13"
  TorchIndex index;
  // The variant pip gets for a plain `torch==VERSION` (1.2.0 from PyPI is the CUDA 10.0 build);
  // other variants need the local version suffix (`+cu100`).
  std::string_view plain_variant = "";
};

// Newest first.
const std::vector<TorchBuild>& torch_builds();
std::optional<TorchBuild> find_torch(std::string_view version);
// What a torch wheel carries for the GPU: machine code for these architectures (sm_XY as XY) and
// PTX for one (0: none), which the driver compiles for newer ones.
struct TorchArchitectures {
  std::vector<int> cubins;
  int ptx = 0;
};
TorchArchitectures torch_architectures(std::string_view torch_version, std::string_view variant);
// Whether that build has kernels for `model`: a cubin of the same major and a minor not above the
// GPU's, or PTX not above it for an architecture the build's CUDA knows.
bool torch_runs_on(std::string_view torch_version, std::string_view variant, const GpuModel& model);

// The oldest APT that verifies signatures with Sequoia's sqv (APT 3.0: Debian 13, Ubuntu 25.04 on),
// which rejects SHA1 binding signatures since 2026-02-01 (NVIDIA/cuda-repo-management#30, #34, #39).
inline constexpr std::string_view k_apt_with_sqv = "2.9";

}  // namespace cs231n::gpu
