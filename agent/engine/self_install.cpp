#include "agent/engine/self_install.hpp"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "agent/util/strings.hpp"

namespace cs231n::engine {

std::string resume_unit(const Paths& paths) {
  // clang-format off
  return "# Written by cs231n-agent: continues an unfinished setup at every boot (a no-op when done).\n"
         "[Unit]\n"
         "Description=cs231n-agent: continue the cs231n setup after a reboot\n"
         "Wants=network-online.target\n"
         "After=network-online.target\n"
         "ConditionPathExists=" + std::string(k_installed_agent) + "\n"
         "\n"
         "[Service]\n"
         "Type=oneshot\n"
         // --wait: at boot the startup script's `run` may hold the lock; resume checks after it.
         "ExecStart=" + std::string(k_installed_agent) + " resume --wait --state-dir " + paths.state_dir +
         (paths.default_cache_dir() ? "" : " --cache-dir " + paths.cache_dir) + "\n"
         "TimeoutStartSec=0\n"
         "StandardOutput=journal+console\n"
         "StandardError=journal+console\n"
         "\n"
         "[Install]\n"
         "WantedBy=multi-user.target\n";
  // clang-format on
}

void install_self(os::System& system, bool force) {
  const auto& files = system.files();
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error || self == k_installed_agent) return;
  // The running binary itself, through the kernel's link to it: the path it was started from may
  // be in a folder the student can write, where another file could stand by now.
  auto binary = files.read("/proc/self/exe", 256u << 20);
  if (!binary) {
    spdlog::warn("cannot read the running agent ({}) to install it: {}", self.string(), binary.error().message);
    return;
  }
  if (auto installed = files.read(k_installed_agent, 256u << 20); installed) {
    if (*installed == *binary) return;
    os::Command version;
    version.argv = {k_installed_agent, "version"};
    version.capture_stdout = true;
    version.timeout = std::chrono::seconds(10);
    const auto answer = system.run(version);
    const auto words =
        answer && answer->ok() ? util::split_whitespace(answer->stdout_text) : std::vector<std::string>{};
    const std::string installed_version = words.size() >= 2 ? words[1] : "";
    if (!installed_version.empty() && util::compare_versions(installed_version, CS231N_VERSION) > 0 && !force) {
      spdlog::warn("{} is version {}, newer than this agent ({}): not replacing it (--force would)", k_installed_agent,
                   installed_version, CS231N_VERSION);
      return;
    }
  }
  if (auto made = files.make_dirs("/usr/local/bin", 0755); !made) {
    spdlog::warn("cannot install the agent: {}", made.error().message);
    return;
  }
  if (auto written = files.write_atomic(k_installed_agent, *binary, 0755); !written) {
    spdlog::warn("cannot install the agent to {}: {}", k_installed_agent, written.error().message);
    return;
  }
  spdlog::info("installed cs231n-agent {} as {}", CS231N_VERSION, k_installed_agent);
}

void install_resume_unit(os::System& system, const Paths& paths) {
  const std::string content = resume_unit(paths);
  const auto current = system.files().read(std::string("/etc/systemd/system/") + k_resume_unit);
  auto& services = system.services();
  if (!current || *current != content) {
    if (auto installed = services.install_unit(k_resume_unit, content); !installed) {
      spdlog::warn("cannot install {}: {}; after a reboot, run `sudo cs231n-agent resume`", k_resume_unit,
                   installed.error().message);
      return;
    }
  }
  // Enabled, not started: starting it now would only find this run's lock.
  if (auto enabled = services.enable(k_resume_unit, "multi-user.target", false); !enabled) {
    spdlog::warn("cannot enable {}: {}; after a reboot, run `sudo cs231n-agent resume`", k_resume_unit,
                 enabled.error().message);
  }
}

}  // namespace cs231n::engine
