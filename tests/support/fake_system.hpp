#pragma once

#include <deque>
#include <map>
#include <stdexcept>

#include "agent/os/real_system.hpp"
#include "agent/os/system.hpp"

namespace cs231n::testing {

// Thrown by FakeSystem::run for a command no test scripted: a test never runs a real program
// through the fake by accident.
class UnexpectedCommand : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// The OS boundary for unit tests: real files under a temp root (what the agent writes can be
// read back), scripted commands, a settable clock, recorded reboots, a fake environment.
class FakeSystem : public os::System {
 public:
  explicit FakeSystem(std::filesystem::path root);

  // The next command must be exactly `argv`; it "returns" `result`.
  void expect(std::vector<std::string> argv);
  void expect(std::vector<std::string> argv, os::CommandResult result);
  static os::CommandResult succeeded(std::string stdout_text = "");
  static os::CommandResult failed(int exit_code, std::string output_tail);
  // Throws when an expected command was never run.
  void verify() const;

  const std::vector<os::Command>& commands() const { return m_commands; }
  const std::vector<std::vector<std::string>>& reboots() const { return m_reboots; }
  std::map<std::string, std::string> environment;
  std::chrono::system_clock::time_point clock{std::chrono::seconds(1'700'000'000)};

  const os::Files& files() const override { return m_files; }
  util::Result<os::CommandResult> run(const os::Command& command) override;
  std::chrono::system_clock::time_point now() override { return clock; }
  void sleep(std::chrono::milliseconds duration) override { clock += duration; }
  std::optional<std::string> env(const std::string& name) const override;
  os::ServiceManager& services() override { return m_services; }
  util::Result<void> reboot(const std::vector<std::string>& command) override;
  int end_marked_processes(const std::string& marker) override;
  std::vector<std::string> ended_markers;

 private:
  os::Files m_files;
  os::SystemdServiceManager m_services;
  std::deque<std::pair<std::vector<std::string>, os::CommandResult>> m_expected;
  std::vector<os::Command> m_commands;
  std::vector<std::vector<std::string>> m_reboots;
};

}  // namespace cs231n::testing
