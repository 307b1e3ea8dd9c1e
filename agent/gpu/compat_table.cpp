#include "agent/gpu/compat_table.hpp"

#include <array>
#include <cctype>

#include "agent/util/strings.hpp"

namespace cs231n::gpu {

namespace {

using util::compare_versions;

// GCE's GPUs (FACTS.md "GCE" for the ids, "GPU, driver, CUDA and PyTorch compatibility" for the rest).
constexpr std::array<GpuModel, 8> k_gpus{{
    {"102d", "Tesla K80", "Kepler", 37, 470, "10.0"},
    {"1bb3", "Tesla P4", "Pascal", 61, 580, "10.0"},
    {"15f8", "Tesla P100", "Pascal", 60, 580, "10.0"},
    {"1db1", "Tesla V100", "Volta", 70, 580, "10.0"},
    {"1eb8", "Tesla T4", "Turing", 75, 0, "10.0"},
    {"20b0", "A100 40GB", "Ampere", 80, 0, "11.0"},
    {"27b8", "L4", "Ada Lovelace", 89, 0, "11.8"},
    {"2330", "H100 80GB", "Hopper", 90, 0, "11.8"},
}};

}  // namespace

std::span<const GpuModel> gpu_models() { return k_gpus; }

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

const DriverBranches& driver_branches() {
  static const DriverBranches branches{
      // Driver branches NVIDIA's repos carry as cuda-drivers-<branch> (410 only in the old repos that
      // also carry CUDA 10.0).
      .nvidia_repo = {410, 470, 535, 580},
      // From 590 NVIDIA drops the branch from the package names and pins branches with separate
      // version-locking packages (FACTS.md), which this table does not model.
      .first_unbranched = 590,
      // The long-term data-center branch (R580, EOL 2028-06): preferred where it fits.
      .long_term = 580,
      // CUDA 10.0's own branch, as in the tutorial.
      .cuda10 = 410,
  };
  return branches;
}

const std::vector<CudaRelease>& cuda_releases() {
  // Repos beyond 10.0 are from NVIDIA's repo listings as FACTS.md reports them (unverified).
  static const std::vector<CudaRelease> releases{
      {"13.0", "cu130", 580, "580.65.06", {"ubuntu2204", "ubuntu2404", "debian12"}},
      {"12.8", "cu128", 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "ubuntu2404", "debian12"}},
      {"12.6", "cu126", 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "ubuntu2404", "debian11", "debian12"}},
      {"12.4", "cu124", 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "debian11", "debian12"}},
      {"12.1", "cu121", 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "debian11"}},
      {"11.8", "cu118", 450, "450.80.02", {"ubuntu1804", "ubuntu2004", "ubuntu2204", "debian11"}},
      {"10.0", "cu100", 410, "410.48", {"ubuntu1404", "ubuntu1604", "ubuntu1804"}},
  };
  return releases;
}

std::optional<CudaRelease> find_cuda(std::string_view version) {
  for (const auto& release : cuda_releases()) {
    if (release.version == version) return release;
  }
  return std::nullopt;
}

std::string cuda_of_variant(std::string_view variant) {
  if (!variant.starts_with("cu") || variant.size() < 4) return "";
  const auto digits = variant.substr(2);
  return std::string(digits.substr(0, digits.size() - 1)) + "." + std::string(digits.substr(digits.size() - 1));
}

const std::vector<OsSupport>& supported_oses() {
  static const std::vector<OsSupport> table{
      {"ubuntu", "16.04", "ubuntu1604", {}, ""},
      {"ubuntu", "18.04", "ubuntu1804", {}, ""},
      // 20.04 ships signed modules only under per-kernel names, which change with every kernel.
      {"ubuntu", "20.04", "ubuntu2004", {}, ""},
      {"ubuntu", "22.04", "ubuntu2204", {535, 550, 570, 580, 595}, ""},
      {"ubuntu",
       "24.04",
       "ubuntu2404",
       {535, 550, 570, 580, 595},
       "since 2026-02-01 apt rejects the ubuntu2404 repo's SHA1 signature (NVIDIA/cuda-repo-management#39)"},
      {"debian", "11", "debian11", {}, ""},
      {"debian", "12", "debian12", {}, ""},
  };
  return table;
}

std::optional<OsSupport> find_os(std::string_view os_id, std::string_view version_id) {
  for (const auto& os : supported_oses()) {
    if (os.id == os_id && os.version_id == version_id) return os;
  }
  return std::nullopt;
}

std::string nvidia_repo_name(std::string_view os_id, std::string_view version_id) {
  if (auto os = find_os(os_id, version_id)) return std::string(os->nvidia_repo);
  return "";
}

std::string supported_os_list() {
  // One "Name v1, v2" group per OS, in table order.
  std::vector<std::string> groups;
  std::string_view group_id;
  for (const auto& os : supported_oses()) {
    if (os.id != group_id) {
      std::string name(os.id);
      name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
      groups.push_back(name + " " + std::string(os.version_id));
      group_id = os.id;
    } else {
      groups.back() += ", " + std::string(os.version_id);
    }
  }
  std::string list;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (i > 0) list += i + 1 == groups.size() ? " and " : ", ";
    list += groups[i];
  }
  return list;
}

std::string os_label_of_repo(std::string_view repo) {
  if (repo.starts_with("ubuntu") && repo.size() == 10) {
    return "Ubuntu " + std::string(repo.substr(6, 2)) + "." + std::string(repo.substr(8, 2));
  }
  if (repo.starts_with("debian")) return "Debian " + std::string(repo.substr(6));
  return std::string(repo);
}

const std::vector<TorchBuild>& torch_builds() {
  // FACTS.md's torch table. Patch releases (2.9.1, 2.10.0, 2.11.0) are the newest believed to
  // exist for each minor release.
  static const std::vector<TorchBuild> builds{
      {"2.11.0", {"cu126", "cu128", "cu130", "cpu"}, "3.10", "3.14", TorchIndex::index_url},
      {"2.10.0", {"cu126", "cu128", "cu130", "cpu"}, "3.10", "3.14", TorchIndex::index_url},
      {"2.9.1", {"cu126", "cu128", "cu130", "cpu"}, "3.10", "3.14", TorchIndex::index_url},
      {"2.8.0", {"cu126", "cu128", "cu129", "cpu"}, "3.9", "3.13", TorchIndex::index_url},
      {"2.7.1", {"cu118", "cu126", "cu128", "cpu"}, "3.9", "3.13", TorchIndex::index_url},
      {"2.6.0", {"cu118", "cu124", "cu126", "cpu"}, "3.9", "3.13", TorchIndex::index_url},
      {"2.5.1", {"cu118", "cu121", "cu124", "cpu"}, "3.9", "3.12", TorchIndex::index_url},
      {"2.4.1", {"cu118", "cu121", "cu124", "cpu"}, "3.8", "3.12", TorchIndex::index_url},
      {"2.3.1", {"cu118", "cu121", "cpu"}, "3.8", "3.11", TorchIndex::index_url},
      // The last torch for Python 3.6.
      {"1.10.2", {"cpu"}, "3.6", "3.9", TorchIndex::find_links, "cu102"},
      // Unverified: 1.4.0+cu100 is widely used but not on the official list.
      {"1.4.0", {"cu100", "cpu"}, "3.5", "3.7", TorchIndex::find_links, "cu101"},
      // The tutorial era: PyPI's plain 1.2.0 wheel was built with CUDA 10.0.
      {"1.2.0", {"cu100", "cpu"}, "3.5", "3.7", TorchIndex::find_links, "cu100"},
  };
  return builds;
}

std::optional<TorchBuild> find_torch(std::string_view version) {
  for (const auto& build : torch_builds()) {
    if (build.version == version) return build;
  }
  return std::nullopt;
}

int torch_min_compute_capability(std::string_view torch_version, std::string_view variant) {
  if (variant == "cu100") return 35;
  if (variant.starts_with("cu11")) return 37;  // the K80's sm_37 lives on in cu11x builds up to 2.7
  if (variant.starts_with("cu13")) return 75;
  if (variant == "cu128" || variant == "cu129") {
    if (compare_versions(torch_version, "2.11") >= 0) return 75;  // V100 dropped
    if (compare_versions(torch_version, "2.8") >= 0) return 70;   // Maxwell and Pascal dropped
  }
  return 50;
}

int torch_max_compute_capability(std::string_view variant) { return variant == "cu100" ? 75 : 90; }

}  // namespace cs231n::gpu
