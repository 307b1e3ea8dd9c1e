#include "support/fake_system.hpp"

#include "agent/util/strings.hpp"

namespace cs231n::testing {

FakeSystem::FakeSystem(std::filesystem::path root) : m_files(std::move(root)), m_services(*this) {}

void FakeSystem::expect(std::vector<std::string> argv) { expect(std::move(argv), succeeded()); }

void FakeSystem::expect(std::vector<std::string> argv, os::CommandResult result) {
  m_expected.emplace_back(std::move(argv), std::move(result));
}

os::CommandResult FakeSystem::succeeded(std::string stdout_text) {
  os::CommandResult result;
  result.exit_code = 0;
  result.stdout_text = std::move(stdout_text);
  return result;
}

os::CommandResult FakeSystem::failed(int exit_code, std::string output_tail) {
  os::CommandResult result;
  result.exit_code = exit_code;
  result.output_tail = std::move(output_tail);
  return result;
}

void FakeSystem::verify() const {
  if (!m_expected.empty()) {
    throw UnexpectedCommand("expected command never ran: " + util::join(m_expected.front().first, " "));
  }
}

util::Result<os::CommandResult> FakeSystem::run(const os::Command& command) {
  m_commands.push_back(command);
  const std::string shown = util::join(command.argv, " ");
  if (m_expected.empty()) throw UnexpectedCommand("unexpected command: " + shown);
  auto [argv, result] = m_expected.front();
  if (argv != command.argv) {
    throw UnexpectedCommand("unexpected command: " + shown + " (expected: " + util::join(argv, " ") + ")");
  }
  m_expected.pop_front();
  return result;
}

std::optional<std::string> FakeSystem::env(const std::string& name) const {
  if (auto found = environment.find(name); found != environment.end()) return found->second;
  return std::nullopt;
}

util::Result<void> FakeSystem::reboot(const std::vector<std::string>& command) {
  m_reboots.push_back(command);
  return {};
}

int FakeSystem::end_marked_processes(const std::string& marker) {
  ended_markers.push_back(marker);
  return 0;
}

}  // namespace cs231n::testing
