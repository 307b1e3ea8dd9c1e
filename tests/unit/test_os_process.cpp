#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <thread>

#include "agent/os/process.hpp"
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
