#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cs231n::gpu {

// The one compatibility table (FACTS.md, "GPU, driver, CUDA and PyTorch compatibility") and the
// choice of CUDA, driver branch and torch build made from it. Pure: no I/O.

struct GpuModel {
  std::string_view device_id;     // PCI device id under vendor 10de, lowercase hex
  std::string_view name;          // "Tesla T4"
  std::string_view architecture;  // "Turing"
  int compute_capability;         // 75 for sm_75
  int max_driver_branch;          // newest driver branch that works on it (0: no limit)
  std::string_view min_cuda;      // oldest CUDA that knows the architecture
};

inline constexpr std::string_view k_nvidia_vendor = "10de";

std::optional<GpuModel> find_gpu(std::string_view device_id);
// "Tesla T4", or "NVIDIA 10de:XXXX" for an id not in the table.
std::string gpu_display_name(std::string_view device_id);

struct CudaRelease {
  std::string_view version;             // "10.0"
  std::string_view torch_variant;       // "cu100": the PyTorch builds made with it
  int min_driver_branch;                // from the CUDA release notes
  std::string_view min_driver_version;  // "410.48"
  std::vector<std::string_view> repos;  // NVIDIA repo distro names it is published for
};

std::optional<CudaRelease> find_cuda(std::string_view version);
// Newest first.
const std::vector<CudaRelease>& cuda_releases();

struct OsSupport {
  std::string_view id;          // os-release ID
  std::string_view version_id;  // os-release VERSION_ID
  std::string_view nvidia_repo; // "ubuntu2204"
  // Driver branches the OS ships as prebuilt, signed modules for the GCP kernel flavour (they load
  // with Secure Boot on): linux-modules-nvidia-<branch>-server-gcp.
  std::vector<int> signed_gcp_branches;
  // A known reason NVIDIA's repo may not work here (empty: none known).
  std::string_view repo_warning;
};

std::optional<OsSupport> find_os(std::string_view os_id, std::string_view version_id);
// NVIDIA's repo name for an OS ("ubuntu2204", "debian12"), or empty when NVIDIA has none.
std::string nvidia_repo_name(std::string_view os_id, std::string_view version_id);

enum class TorchIndex {
  find_links,  // torch <= 1.10: pip install torch==V+cuXXX -f BASE/torch_stable.html
  index_url,   // torch 2.x: pip install torch==V+cuXXX --index-url BASE/cuXXX
};

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
// The oldest and newest GPU architectures (sm_XY as XY) a torch build for `variant` runs on.
int torch_min_compute_capability(std::string_view torch_version, std::string_view variant);
int torch_max_compute_capability(std::string_view variant);

// Where the NVIDIA driver comes from.
enum class DriverSource {
  nvidia_repo,    // cuda-drivers-<branch> from NVIDIA's repo, a DKMS-built (unsigned) module
  ubuntu_signed,  // Ubuntu's Canonical-signed linux-modules-nvidia-<branch>-server-gcp
};

// What the machine is and what the config asks for.
struct Request {
  bool gpu_path = false;                 // an NVIDIA GPU is present, or gpu.force
  std::vector<std::string> gpu_ids;      // PCI device ids; may be empty with gpu.force
  std::string os_id, os_version, os_label;
  std::string kernel_release;            // "6.8.0-1015-gcp": the flavour decides signed modules
  std::string python;                    // the env's Python, "3.6"
  std::string cuda = "auto";             // gpu.cuda
  std::string driver_branch = "auto";    // gpu.driver_branch
  std::string torch = "auto";            // pytorch.version
  bool secure_boot = false;
  bool module_signing_key = false;       // a MOK key DKMS signs with is configured
};

struct Choice {
  // The GPU path; empty / 0 when !gpu_path.
  std::string cuda;
  int driver_branch = 0;
  DriverSource driver_source = DriverSource::nvidia_repo;
  std::string nvidia_repo;
  std::string repo_warning;
  // The torch build.
  std::string torch_version;
  std::string torch_variant;  // "cu126" or "cpu"
  // Why, one line each, for `plan`.
  std::vector<std::string> reasons;
};

struct Refusal {
  std::string reason;      // "CUDA 10.0 has no repository for Ubuntu 22.04 (...)"
  std::string suggestion;  // "set gpu.cuda to \"auto\" (here: CUDA 12.8, driver 580, torch 2.9.1+cu128)"
  std::string message() const;
};

std::expected<Choice, Refusal> choose(const Request& request);

// The CUDA version a torch variant was built with: "cu126" -> "12.6"; "cpu" -> "".
std::string cuda_of_variant(std::string_view variant);

// The pip requirement and index options of a choice. `base_url` is where PyTorch's wheel
// indexes live (https://download.pytorch.org/whl).
struct TorchInstall {
  std::string requirement;              // "torch==2.7.1+cu126"
  std::vector<std::string> index_args;  // {"--index-url", "BASE/cu126"}
};
TorchInstall torch_install(const Choice& choice, std::string_view base_url);

}  // namespace cs231n::gpu
