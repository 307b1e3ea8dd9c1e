#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "agent/gpu/compat_table.hpp"
#include "agent/util/strings.hpp"

using namespace cs231n;

// Invariants over the one compatibility table rather than a copy of it: the facts may change,
// these must keep holding. The choices they lead to are pinned in test_gpu_choose.cpp.

namespace {

using util::compare_versions;

bool contains(const auto& range, const auto& value) { return std::ranges::find(range, value) != range.end(); }

// Repos NVIDIA publishes a CUDA release for but cs231n-agent does not support: kept so that a
// refusal can say where the release exists.
const std::set<std::string_view> k_unsupported_repos{"ubuntu1404"};
// Torch variants no CUDA release of the table leads to: a choice never picks them.
const std::set<std::string_view> k_variants_without_cuda{"cu129"};

bool is_cuda_variant(std::string_view variant) {
  return variant.starts_with("cu") && variant.size() >= 4 &&
         std::ranges::all_of(variant.substr(2), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// The driver branches cs231n-agent can install on some supported OS.
std::set<int> installable_branches() {
  std::set<int> branches;
  for (const auto& os : gpu::supported_oses()) {
    branches.insert(os.signed_gcp_branches.begin(), os.signed_gcp_branches.end());
    branches.insert(os.repo_driver_branches.begin(), os.repo_driver_branches.end());
    if (os.repo_latest_branch != 0) branches.insert(os.repo_latest_branch);
  }
  return branches;
}

int major_of(std::string_view version) {
  return static_cast<int>(util::parse_uint(version.substr(0, version.find('.'))).value_or(0));
}

bool driver_fits(int branch, int min_branch, const gpu::GpuModel& model) {
  return branch >= min_branch && (model.max_driver_branch == 0 || branch <= model.max_driver_branch);
}

}  // namespace

TEST_CASE("gpu table: unique lowercase PCI ids, and a name for ids it does not know") {
  std::set<std::string_view> ids;
  for (const auto& model : gpu::gpu_models()) {
    CAPTURE(model.name);
    CHECK(model.device_id.size() == 4);
    CHECK(std::ranges::all_of(model.device_id, [](char c) { return std::isdigit(c) || (c >= 'a' && c <= 'f'); }));
    CHECK(ids.insert(model.device_id).second);
    CHECK(gpu::find_gpu(model.device_id)->name == model.name);
    CHECK(gpu::gpu_display_name(model.device_id) == model.name);
    CHECK_FALSE(model.architecture.empty());
  }
  CHECK(gpu::gpu_display_name("abcd") == "NVIDIA 10de:abcd");
  CHECK_FALSE(gpu::find_gpu("abcd"));
}

TEST_CASE("gpu table: every GPU has a driver branch, a CUDA release and a torch build") {
  const auto branches = installable_branches();
  for (const auto& model : gpu::gpu_models()) {
    CAPTURE(model.name);
    CHECK((model.max_driver_branch == 0 || contains(branches, model.max_driver_branch)));
    bool has_cuda = false;
    bool has_torch = false;
    for (const auto& release : gpu::cuda_releases()) {
      if (compare_versions(release.version, model.min_cuda) < 0) continue;
      if (!std::ranges::any_of(branches,
                               [&](int branch) { return driver_fits(branch, release.min_driver_branch, model); })) {
        continue;
      }
      if (model.max_cuda_major != 0 && major_of(release.version) > model.max_cuda_major) continue;
      has_cuda = true;
      for (const auto& build : gpu::torch_builds()) {
        for (auto variant : release.torch_variants) {
          has_torch |= contains(build.variants, variant) && gpu::torch_runs_on(build.version, variant, model);
        }
      }
    }
    CHECK(has_cuda);
    CHECK(has_torch);
  }
}

TEST_CASE("driver branches: the preferred ones exist where they are meant for") {
  const auto& branches = gpu::driver_branches();
  CHECK(contains(installable_branches(), branches.long_term));
  // CUDA 10.0 (the tutorial's, on Ubuntu 18.04) with its preferred branch, which the K80 still runs.
  CHECK(contains(gpu::find_os("ubuntu", "18.04")->repo_driver_branches, branches.cuda10));
  CHECK(gpu::find_cuda("10.0")->min_driver_branch <= branches.cuda10);
  CHECK(branches.cuda10 <= gpu::find_gpu("102d")->max_driver_branch);
  for (const auto& os : gpu::supported_oses()) {
    CAPTURE(os.nvidia_repo);
    CHECK(std::ranges::is_sorted(os.repo_driver_branches));
    // Branch packages stop at 580 (NVIDIA/ansible-role-nvidia-driver#89); 590 on are unsuffixed.
    CHECK((os.repo_driver_branches.empty() || os.repo_driver_branches.back() <= 580));
    CHECK((os.repo_latest_branch == 0 || os.repo_driver_branches.empty()));
  }
}

TEST_CASE("cuda table: newest first, each with its torch variant, minimum driver and repos") {
  const auto& releases = gpu::cuda_releases();
  REQUIRE_FALSE(releases.empty());
  for (std::size_t i = 1; i < releases.size(); ++i) {
    CAPTURE(releases[i].version);
    CHECK(compare_versions(releases[i - 1].version, releases[i].version) > 0);  // `auto` relies on the order
  }
  for (const auto& release : releases) {
    CAPTURE(release.version);
    CHECK(gpu::find_cuda(release.version)->torch_variants == release.torch_variants);
    REQUIRE_FALSE(release.torch_variants.empty());
    for (auto variant : release.torch_variants) {
      // A wheel of the same CUDA major, not newer than the toolkit: the driver it needs is the same.
      CAPTURE(variant);
      CHECK(major_of(gpu::cuda_of_variant(variant)) == major_of(release.version));
      CHECK(compare_versions(gpu::cuda_of_variant(variant), release.version) <= 0);
      CHECK(std::ranges::any_of(gpu::torch_builds(),
                                [&](const gpu::TorchBuild& build) { return contains(build.variants, variant); }));
    }
    CHECK(std::string(release.min_driver_version).starts_with(std::to_string(release.min_driver_branch) + "."));
    // Some GPU runs a driver new enough.
    CHECK(std::ranges::any_of(gpu::gpu_models(), [&](const gpu::GpuModel& model) {
      return model.max_driver_branch == 0 || release.min_driver_branch <= model.max_driver_branch;
    }));
    REQUIRE_FALSE(release.repos.empty());
    for (auto repo : release.repos) {
      CAPTURE(repo);
      const bool supported =
          std::ranges::any_of(gpu::supported_oses(), [&](const gpu::OsSupport& os) { return os.nvidia_repo == repo; });
      CHECK((supported || k_unsupported_repos.contains(repo)));
      CHECK(gpu::os_label_of_repo(repo) != repo);
    }
  }
  CHECK(gpu::cuda_of_variant("cpu").empty());
  CHECK_FALSE(gpu::find_cuda("9.9"));
}

TEST_CASE("os table: NVIDIA repo names, Ubuntu's signed driver branches, the repos' keys") {
  CHECK(gpu::nvidia_repo_name("ubuntu", "16.04") == "ubuntu1604");
  CHECK(gpu::nvidia_repo_name("ubuntu", "18.04") == "ubuntu1804");
  CHECK(gpu::nvidia_repo_name("ubuntu", "20.04") == "ubuntu2004");
  CHECK(gpu::nvidia_repo_name("ubuntu", "22.04") == "ubuntu2204");
  CHECK(gpu::nvidia_repo_name("ubuntu", "24.04") == "ubuntu2404");
  CHECK(gpu::nvidia_repo_name("ubuntu", "26.04") == "ubuntu2604");
  CHECK(gpu::nvidia_repo_name("debian", "11") == "debian11");
  CHECK(gpu::nvidia_repo_name("debian", "12") == "debian12");
  CHECK(gpu::nvidia_repo_name("debian", "13") == "debian13");
  CHECK(gpu::nvidia_repo_name("centos", "7").empty());
  CHECK(gpu::find_os("ubuntu", "18.04")->signed_gcp_branches.empty());
  CHECK(gpu::find_os("ubuntu", "20.04")->signed_gcp_branches.empty());
  // Only real branches: 535/550/570 -server-gcp are transitional packages to 580.
  CHECK(gpu::find_os("ubuntu", "22.04")->signed_gcp_branches == std::vector<int>{580});
  CHECK(gpu::find_os("ubuntu", "24.04")->signed_gcp_branches == std::vector<int>{580});
  CHECK(gpu::find_os("ubuntu", "26.04")->signed_gcp_branches == std::vector<int>{580, 595});
  // The SHA1 trouble is the old key's (any repo signed with it under APT 3), not one repo's.
  CHECK(gpu::find_os("ubuntu", "24.04")->repo_key_sha1);
  CHECK(gpu::find_os("debian", "12")->repo_key_sha1);
  CHECK_FALSE(gpu::find_os("debian", "13")->repo_key_sha1);
  CHECK_FALSE(gpu::find_os("ubuntu", "26.04")->repo_key_sha1);
  // Debian 13's repo starts at 590, with no branch packages.
  CHECK(gpu::find_os("debian", "13")->repo_driver_branches.empty());
  CHECK(gpu::find_os("debian", "13")->repo_latest_branch == 590);
  CHECK_FALSE(gpu::find_os("ubuntu", "22.04")->repo_driver_branches.empty());
  CHECK(gpu::find_os("ubuntu", "22.04")->repo_driver_branches.front() >= 515);  // none older there
}

TEST_CASE("os table: grouped by OS, oldest first, each with NVIDIA's repo and a CUDA release in it") {
  const auto& oses = gpu::supported_oses();
  std::set<std::string_view> finished_groups;
  for (std::size_t i = 0; i < oses.size(); ++i) {
    const auto& os = oses[i];
    CAPTURE(os.id);
    CAPTURE(os.version_id);
    if (i > 0 && oses[i - 1].id == os.id) {
      CHECK(compare_versions(oses[i - 1].version_id, os.version_id) < 0);
    } else {
      CHECK(finished_groups.insert(os.id).second);  // supported_os_list relies on the grouping
    }
    CHECK(gpu::find_os(os.id, os.version_id)->nvidia_repo == os.nvidia_repo);
    std::string repo(os.id);
    for (char c : os.version_id) {
      if (c != '.') repo += c;
    }
    CHECK(os.nvidia_repo == repo);
    CHECK(std::ranges::is_sorted(os.signed_gcp_branches));
    CHECK((os.signed_gcp_branches.empty() || os.id == "ubuntu"));  // Canonical signs them
    CHECK(std::ranges::any_of(gpu::cuda_releases(), [&](const gpu::CudaRelease& release) {
      return contains(release.repos, os.nvidia_repo);
    }));
  }
}

TEST_CASE("os table: the list of supported OSes for messages") {
  CHECK(gpu::supported_os_list() == "Ubuntu 16.04, 18.04, 20.04, 22.04, 24.04, 26.04 and Debian 11, 12, 13");
  CHECK(gpu::os_label_of_repo("ubuntu1404") == "Ubuntu 14.04");
  CHECK(gpu::os_label_of_repo("debian12") == "Debian 12");
}

TEST_CASE("torch table: newest first, Python ranges, variants and how pip finds each build") {
  const auto& builds = gpu::torch_builds();
  REQUIRE_FALSE(builds.empty());
  for (std::size_t i = 1; i < builds.size(); ++i) {
    CAPTURE(builds[i].version);
    CHECK(compare_versions(builds[i - 1].version, builds[i].version) > 0);  // `auto` takes the first that fits
  }
  for (const auto& build : builds) {
    CAPTURE(build.version);
    CHECK(gpu::find_torch(build.version)->version == build.version);
    CHECK(compare_versions(build.python_min, build.python_max) <= 0);
    CHECK(contains(build.variants, std::string_view("cpu")));  // the path without a GPU
    for (auto variant : build.variants) {
      CAPTURE(variant);
      if (variant == "cpu") continue;
      CHECK(is_cuda_variant(variant));
      CHECK((gpu::find_cuda(gpu::cuda_of_variant(variant)) || k_variants_without_cuda.contains(variant)));
    }
    // torch 1.x is found through torch_stable.html, 2.x through per-variant indexes.
    CHECK((build.index == gpu::TorchIndex::find_links) == build.version.starts_with("1."));
    CHECK((build.plain_variant.empty() || build.index == gpu::TorchIndex::find_links));
    CHECK((build.plain_variant.empty() || is_cuda_variant(build.plain_variant)));
  }
  CHECK_FALSE(gpu::find_torch("9.9.9"));
}

TEST_CASE("torch table: which GPUs each build has kernels for") {
  const auto runs = [](std::string_view torch, std::string_view variant, std::string_view gpu_id) {
    return gpu::torch_runs_on(torch, variant, *gpu::find_gpu(gpu_id));
  };
  // Pascal (P100 15f8, P4 1bb3): cu126 yes (sm_60 runs on sm_61), cu128 no from 2.7 on, cu13x never.
  CHECK(runs("2.7.1", "cu126", "15f8"));
  CHECK(runs("2.14.0", "cu126", "1bb3"));
  CHECK_FALSE(runs("2.7.1", "cu128", "15f8"));  // pytorch/pytorch#147607: the bug this table had
  CHECK_FALSE(runs("2.9.1", "cu128", "1bb3"));
  CHECK_FALSE(runs("2.9.1", "cu130", "15f8"));
  // Volta (V100 1db1): cu128 only in 2.8 to 2.10.
  CHECK_FALSE(runs("2.7.1", "cu128", "1db1"));
  CHECK(runs("2.8.0", "cu128", "1db1"));
  CHECK(runs("2.10.0", "cu128", "1db1"));
  CHECK_FALSE(runs("2.11.0", "cu128", "1db1"));
  CHECK_FALSE(runs("2.12.0", "cu130", "1db1"));
  // Blackwell (B200 2901 sm_100, RTX PRO 6000 2bb5 sm_120): cu128 and cu13x, never cu126.
  CHECK_FALSE(runs("2.11.0", "cu126", "2901"));
  CHECK(runs("2.7.1", "cu128", "2901"));
  CHECK(runs("2.11.0", "cu128", "2bb5"));
  CHECK(runs("2.14.0", "cu132", "2bb5"));
  CHECK(runs("2.9.1", "cu130", "2901"));
  // Kepler (K80 102d, sm_37): cu118 and the tutorial's cu100 only.
  CHECK(runs("2.7.1", "cu118", "102d"));
  CHECK_FALSE(runs("2.7.1", "cu126", "102d"));
  CHECK(runs("1.2.0", "cu100", "102d"));
  // CUDA 10.0's builds stop at Turing: PTX cannot reach an architecture CUDA 10.0 does not know.
  CHECK(runs("1.2.0", "cu100", "1eb8"));
  CHECK_FALSE(runs("1.2.0", "cu100", "20b0"));
  // Ada (L4 27b8, sm_89) runs sm_86 code; Hopper (H200 2335) needs sm_90.
  CHECK(runs("2.7.1", "cu118", "27b8"));
  CHECK(runs("2.7.1", "cu118", "2335"));
  // A version newer than any the table names gets its variant's newest rule.
  CHECK(runs("2.99.0", "cu130", "2901"));
  CHECK_FALSE(runs("2.99.0", "cu130", "1db1"));
}
