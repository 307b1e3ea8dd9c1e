#include <doctest/doctest.h>

#include "agent/gpu/compat.hpp"

using namespace cs231n;

TEST_CASE("gpu table: the GCE GPUs by PCI id") {
  CHECK(gpu::gpu_display_name("102d") == "Tesla K80");
  CHECK(gpu::gpu_display_name("1eb8") == "Tesla T4");
  CHECK(gpu::gpu_display_name("2330") == "H100 80GB");
  CHECK(gpu::gpu_display_name("abcd") == "NVIDIA 10de:abcd");
  CHECK(gpu::find_gpu("102d")->max_driver_branch == 470);
}

TEST_CASE("gpu: NVIDIA repo names") {
  CHECK(gpu::nvidia_repo_name("ubuntu", "16.04") == "ubuntu1604");
  CHECK(gpu::nvidia_repo_name("debian", "12") == "debian12");
  CHECK(gpu::nvidia_repo_name("centos", "7").empty());
}

TEST_CASE("gpu: version comparison is numeric") {
  CHECK(gpu::compare_versions("10.0", "9.2") > 0);
  CHECK(gpu::compare_versions("11.8", "11.10") < 0);
  CHECK(gpu::compare_versions("12.0", "12") == 0);
}

TEST_CASE("gpu: refusals name the nearest thing that works") {
  CHECK_FALSE(gpu::cuda_refusal("10.0", "ubuntu", "18.04", "Ubuntu 18.04", {"1eb8"}));
  const auto jammy = gpu::cuda_refusal("10.0", "ubuntu", "22.04", "Ubuntu 22.04", {});
  REQUIRE(jammy);
  CHECK(*jammy == "CUDA 10.0 has no repository for Ubuntu 22.04 (NVIDIA publishes it for Ubuntu 14.04, Ubuntu 16.04, "
                  "Ubuntu 18.04); set gpu.cuda to \"auto\"");
  const auto h100 = gpu::cuda_refusal("10.0", "ubuntu", "18.04", "Ubuntu 18.04", {"2330"});
  REQUIRE(h100);
  CHECK(*h100 == "the H100 80GB needs CUDA 11.8 or newer, not 10.0; set gpu.cuda to \"auto\"");
  const auto k80 = gpu::cuda_refusal("12.4", "ubuntu", "22.04", "Ubuntu 22.04", {"102d"});
  REQUIRE(k80);
  CHECK(k80->find("the Tesla K80 works only up to driver 470") != std::string::npos);
  CHECK(gpu::cuda_refusal("9.9", "ubuntu", "18.04", "Ubuntu 18.04", {})->starts_with("CUDA 9.9 is not a version"));
}
