#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/os/files.hpp"
#include "agent/util/result.hpp"

namespace cs231n::os {

// Every process a step starts carries CS231N_AGENT_STEP=<run id>/<step>, so that a later run can
// find and end what a killed run left behind.
inline constexpr const char* k_process_marker_variable = "CS231N_AGENT_STEP";

// A program to run: argv only, never a shell.
struct Command {
  std::vector<std::string> argv;
  // Added to a clean base environment (PATH, LANG=C.UTF-8, HOME/USER/LOGNAME, proxy variables).
  std::map<std::string, std::string> env;
  // Working folder; empty means the user's home (or "/" for root).
  std::string cwd;
  // Account to run as; empty means the agent's own (root). Resolved from <root>/etc/passwd.
  std::string user;
  // Zero means no limit. On expiry the whole process group gets SIGTERM, then SIGKILL.
  std::chrono::milliseconds timeout{0};
  // Fed to standard input, which is then closed (how secrets reach a child: never in argv).
  std::string input;
  // When set, stdout and stderr are appended here as they arrive (created 0600).
  std::filesystem::path log_path;
  // Keep stdout in CommandResult::stdout_text, and out of the log (it may be a file's content);
  // stderr still goes to the log and the tail.
  bool capture_stdout = false;
  // Set from elsewhere (a signal handler) to end the command's process group early.
  const std::atomic<bool>* cancel = nullptr;
  // Work nobody waits for (the toolkit's dpkg beside the ready path's pip): CPU niceness 19 and
  // I/O best-effort level 7, so it takes what the waited-for work leaves and never stalls.
  bool low_priority = false;
};

struct CommandResult {
  int exit_code = -1;  // set when the program exited
  int signal = 0;      // set when a signal ended it
  bool timed_out = false;
  bool cancelled = false;
  std::string stdout_text;  // with capture_stdout
  std::string output_tail;  // the last lines of its output, for error messages
  // Set when Command::input could not all be written (the program stopped reading it): why.
  std::string input_error;

  bool ok() const { return exit_code == 0 && !timed_out && !cancelled && input_error.empty(); }
  // "exited with status 2", "killed by signal 9", "timed out after 30 s"; with an input error,
  // "exited with status 0 without reading all of its input (...)".
  std::string describe() const;
};

// How the target's services are managed. With systemd running, units are installed, enabled and
// started through systemctl; without it (a chroot, an image being built) unit files are written
// and enabled offline, and nothing is started.
class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  virtual bool systemd_running() const = 0;
  // Writes /etc/systemd/system/<name> atomically; reloads systemd when it runs.
  virtual util::Result<void> install_unit(const std::string& name, const std::string& content) = 0;
  // Enables the unit for `wanted_by` (e.g. "multi-user.target"); starts it when `start` and
  // systemd runs.
  virtual util::Result<void> enable(const std::string& name, const std::string& wanted_by, bool start) = 0;
  // Stops and disables the unit when systemd runs, then removes its file and its `wanted_by`
  // link (empty: it has none). A unit that is not there is not an error.
  virtual util::Result<void> remove(const std::string& name, const std::string& wanted_by) = 0;
};

// The one interface through which every side effect on the target system passes. Tests inject a
// fake (tests/support/fake_system.hpp); the binary uses RealSystem.
class System {
 public:
  virtual ~System() = default;

  virtual const Files& files() const = 0;
  // Fails (as a value) only when the program cannot be started; a program that runs and fails is
  // a CommandResult that is not ok().
  virtual util::Result<CommandResult> run(const Command& command) = 0;

  virtual std::chrono::system_clock::time_point now() = 0;
  virtual void sleep(std::chrono::milliseconds duration) = 0;
  virtual std::optional<std::string> env(const std::string& name) const = 0;
  virtual ServiceManager& services() = 0;
  // Ends (SIGKILL) every process whose environment has k_process_marker_variable=marker and
  // waits briefly for them to go. Returns how many there were.
  virtual int end_marked_processes(const std::string& marker) = 0;
  // Runs the given reboot command. Returns once it was started; the machine goes down after.
  virtual util::Result<void> reboot(const std::vector<std::string>& command) = 0;

  // Facts of the running kernel. They are read under the root (/proc/sys/kernel/...) so that a
  // fixture tree can set them; a fake may override.
  virtual std::string kernel_release() const;
  virtual std::string hostname() const;
  virtual std::string boot_id() const;
  virtual std::string machine() const;
};

}  // namespace cs231n::os
