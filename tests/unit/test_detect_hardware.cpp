#include <doctest/doctest.h>

#include "agent/detect/hardware.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;

namespace {

void add_pci(const testing::TempDir& root, const std::string& slot, const std::string& vendor,
             const std::string& device, const std::string& pci_class) {
  const std::string dir = "sys/bus/pci/devices/" + slot + "/";
  root.write(dir + "vendor", vendor + "\n");
  root.write(dir + "device", device + "\n");
  root.write(dir + "class", pci_class + "\n");
}

}  // namespace

TEST_CASE("PCI: NVIDIA display and 3D controllers are GPUs, named from the table") {
  testing::TempDir root;
  add_pci(root, "0000:00:05.0", "0x10de", "0x27b8", "0x030000");  // L4 as VGA
  add_pci(root, "0000:00:04.0", "0x10de", "0x1eb8", "0x030200");  // T4 as 3D controller
  add_pci(root, "0000:00:04.1", "0x10de", "0x10f8", "0x040300");  // the card's audio function
  add_pci(root, "0000:00:03.0", "0x1af4", "0x1000", "0x020000");  // virtio network
  add_pci(root, "0000:00:06.0", "0x10DE", "0x9999", "0x030200");  // unknown id, upper-case hex
  const auto gpus = detect::find_nvidia_gpus(os::Files(root.path()));
  REQUIRE(gpus.size() == 3);
  CHECK(gpus[0].slot == "0000:00:04.0");
  CHECK(gpus[0].pci_id == "10de:1eb8");
  CHECK(gpus[0].name == "Tesla T4");
  CHECK(gpus[1].name == "L4");
  CHECK(gpus[2].name == "NVIDIA 10de:9999");
}

TEST_CASE("PCI: no sysfs means no GPUs") {
  testing::TempDir root;
  CHECK(detect::find_nvidia_gpus(os::Files(root.path())).empty());
}

TEST_CASE("Secure Boot: EFI variable bytes") {
  using detect::SecureBoot;
  CHECK(detect::parse_secure_boot_variable(std::string("\x06\0\0\0\x01", 5)) == SecureBoot::on);
  CHECK(detect::parse_secure_boot_variable(std::string("\x06\0\0\0\x00", 5)) == SecureBoot::off);
  CHECK(detect::parse_secure_boot_variable(std::string("\x06\0\0\0\x07", 5)) == SecureBoot::unknown);
  CHECK(detect::parse_secure_boot_variable(std::string("\x06\0\0\0", 4)) == SecureBoot::unknown);
}

TEST_CASE("Secure Boot: from the root") {
  using detect::SecureBoot;
  testing::TempDir root;
  os::Files files(root.path());
  CHECK(detect::read_secure_boot(files) == SecureBoot::off);  // legacy BIOS boot
  std::filesystem::create_directories(root.path() / "sys/firmware/efi/efivars");
  CHECK(detect::read_secure_boot(files) == SecureBoot::unknown);  // EFI, variable unreadable
  root.write(std::string(detect::k_secure_boot_variable), std::string("\x06\0\0\0\x01", 5));
  CHECK(detect::read_secure_boot(files) == SecureBoot::on);
}

TEST_CASE("modules, memory and CPUs from /proc") {
  testing::TempDir root;
  os::Files files(root.path());
  CHECK(detect::loaded_modules(files).empty());
  CHECK_FALSE(detect::memory_bytes(files).has_value());
  CHECK_FALSE(detect::cpu_count(files).has_value());
  root.write("proc/modules", "nouveau 2195456 0 - Live 0x0000000000000000\nvirtio_net 57344 0 - Live 0x0\n");
  root.write("proc/meminfo", "MemTotal:       31457280 kB\nMemFree:  100 kB\n");
  root.write("proc/cpuinfo", "processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\nmodel name\t: x\n");
  CHECK(detect::loaded_modules(files) == std::vector<std::string>{"nouveau", "virtio_net"});
  CHECK(detect::memory_bytes(files) == 31457280ull * 1024);
  CHECK(detect::cpu_count(files) == 2u);
}

TEST_CASE("GCE from the DMI product name") {
  testing::TempDir root;
  os::Files files(root.path());
  CHECK_FALSE(detect::is_gce(files));
  root.write("sys/class/dmi/id/product_name", "Google Compute Engine\n");
  CHECK(detect::is_gce(files));
  root.write("sys/class/dmi/id/product_name", "Standard PC (Q35 + ICH9, 2009)\n");
  CHECK_FALSE(detect::is_gce(files));
}
