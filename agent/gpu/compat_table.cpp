#include "agent/gpu/compat_table.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "agent/util/strings.hpp"

namespace cs231n::gpu {

namespace {

using util::compare_versions;

// GCE's GPUs. Ids: pciutils' pci.ids (github.com/pciutils/pciids, vendor 10de), see
// docs/sources/gpu-driver-cuda-torch.md section 1. Last driver branch and CUDA range per
// architecture: NVIDIA's "CUDA Toolkit, Driver, and Architecture Matrix"
// (https://docs.nvidia.com/datacenter/tesla/drivers/cuda-toolkit-driver-and-architecture-matrix.html):
// Kepler CUDA <= 11.x and driver <= R470; Pascal and Volta CUDA <= 12.x and driver <= R580; Turing
// from CUDA 10.0, Ampere 11.0, Ada and Hopper 11.8, Blackwell 12.8. K80 retired from GCE:
// https://cloud.google.com/compute/docs/eol/k80-eol (and GoogleCloudPlatform/compute-gpu-installation
// commit 92a9513, "Removing K80 support").
constexpr std::array<GpuModel, 13> k_gpus{{
    {"102d", "Tesla K80", "Kepler", 37, 470, "10.0", 11, true},
    {"1bb3", "Tesla P4", "Pascal", 61, 580, "10.0", 12},
    {"15f8", "Tesla P100", "Pascal", 60, 580, "10.0", 12},
    {"1db1", "Tesla V100", "Volta", 70, 580, "10.0", 12},
    {"1eb8", "Tesla T4", "Turing", 75, 0, "10.0"},
    {"20b0", "A100 40GB", "Ampere", 80, 0, "11.0"},
    {"20b2", "A100 80GB", "Ampere", 80, 0, "11.0"},  // a2-ultragpu
    {"27b8", "L4", "Ada Lovelace", 89, 0, "11.8"},
    {"2330", "H100 80GB", "Hopper", 90, 0, "11.8"},  // a3-highgpu/edgegpu, and H100 Mega (a3-megagpu)
    {"2335", "H200", "Hopper", 90, 0, "11.8"},       // a3-ultragpu
    {"2901", "B200", "Blackwell", 100, 0, "12.8"},   // a4
    {"2909", "HGX B200", "Blackwell", 100, 0, "12.8"},
    {"2bb5", "RTX PRO 6000 Blackwell Server Edition", "Blackwell", 120, 0, "12.8"},  // g4
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
      // R580: the data-center long-term branch (EOL June 2028), the last for Maxwell, Pascal and
      // Volta (NVIDIA's driver lifecycle page; NVIDIA/ansible-role-nvidia-driver#89).
      .long_term = 580,
      // With CUDA 10.0: R470, which runs CUDA 10.0 (>= 410.48) and is the last branch for the K80,
      // so it drives every GPU of that era; NVIDIA's ubuntu1804 repo has cuda-drivers-470
      // (NVIDIA/ansible-role-nvidia-driver PR #53/#55 CI, scenario ubuntu-1804-cuda).
      .cuda10 = 470,
  };
  return branches;
}

const std::vector<CudaRelease>& cuda_releases() {
  // Minimum driver per CUDA major (minor-version compatibility, https://docs.nvidia.com/deploy/cuda-compatibility/):
  // 13.x >= 580, 12.x >= 525.60.13, 11.x >= 450.80.02; 10.0.130 >= 410.48. Repos: NVIDIA's
  // listings as reported in docs/sources/gpu-driver-cuda-torch.md section 3, where verified;
  // the rest is a belief that the repo's own Packages index overrides at run time. 13.3 is the
  // toolkit NVIDIA publishes for Ubuntu 26.04 (compute-gpu-installation tests: "Currently Ubuntu
  // 26 supports only Cuda 13.3 toolkit").
  static const std::vector<CudaRelease> releases{
      {"13.3", {"cu132", "cu130"}, 580, "580.65.06", {"ubuntu2604"}},
      {"13.2", {"cu132", "cu130"}, 580, "580.65.06", {"ubuntu2204", "ubuntu2404", "debian12", "debian13"}},
      {"13.0", {"cu130"}, 580, "580.65.06", {"ubuntu2204", "ubuntu2404", "debian12", "debian13"}},
      {"12.8", {"cu128", "cu126"}, 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "ubuntu2404", "debian12"}},
      {"12.6", {"cu126"}, 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "ubuntu2404", "debian11", "debian12"}},
      {"12.4", {"cu124"}, 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "debian11", "debian12"}},
      {"12.1", {"cu121"}, 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "debian11"}},
      {"11.8", {"cu118"}, 450, "450.80.02", {"ubuntu1804", "ubuntu2004", "ubuntu2204", "debian11"}},
      {"10.0", {"cu100"}, 410, "410.48", {"ubuntu1404", "ubuntu1604", "ubuntu1804"}},
  };
  return releases;
}

std::optional<CudaRelease> find_cuda(std::string_view version) {
  for (const auto& release : cuda_releases()) {
    if (release.version == version) return release;
  }
  return std::nullopt;
}

CudaRelease cuda_release_of_major(const std::string& version) {
  CudaRelease release{version, {}, 0, "", {}};
  const auto major = version.substr(0, version.find('.'));
  for (const auto& known : cuda_releases()) {
    if (known.version.substr(0, known.version.find('.')) != major) continue;
    release.min_driver_branch = known.min_driver_branch;
    release.min_driver_version = known.min_driver_version;
    for (auto variant : known.torch_variants) {
      if (compare_versions(cuda_of_variant(variant), version) <= 0 &&
          std::ranges::find(release.torch_variants, variant) == release.torch_variants.end())
        release.torch_variants.push_back(variant);
    }
  }
  std::ranges::sort(release.torch_variants, [](std::string_view a, std::string_view b) {
    return compare_versions(cuda_of_variant(a), cuda_of_variant(b)) > 0;
  });
  return release;
}

std::string cuda_toolkit_package(std::string_view version) {
  std::string package = "cuda-toolkit-" + std::string(version);
  std::ranges::replace(package, '.', '-');
  return package;
}

std::string cuda_of_variant(std::string_view variant) {
  if (!variant.starts_with("cu") || variant.size() < 4) return "";
  const auto digits = variant.substr(2);
  return std::string(digits.substr(0, digits.size() - 1)) + "." + std::string(digits.substr(digits.size() - 1));
}

const std::vector<OsSupport>& supported_oses() {
  // Signed GCP modules: packages.ubuntu.com (linux-modules-nvidia-580-server[-open]-gcp in jammy,
  // noble, resolute); 535/550/570 -server-gcp are transitional packages to 580 (snapd#15712 for
  // 550 on jammy and noble, packages.ubuntu.com for 25.10 on), 590 to 595 in resolute. 20.04 ships
  // them only under per-kernel names. NVIDIA's branch packages: ubuntu2204 starts at 515
  // (ansible-role-nvidia-driver#65), ubuntu2204 and 2404 have cuda-drivers-580 and no 515
  // (#89); ubuntu1804 and 2004 had cuda-drivers-470 (PR #53 CI); 535 and 580 in the Debian repos
  // and 535 in ubuntu2004 are UNVERIFIED (the long-term branches of CUDA 12.2 and 13.0). ubuntu1604 froze when
  // CUDA 11.4 dropped 16.04: its newest cuda-drivers is a 46x driver (UNVERIFIED which; it runs CUDA 10.0 on every GPU
  // of its time). debian13 starts at 590 with unsuffixed names and uses NVIDIA's new key 8793F200
  // (NVIDIA/cuda-repo-management#35, #38, #39); ubuntu2604 is new and has the new key too (its
  // keyring's sha256 in compute-gpu-installation config.py differs; UNVERIFIED).
  static const std::vector<OsSupport> table{
      {"ubuntu", "16.04", "ubuntu1604", {}, {}, 460},    {"ubuntu", "18.04", "ubuntu1804", {}, {470}},
      {"ubuntu", "20.04", "ubuntu2004", {}, {470, 535}}, {"ubuntu", "22.04", "ubuntu2204", {580}, {535, 580}},
      {"ubuntu", "24.04", "ubuntu2404", {580}, {580}},   {"ubuntu", "26.04", "ubuntu2604", {580, 595}, {}, 0, false},
      {"debian", "11", "debian11", {}, {470, 535, 580}}, {"debian", "12", "debian12", {}, {535, 580}},
      {"debian", "13", "debian13", {}, {}, 590, false},
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
  // Variants and Python per release: pytorch/pytorch RELEASE.md, "Release Compatibility Matrix"
  // (stable + experimental CUDA). The .0 (or newest known patch) of each minor release: the index
  // read at run time (torch_index.hpp) finds newer patch releases and newer minor ones.
  static const std::vector<TorchBuild> builds{
      {"2.14.0", {"cu126", "cu130", "cu132", "cpu"}, "3.10", "3.15", TorchIndex::index_url},
      {"2.13.0", {"cu126", "cu130", "cu132", "cpu"}, "3.10", "3.15", TorchIndex::index_url},
      {"2.12.0", {"cu126", "cu130", "cu132", "cpu"}, "3.10", "3.14", TorchIndex::index_url},
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

TorchArchitectures torch_architectures(std::string_view torch_version, std::string_view variant) {
  // TORCH_CUDA_ARCH_LIST of PyTorch's wheel builds (docs/sources/gpu-driver-cuda-torch.md 2b):
  // pytorch/builder manywheel/build_cuda.sh at the release branches (1.x to 2.5), pytorch/pytorch
  // .ci/manywheel/build_cuda.sh after; cu128 in 2.7 dropped sm_50 to sm_70 (pytorch/pytorch#146265,
  // #147607), 2.8 to 2.10 have sm_70 again (#157517), 2.11 dropped it (#172352, measured in
  // #182250); cu13x are Turing on (RELEASE.md "PyTorch CUDA Support Matrix"). A version newer than
  // any here gets the rule of the newest range.
  const auto at_least = [&](std::string_view version) { return compare_versions(torch_version, version) >= 0; };
  if (variant == "cu100") {
    if (at_least("1.3.1")) return {{35, 37, 50, 60, 61, 70, 75}, 37};
    return {{35, 50, 60, 61, 70, 75}, 50};
  }
  if (variant == "cu101" || variant == "cu102") return {{37, 50, 60, 61, 70, 75}, 37};
  if (variant.starts_with("cu11")) return {{37, 50, 60, 70, 75, 80, 86, 90}, 0};
  if (variant == "cu121" || variant == "cu124" || variant == "cu126") return {{50, 60, 70, 75, 80, 86, 90}, 0};
  if (variant == "cu128") {
    if (at_least("2.11") || !at_least("2.8")) return {{75, 80, 86, 90, 100, 120}, 120};
    return {{70, 75, 80, 86, 90, 100, 120}, 0};
  }
  if (variant == "cu129") return {{70, 75, 80, 86, 90, 100, 120}, 120};
  if (variant.starts_with("cu13")) return {{75, 80, 86, 90, 100, 120}, 120};
  return {};
}

bool torch_runs_on(std::string_view torch_version, std::string_view variant, const GpuModel& model) {
  const auto architectures = torch_architectures(torch_version, variant);
  const int cc = model.compute_capability;
  for (int cubin : architectures.cubins) {
    if (cubin / 10 == cc / 10 && cubin % 10 <= cc % 10) return true;
  }
  return architectures.ptx != 0 && architectures.ptx <= cc &&
         compare_versions(cuda_of_variant(variant), model.min_cuda) >= 0;
}

}  // namespace cs231n::gpu
