#pragma once

#include <memory>

#include "agent/os/system.hpp"

namespace cs231n::os {

// Unit files are written and enabled through Files and System::run, so the same class serves the
// real system and tests (with a fake System behind it).
class SystemdServiceManager : public ServiceManager {
 public:
  explicit SystemdServiceManager(System& system) : m_system(system) {}
  bool systemd_running() const override;
  util::Result<void> install_unit(const std::string& name, const std::string& content) override;
  util::Result<void> enable(const std::string& name, const std::string& wanted_by, bool start) override;
  util::Result<void> remove(const std::string& name, const std::string& wanted_by) override;

 private:
  util::Result<void> systemctl(const std::vector<std::string>& arguments);
  System& m_system;
};

// The real machine. Files live under `root`; commands, clock and reboot are the host's own.
class RealSystem : public System {
 public:
  explicit RealSystem(std::filesystem::path root);

  const Files& files() const override { return m_files; }
  util::Result<CommandResult> run(const Command& command) override;
  std::chrono::system_clock::time_point now() override;
  void sleep(std::chrono::milliseconds duration) override;
  std::optional<std::string> env(const std::string& name) const override;
  ServiceManager& services() override { return m_services; }
  util::Result<void> reboot(const std::vector<std::string>& command) override;
  int end_marked_processes(const std::string& marker) override;

 private:
  Files m_files;
  SystemdServiceManager m_services;
};

}  // namespace cs231n::os
