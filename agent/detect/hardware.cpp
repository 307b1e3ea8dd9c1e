#include "agent/detect/hardware.hpp"

#include <algorithm>

#include "agent/gpu/compat.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::detect {

namespace {

// "0x10de\n" -> "10de"
std::string hex_id(const os::Files& files, const std::string& path) {
  auto text = files.read_trimmed(path).value_or("");
  if (text.starts_with("0x") || text.starts_with("0X")) text.erase(0, 2);
  return util::lowercase(text);
}

}  // namespace

std::vector<Gpu> find_nvidia_gpus(const os::Files& files) {
  std::vector<Gpu> gpus;
  const std::string devices = "/sys/bus/pci/devices";
  for (const auto& slot : files.list(devices).value_or(std::vector<std::string>{})) {
    const std::string dir = devices + "/" + slot;
    if (hex_id(files, dir + "/vendor") != gpu::k_nvidia_vendor) continue;
    // PCI class 0x03 is "display controller": 0x0300 VGA, 0x0302 3D controller. NVIDIA's audio
    // and USB functions on the same card are not GPUs.
    if (!hex_id(files, dir + "/class").starts_with("03")) continue;
    const std::string device = hex_id(files, dir + "/device");
    gpus.push_back(Gpu{std::string(gpu::k_nvidia_vendor) + ":" + device, device, gpu::gpu_display_name(device), slot});
  }
  return gpus;
}

std::string_view to_string(SecureBoot state) {
  switch (state) {
    case SecureBoot::on: return "on";
    case SecureBoot::off: return "off";
    case SecureBoot::unknown: return "unknown";
  }
  return "unknown";
}

SecureBoot parse_secure_boot_variable(std::string_view content) {
  if (content.size() != 5) return SecureBoot::unknown;
  switch (static_cast<unsigned char>(content[4])) {
    case 0: return SecureBoot::off;
    case 1: return SecureBoot::on;
    default: return SecureBoot::unknown;
  }
}

SecureBoot read_secure_boot(const os::Files& files) {
  if (!files.exists("/sys/firmware/efi")) return SecureBoot::off;
  auto content = files.read(k_secure_boot_variable);
  if (!content) return SecureBoot::unknown;
  return parse_secure_boot_variable(*content);
}

std::vector<std::string> loaded_modules(const os::Files& files) {
  std::vector<std::string> modules;
  for (const auto& line : util::lines(files.read("/proc/modules").value_or(""))) {
    const auto fields = util::split_whitespace(line);
    if (!fields.empty()) modules.push_back(fields[0]);
  }
  return modules;
}

std::optional<std::uint64_t> memory_bytes(const os::Files& files) {
  for (const auto& line : util::lines(files.read("/proc/meminfo").value_or(""))) {
    if (!line.starts_with("MemTotal:")) continue;
    const auto fields = util::split_whitespace(line);
    if (fields.size() >= 2) {
      if (auto kib = util::parse_uint(fields[1])) return *kib * 1024;
    }
  }
  return std::nullopt;
}

std::optional<unsigned> cpu_count(const os::Files& files) {
  auto text = files.read("/proc/cpuinfo");
  if (!text) return std::nullopt;
  unsigned count = 0;
  for (const auto& line : util::lines(*text)) {
    if (line.starts_with("processor") && line.find(':') != std::string::npos) ++count;
  }
  return count == 0 ? std::nullopt : std::optional<unsigned>(count);
}

bool is_gce(const os::Files& files) {
  return files.read_trimmed("/sys/class/dmi/id/product_name").value_or("") == "Google Compute Engine";
}

}  // namespace cs231n::detect
