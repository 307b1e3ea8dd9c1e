#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/detect/hardware.hpp"
#include "agent/detect/os_release.hpp"
#include "agent/os/accounts.hpp"
#include "agent/os/system.hpp"

namespace cs231n::detect {

// Whom the course environment is for.
struct TargetUser {
  std::string name;                    // empty when it could not be decided (see error)
  std::string source;                  // "config", "SUDO_USER" or "/etc/passwd"
  std::optional<os::Account> account;  // absent while the account does not exist yet
  std::string error;                   // why no user could be chosen, naming the config key to set
};

// The target user: config `user`; else SUDO_USER when run through sudo; else the single regular
// account in <root>/etc/passwd; else an error that names the config key to set.
TargetUser resolve_target_user(const os::Accounts& accounts, const std::string& configured_user,
                               const std::optional<std::string>& sudo_user);

struct Installed {
  std::string conda_prefix;  // an Anaconda/Miniconda prefix with bin/conda
  bool nvidia_smi = false;
  std::vector<std::string> cuda_paths;  // /usr/local/cuda*
};

// What the GCE metadata server says of this VM (filled in by the CLI when it can ask).
struct GceInstance {
  std::string id;
  std::string zone;          // "us-west1-b"
  std::string machine_type;  // "n1-standard-8"
  std::string external_ip;
  std::string internal_ip;
  bool os_login = false;  // metadata enable-oslogin: accounts come from Google, not /etc/passwd
};

// Everything `detect` reports. Read-only: gathering facts changes nothing.
struct Facts {
  OsInfo os;
  std::string arch;
  bool arch_supported = false;
  bool gce = false;
  std::vector<Gpu> gpus;
  SecureBoot secure_boot = SecureBoot::unknown;
  std::optional<unsigned> cpus;
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::uint64_t> disk_free_bytes;
  std::string boot_id;
  std::string kernel_release;
  std::string hostname;
  bool nouveau_loaded = false;
  bool nvidia_loaded = false;
  Installed installed;
  TargetUser user;
  std::optional<GceInstance> instance;

  // Why nothing can be done on this machine (unsupported OS or architecture), or nullopt.
  std::optional<std::string> unsupported_reason() const;
};

Facts gather_facts(const os::System& system, const std::string& configured_user);

nlohmann::json to_json(const Facts& facts);
// The aligned table `detect` prints.
std::string to_table(const Facts& facts);

}  // namespace cs231n::detect
