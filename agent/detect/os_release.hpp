#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "agent/os/files.hpp"

namespace cs231n::detect {

// os-release(5) as a key/value map. Values may be unquoted, or in single or double quotes; inside
// double quotes \" \\ \$ \` are escapes. Comments, blank lines and lines that are not
// KEY=VALUE are ignored, as systemd does.
std::map<std::string, std::string> parse_os_release(std::string_view text);

struct OsInfo {
  std::string id;          // "ubuntu", "debian", "centos"; empty when unknown
  std::string version_id;  // "22.04"
  std::string codename;    // "jammy"
  std::string pretty_name;
  bool supported = false;
  std::string reason;  // why not, when !supported

  // "Ubuntu 22.04", for messages.
  std::string label() const;
  bool is(std::string_view os_id, std::string_view version) const { return id == os_id && version_id == version; }
};

// Reads <root>/etc/os-release, falling back to <root>/usr/lib/os-release.
OsInfo read_os_info(const os::Files& files);
// The support verdict for an os-release map: the OS releases in gpu's table (gpu::supported_oses)
// are the ones cs231n-agent supports.
OsInfo os_info_from(const std::map<std::string, std::string>& fields);

}  // namespace cs231n::detect
