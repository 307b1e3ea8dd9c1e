#include "agent/gpu/compat_table.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "agent/util/strings.hpp"

namespace cs231n::gpu {

namespace {

using util::compare_versions;

// GCE's GPUs, one row each with its sources. Ids: pciutils' pci.ids (github.com/pciutils/pciids,
// vendor 10de, commit c1c12547, 2026-08-22; docs/sources/gpu-driver-cuda-torch.md section 1).
// Architecture, CUDA range and last driver branch: NVIDIA's "CUDA Toolkit, Driver, and
// Architecture Matrix"
// (https://docs.nvidia.com/datacenter/tesla/drivers/cuda-toolkit-driver-and-architecture-matrix.html). GCE's
// accelerator types and machine types: https://cloud.google.com/compute/docs/gpus.
constexpr std::array<GpuModel, 13> k_gpus{{
    // pci.ids line 12313 "GK210GL [Tesla K80]"; Kepler: CUDA <= 11.x, driver <= R470 (matrix); retired
    // from GCE (https://cloud.google.com/compute/docs/eol/k80-eol; compute-gpu-installation 92a9513).
    {"102d", "Tesla K80", "Kepler", 37, 470, "10.0", 11, true},
    // line 13105 "GP104GL [Tesla P4]"; Pascal: CUDA <= 12.x, driver <= R580 (matrix).
    {"1bb3", "Tesla P4", "Pascal", 61, 580, "10.0", 12},
    // line 13032 "GP100GL [Tesla P100 PCIe 16GB]"; Pascal, as the P4.
    {"15f8", "Tesla P100", "Pascal", 60, 580, "10.0", 12},
    // line 13199 "GV100GL [Tesla V100 SXM2 16GB]"; Volta: CUDA <= 12.x, driver <= R580 (matrix).
    {"1db1", "Tesla V100", "Volta", 70, 580, "10.0", 12},
    // line 13260 "TU104GL [Tesla T4]"; Turing: from CUDA 10.0, no last branch yet (matrix).
    {"1eb8", "Tesla T4", "Turing", 75, 0, "10.0"},
    // line 13333 "GA100 [A100 SXM4 40GB]" (a2-highgpu); Ampere: from CUDA 11.0 (matrix).
    {"20b0", "A100 40GB", "Ampere", 80, 0, "11.0"},
    // line 13335 "GA100 [A100 SXM4 80GB]" (a2-ultragpu, nvidia-a100-80gb); Ampere.
    {"20b2", "A100 80GB", "Ampere", 80, 0, "11.0"},
    // line 13582 "AD104GL [L4]" (g2); Ada Lovelace: from CUDA 11.8 (matrix).
    {"27b8", "L4", "Ada Lovelace", 89, 0, "11.8"},
    // line 13432 "GH100 [H100 SXM5 80GB]": a3-highgpu/a3-edgegpu (nvidia-h100-80gb) and, by GCE's
    // docs the same H100 80GB, a3-megagpu (nvidia-h100-mega-80gb; its PCI id on a VM UNVERIFIED);
    // Hopper: from CUDA 11.8 (matrix).
    {"2330", "H100 80GB", "Hopper", 90, 0, "11.8"},
    // line 13434 "GH100 [H200 SXM 141GB]" (a3-ultragpu, nvidia-h200-141gb); Hopper.
    {"2335", "H200", "Hopper", 90, 0, "11.8"},
    // line 13610 "GB100 [B200]" (a4, nvidia-b200); Blackwell: from CUDA 12.8 (matrix), whose GA
    // driver is R570 (CUDA release notes, "CUDA Toolkit and Corresponding Driver Versions";
    // UNVERIFIED here: the stored copies stop at 11.x) and which only the open modules drive.
    {"2901", "B200", "Blackwell", 100, 0, "12.8", 0, false, 570},
    // line 13611 "GB100 [HGX B200 168GB]": the other id of the B200 board; which one an a4 VM shows
    // is UNVERIFIED (no public lspci of one found), so both are known.
    {"2909", "HGX B200", "Blackwell", 100, 0, "12.8", 0, false, 570},
    // line 13633 "GB202GL [RTX PRO 6000 Blackwell Server Edition]" (g4, nvidia-rtx-pro-6000); sm_120.
    {"2bb5", "RTX PRO 6000 Blackwell Server Edition", "Blackwell", 120, 0, "12.8", 0, false, 570},
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
  // 13.x >= 580, 12.x >= 525.60.13, 11.x >= 450.80.02; 10.0.130 >= 410.48 (release notes, Table 3).
  // The repos are a belief that the repo's own Packages index overrides at run time
  // (docs/sources/gpu-driver-cuda-torch.md section 3).
  static const std::vector<CudaRelease> releases{
      // The toolkit NVIDIA publishes for Ubuntu 26.04 (compute-gpu-installation tests: "Currently
      // Ubuntu 26 supports only Cuda 13.3 toolkit"; coreweave/nccl-tests#102: 13.3 is the first
      // nvidia/cuda image for 26.04). torch has no cu133: the builds of its major.
      {"13.3", {"cu132", "cu130"}, 580, "580.65.06", {"ubuntu2604"}},
      // The toolkit of torch's cu132 (RELEASE.md); compute-gpu-installation's prod branch (CUDA
      // 13.2.1, config.py) on 22.04, 24.04, Debian 12 and 13.
      {"13.2", {"cu132", "cu130"}, 580, "580.65.06", {"ubuntu2204", "ubuntu2404", "debian12", "debian13"}},
      // R580's CUDA (compute-gpu-installation lts: 580.159.04 / CUDA 13.0.2); debian13's repo
      // starts later (NVIDIA/cuda-repo-management#38: no 580 there), so not listed for it.
      {"13.0", {"cu130"}, 580, "580.65.06", {"ubuntu2204", "ubuntu2404", "debian12"}},
      // The last 12.x torch builds against (cu128, 2.7-2.11); UNVERIFIED for ubuntu2004 and debian12.
      {"12.8", {"cu128", "cu126"}, 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "ubuntu2404", "debian12"}},
      // cu126, the build with Maxwell/Pascal/Volta kernels (RELEASE.md); ubuntu2404 from 12.5
      // (MicrosoftDocs/azure-docs#123740 installs cuda-toolkit-12-5 from the ubuntu2404 repo).
      {"12.6", {"cu126"}, 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "ubuntu2404", "debian11", "debian12"}},
      // debian12's repo began with CUDA 12.3 (NVIDIA/nvidia-container-toolkit#181).
      {"12.4", {"cu124"}, 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "debian11", "debian12"}},
      {"12.1", {"cu121"}, 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "debian11"}},
      // ubuntu2204's toolkits start at 11.7 (bazel-contrib/rules_cuda#161).
      {"11.8", {"cu118"}, 450, "450.80.02", {"ubuntu1804", "ubuntu2004", "ubuntu2204", "debian11"}},
      // The tutorial's (FACTS.md); its repos: believed, not verified, as FACTS says.
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
  // Fields: os-release ID and VERSION_ID, NVIDIA's repo, Ubuntu's signed GCP branches, the repo's
  // cuda-drivers-<b>, the branch its unsuffixed packages bring where it has no branch packages,
  // whether its key is NVIDIA's SHA1-bound 3bf863cc. All of it is a belief that the repo's
  // Packages index and apt's lists override at run time (choose.hpp).
  static const std::vector<OsSupport> table{
      // Frozen when CUDA dropped 16.04 (its last toolkits are 11.x): only the unsuffixed
      // cuda-drivers of a 46x driver, which runs CUDA 10.0 on every GPU of its time (UNVERIFIED:
      // no public listing of the repo's last driver found; the Packages index decides at run time).
      {"ubuntu", "16.04", "ubuntu1604", {}, {}, 460},
      // cuda-drivers-470: NVIDIA/ansible-role-nvidia-driver PR #53/#55 (CI scenario ubuntu-1804-cuda).
      {"ubuntu", "18.04", "ubuntu1804", {}, {470}},
      // cuda-drivers-470: the same CI (ubuntu-2004-cuda); 535: the repo carries R535 drivers
      // (NVIDIA/apt-packaging-fabric-manager#3 lists 535.x there); no signed GCP flavour packages
      // on 20.04, only per-kernel ones (FACTS.md).
      {"ubuntu", "20.04", "ubuntu2004", {}, {470, 535}},
      // Signed: linux-modules-nvidia-580-server[-open]-gcp (packages.ubuntu.com, jammy; 550 is
      // transitional there, canonical/snapd#15712). Repo: cuda-drivers-<b> from 515
      // (ansible-role-nvidia-driver#65) to 580 (#89).
      {"ubuntu", "22.04", "ubuntu2204", {580}, {535, 580}},
      // Signed 580 (packages.ubuntu.com, noble); repo: cuda-drivers-580, no 515 (#89).
      {"ubuntu", "24.04", "ubuntu2404", {580}, {580}},
      // Signed 580 and 595 (packages.ubuntu.com, resolute); repo: new (cuda-samples#417,
      // gpu-driver-container#758), from 590 on with unsuffixed names only; its newest is the prod
      // branch 595 (compute-gpu-installation config.py); its keyring differs from ubuntu2404's
      // (config.py's sha256), so its key is taken as the new one (UNVERIFIED).
      {"ubuntu", "26.04", "ubuntu2604", {580, 595}, {}, 595, false},
      // R535 (CUDA 12.2's long-term branch, and CUDA 12.6 the last toolkit listed for it):
      // UNVERIFIED, no public listing of the repo's branch packages found.
      {"debian", "11", "debian11", {}, {535}},
      // The repo began with CUDA 12.3 and R545 (nvidia-container-toolkit#181; elFarto/nvidia-vaapi-driver#312
      // shows its drivers from 545.23.06, 535 only from Debian's own archive); 580 is there
      // (devleonardoamaral/debian-nvidia-installer#2). cuda-drivers-580 as the name: UNVERIFIED.
      {"debian", "12", "debian12", {}, {580}},
      // Starts at 590 with unsuffixed names (NVIDIA/cuda-repo-management#35, #38, #40), NVIDIA's
      // new key 8793F200 (#39).
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
  // (stable + experimental CUDA; docs/sources/gpu-driver-cuda-torch.md 2a). The .0 (or newest
  // known patch) of each minor release: the indexes read at run time (torch_index.hpp) find newer
  // patch releases and newer minor ones.
  static const std::vector<TorchBuild> builds{
      // RELEASE.md 2.14: 12.6, 13.0 stable, 13.2 stable/default (#190355); Python 3.10-3.15.
      {"2.14.0", {"cu126", "cu130", "cu132", "cpu"}, "3.10", "3.15", TorchIndex::index_url},
      // RELEASE.md 2.13: 12.6, 13.0 stable, 13.2 experimental; Python 3.10-3.15.
      {"2.13.0", {"cu126", "cu130", "cu132", "cpu"}, "3.10", "3.15", TorchIndex::index_url},
      // RELEASE.md 2.12 (13 May 2026): 12.6, 13.0 stable, 13.2 experimental, no cu128 (#178665).
      {"2.12.0", {"cu126", "cu130", "cu132", "cpu"}, "3.10", "3.14", TorchIndex::index_url},
      // RELEASE.md 2.11: 12.6, 12.8, 13.0 (#175253).
      {"2.11.0", {"cu126", "cu128", "cu130", "cpu"}, "3.10", "3.14", TorchIndex::index_url},
      // RELEASE.md 2.10: 12.6, 12.8 stable, 13.0 experimental.
      {"2.10.0", {"cu126", "cu128", "cu130", "cpu"}, "3.10", "3.14", TorchIndex::index_url},
      // RELEASE.md 2.9 (patch 2.9.1): 12.6, 12.8 stable, 13.0 experimental; Python 3.10-3.14.
      {"2.9.1", {"cu126", "cu128", "cu130", "cpu"}, "3.10", "3.14", TorchIndex::index_url},
      // RELEASE.md 2.8: 12.6, 12.8 stable, 12.9 experimental.
      {"2.8.0", {"cu126", "cu128", "cu129", "cpu"}, "3.9", "3.13", TorchIndex::index_url},
      // RELEASE.md 2.7: 11.8, 12.6 stable, 12.8 experimental; the last cu118 (the K80's).
      {"2.7.1", {"cu118", "cu126", "cu128", "cpu"}, "3.9", "3.13", TorchIndex::index_url},
      // RELEASE.md 2.6: 11.8, 12.4 stable, 12.6 experimental.
      {"2.6.0", {"cu118", "cu124", "cu126", "cpu"}, "3.9", "3.13", TorchIndex::index_url},
      // RELEASE.md 2.5: 11.8, 12.1, 12.4; Python 3.9-3.12.
      {"2.5.1", {"cu118", "cu121", "cu124", "cpu"}, "3.9", "3.12", TorchIndex::index_url},
      // RELEASE.md 2.4: 11.8, 12.1 stable, 12.4 experimental; Python 3.8-3.12.
      {"2.4.1", {"cu118", "cu121", "cu124", "cpu"}, "3.8", "3.12", TorchIndex::index_url},
      // RELEASE.md 2.3: 11.8 stable, 12.1 experimental; Python 3.8-3.11.
      {"2.3.1", {"cu118", "cu121", "cpu"}, "3.8", "3.11", TorchIndex::index_url},
      // The last torch for Python 3.6 (FACTS.md); its PyPI wheel is the CUDA 10.2 build.
      {"1.10.2", {"cpu"}, "3.6", "3.9", TorchIndex::find_links, "cu102"},
      // 1.4.0+cu100 from torch_stable.html: widely used, not on PyTorch's list (UNVERIFIED); PyPI's
      // 1.4.0 is the CUDA 10.1 build (pytorch.org "Previous versions").
      {"1.4.0", {"cu100", "cpu"}, "3.5", "3.7", TorchIndex::find_links, "cu101"},
      // The tutorial era: PyPI's plain 1.2.0 wheel is the CUDA 10.0 build ("Previous versions":
      // CUDA 10.0 is `pip install torch==1.2.0 torchvision==0.4.0`, the others +cu92/+cpu with -f).
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
    // builder at 0ea04460 (the 1.4 era, after 2d91d533 "5.0+PTX -> 3.7+PTX"): 3.7+PTX;5.0 plus
    // 6.0;6.1;7.0;7.5 for 10.0; moi90/pytorch_compute_capabilities measures sm_35/37 in 1.3.1 on.
    if (at_least("1.3.1")) return {{35, 37, 50, 60, 61, 70, 75}, 37};
    // builder at 97b954c6 (the 1.0/1.1 era): 3.5;5.0+PTX plus 6.0;6.1;7.0;7.5 for 10.0.
    return {{35, 50, 60, 61, 70, 75}, 50};
  }
  // builder at 0ea04460: 3.7+PTX;5.0 plus 6.0;6.1;7.0;7.5 for 10.1/10.2.
  if (variant == "cu101" || variant == "cu102") return {{37, 50, 60, 61, 70, 75}, 37};
  // builder release/2.1-2.5 build_cuda.sh: 11.8 adds 3.7 and 9.0 to 5.0;6.0;7.0;7.5;8.0;8.6.
  if (variant.starts_with("cu11")) return {{37, 50, 60, 70, 75, 80, 86, 90}, 0};
  // builder release/2.1-2.5 (12.1, 12.4: base + 9.0); pytorch .ci build_cuda.sh at 00c7a380 for
  // 12.6: "5.0;6.0;7.0;7.5;8.0;8.6;9.0" (measured for 2.11.0+cu126 in pytorch/pytorch#182250).
  if (variant == "cu121" || variant == "cu124" || variant == "cu126") return {{50, 60, 70, 75, 80, 86, 90}, 0};
  if (variant == "cu128") {
    // 2.7: 7.5 to 12.0+PTX (#146265, #147607); 2.11 on: sm_75..sm_120 (#172352, measured in #182250).
    if (at_least("2.11") || !at_least("2.8")) return {{75, 80, 86, 90, 100, 120}, 120};
    // 2.8-2.10: "7.0;7.5;8.0;8.6;9.0;10.0;12.0" (build_cuda.sh at 00c7a380; #157517; #182250).
    return {{70, 75, 80, 86, 90, 100, 120}, 0};
  }
  // 2.8's 12.9: "7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX" (build_cuda.sh at 00c7a380).
  if (variant == "cu129") return {{70, 75, 80, 86, 90, 100, 120}, 120};
  // 13.0 and 13.2: "7.5;8.0;8.6;9.0;10.0;12.0+PTX" (build_cuda.sh; RELEASE.md support matrix).
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
