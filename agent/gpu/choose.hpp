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
  nvidia_repo,         // cuda-drivers-<branch> from NVIDIA's repo, a DKMS-built (unsigned) module
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
  // The torch 2.x versions PyTorch's index has per variant for the env's Python; where it answers,
  // it replaces the table's list (unset or nullopt: the table).
  TorchVersionsLookup torch_versions;
  // What NVIDIA's repo for this OS holds; where known, it replaces the table's belief of which CUDA
  // toolkits and driver packages the repo has (nullopt: the table).
  std::optional<RepoContents> nvidia_repo_contents;
};

struct Choice {
  // The GPU path; empty / 0 when !gpu_path.
  std::string cuda;
  int driver_branch = 0;
  DriverSource driver_source = DriverSource::nvidia_repo;
  bool open_modules = false;  // NVIDIA's open kernel modules (Turing and newer)
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

// The pip requirement and index options of a choice. `base_url` is where PyTorch's wheel
// indexes live (https://download.pytorch.org/whl).
struct TorchInstall {
  std::string requirement;              // "torch==2.7.1+cu126"
  std::vector<std::string> index_args;  // {"--index-url", "BASE/cu126"}
};
TorchInstall torch_install(const Choice& choice, std::string_view base_url);

}  // namespace cs231n::gpu
