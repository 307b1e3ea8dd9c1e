#include <doctest/doctest.h>

#include "agent/gpu/choose.hpp"

using namespace cs231n;

namespace {

// A GCE VM as the table sees it: Ubuntu 22.04 with the GCP kernel and the `current` profile's
// Python, everything on "auto".
gpu::Request vm(std::vector<std::string> gpu_ids, std::string os_id = "ubuntu", std::string os_version = "22.04") {
  gpu::Request request;
  request.gpu_path = !gpu_ids.empty();
  request.gpu_ids = std::move(gpu_ids);
  request.os_id = os_id;
  request.os_version = os_version;
  request.os_label = (os_id == "ubuntu" ? "Ubuntu " : os_id == "debian" ? "Debian " : "CentOS ") + os_version;
  request.kernel_release = os_id == "ubuntu" ? "6.8.0-1015-gcp" : "5.10.0-32-cloud-amd64";
  request.python = "3.12";
  return request;
}

// The tutorial's machine: Ubuntu 16.04, Python 3.6, CUDA 10.0, torch 1.2.0 (profile `seed`).
gpu::Request seed_vm(std::vector<std::string> gpu_ids) {
  auto request = vm(std::move(gpu_ids), "ubuntu", "16.04");
  request.kernel_release = "4.15.0-1098-gcp";
  request.python = "3.6";
  request.cuda = "10.0";
  request.torch = "1.2.0";
  return request;
}

gpu::Choice chosen(const gpu::Request& request) {
  auto choice = gpu::choose(request);
  if (!choice) FAIL("refused: " << choice.error().message());
  return *choice;
}

std::string refusal(const gpu::Request& request) {
  auto choice = gpu::choose(request);
  if (choice)
    FAIL("not refused: CUDA " << choice->cuda << ", torch " << choice->torch_version << "+" << choice->torch_variant);
  return choice.error().message();
}

}  // namespace

TEST_CASE("torch install: the pip requirements and index options of each index form") {
  const std::string base = "https://download.pytorch.org/whl";
  using Requirements = std::vector<std::string>;
  gpu::Choice choice;
  choice.torch_version = "1.2.0";
  choice.torch_variant = "cu100";  // PyPI's plain 1.2.0 is the CUDA 10.0 build
  choice.torch_plain = true;
  auto install = gpu::torch_install(choice, base, false).value();
  // Not with -f torch_stable.html: pip's ==1.2.0 would take 1.2.0+cu92 from there.
  CHECK(install.requirements == Requirements{"torch==1.2.0"});
  CHECK(install.index_args.empty());
  choice.torch_wheel = "cu100/torch-1.2.0-cp36-cp36m-manylinux1_x86_64.whl";  // read from torch_stable.html
  CHECK(gpu::torch_install(choice, base, false)->requirements ==
        Requirements{base + "/cu100/torch-1.2.0-cp36-cp36m-manylinux1_x86_64.whl"});
  choice.torch_wheel = "/whl/cu100/torch-1.2.0-cp36-cp36m-manylinux1_x86_64.whl";
  CHECK(gpu::torch_install(choice, base, false)->requirements ==
        Requirements{"https://download.pytorch.org/whl/cu100/torch-1.2.0-cp36-cp36m-manylinux1_x86_64.whl"});
  choice.torch_version = "1.4.0";
  choice.torch_plain = false;
  choice.torch_wheel.clear();
  install = gpu::torch_install(choice, base, false).value();
  CHECK(install.requirements == Requirements{"torch==1.4.0+cu100"});
  CHECK(install.index_args == std::vector<std::string>{"-f", base + "/torch_stable.html"});
  choice.torch_version = "1.10.2";
  choice.torch_variant = "cpu";
  CHECK(gpu::torch_install(choice, base, false)->requirements == Requirements{"torch==1.10.2+cpu"});
  choice.torch_version = "2.7.1";
  choice.torch_variant = "cu126";
  install = gpu::torch_install(choice, base, false).value();
  CHECK(install.requirements == Requirements{"torch==2.7.1+cu126"});
  CHECK(install.index_args == std::vector<std::string>{"--index-url", base + "/cu126"});
}

TEST_CASE("torch install with torchvision: from torch's per-variant index, its release left to pip") {
  const std::string base = "https://download.pytorch.org/whl";
  gpu::Choice choice;
  choice.torch_version = "2.9.1";
  choice.torch_variant = "cu128";
  auto install = gpu::torch_install(choice, base, true);
  REQUIRE(install);
  // No version: each torchvision wheel requires its torch exactly, so pip takes the one for 2.9.1.
  CHECK(install->requirements == std::vector<std::string>{"torch==2.9.1+cu128", "torchvision"});
  CHECK(install->index_args == std::vector<std::string>{"--index-url", base + "/cu128"});
  choice.torch_version = "1.11.0";
  choice.torch_variant = "cpu";
  CHECK(gpu::torch_install(choice, base, true)->requirements ==
        std::vector<std::string>{"torch==1.11.0+cpu", "torchvision"});

  SUBCASE("torch from torch_stable.html or PyPI: refused, naming the key") {
    choice.torch_version = "1.4.0";
    choice.torch_variant = "cu100";
    auto refused = gpu::torch_install(choice, base, true);
    REQUIRE_FALSE(refused);
    CHECK(refused.error() ==
          "pytorch.torchvision needs torch 1.11 or newer (PyTorch's per-variant indexes): torch 1.4.0 comes from " +
              base + "/torch_stable.html, where pip would take a torchvision built for another torch or CUDA " +
              "variant; set pytorch.torchvision to false");
    choice.torch_version = "1.2.0";
    choice.torch_plain = true;
    refused = gpu::torch_install(choice, base, true);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("torch 1.2.0 comes from PyPI, ") != std::string::npos);
  }
}

TEST_CASE("choose: the tutorial's machine keeps CUDA 10.0 and torch 1.2.0, with a driver its repo has") {
  SUBCASE("Ubuntu 18.04: cuda-drivers-470, which runs CUDA 10.0 and every GPU of the time") {
    auto request = seed_vm({"1eb8"});
    request.os_version = "18.04";
    request.os_label = "Ubuntu 18.04";
    const auto choice = chosen(request);
    CHECK(choice.cuda == "10.0");
    CHECK(choice.driver_branch == 470);
    CHECK(choice.driver_source == gpu::DriverSource::nvidia_repo);
    CHECK(choice.nvidia_repo == "ubuntu1804");
    CHECK(choice.torch_version == "1.2.0");
    CHECK(choice.torch_variant == "cu100");
    CHECK(choice.reasons.at(0) == "CUDA 10.0 as configured; the Tesla T4, Ubuntu 18.04 and Python 3.6 allow it");
  }
  SUBCASE("Ubuntu 16.04: the frozen repo's own cuda-drivers (no branch packages there)") {
    const auto choice = chosen(seed_vm({"1eb8"}));
    CHECK(choice.driver_branch == 460);
    CHECK(choice.driver_source == gpu::DriverSource::nvidia_repo_latest);
    CHECK_FALSE(choice.open_modules);  // no open modules before R515
    CHECK(choice.torch_version == "1.2.0");
  }
  SUBCASE("a K80 off GCE (a workstation): the same") {
    auto request = seed_vm({"102d"});
    request.os_version = "18.04";
    request.os_label = "Ubuntu 18.04";
    const auto choice = chosen(request);
    CHECK(choice.driver_branch == 470);
    CHECK(choice.torch_version == "1.2.0");
  }
}

TEST_CASE("choose: auto picks the newest combination per GPU") {
  SUBCASE("T4 on Ubuntu 22.04 with the GCP kernel: CUDA 13.2, Ubuntu's signed 580 with open modules") {
    const auto choice = chosen(vm({"1eb8"}));
    CHECK(choice.cuda == "13.2");
    CHECK(choice.driver_branch == 580);
    CHECK(choice.driver_source == gpu::DriverSource::ubuntu_signed);
    CHECK(choice.open_modules);
    CHECK(choice.torch_version == "2.14.0");
    CHECK(choice.torch_variant == "cu132");
    CHECK(choice.reasons.at(0) == "CUDA 13.2: the newest that the Tesla T4, Ubuntu 22.04 and Python 3.12 allow");
    CHECK(choice.reasons.at(1).ends_with(
        "Ubuntu's signed linux-modules-nvidia-580-server-open for kernel 6.8.0-1015-gcp (open modules)"));
  }
  SUBCASE("the same without the GCP kernel: NVIDIA's repo, nvidia-open-580 (open modules, DKMS)") {
    auto request = vm({"1eb8"});
    request.kernel_release = "6.8.0-45-generic";
    const auto choice = chosen(request);
    CHECK(choice.driver_source == gpu::DriverSource::nvidia_repo);
    CHECK(choice.driver_branch == 580);
    CHECK(choice.open_modules);
    CHECK(choice.repo_packages == std::vector<std::string>{"nvidia-open-580"});
    CHECK(choice.reasons.at(1).ends_with("nvidia-open-580 from NVIDIA's ubuntu2204 repository (DKMS, open modules)"));
    request.gpu_ids = {"15f8"};  // a P100: proprietary, cuda-drivers-580
    const auto pascal = chosen(request);
    CHECK_FALSE(pascal.open_modules);
    CHECK(pascal.repo_packages == std::vector<std::string>{"cuda-drivers-580"});
  }
  SUBCASE("P100 on Ubuntu 22.04: CUDA 12 at most, proprietary modules, a cu126 torch (cu128 and cu13x lack sm_60)") {
    const auto choice = chosen(vm({"15f8"}));
    CHECK(choice.cuda == "12.8");
    CHECK(choice.driver_branch == 580);
    CHECK_FALSE(choice.open_modules);
    CHECK(choice.torch_version == "2.14.0");
    CHECK(choice.torch_variant == "cu126");
  }
  SUBCASE("V100 on Ubuntu 20.04: no signed modules there, cuda-drivers-535 from NVIDIA's repo") {
    const auto choice = chosen(vm({"1db1"}, "ubuntu", "20.04"));
    CHECK(choice.cuda == "12.8");
    CHECK(choice.driver_branch == 535);
    CHECK(choice.driver_source == gpu::DriverSource::nvidia_repo);
    CHECK(choice.torch_variant == "cu126");
  }
  SUBCASE("L4 on Ubuntu 24.04 and 26.04: signed open 580; no repo trouble with APT 2.x") {
    auto noble = vm({"27b8"}, "ubuntu", "24.04");
    noble.apt_version = "2.7.14";
    auto choice = chosen(noble);
    CHECK(choice.cuda == "13.2");
    CHECK(choice.driver_source == gpu::DriverSource::ubuntu_signed);
    CHECK(choice.repo_warning.empty());
    auto resolute = vm({"27b8"}, "ubuntu", "26.04");
    resolute.kernel_release = "7.0.0-1017-gcp";
    resolute.apt_version = "3.1.6";
    choice = chosen(resolute);
    CHECK(choice.cuda == "13.3");
    CHECK(choice.driver_branch == 580);
    CHECK(choice.driver_source == gpu::DriverSource::ubuntu_signed);
    CHECK(choice.torch_variant == "cu132");  // no cu133 build: the newest of the same major
    CHECK(choice.repo_warning.empty());      // ubuntu2604 has NVIDIA's new key
  }
  SUBCASE("Blackwell on Ubuntu 24.04: B200 and RTX PRO 6000 get open modules and a build with their kernels") {
    for (auto id : {"2901", "2bb5"}) {
      CAPTURE(id);
      const auto choice = chosen(vm({id}, "ubuntu", "24.04"));
      CHECK(choice.open_modules);
      CHECK(choice.driver_source == gpu::DriverSource::ubuntu_signed);
      CHECK(choice.torch_variant == "cu132");
    }
  }
  SUBCASE("Blackwell from NVIDIA's repo: its open modules (nvidia-open-580); never a branch older than R570") {
    const auto debian = chosen(vm({"2901"}, "debian", "12"));
    CHECK(debian.open_modules);
    CHECK(debian.repo_packages == std::vector<std::string>{"nvidia-open-580"});
    auto focal = vm({"2bb5"}, "ubuntu", "20.04");
    CHECK(
        refusal(focal).starts_with("no driver branch fits CUDA 12.8 and the RTX PRO 6000 Blackwell Server Edition on "
                                   "Ubuntu 20.04 (CUDA 12.8 needs >= 525, the RTX PRO 6000 Blackwell Server Edition "
                                   ">= 570)"));
  }
  SUBCASE("A100 on Debian 13 (APT 3): NVIDIA's new-key repo, its unsuffixed nvidia-open") {
    auto request = vm({"20b0"}, "debian", "13");
    request.kernel_release = "6.12.57+deb13-cloud-amd64";
    request.apt_version = "3.0.3";
    const auto choice = chosen(request);
    CHECK(choice.cuda == "13.2");
    CHECK(choice.driver_branch == 590);
    CHECK(choice.driver_source == gpu::DriverSource::nvidia_repo_latest);
    CHECK(choice.open_modules);
    CHECK(choice.nvidia_repo == "debian13");
    CHECK(choice.torch_variant == "cu132");
  }
  SUBCASE("a P100 on Debian 13: NVIDIA publishes only CUDA 13 there, which has no Pascal kernels") {
    auto request = vm({"15f8"}, "debian", "13");
    request.apt_version = "3.0.3";
    CHECK(refusal(request) ==
          "CUDA 12.8 has no repository for Debian 13 (NVIDIA publishes it for Ubuntu 20.04, Ubuntu 22.04, Ubuntu "
          "24.04, Debian 12); use an Ubuntu 24.04 image and profile `current` (here: CUDA 12.8, driver 580, torch "
          "2.14.0+cu126)");
  }
  SUBCASE("APT 3 with a repo signed by NVIDIA's old key: never from that repo, Ubuntu's signed driver still") {
    auto request = vm({"1eb8"}, "ubuntu", "24.04");
    request.apt_version = "3.0.0";
    const auto choice = chosen(request);
    CHECK(choice.driver_source == gpu::DriverSource::ubuntu_signed);
    CHECK(choice.repo_warning.find("sqv") != std::string::npos);
    request.kernel_release = "6.8.0-45-generic";
    CHECK(refusal(request).find("APT 3.0.0 verifies signatures with sqv") != std::string::npos);
  }
  SUBCASE("K80: CUDA 11.x and driver 470 at the newest, which Ubuntu 22.04's repo lacks; 20.04 has it") {
    CHECK(refusal(vm({"102d"})).starts_with("no driver branch fits CUDA 11.8 and the Tesla K80 on Ubuntu 22.04"));
    const auto choice = chosen(vm({"102d"}, "ubuntu", "20.04"));
    CHECK(choice.cuda == "11.8");
    CHECK(choice.driver_branch == 470);
    CHECK(choice.torch_version == "2.7.1");
    CHECK(choice.torch_variant == "cu118");
  }
  SUBCASE("K80 on GCE: retired there, said before anything else") {
    auto request = vm({"102d"}, "ubuntu", "20.04");
    request.gce = true;
    CHECK(refusal(request).starts_with(
        "the Tesla K80 is retired from Compute Engine (https://cloud.google.com/compute/docs/eol/k80-eol)"));
  }
  SUBCASE(
      "Debian 11: newest CUDA published for it is 12.6, driver 535 from NVIDIA's repo (proprietary: no open package)") {
    const auto choice = chosen(vm({"1eb8"}, "debian", "11"));
    CHECK(choice.cuda == "12.6");
    CHECK(choice.driver_branch == 535);
    CHECK_FALSE(choice.open_modules);
    CHECK(choice.repo_packages == std::vector<std::string>{"cuda-drivers-535"});
    CHECK(choice.driver_source == gpu::DriverSource::nvidia_repo);
    CHECK(choice.nvidia_repo == "debian11");
    CHECK(choice.torch_version == "2.14.0");
    CHECK(choice.torch_variant == "cu126");
  }
  SUBCASE("an explicit torch moves to a build that supports the GPU") {
    auto request = vm({"15f8"});
    request.torch = "2.11.0";
    const auto choice = chosen(request);
    CHECK(choice.torch_variant == "cu126");
    request.torch = "2.7.1";
    CHECK(chosen(request).torch_variant == "cu126");  // not 2.7.1+cu128, which has no sm_60
  }
}

TEST_CASE("choose: without a GPU, the CPU-only torch") {
  auto request = vm({});
  CHECK(chosen(request).torch_version == "2.14.0");
  CHECK(chosen(request).torch_variant == "cpu");
  CHECK(chosen(request).cuda.empty());
  request.python = "3.6";
  CHECK(chosen(request).torch_version == "1.10.2");
  auto seed = seed_vm({});
  CHECK(chosen(seed).torch_version == "1.2.0");
  CHECK(chosen(seed).torch_variant == "cpu");
}

TEST_CASE("choose: every refusal names the problem and the nearest combination that works") {
  SUBCASE("CUDA 10.0 on Ubuntu 22.04") {
    auto request = vm({"1eb8"});
    request.cuda = "10.0";
    CHECK(refusal(request) ==
          "CUDA 10.0 has no repository for Ubuntu 22.04 (NVIDIA publishes it for Ubuntu 14.04, Ubuntu 16.04, Ubuntu "
          "18.04); "
          "set gpu.cuda to \"auto\" (here: CUDA 13.2, driver 580, torch 2.14.0+cu132)");
  }
  SUBCASE("CUDA 12 on a K80") {
    auto request = vm({"102d"}, "ubuntu", "20.04");
    request.cuda = "12.4";
    CHECK(refusal(request) ==
          "CUDA 12.4 has no kernels for the Tesla K80 (Kepler: CUDA 11.x at the newest); "
          "set gpu.cuda to \"auto\" (here: CUDA 11.8, driver 470, torch 2.7.1+cu118)");
  }
  SUBCASE("an H100 or L4 with CUDA 10.0, and the seed's Python 3.6") {
    auto bionic = seed_vm({"2330"});
    bionic.os_version = "18.04";
    bionic.os_label = "Ubuntu 18.04";
    CHECK(refusal(bionic) ==
          "the H100 80GB needs CUDA 11.8 or newer, not 10.0; "
          "set gpu.cuda, gpu.driver_branch and pytorch.version to \"auto\" and conda_env.python to \"3.12\" (here: "
          "CUDA 11.8, driver 470, torch 2.7.1+cu118)");
    CHECK(refusal(seed_vm({"27b8"})) ==
          "the L4 needs CUDA 11.8 or newer, not 10.0; "
          "use an Ubuntu 24.04 image and profile `current` (here: CUDA 13.2, driver 580, torch 2.14.0+cu132)");
  }
  SUBCASE("no torch wheel for the env's Python: profile current on Ubuntu 16.04") {
    auto request = vm({"1eb8"}, "ubuntu", "16.04");
    CHECK(refusal(request) ==
          "no CUDA 10.0 torch build has a wheel for Python 3.12; "
          "set conda_env.python to \"3.7\" (here: CUDA 10.0, driver 460, torch 1.4.0+cu100)");
  }
  SUBCASE("a K80 with the seed's Python 3.6 on Ubuntu 20.04") {
    auto request = vm({"102d"}, "ubuntu", "20.04");
    request.python = "3.6";
    CHECK(refusal(request) ==
          "no CUDA 11.8 torch build has a wheel for Python 3.6; "
          "set conda_env.python to \"3.12\" (here: CUDA 11.8, driver 470, torch 2.7.1+cu118)");
  }
  SUBCASE("explicit torch: unknown, without the CUDA build, without the Python, without the GPU") {
    auto request = vm({"1eb8"});
    request.torch = "9.9.9";
    CHECK(refusal(request) ==
          "torch 9.9.9 is not in cs231n-agent's table (2.14.0, 2.13.0, 2.12.0, 2.11.0, 2.10.0, 2.9.1, 2.8.0, 2.7.1, "
          "2.6.0, 2.5.1, 2.4.1, 2.3.1, 1.10.2, 1.4.0, 1.2.0); "
          "set pytorch.version to \"auto\" (here: CUDA 13.2, driver 580, torch 2.14.0+cu132)");
    auto old = seed_vm({"1eb8"});
    old.torch = "1.10.2";
    CHECK(refusal(old) ==
          "torch 1.10.2 has no CUDA 10.0 build (its builds: cpu); "
          "set pytorch.version to \"auto\" (here: CUDA 10.0, driver 460, torch 1.4.0+cu100)");
    auto cpu = vm({});
    cpu.torch = "1.2.0";
    CHECK(refusal(cpu) ==
          "torch 1.2.0 has no wheel for Python 3.12 (it has 3.5–3.7); "
          "set pytorch.version to \"auto\" (here: torch 2.14.0+cpu)");
    auto pascal = vm({"15f8"});
    pascal.torch = "2.11.0";
    pascal.cuda = "13.0";
    CHECK(refusal(pascal) ==
          "CUDA 13.0 has no kernels for the Tesla P100 (Pascal: CUDA 12.x at the newest); "
          "set gpu.cuda to \"auto\" (here: CUDA 12.8, driver 580, torch 2.11.0+cu126)");
  }
  SUBCASE("unknown CUDA, unknown OS") {
    auto request = vm({"1eb8"});
    request.cuda = "9.9";
    CHECK(refusal(request) ==
          "CUDA 9.9 is not a version cs231n-agent knows (13.3, 13.2, 13.0, 12.8, 12.6, 12.4, 12.1, 11.8, 10.0); "
          "set gpu.cuda to \"auto\" (here: CUDA 13.2, driver 580, torch 2.14.0+cu132)");
    CHECK(refusal(vm({"1eb8"}, "centos", "7")) ==
          "cs231n-agent knows no NVIDIA repository for CentOS 7 (it knows Ubuntu 16.04, 18.04, 20.04, 22.04, 24.04, "
          "26.04 and Debian 11, 12, 13); "
          "use an Ubuntu 24.04 image and profile `current` (here: CUDA 13.2, driver 580, torch 2.14.0+cu132)");
  }
  SUBCASE("explicit driver branch too new for the GPU, too old for CUDA") {
    auto k80 = vm({"102d"}, "ubuntu", "20.04");
    k80.driver_branch = "535";
    CHECK(refusal(k80) ==
          "driver branch 535 does not work on the Tesla K80 (newest: 470); "
          "set gpu.driver_branch to \"auto\" (here: CUDA 11.8, driver 470, torch 2.7.1+cu118)");
    auto t4 = vm({"1eb8"});
    t4.cuda = "12.6";
    t4.driver_branch = "470";
    CHECK(refusal(t4) ==
          "CUDA 12.6 needs driver 525 or newer, not 470; "
          "set gpu.driver_branch to \"auto\" (here: CUDA 12.6, driver 580, torch 2.14.0+cu126)");
  }
  SUBCASE("a branch the OS's repo has no package for") {
    auto debian = vm({"1eb8"}, "debian", "12");
    debian.driver_branch = "595";
    CHECK(refusal(debian) ==
          "driver branch 595 has no cuda-drivers-595 package in NVIDIA's debian12 repository (it has 580); set "
          "gpu.driver_branch to \"auto\" (here: CUDA 13.2, driver 580, torch 2.14.0+cu132)");
    auto resolute = vm({"1eb8"}, "ubuntu", "26.04");
    resolute.driver_branch = "595";
    CHECK(chosen(resolute).driver_source == gpu::DriverSource::ubuntu_signed);  // Ubuntu 26.04 signs 595
  }
  SUBCASE("Secure Boot with a driver only DKMS can build") {
    auto k80 = vm({"102d"}, "ubuntu", "20.04");
    k80.secure_boot = true;
    CHECK(refusal(k80) ==
          "Secure Boot is on and driver 470 from NVIDIA's repo builds an unsigned module that will not load: stop the "
          "VM and turn Secure Boot off (gcloud compute instances update NAME --no-shielded-secure-boot), or enroll a "
          "MOK key and put it in /var/lib/dkms/mok.key and /var/lib/dkms/mok.pub so DKMS signs the module");
    k80.module_signing_key = true;
    CHECK(chosen(k80).driver_branch == 470);
    auto debian = vm({"1eb8"}, "debian", "11");
    debian.secure_boot = true;
    CHECK(refusal(debian).starts_with("Secure Boot is on and driver 535"));
    auto signed_modules = vm({"1eb8"});
    signed_modules.secure_boot = true;
    CHECK(chosen(signed_modules).driver_source == gpu::DriverSource::ubuntu_signed);
  }
}
