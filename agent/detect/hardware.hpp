#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/os/files.hpp"

namespace cs231n::detect {

struct Gpu {
  std::string pci_id;     // "10de:1eb8"
  std::string device_id;  // "1eb8"
  std::string name;       // "Tesla T4"
  std::string slot;       // "0000:00:04.0"
};

// NVIDIA display or 3D controllers under <root>/sys/bus/pci/devices/*/{vendor,device,class},
// sorted by slot.
std::vector<Gpu> find_nvidia_gpus(const os::Files& files);

enum class SecureBoot { on, off, unknown };
std::string_view to_string(SecureBoot state);

inline constexpr std::string_view k_secure_boot_variable =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

// From the EFI variable: 4 attribute bytes, then one data byte (1 = on). A machine that did not
// boot through EFI (no /sys/firmware/efi) has no Secure Boot: off.
SecureBoot read_secure_boot(const os::Files& files);
SecureBoot parse_secure_boot_variable(std::string_view content);

// Names of the loaded kernel modules, from <root>/proc/modules.
std::vector<std::string> loaded_modules(const os::Files& files);

std::optional<std::uint64_t> memory_bytes(const os::Files& files);
std::optional<unsigned> cpu_count(const os::Files& files);

// GCE VMs say "Google Compute Engine" in their DMI product name.
bool is_gce(const os::Files& files);

}  // namespace cs231n::detect
