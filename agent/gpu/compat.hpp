#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cs231n::gpu {

// The one compatibility table (FACTS.md, "GPU, driver, CUDA and PyTorch compatibility").

struct GpuModel {
  std::string_view device_id;     // PCI device id under vendor 10de, lowercase hex
  std::string_view name;          // "Tesla T4"
  std::string_view architecture;  // "Turing"
  int max_driver_branch;          // newest driver branch that works on it (0: no limit)
  std::string_view min_cuda;      // oldest CUDA that knows the architecture
};

inline constexpr std::string_view k_nvidia_vendor = "10de";

std::optional<GpuModel> find_gpu(std::string_view device_id);
// "Tesla T4", or "NVIDIA 10de:XXXX" for an id not in the table.
std::string gpu_display_name(std::string_view device_id);

struct CudaRelease {
  std::string_view version;             // "10.0"
  int min_driver_branch;                // from the CUDA release notes
  std::vector<std::string_view> repos;  // NVIDIA repo distro names it is published for
};

std::optional<CudaRelease> find_cuda(std::string_view version);

// NVIDIA's repo name for an OS ("ubuntu2204", "debian12"), or empty when NVIDIA has none.
std::string nvidia_repo_name(std::string_view os_id, std::string_view version_id);

// Compares dotted versions numerically ("10.0" < "11.8" < "12.2").
int compare_versions(std::string_view a, std::string_view b);

// Why `cuda_version` cannot be used on this OS and GPU, or nullopt when it can. `os_label` is for
// the message ("Ubuntu 22.04").
std::optional<std::string> cuda_refusal(std::string_view cuda_version, std::string_view os_id,
                                        std::string_view os_version, std::string_view os_label,
                                        const std::vector<std::string>& gpu_device_ids);

}  // namespace cs231n::gpu
