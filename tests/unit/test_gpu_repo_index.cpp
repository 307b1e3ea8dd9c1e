#include <doctest/doctest.h>

#include "agent/gpu/choose.hpp"
#include "agent/gpu/repo_index.hpp"
#include "support/fixture_file.hpp"

using namespace cs231n;

namespace {

gpu::RepoContents fixture(const char* name) {
  return gpu::parse_packages_index(testing::read_fixture(std::string("nvidia-repo/") + name));
}

gpu::Request machine(std::vector<std::string> gpu_ids, std::string os_id, std::string version, std::string label) {
  gpu::Request request;
  request.gpu_path = true;
  request.gpu_ids = std::move(gpu_ids);
  request.os_id = std::move(os_id);
  request.os_version = std::move(version);
  request.os_label = std::move(label);
  request.kernel_release = "6.8.0-45-generic";  // not the GCP kernel: the driver comes from NVIDIA's repo
  request.python = "3.12";
  return request;
}

}  // namespace

TEST_CASE("repo index: toolkits, driver branches and the unsuffixed branch of a Packages file") {
  const auto jammy = fixture("ubuntu2204-Packages");
  CHECK(jammy.cuda_toolkits() == std::vector<std::string>{"13.4", "13.0", "12.8", "12.6"});
  CHECK(jammy.driver_branches() == std::vector<int>{535, 580});
  CHECK(jammy.packages.at("cuda-drivers-580") == "580.105.08-1");  // the newest of two stanzas
  CHECK(jammy.unsuffixed_driver_branch() == 595);
  CHECK(jammy.open_branches() == std::vector<int>{580});
  const auto trixie = fixture("debian13-Packages");
  CHECK(trixie.driver_branches().empty());
  CHECK(trixie.unsuffixed_driver_branch() == 590);
  CHECK(gpu::parse_packages_index("").packages.empty());
}

TEST_CASE("choose with NVIDIA's package list: what the repo has, not what the table believes") {
  SUBCASE("a CUDA release the table never heard of is used, with the torch builds of its major") {
    auto request = machine({"1eb8"}, "ubuntu", "22.04", "Ubuntu 22.04");
    request.nvidia_repo_contents = fixture("ubuntu2204-Packages");
    const auto choice = gpu::choose(request);
    REQUIRE(choice);
    CHECK(choice->cuda == "13.4");
    CHECK(choice->driver_branch == 580);
    CHECK(choice->driver_source == gpu::DriverSource::nvidia_repo);
    CHECK(choice->repo_packages == std::vector<std::string>{"nvidia-open-580"});  // a T4: open modules
    CHECK(choice->torch_variant == "cu132");
  }
  SUBCASE("a release the table lists for the repo but the repo lacks: refused, naming what is there") {
    auto request = machine({"1eb8"}, "ubuntu", "22.04", "Ubuntu 22.04");
    request.nvidia_repo_contents = fixture("ubuntu2204-Packages");
    request.cuda = "13.2";
    const auto refused = gpu::choose(request);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().reason ==
          "NVIDIA's ubuntu2204 repository has no cuda-toolkit-13-2 (its CUDA toolkits: 13.4, 13.0, 12.8, 12.6)");
  }
  SUBCASE("a branch the repo lacks: refused, naming the branches it has") {
    auto request = machine({"15f8"}, "ubuntu", "22.04", "Ubuntu 22.04");
    request.nvidia_repo_contents = fixture("ubuntu2204-Packages");
    request.driver_branch = "550";
    const auto refused = gpu::choose(request);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().reason.starts_with(
        "driver branch 550 has no cuda-drivers-550 package in NVIDIA's ubuntu2204 repository (it has 535, 580)"));
  }
  SUBCASE("Debian 13: no branch packages, so the repo's nvidia-open and its branch") {
    auto request = machine({"20b0"}, "debian", "13", "Debian 13");
    request.kernel_release = "6.12.57+deb13-cloud-amd64";
    request.apt_version = "3.0.3";
    request.nvidia_repo_contents = fixture("debian13-Packages");
    const auto choice = gpu::choose(request);
    REQUIRE(choice);
    CHECK(choice->cuda == "13.2");
    CHECK(choice->driver_branch == 590);
    CHECK(choice->driver_source == gpu::DriverSource::nvidia_repo_latest);
    CHECK(choice->open_modules);
  }
}

TEST_CASE("choose with NVIDIA's package list: the open flavour's packages as the repo names them") {
  auto request = machine({"27b8"}, "ubuntu", "22.04", "Ubuntu 22.04");
  gpu::RepoContents contents;
  contents.packages = {{"cuda-drivers-535", "535.274.02-1"},
                       {"nvidia-kernel-open-535", "535.274.02-1"},
                       {"cuda-drivers-580", "580.105.08-1"},
                       {"cuda-toolkit-12-8", "12.8.1-1"}};
  request.nvidia_repo_contents = contents;
  SUBCASE("no nvidia-open-580: R580's proprietary modules for an L4, which they still drive") {
    const auto choice = gpu::choose(request);
    REQUIRE(choice);
    CHECK(choice->driver_branch == 580);
    CHECK_FALSE(choice->open_modules);
    CHECK(choice->repo_packages == std::vector<std::string>{"cuda-drivers-580"});
    CHECK(choice->reasons.at(1).ends_with(
        "(DKMS, proprietary modules: the repository has no open package for this branch)"));
  }
  SUBCASE("an older branch: nvidia-kernel-open-<b> beside cuda-drivers-<b>, as CUDA 12.3's guide installs it") {
    request.driver_branch = "535";
    const auto choice = gpu::choose(request);
    REQUIRE(choice);
    CHECK(choice->open_modules);
    CHECK(choice->repo_packages == std::vector<std::string>{"nvidia-kernel-open-535", "cuda-drivers-535"});
  }
  SUBCASE("Blackwell, which only the open modules drive: refused, naming the packages it would need") {
    request.gpu_ids = {"2901"};
    const auto refused = gpu::choose(request);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().reason ==
          "the B200 need NVIDIA's open kernel modules, and NVIDIA's ubuntu2204 repository has no open package for "
          "driver 580 (nvidia-open-580, or nvidia-kernel-open-580 with cuda-drivers-580)");
    contents.packages["nvidia-open-580"] = "580.105.08-1";
    request.nvidia_repo_contents = contents;
    const auto choice = gpu::choose(request);
    REQUIRE(choice);
    CHECK(choice->repo_packages == std::vector<std::string>{"nvidia-open-580"});
  }
}

TEST_CASE("choose with apt's lists: Ubuntu's signed modules that exist for the running kernel") {
  auto request = machine({"1eb8"}, "ubuntu", "24.04", "Ubuntu 24.04");
  request.kernel_release = "6.8.0-1040-gcp";
  SUBCASE("the running kernel's package is there: it, whatever the table's branches") {
    request.archive_signed_modules = std::vector<std::string>{"linux-modules-nvidia-580-server-open-6.8.0-1040-gcp",
                                                              "linux-modules-nvidia-580-server-open-gcp",
                                                              "linux-modules-nvidia-595-server-open-6.8.0-1040-gcp"};
    const auto choice = gpu::choose(request);
    REQUIRE(choice);
    CHECK(choice->driver_source == gpu::DriverSource::ubuntu_signed);
    CHECK(choice->driver_branch == 580);  // the long-term branch where it exists
  }
  SUBCASE("only the flavour's meta: the newest GCP kernel's modules, which a reboot starts") {
    request.archive_signed_modules = std::vector<std::string>{"linux-modules-nvidia-580-server-open-7.0.0-1017-gcp",
                                                              "linux-modules-nvidia-580-server-open-gcp"};
    const auto choice = gpu::choose(request);
    REQUIRE(choice);
    CHECK(choice->driver_source == gpu::DriverSource::ubuntu_signed);
    CHECK(choice->reasons.at(1).find("the archive has none for the running kernel 6.8.0-1040-gcp") !=
          std::string::npos);
  }
  SUBCASE("neither: refused before anything is installed, naming what the archive has") {
    request.archive_signed_modules = std::vector<std::string>{"linux-modules-nvidia-535-server-gcp",
                                                              "linux-modules-nvidia-580-server-6.8.0-1040-gcp"};
    const auto refused = gpu::choose(request);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().reason ==
          "Ubuntu's archive (apt's lists, read with apt-cache) has neither "
          "linux-modules-nvidia-580-server-open-6.8.0-1040-gcp for the running kernel nor "
          "linux-modules-nvidia-580-server-open-gcp (it has linux-modules-nvidia-535-server-gcp, "
          "linux-modules-nvidia-580-server-6.8.0-1040-gcp): run `sudo apt-get update` if the lists are old, or set "
          "gpu.driver_branch to a branch it has");
  }
}

TEST_CASE("repo index: what apt would fetch from the repo, from the Size: and Depends: of the newest versions") {
  // Stanzas as NVIDIA's Packages file has them (fields trimmed to those read), with an older
  // version of the toolkit that depended on something else.
  const auto repo = gpu::parse_packages_index(
      "Package: cuda-toolkit-12-6\nVersion: 12.6.2-1\nDepends: cuda-old-12-6\nSize: 1\n\n"
      "Package: cuda-toolkit-12-6\nVersion: 12.6.3-1\n"
      "Depends: cuda-compiler-12-6 (>= 12.6.3), cuda-libraries-12-6 (>= 12.6.3), cuda-tools-12-6 | cuda-other\n"
      "Size: 2508\nDescription: CUDA Toolkit 12.6 meta-package\n wrapped on a continuation line: Depends: x\n\n"
      "Package: cuda-compiler-12-6\nVersion: 12.6.3-1\nPre-Depends: dpkg (>= 1.17)\nDepends: cuda-nvcc-12-6\n"
      "Size: 2490\n\n"
      "Package: cuda-nvcc-12-6\nVersion: 12.6.85-1\nDepends: libc6:any, cuda-libraries-12-6\nSize: 40000000\n\n"
      "Package: cuda-libraries-12-6\nVersion: 12.6.3-1\nSize: 3000000000\n\n"
      "Package: cuda-tools-12-6\nVersion: 12.6.3-1\nSize: 500000000\n\n"
      "Package: cuda-old-12-6\nVersion: 12.6.2-1\nSize: 7\n");
  REQUIRE(repo.details.contains("cuda-toolkit-12-6"));
  CHECK(repo.details.at("cuda-toolkit-12-6").size == 2508);
  CHECK(repo.details.at("cuda-toolkit-12-6").depends ==
        std::vector<std::string>{"cuda-compiler-12-6", "cuda-libraries-12-6", "cuda-tools-12-6"});
  CHECK(repo.details.at("cuda-compiler-12-6").depends == std::vector<std::string>{"dpkg", "cuda-nvcc-12-6"});

  const auto closure = repo.download_closure({"cuda-toolkit-12-6"});
  CHECK(closure.packages == 5);  // each once, though cuda-libraries-12-6 is asked for twice
  CHECK(closure.bytes == 2508 + 2490 + 40'000'000 + 3'000'000'000ULL + 500'000'000);
  CHECK(closure.elsewhere == 2);  // dpkg and libc6: the OS archive's

  // What is installed is neither fetched nor followed.
  const auto rest = repo.download_closure({"cuda-toolkit-12-6"},
                                          [](const std::string& name) { return name == "cuda-compiler-12-6"; });
  CHECK(rest.packages == 3);
  CHECK(rest.bytes == 2508 + 3'000'000'000ULL + 500'000'000);
  CHECK(rest.elsewhere == 0);
}
