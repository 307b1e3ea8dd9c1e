#include "agent/os/real_system.hpp"

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/os/process.hpp"
#include "agent/util/strings.hpp"

extern char** environ;

namespace cs231n::os {

namespace {

constexpr const char* k_unit_dir = "/etc/systemd/system";

std::map<std::string, std::string> current_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals != std::string_view::npos) env.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return env;
}

}  // namespace

bool SystemdServiceManager::systemd_running() const {
  // What sd_booted() checks.
  return m_system.files().exists("/run/systemd/system");
}

util::Result<void> SystemdServiceManager::systemctl(const std::vector<std::string>& arguments) {
  Command command;
  command.argv = {"systemctl"};
  command.argv.insert(command.argv.end(), arguments.begin(), arguments.end());
  command.timeout = std::chrono::minutes(2);
  auto result = m_system.run(command);
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) {
    return util::fail("systemctl " + arguments.front() + " " + result->describe() + ": " + result->output_tail);
  }
  return {};
}

util::Result<void> SystemdServiceManager::install_unit(const std::string& name, const std::string& content) {
  const auto& files = m_system.files();
  if (auto made = files.make_dirs(k_unit_dir, 0755); !made) return made;
  if (auto written = files.write_atomic(std::string(k_unit_dir) + "/" + name, content, 0644); !written) return written;
  if (systemd_running()) return systemctl({"daemon-reload"});
  return {};
}

util::Result<void> SystemdServiceManager::enable(const std::string& name, const std::string& wanted_by, bool start) {
  if (systemd_running()) {
    if (start) return systemctl({"enable", "--now", name});
    return systemctl({"enable", name});
  }
  // Offline: what `systemctl enable` does for a unit with WantedBy=<wanted_by>.
  const auto& files = m_system.files();
  const std::string wants_dir = std::string(k_unit_dir) + "/" + wanted_by + ".wants";
  if (auto made = files.make_dirs(wants_dir, 0755); !made) return made;
  const std::string link = wants_dir + "/" + name;
  if (files.stat(link)) return {};
  return files.symlink(std::string(k_unit_dir) + "/" + name, link);
}

util::Result<void> SystemdServiceManager::remove(const std::string& name, const std::string& wanted_by) {
  const auto& files = m_system.files();
  const std::string unit = std::string(k_unit_dir) + "/" + name;
  const std::string link = wanted_by.empty() ? "" : std::string(k_unit_dir) + "/" + wanted_by + ".wants/" + name;
  const bool present = files.stat(unit).has_value() || (!link.empty() && files.stat(link).has_value());
  if (!present) return {};
  if (systemd_running() && files.stat(unit)) {
    if (auto disabled = systemctl({"disable", "--now", name}); !disabled) return disabled;
  }
  if (!link.empty()) {
    if (auto removed = files.remove(link); !removed) return removed;
  }
  if (auto removed = files.remove(unit); !removed) return removed;
  if (systemd_running()) return systemctl({"daemon-reload"});
  return {};
}

RealSystem::RealSystem(std::filesystem::path root) : m_files(std::move(root)), m_services(*this) {}

util::Result<CommandResult> RealSystem::run(const Command& command) {
  if (!m_files.is_host_root()) {
    return util::fail("refusing to run " + command.argv.front() + " with --root " + m_files.root().string() +
                      ": commands only run on the real root");
  }
  return run_process(command, Accounts::load(m_files), current_environment());
}

std::chrono::system_clock::time_point RealSystem::now() { return std::chrono::system_clock::now(); }

void RealSystem::sleep(std::chrono::milliseconds duration) { std::this_thread::sleep_for(duration); }

std::optional<std::string> RealSystem::env(const std::string& name) const {
  if (const char* value = std::getenv(name.c_str())) return std::string(value);
  return std::nullopt;
}

util::Result<void> RealSystem::reboot(const std::vector<std::string>& command) {
  Command reboot_command;
  reboot_command.argv = command;
  reboot_command.timeout = std::chrono::minutes(1);
  auto result = run(reboot_command);
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return util::fail("reboot command " + result->describe() + ": " + result->output_tail);
  return {};
}

int RealSystem::end_marked_processes(const std::string& marker) {
  if (!m_files.is_host_root()) return 0;
  const std::string wanted = std::string(k_process_marker_variable) + "=" + marker;
  const auto marked = [&] {
    std::vector<pid_t> pids;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
      const auto pid = util::parse_uint(entry.path().filename().string());
      if (!pid || static_cast<pid_t>(*pid) == ::getpid()) continue;
      std::ifstream stream(entry.path() / "environ", std::ios::binary);
      std::stringstream buffer;
      buffer << stream.rdbuf();
      for (const auto& variable : util::split(buffer.str(), '\0')) {
        if (variable == wanted) {
          pids.push_back(static_cast<pid_t>(*pid));
          break;
        }
      }
    }
    return pids;
  };
  const auto first = marked();
  for (int attempt = 0; attempt < 50; ++attempt) {
    const auto alive = marked();
    if (alive.empty()) break;
    for (pid_t pid : alive) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return static_cast<int>(first.size());
}

}  // namespace cs231n::os
