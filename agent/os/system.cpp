#include "agent/os/system.hpp"

#include <sys/utsname.h>

namespace cs231n::os {

std::string CommandResult::describe() const {
  if (timed_out) return "timed out";
  if (cancelled) return "was interrupted";
  const std::string unread = input_error.empty() ? "" : " without reading all of its input (" + input_error + ")";
  if (signal != 0) return "was killed by signal " + std::to_string(signal) + unread;
  return "exited with status " + std::to_string(exit_code) + unread;
}

std::string System::kernel_release() const {
  if (auto release = files().read_trimmed("/proc/sys/kernel/osrelease")) return *release;
  return "";
}

std::string System::hostname() const {
  if (auto name = files().read_trimmed("/proc/sys/kernel/hostname")) return *name;
  if (auto name = files().read_trimmed("/etc/hostname")) return *name;
  return "";
}

std::string System::boot_id() const {
  if (auto id = files().read_trimmed("/proc/sys/kernel/random/boot_id")) return *id;
  return "";
}

std::string System::machine() const {
  // /proc/sys/kernel/arch exists on newer kernels; uname() is the fallback, so a fixture root
  // can name its architecture but does not have to.
  if (auto arch = files().read_trimmed("/proc/sys/kernel/arch")) return *arch;
  utsname names{};
  if (::uname(&names) == 0) return names.machine;
  return "";
}

}  // namespace cs231n::os
