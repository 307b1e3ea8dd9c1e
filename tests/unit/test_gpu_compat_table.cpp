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
  std::set<int> branches(gpu::driver_branches().nvidia_repo.begin(), gpu::driver_branches().nvidia_repo.end());
  for (const auto& os : gpu::supported_oses())
    branches.insert(os.signed_gcp_branches.begin(), os.signed_gcp_branches.end());
  return branches;
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
      has_cuda = true;
      for (const auto& build : gpu::torch_builds()) {
        if (!contains(build.variants, release.torch_variant)) continue;
        has_torch |=
            model.compute_capability >= gpu::torch_min_compute_capability(build.version, release.torch_variant) &&
            model.compute_capability <= gpu::torch_max_compute_capability(release.torch_variant);
      }
    }
    CHECK(has_cuda);
    CHECK(has_torch);
  }
}

TEST_CASE("driver branches: NVIDIA's repo branches are ordered and below the first unbranched one") {
  const auto& branches = gpu::driver_branches();
  CHECK(std::ranges::is_sorted(branches.nvidia_repo));
  CHECK(branches.nvidia_repo.back() < branches.first_unbranched);
  CHECK(contains(branches.nvidia_repo, branches.long_term));
  CHECK(contains(branches.nvidia_repo, branches.cuda10));
  CHECK(gpu::find_cuda("10.0")->min_driver_branch <= branches.cuda10);
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
    CHECK(gpu::find_cuda(release.version)->torch_variant == release.torch_variant);
    CHECK(gpu::cuda_of_variant(release.torch_variant) == release.version);
    CHECK(std::string(release.min_driver_version).starts_with(std::to_string(release.min_driver_branch) + "."));
    // Some GPU runs a driver new enough, and some torch build was made with this CUDA.
    CHECK(std::ranges::any_of(gpu::gpu_models(), [&](const gpu::GpuModel& model) {
      return model.max_driver_branch == 0 || release.min_driver_branch <= model.max_driver_branch;
    }));
    CHECK(std::ranges::any_of(gpu::torch_builds(), [&](const gpu::TorchBuild& build) {
      return contains(build.variants, release.torch_variant);
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

TEST_CASE("os table: NVIDIA repo names, Ubuntu's signed driver branches and known repo trouble") {
  CHECK(gpu::nvidia_repo_name("ubuntu", "16.04") == "ubuntu1604");
  CHECK(gpu::nvidia_repo_name("ubuntu", "18.04") == "ubuntu1804");
  CHECK(gpu::nvidia_repo_name("ubuntu", "20.04") == "ubuntu2004");
  CHECK(gpu::nvidia_repo_name("ubuntu", "22.04") == "ubuntu2204");
  CHECK(gpu::nvidia_repo_name("ubuntu", "24.04") == "ubuntu2404");
  CHECK(gpu::nvidia_repo_name("debian", "11") == "debian11");
  CHECK(gpu::nvidia_repo_name("debian", "12") == "debian12");
  CHECK(gpu::nvidia_repo_name("debian", "13").empty());
  CHECK(gpu::nvidia_repo_name("centos", "7").empty());
  CHECK(gpu::find_os("ubuntu", "18.04")->signed_gcp_branches.empty());
  CHECK(gpu::find_os("ubuntu", "20.04")->signed_gcp_branches.empty());
  CHECK(gpu::find_os("ubuntu", "22.04")->signed_gcp_branches == std::vector<int>{535, 550, 570, 580, 595});
  CHECK(gpu::find_os("ubuntu", "24.04")->signed_gcp_branches == std::vector<int>{535, 550, 570, 580, 595});
  CHECK(gpu::find_os("ubuntu", "24.04")->repo_warning.find("SHA1") != std::string_view::npos);
  CHECK(gpu::find_os("ubuntu", "22.04")->repo_warning.empty());
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
  CHECK(gpu::supported_os_list() == "Ubuntu 16.04, 18.04, 20.04, 22.04, 24.04 and Debian 11, 12");
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

TEST_CASE("torch table: which GPU architectures each build runs on") {
  CHECK(gpu::torch_min_compute_capability("1.2.0", "cu100") == 35);
  CHECK(gpu::torch_max_compute_capability("cu100") == 75);           // no A100, L4 or H100 with CUDA 10.0
  CHECK(gpu::torch_min_compute_capability("2.7.1", "cu118") == 37);  // the K80's last builds
  CHECK(gpu::torch_min_compute_capability("2.11.0", "cu126") == 50);
  CHECK(gpu::torch_min_compute_capability("2.7.1", "cu128") == 50);
  CHECK(gpu::torch_min_compute_capability("2.8.0", "cu128") == 70);  // Maxwell and Pascal gone
  CHECK(gpu::torch_min_compute_capability("2.10.0", "cu128") == 70);
  CHECK(gpu::torch_min_compute_capability("2.11.0", "cu128") == 75);  // and the V100
  CHECK(gpu::torch_min_compute_capability("2.9.1", "cu130") == 75);
  CHECK(gpu::torch_max_compute_capability("cu118") == 90);
}
