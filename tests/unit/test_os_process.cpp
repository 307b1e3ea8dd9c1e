#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <thread>

#include "agent/os/process.hpp"
#include "agent/util/strings.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;
using namespace std::chrono_literals;

namespace {

const os::Accounts k_no_accounts = os::Accounts::parse("", "");

os::CommandResult run(os::Command command, const os::Accounts& accounts = k_no_accounts) {
  auto result = os::run_process(command, accounts, {});
  REQUIRE_MESSAGE(result.has_value(), result.error().message);
  return *result;
}

const os::Accounts k_nobody =
    os::Accounts::parse("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", "nogroup:x:65534:\n");

struct ForkedOutcome {
  std::string text;  // what the body returned
  int status = 0;    // the forked process's wait status
};

// Runs `body` in a forked copy of this test process, so that what it changes (its session, its
// terminal, its signal dispositions) or a signal that kills it stays there; returns its answer.
ForkedOutcome in_forked_process(const std::function<std::string()>& body) {
  int answer[2];
  REQUIRE(::pipe(answer) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(answer[0]);
    const std::string text = body();
    std::ignore = ::write(answer[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(answer[1]);
  ForkedOutcome outcome;
  char buffer[4096];
  ssize_t count = 0;
  while ((count = ::read(answer[0], buffer, sizeof buffer)) > 0)
    outcome.text.append(buffer, static_cast<size_t>(count));
  ::close(answer[0]);
  ::waitpid(pid, &outcome.status, 0);
  return outcome;
}

// The controlling terminal (field 7 of /proc/PID/stat, tty_nr) of a child run_process starts from
// a process that has a pty as its own controlling terminal.
std::string child_terminal_on_a_pty(const std::string& user, const os::Accounts& accounts) {
  if (::setsid() < 0) return "setsid failed";
  const int pty = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (pty < 0 || ::grantpt(pty) != 0 || ::unlockpt(pty) != 0) return "no pty";
  const int terminal = ::open(::ptsname(pty), O_RDWR);  // the first terminal a leader opens is its own
  if (terminal < 0 || ::ioctl(terminal, TIOCSCTTY, 0) != 0) return "cannot make the pty our terminal";
  os::Command command;
  command.argv = {"cut", "-d", " ", "-f", "7", "/proc/self/stat"};
  command.user = user;
  command.cwd = "/";
  command.capture_stdout = true;
  auto result = os::run_process(command, accounts, {});
  if (!result) return "run_process failed: " + result.error().message;
  // This process's own terminal, to show the pty is there for the child to inherit.
  std::string own_terminal;
  {
    std::FILE* stat = std::fopen("/proc/self/stat", "r");
    char line[1024] = {};
    if (stat && std::fgets(line, sizeof line, stat)) {
      const char* after_name = std::strrchr(line, ')');
      int field = 2;
      for (const char* c = after_name; c && *c; ++c) {
        if (*c == ' ' && ++field == 7) own_terminal = std::to_string(std::atoi(c + 1));
      }
    }
    if (stat) std::fclose(stat);
  }
  return own_terminal + " " + std::string(util::trim(result->stdout_text));
}

}  // namespace

TEST_CASE("process: exit status, stdout capture and the output tail") {
  os::Command command;
  command.argv = {"sh", "-c", "echo out; echo err >&2; for i in $(seq 1 30); do echo line$i >&2; done; exit 3"};
  command.capture_stdout = true;
  const auto result = run(command);
  CHECK(result.exit_code == 3);
  CHECK_FALSE(result.ok());
  CHECK(result.describe() == "exited with status 3");
  CHECK(result.stdout_text == "out\n");
  // The last 20 lines only, for the one-line error and the summary.
  CHECK(result.output_tail.starts_with("line11\n"));
  CHECK(result.output_tail.ends_with("line30"));
}

TEST_CASE("process: argv is passed as is, never through a shell") {
  os::Command command;
  command.argv = {"printf", "%s|", "$(id)", "a b", ";reboot"};
  command.capture_stdout = true;
  CHECK(run(command).stdout_text == "$(id)|a b|;reboot|");
}

TEST_CASE("process: clean environment with LANG=C.UTF-8, extra variables, working folder") {
  testing::TempDir dir;
  setenv("CS231N_SHOULD_NOT_LEAK", "1", 1);
  setenv("https_proxy", "http://proxy.invalid:3128", 1);
  os::Command command;
  command.argv = {"sh", "-c", "echo $LANG:$CS231N_SHOULD_NOT_LEAK:$EXTRA:$(pwd)"};
  command.env = {{"EXTRA", "x"}};
  command.cwd = dir.path().string();
  command.capture_stdout = true;
  std::map<std::string, std::string> inherited{{"https_proxy", "http://proxy.invalid:3128"},
                                               {"CS231N_SHOULD_NOT_LEAK", "1"}};
  auto result = os::run_process(command, k_no_accounts, inherited);
  REQUIRE(result);
  CHECK(result->stdout_text == "C.UTF-8::x:" + dir.path().string() + "\n");
  command.argv = {"sh", "-c", "echo $https_proxy"};
  CHECK(os::run_process(command, k_no_accounts, inherited)->stdout_text == "http://proxy.invalid:3128\n");
  unsetenv("CS231N_SHOULD_NOT_LEAK");
  unsetenv("https_proxy");
}

TEST_CASE("process: secrets go through stdin, and the log gets the output") {
  testing::TempDir dir;
  os::Command command;
  command.argv = {"sh", "-c", "read secret; echo got ${#secret} chars"};
  command.input = "hunter2hunter2\n";
  command.log_path = dir.path() / "step.log";
  const auto result = run(command);
  CHECK(result.ok());
  CHECK(dir.read("step.log") == "got 14 chars\n");
  CHECK(std::filesystem::status(dir.path() / "step.log").permissions() ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
}

TEST_CASE("process: a timeout ends the whole process group") {
  testing::TempDir dir;
  os::Command command;
  // The grandchild would write its file after 3 s if it survived the group kill.
  command.argv = {"sh", "-c", "(sleep 3; touch " + (dir.path() / "survivor").string() + ") & sleep 30"};
  command.timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  const auto result = run(command);
  CHECK(result.timed_out);
  CHECK(result.describe() == "timed out");
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  std::this_thread::sleep_for(3500ms);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "survivor"));
}

TEST_CASE("process: cancellation ends the command early") {
  std::atomic<bool> cancel{false};
  os::Command command;
  command.argv = {"sleep", "30"};
  command.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    cancel = true;
  });
  const auto result = run(command);
  canceller.join();
  CHECK(result.cancelled);
  CHECK_FALSE(result.ok());
}

TEST_CASE("process: a daemon left holding the output does not hang the agent") {
  os::Command command;
  command.argv = {"sh", "-c", "sleep 20 & echo started"};
  const auto start = std::chrono::steady_clock::now();
  const auto result = run(command);
  CHECK(result.ok());
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("process: a missing program or folder is an error value") {
  os::Command command;
  command.argv = {"cs231n-no-such-program"};
  auto missing = os::run_process(command, k_no_accounts, {});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.starts_with("program not found: cs231n-no-such-program"));

  command.argv = {"true"};
  command.cwd = "/nonexistent-folder";
  auto bad_cwd = os::run_process(command, k_no_accounts, {});
  REQUIRE_FALSE(bad_cwd);
  CHECK(bad_cwd.error().message.find("No such file or directory") != std::string::npos);

  command.cwd.clear();
  command.user = "ghost";
  auto no_user = os::run_process(command, k_no_accounts, {});
  REQUIRE_FALSE(no_user);
  CHECK(no_user.error().message.find("no such account") != std::string::npos);
}

TEST_CASE("process: runs as another account with its groups, HOME, USER and LOGNAME") {
  REQUIRE_MESSAGE(::geteuid() == 0, "switching users needs root; scripts/test.sh runs as root");
  // nobody exists on every Debian/Ubuntu host; the supplementary group comes from our group file.
  const auto accounts = os::Accounts::parse("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
                                            "nogroup:x:65534:\nvideo:x:44:nobody\n");
  os::Command command;
  command.argv = {"sh", "-c", "echo $(id -u):$(id -g):$(id -G):$HOME:$USER:$LOGNAME"};
  command.user = "nobody";
  command.cwd = "/";
  command.capture_stdout = true;
  CHECK(run(command, accounts).stdout_text == "65534:65534:65534 44:/nonexistent:nobody:nobody\n");
}

TEST_CASE("process: low_priority runs the child at niceness 19 and I/O best-effort level 7, and nothing else lower") {
  // Field 19 of /proc/PID/stat is the niceness (proc(5)); util-linux's ionice without arguments
  // prints the calling process's class and level.
  os::Command command;
  command.argv = {"sh", "-c", "cut -d' ' -f19 /proc/self/stat; ionice"};
  command.capture_stdout = true;
  const auto normal = run(command).stdout_text;
  CHECK(util::lines(normal).front() == std::to_string(::getpriority(PRIO_PROCESS, 0)));
  CHECK(normal.find("prio 7") == std::string::npos);
  command.low_priority = true;
  CHECK(run(command).stdout_text == "19\nbest-effort: prio 7\n");
}

namespace {

// A thread's niceness: field 19 of /proc/self/task/TID/stat (proc(5)), counted after the command
// name's closing parenthesis (the name may hold spaces); empty when unreadable. No REQUIRE: it
// runs on threads doctest does not catch on.
std::string niceness_of_thread(pid_t thread) {
  std::FILE* file = std::fopen(("/proc/self/task/" + std::to_string(thread) + "/stat").c_str(), "r");
  if (!file) return "";
  char buffer[1024] = {};
  const auto read = std::fread(buffer, 1, sizeof buffer - 1, file);
  std::fclose(file);
  const std::string text(buffer, read);
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return "";
  const auto fields = util::split_whitespace(text.substr(paren + 1));
  return fields.size() > 16 ? fields[16] : "";  // field 3 (the state) is the first after the name
}

}  // namespace

TEST_CASE("process: lower_this_thread_priority lowers the calling thread alone, CPU and I/O") {
  const pid_t main_thread = ::gettid();
  const auto main_niceness = niceness_of_thread(main_thread);
  REQUIRE_FALSE(main_niceness.empty());
  std::string lowered, io_priority;
  std::thread worker([&] {
    os::lower_this_thread_priority();
    lowered = niceness_of_thread(::gettid());
    // ioprio_get(2), IOPRIO_WHO_PROCESS (1) with a thread id: class << 13 | level.
    io_priority = std::to_string(::syscall(SYS_ioprio_get, 1, ::gettid()));
  });
  worker.join();
  CHECK(lowered == "19");
  CHECK(io_priority == std::to_string((2 << 13) | 7));  // best-effort, level 7
  CHECK(niceness_of_thread(main_thread) == main_niceness);
}

TEST_CASE("process: a child has no controlling terminal, even when the agent runs on one (no TIOCSTI into root's)") {
  REQUIRE_MESSAGE(::geteuid() == 0, "switching users needs root; scripts/test.sh runs as root");
  for (const std::string user : {"nobody", ""}) {
    CAPTURE(user);
    const auto outcome = in_forked_process([&] { return child_terminal_on_a_pty(user, k_nobody); });
    const auto fields = util::split_whitespace(outcome.text);
    REQUIRE_MESSAGE(fields.size() == 2, outcome.text);
    CHECK(fields[0] != "0");  // the test process itself is on the pty
    CHECK(fields[1] == "0");  // the child is on no terminal
  }
}

TEST_CASE("process: a child inherits no descriptor but 0, 1 and 2") {
  // Not close-on-exec, like the log file spdlog opens or a descriptor the agent's caller left open.
  const int leaked = ::open("/dev/null", O_RDONLY);
  REQUIRE(leaked > 2);
  const int high = ::dup2(leaked, 200);
  REQUIRE(high == 200);
  for (const std::string user : {"", "nobody"}) {
    CAPTURE(user);
    if (!user.empty() && ::geteuid() != 0) continue;
    os::Command command;
    // The shell's own descriptors: ls opens the folder in a process of its own (a glob would not).
    command.argv = {"sh", "-c", "ls /proc/$$/fd"};
    command.user = user;
    command.cwd = "/";
    command.capture_stdout = true;
    command.input = "fed through a pipe\n";
    CHECK(run(command, k_nobody).stdout_text == "0\n1\n2\n");
  }
  ::close(leaked);
  ::close(high);
}

TEST_CASE("process: a child that stops reading its stdin is a write error, not the end of the agent") {
  const auto outcome = in_forked_process([] {
    os::set_process_defaults();
    os::Command command;
    // Closes its stdin at once and lives on: the next write finds no reader (EPIPE, or SIGPIPE).
    command.argv = {"sh", "-c", "exec 0<&-; sleep 0.3"};
    command.input = std::string(8u << 20, 'x');  // far more than a pipe holds
    const auto result = os::run_process(command, k_no_accounts, {});
    if (!result) return "error: " + result.error().message;
    return std::string(result->ok() ? "ok" : "failed") + ": " + result->describe();
  });
  REQUIRE_MESSAGE(WIFEXITED(outcome.status), "killed by signal " << WTERMSIG(outcome.status));
  CHECK(outcome.text ==
        "failed: exited with status 0 without reading all of its input (writing its stdin: Broken pipe)");
}

TEST_CASE("process: a child gets SIGPIPE back, so `yes | head` ends") {
  const auto outcome = in_forked_process([] {
    os::set_process_defaults();
    os::Command command;
    command.argv = {"sh", "-c", "yes | head -n 1 >/dev/null; echo done"};
    command.capture_stdout = true;
    command.timeout = std::chrono::seconds(10);
    const auto result = os::run_process(command, k_no_accounts, {});
    return result ? result->stdout_text + result->describe() : result.error().message;
  });
  CHECK(outcome.text == "done\nexited with status 0");
}

TEST_CASE("process: a command that cannot start is named without a URL's credentials") {
  os::Command command;
  command.argv = {"/nonexistent/cs231n-fetch", "https://ann:hunter2@example.com/file?token=abc123"};
  const auto result = os::run_process(command, k_no_accounts, {});
  REQUIRE_FALSE(result);
  CHECK(result.error().message.find("cannot start /nonexistent/cs231n-fetch") != std::string::npos);
  CHECK(result.error().message.find("hunter2") == std::string::npos);
  CHECK(result.error().message.find("abc123") == std::string::npos);
}
