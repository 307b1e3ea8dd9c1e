#include <doctest/doctest.h>

#include "agent/detect/facts.hpp"
#include "steps/table.hpp"
#include "support/fake_system.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;

namespace {

constexpr const char* k_kernel = "5.10.0-30-cloud-amd64";

// Debian 11 with a T4 whose driver packages are installed and built, nouveau driving the GPU.
struct GpuMachine {
  testing::TempDir root;
  std::unique_ptr<testing::FakeSystem> system;
  detect::Facts facts;
  config::Config config;

  explicit GpuMachine(const std::string& modules, const std::string& boot_id = "boot-1") {
    root.write("etc/os-release", "ID=debian\nVERSION_ID=\"11\"\nPRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\n");
    root.write("etc/passwd", "root:x:0:0::/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/bash\n");
    root.write("proc/sys/kernel/arch", "x86_64\n");
    root.write("proc/sys/kernel/osrelease", std::string(k_kernel) + "\n");
    root.write("proc/sys/kernel/random/boot_id", boot_id + "\n");
    root.write("proc/modules", modules);
    root.write("sys/bus/pci/devices/0000:00:04.0/vendor", "0x10de\n");
    root.write("sys/bus/pci/devices/0000:00:04.0/device", "0x1eb8\n");
    root.write("sys/bus/pci/devices/0000:00:04.0/class", "0x030200\n");
    std::string status;
    for (const std::string& package : {std::string("cuda-drivers-535"), std::string("linux-headers-") + k_kernel}) {
      status += "Package: " + package + "\nStatus: install ok installed\n\n";
    }
    root.write("var/lib/dpkg/status", status);
    root.write(std::string("lib/modules/") + k_kernel + "/updates/dkms/nvidia.ko", "built by DKMS\n");
    reload();
  }
  void reload() {
    system = std::make_unique<testing::FakeSystem>(root.path());
    facts = detect::gather_facts(*system, "ann");
    config = config::Config::resolve({}, facts.os);
  }
  util::Result<plan::ApplyResult> apply_driver() {
    const plan::Context context{*system, facts, config};
    const auto run = plan::StepRun::unlogged(context, "nvidia-driver", std::chrono::minutes(1));
    return steps::make_nvidia_driver_step()->apply(run);
  }
};

constexpr const char* k_nouveau = "nouveau 2318336 1 - Live 0x0000000000000000\ndrm 622592 3 nouveau, Live 0x0\n";

}  // namespace

TEST_CASE("nvidia-driver: nouveau in the way means the blacklist, a new initramfs and the one reboot") {
  GpuMachine machine(k_nouveau);
  machine.system->expect({"apt-mark", "hold", "cuda-drivers-535"});
  machine.system->expect({"update-initramfs", "-u"});
  const auto applied = machine.apply_driver();
  REQUIRE(applied);
  CHECK(applied->reboot);
  machine.system->verify();
  const auto blacklist = machine.root.read("etc/modprobe.d/blacklist-nouveau-cs231n-agent.conf");
  CHECK(blacklist.find("blacklist nouveau\n") != std::string::npos);
  CHECK(blacklist.find("# boot boot-1\n") != std::string::npos);

  SUBCASE("in the same boot (a crash before the reboot): the reboot is asked for again") {
    machine.reload();
    machine.system->expect({"apt-mark", "hold", "cuda-drivers-535"});
    machine.system->expect({"update-initramfs", "-u"});
    const auto again = machine.apply_driver();
    REQUIRE_MESSAGE(again, (again ? "" : again.error().message));
    CHECK(again->reboot);
  }
  SUBCASE("nouveau still there after the reboot: an error, not a second reboot") {
    machine.root.write("proc/sys/kernel/random/boot_id", "boot-2\n");
    machine.reload();
    machine.system->expect({"apt-mark", "hold", "cuda-drivers-535"});
    const auto again = machine.apply_driver();
    REQUIRE_FALSE(again);
    CHECK(again.error().message ==
          "nouveau is still loaded after a reboot although /etc/modprobe.d/blacklist-nouveau-cs231n-agent.conf "
          "blacklists it; "
          "the initramfs may load it: run `update-initramfs -u` and reboot");
  }
}

TEST_CASE("nvidia-driver: without nouveau the module is loaded now, no reboot") {
  GpuMachine machine("drm 622592 0 - Live 0x0\n");
  machine.system->expect({"apt-mark", "hold", "cuda-drivers-535"});
  machine.system->expect({"modprobe", "nvidia"});
  const auto applied = machine.apply_driver();
  REQUIRE(applied);
  CHECK_FALSE(applied->reboot);
  machine.system->verify();
}

TEST_CASE("nvidia-driver: a module Secure Boot rejects says how to fix it") {
  GpuMachine machine("drm 622592 0 - Live 0x0\n");
  machine.system->expect({"apt-mark", "hold", "cuda-drivers-535"});
  machine.system->expect(
      {"modprobe", "nvidia"},
      testing::FakeSystem::failed(1, "modprobe: ERROR: could not insert 'nvidia': Key was rejected by service"));
  const auto applied = machine.apply_driver();
  REQUIRE_FALSE(applied);
  CHECK(applied.error().message.starts_with(
      "the nvidia module is not signed with a key this VM trusts and Secure Boot is on"));
  CHECK(applied.error().message.find("--no-shielded-secure-boot") != std::string::npos);
}

TEST_CASE("nvidia-driver: installed but built for no kernel is a clear failure") {
  GpuMachine machine("drm 622592 0 - Live 0x0\n");
  std::filesystem::remove(machine.root.path() / "lib/modules" / k_kernel / "updates/dkms/nvidia.ko");
  machine.system->expect({"apt-mark", "hold", "cuda-drivers-535"});
  const auto applied = machine.apply_driver();
  REQUIRE_FALSE(applied);
  CHECK(applied.error().message == std::string("driver 535 installed, but no nvidia module was built for kernel ") +
                                       k_kernel +
                                       " (see the DKMS lines in the log: `cs231n-agent logs nvidia-driver`)");
}
