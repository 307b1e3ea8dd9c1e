#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "agent/gpu/compat_table.hpp"
#include "agent/gpu/repo_index.hpp"
#include "agent/gpu/torch_index.hpp"

namespace cs231n::gpu {

// The choice of CUDA, driver branch and torch build for a machine, made from the compatibility
// table (compat_table.hpp), and the refusals with the nearest combination that works. Pure: no I/O.

// Where the NVIDIA driver comes from.
enum class DriverSource {
  nvidia_repo,  // a branch's packages from NVIDIA's repo (nvidia-open-<b>, cuda-drivers-<b>), DKMS-built (unsigned)
  nvidia_repo_latest,  // the repo's unsuffixed cuda-drivers / nvidia-open (no branch packages there)
  ubuntu_signed,       // Ubuntu's Canonical-signed linux-modules-nvidia-<branch>-server[-open]-<kernel>
};

// What the machine is and what the config asks for.
struct Request {
  bool gpu_path = false;             // an NVIDIA GPU is present, or gpu.force
  std::vector<std::string> gpu_ids;  // PCI device ids; may be empty with gpu.force
  std::string os_id, os_version, os_label;
  std::string kernel_release;          // "6.8.0-1015-gcp": the flavour decides signed modules
  std::string python;                  // the env's Python, "3.6"
  std::string cuda = "auto";           // gpu.cuda
  std::string driver_branch = "auto";  // gpu.driver_branch
  std::string torch = "auto";          // pytorch.version
  bool secure_boot = false;
  bool module_signing_key = false;  // a MOK key DKMS signs with is configured
  bool gce = false;                 // on GCE: GPUs GCE retired are refused
  std::string apt_version;          // the installed apt's version ("2.4.13"); empty: unknown
  // The wheels PyTorch's indexes have per variant and Python; where one answers, it replaces the
  // table's list of that index form (unset or nullopt: the table). Asked with the Python of the
  // request being searched, so that a suggestion with another Python sees that Python's wheels.
  TorchWheelsLookup torch_wheels;
  // What NVIDIA's repo for this OS holds; where known, it replaces the table's belief of which CUDA
  // toolkits and driver packages the repo has (nullopt: the table).
  std::optional<RepoContents> nvidia_repo_contents;
  // The linux-modules-nvidia-* packages apt's lists on the machine name (apt-cache, no update);
  // where known, they replace the table's belief of Ubuntu's signed branches (nullopt: the table).
  std::optional<std::vector<std::string>> archive_signed_modules;
};

struct Choice {
  // The GPU path; empty / 0 when !gpu_path.
  std::string cuda;
  int driver_branch = 0;
  DriverSource driver_source = DriverSource::nvidia_repo;
  bool open_modules = false;  // NVIDIA's open kernel modules (Turing and newer)
  // The packages of NVIDIA's repo that bring the driver (nvidia_repo, nvidia_repo_latest):
  // {"nvidia-open-580"}, {"cuda-drivers-535"}, {"nvidia-open"}, ...
  std::vector<std::string> repo_packages;
  std::string nvidia_repo;
  std::string repo_warning;
  // The torch build.
  std::string torch_version;
  std::string torch_variant;  // "cu126" or "cpu"
  // The wheel the index listed (its href), empty when the version came from the table; and whether
  // its file name has no +<variant> (PyPI's plain build, or a 1.0/1.1 wheel of torch_stable.html).
  std::string torch_wheel;
  bool torch_plain = false;
  // Why, one line each, for `plan`.
  std::vector<std::string> reasons;
};

struct Refusal {
  std::string reason;      // "CUDA 10.0 has no repository for Ubuntu 22.04 (...)"
  std::string suggestion;  // "set gpu.cuda to \"auto\" (here: CUDA 12.8, driver 580, torch 2.9.1+cu128)"
  std::string message() const;
};

std::expected<Choice, Refusal> choose(const Request& request);

// The pip requirements and index options of a choice. `base_url` is where PyTorch's wheel
// indexes live (https://download.pytorch.org/whl). A requirement without +<variant> is never
// given with torch_stable.html: `==1.2.0` matches 1.2.0+cu92 too (PEP 440 ignores the local part),
// and pip would take the highest (pytorch/pytorch#53821: `torch==1.8.0 -f torch_stable.html` got
// the rocm build). So a plain wheel the index listed is named by its URL, and one from the table
// comes from PyPI, as PyTorch's own instructions for 1.2.0 and CUDA 10.0 have it
// (`pip install torch==1.2.0 torchvision==0.4.0`, pytorch.org "Previous versions").
//
// With `torchvision`, the requirement `torchvision` (no version) follows torch's, from the same
// per-variant index: each torchvision wheel there requires the exact torch it was built against
// (`Requires-Dist: torch==X.Y.Z`, pytorch/vision setup.py get_requirements with PYTORCH_VERSION),
// so pip's resolver takes the release that matches the pinned torch, and the index holds only
// that variant's builds. torch before 1.11 has no such index: on torch_stable.html or PyPI pip
// would take any variant's torchvision (the highest local label), so that is refused.
struct TorchInstall {
  std::vector<std::string> requirements;  // {"torch==2.7.1+cu126", "torchvision"}, or the wheel's URL
  std::vector<std::string> index_args;    // {"--index-url", "BASE/cu126"}
};
std::expected<TorchInstall, std::string> torch_install(const Choice& choice, std::string_view base_url,
                                                       bool torchvision);

}  // namespace cs231n::gpu
