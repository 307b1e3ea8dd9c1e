#include "agent/gpu/compat.hpp"

#include <algorithm>
#include <array>

#include "agent/util/strings.hpp"

namespace cs231n::gpu {

namespace {

constexpr std::array<GpuModel, 8> k_gpus{{
    {"102d", "Tesla K80", "Kepler", 470, "10.0"},
    {"1bb3", "Tesla P4", "Pascal", 580, "10.0"},
    {"15f8", "Tesla P100", "Pascal", 580, "10.0"},
    {"1db1", "Tesla V100", "Volta", 580, "10.0"},
    {"1eb8", "Tesla T4", "Turing", 0, "10.0"},
    {"20b0", "A100 40GB", "Ampere", 0, "11.0"},
    {"27b8", "L4", "Ada Lovelace", 0, "11.8"},
    {"2330", "H100 80GB", "Hopper", 0, "11.8"},
}};

const std::vector<CudaRelease>& cuda_releases() {
  static const std::vector<CudaRelease> releases{
      {"10.0", 410, {"ubuntu1404", "ubuntu1604", "ubuntu1804"}},
      {"11.8", 450, {"ubuntu1804", "ubuntu2004", "ubuntu2204", "debian11"}},
      {"12.1", 525, {"ubuntu2004", "ubuntu2204", "debian11"}},
      {"12.4", 525, {"ubuntu2004", "ubuntu2204", "debian11", "debian12"}},
      {"12.6", 525, {"ubuntu2004", "ubuntu2204", "ubuntu2404", "debian11", "debian12"}},
      {"12.8", 525, {"ubuntu2004", "ubuntu2204", "ubuntu2404", "debian12"}},
      {"13.0", 580, {"ubuntu2204", "ubuntu2404", "debian12"}},
  };
  return releases;
}

std::string os_label_of_repo(std::string_view repo) {
  if (repo.starts_with("ubuntu") && repo.size() == 10) {
    return "Ubuntu " + std::string(repo.substr(6, 2)) + "." + std::string(repo.substr(8, 2));
  }
  if (repo.starts_with("debian")) return "Debian " + std::string(repo.substr(6));
  return std::string(repo);
}

}  // namespace

std::optional<GpuModel> find_gpu(std::string_view device_id) {
  for (const auto& model : k_gpus) {
    if (model.device_id == device_id) return model;
  }
  return std::nullopt;
}

std::string gpu_display_name(std::string_view device_id) {
  if (auto model = find_gpu(device_id)) return std::string(model->name);
  return "NVIDIA " + std::string(k_nvidia_vendor) + ":" + std::string(device_id);
}

std::optional<CudaRelease> find_cuda(std::string_view version) {
  for (const auto& release : cuda_releases()) {
    if (release.version == version) return release;
  }
  return std::nullopt;
}

std::string nvidia_repo_name(std::string_view os_id, std::string_view version_id) {
  std::string compact;
  for (char c : version_id) {
    if (c != '.') compact += c;
  }
  if (os_id == "ubuntu" && compact.size() == 4) return "ubuntu" + compact;
  if (os_id == "debian" && (compact == "11" || compact == "12")) return "debian" + compact;
  return "";
}

int compare_versions(std::string_view a, std::string_view b) {
  const auto left = util::split(a, '.');
  const auto right = util::split(b, '.');
  for (std::size_t i = 0; i < std::max(left.size(), right.size()); ++i) {
    const auto l = i < left.size() ? util::parse_uint(left[i]).value_or(0) : 0;
    const auto r = i < right.size() ? util::parse_uint(right[i]).value_or(0) : 0;
    if (l != r) return l < r ? -1 : 1;
  }
  return 0;
}

std::optional<std::string> cuda_refusal(std::string_view cuda_version, std::string_view os_id,
                                        std::string_view os_version, std::string_view os_label,
                                        const std::vector<std::string>& gpu_device_ids) {
  const auto release = find_cuda(cuda_version);
  if (!release) return "CUDA " + std::string(cuda_version) + " is not a version cs231n-agent knows; set gpu.cuda to \"auto\"";
  const std::string repo = nvidia_repo_name(os_id, os_version);
  if (std::ranges::find(release->repos, repo) == release->repos.end()) {
    std::vector<std::string> where;
    for (auto name : release->repos) where.push_back(os_label_of_repo(name));
    return "CUDA " + std::string(cuda_version) + " has no repository for " + std::string(os_label) +
           " (NVIDIA publishes it for " + util::join(where, ", ") + "); set gpu.cuda to \"auto\"";
  }
  for (const auto& device_id : gpu_device_ids) {
    const auto model = find_gpu(device_id);
    if (!model) continue;
    if (compare_versions(cuda_version, model->min_cuda) < 0) {
      return "the " + std::string(model->name) + " needs CUDA " + std::string(model->min_cuda) + " or newer, not " +
             std::string(cuda_version) + "; set gpu.cuda to \"auto\"";
    }
    if (model->max_driver_branch != 0 && release->min_driver_branch > model->max_driver_branch) {
      return "CUDA " + std::string(cuda_version) + " needs driver " + std::to_string(release->min_driver_branch) +
             " or newer, but the " + std::string(model->name) + " works only up to driver " +
             std::to_string(model->max_driver_branch) + "; set gpu.cuda to \"auto\"";
    }
  }
  return std::nullopt;
}

}  // namespace cs231n::gpu
