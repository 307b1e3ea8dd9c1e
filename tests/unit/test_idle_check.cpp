#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/core/error.hpp"
#include "agent/core/paths.hpp"
#include "agent/engine/lock.hpp"
#include "agent/engine/state.hpp"
#include "agent/idle/check.hpp"
#include "agent/jupyter/api_token.hpp"
#include "agent/util/time.hpp"
#include "support/fake_system.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;
using std::chrono::minutes;

namespace {

constexpr const char* k_state_dir = "/var/lib/cs231n-agent";
const std::string k_token(64, 'b');

// Records who holds the run lock whenever a command runs (the power-off must run under it).
class LockWatchingSystem : public testing::FakeSystem {
 public:
  using FakeSystem::FakeSystem;
  util::Result<os::CommandResult> run(const os::Command& command) override {
    lock_holders.push_back(engine::RunLock::holder(files(), k_state_dir));
    return FakeSystem::run(command);
  }
  std::vector<std::optional<int>> lock_holders;
};

// A quiet GCE VM: Jupyter with no kernel, no login, no nvidia-smi, load 0.02, no run. The clock
// starts at t0; check(m) runs idle-check m minutes later.
struct IdleMachine {
  testing::TempDir root;
  LockWatchingSystem system{root.path()};
  idle::Settings settings;
  std::string kernels = "[]";
  idle::TimePoint t0 = system.clock;

  IdleMachine() {
    root.write("proc/sys/kernel/random/boot_id", "boot-1\n");
    root.write("proc/loadavg", "0.01 0.02 0.00 1/100 100\n");
    root.write(Paths::defaults().api_token_file(), jupyter::api_token_file_content(k_token));
    root.write("home/ann/.jupyter/certs/jupyter.pem", "-----BEGIN CERTIFICATE-----\n");
    settings.minutes = minutes(60);
    settings.power_off_command = {"/usr/local/sbin/fake-poweroff", "--now"};
    settings.state_dir = k_state_dir;
    settings.jupyter = {8888, "/home/ann/.jupyter/certs/jupyter.pem", Paths::defaults().api_token_file()};
  }

  idle::Report check(int minutes_after_t0, bool dry_run = false) {
    system.clock = t0 + minutes(minutes_after_t0);
    return idle::run_check(system, settings, dry_run,
                           [this](const idle::KernelsRequest&) -> util::Result<net::SimpleResponse> {
                             net::SimpleResponse response;
                             response.status = 200;
                             response.body = kernels;
                             return response;
                           });
  }
  std::string at(int minutes_after_t0) const { return util::iso8601(t0 + minutes(minutes_after_t0)); }
  std::string state() const { return root.read("var/lib/cs231n-agent/idle.json"); }
  void expect_wall() { system.expect({"wall"}); }
  void expect_power_off() { system.expect({"/usr/local/sbin/fake-poweroff", "--now"}); }
};

idle::Signal quiet(std::string name) { return idle::Signal{std::move(name)}; }

idle::Signal busy(std::string name) {
  idle::Signal signal{std::move(name)};
  signal.active = true;
  return signal;
}

idle::Signal seen(std::string name, idle::TimePoint when) {
  idle::Signal signal{std::move(name)};
  signal.last_seen = when;
  return signal;
}

}  // namespace

TEST_CASE(
    "idle-check: the idle time starts at the first check; users are warned 5 minutes ahead; one power-off, under the "
    "run lock") {
  IdleMachine machine;
  auto report = machine.check(0);
  CHECK(report.action == idle::Action::none);
  CHECK(report.reason == "idle for 0 min (since " + machine.at(0) + ", power-off after 60 idle minutes); warning at " +
                             machine.at(55) + ", power-off at " + machine.at(60) + " at the earliest");
  struct stat st {};
  REQUIRE(::stat((machine.root.path() / "var/lib/cs231n-agent/idle.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(machine.state().find("\"last_active\": \"" + machine.at(0) + "\"") != std::string::npos);
  CHECK(machine.state().find("\"boot_id\": \"boot-1\"") != std::string::npos);

  CHECK(machine.check(30).action == idle::Action::none);
  CHECK(machine.check(54).action == idle::Action::none);
  CHECK(machine.system.commands().empty());

  machine.expect_wall();
  report = machine.check(56);
  CHECK(report.action == idle::Action::warn);
  CHECK(report.reason == "idle for 56 min (since " + machine.at(0) +
                             ", power-off after 60 idle minutes): warned logged-in users (wall); "
                             "power-off at " +
                             machine.at(61));
  REQUIRE(machine.system.commands().size() == 1);
  const auto& wall = machine.system.commands().back();
  CHECK(wall.argv == std::vector<std::string>{"wall"});
  // The message goes on stdin, never into argv.
  CHECK(wall.input.starts_with(
      "cs231n-agent: this VM has been idle since " + machine.at(0) +
      " (no busy Jupyter kernel, no terminal input, idle GPU and CPU) and powers off in about 5 minutes, at " +
      machine.at(61) + ".\n"));
  CHECK(machine.state().find("\"warned_at\": \"" + machine.at(56) + "\"") != std::string::npos);

  report = machine.check(59);  // 59 + 1 min of timer slack < 61
  CHECK(report.action == idle::Action::none);
  CHECK(report.reason == "idle for 59 min (since " + machine.at(0) + ", power-off after 60 idle minutes); warned at " +
                             machine.at(56) + ", power-off at " + machine.at(61));

  machine.expect_power_off();
  report = machine.check(60);
  CHECK(report.action == idle::Action::power_off);
  CHECK(report.reason == "idle for 60 min (since " + machine.at(0) + ", power-off after 60 idle minutes), warned at " +
                             machine.at(56) + ": powering the VM off with: /usr/local/sbin/fake-poweroff --now");
  machine.system.verify();
  REQUIRE(machine.system.commands().size() == 2);
  CHECK(machine.system.lock_holders.back() == ::getpid());
  CHECK(machine.system.lock_holders.front() == std::nullopt);                 // wall runs without it
  CHECK_FALSE(engine::RunLock::holder(machine.system.files(), k_state_dir));  // let go afterwards
}

TEST_CASE("idle-check: any activity starts the idle time over and voids a warning") {
  IdleMachine machine;
  machine.check(0);
  machine.expect_wall();
  CHECK(machine.check(56).action == idle::Action::warn);

  machine.kernels =
      R"([{"id": "k", "name": "python3", "execution_state": "busy", "last_activity": ")" + machine.at(57) + R"("}])";
  auto report = machine.check(58);
  CHECK(report.action == idle::Action::none);
  CHECK(report.reason ==
        "active now: jupyter (1 kernel: python3 busy; last activity " + machine.at(57) +
            "; busy with quiet CPU and GPU counts until " + machine.at(117) +
            ", idle_shutdown.busy_max_minutes (60) after its last message); the idle time starts over");
  CHECK(machine.state().find("\"warned_at\": null") != std::string::npos);

  machine.kernels = "[]";
  CHECK(machine.check(61).action == idle::Action::none);  // no power-off: the warning was for the old idle time
  CHECK(machine.check(112).action == idle::Action::none);
  machine.expect_wall();
  CHECK(machine.check(114).action == idle::Action::warn);  // 58 + 56: a new warning for the new idle time
  machine.expect_power_off();
  CHECK(machine.check(119).action == idle::Action::power_off);
  machine.system.verify();
}

TEST_CASE(
    "idle-check: a kernel stuck busy (no message, quiet CPU and GPU) keeps the VM up for "
    "idle_shutdown.busy_max_minutes "
    "only; with CPU load it keeps it up") {
  IdleMachine machine;
  machine.settings.busy_max = minutes(30);
  machine.check(0);
  // input() waiting, or a deadlocked DataLoader: busy since minute 10, nothing said since.
  machine.kernels =
      R"([{"id": "k", "name": "python3", "execution_state": "busy", "last_activity": ")" + machine.at(10) + R"("}])";
  auto report = machine.check(35);
  CHECK(report.verdict->active);
  CHECK(report.verdict->last_active == machine.t0 + minutes(35));
  report = machine.check(45);
  CHECK_FALSE(report.verdict->active);
  CHECK(report.signals.front().detail.ends_with(
      "busy without a message for idle_shutdown.busy_max_minutes (30) or more, with quiet CPU and GPU: counted as "
      "idle"));
  // The idle time runs from the last activity seen (the busy check at 35), not from the stuck kernel's message.
  CHECK(report.verdict->last_active == machine.t0 + minutes(35));
  machine.expect_wall();
  CHECK(machine.check(91).action == idle::Action::warn);
  // The warning says what was counted as idle: not "no busy Jupyter kernel", which the student
  // looking at a busy kernel would not believe.
  CHECK(machine.system.commands().back().input.starts_with(
      "cs231n-agent: this VM has been idle since " + machine.at(35) +
      " (a Jupyter kernel busy without a message for 30 minutes or more, counted as idle after "
      "idle_shutdown.busy_max_minutes; no terminal input, idle GPU and CPU) and powers off in about 5 minutes"));
  machine.expect_power_off();
  CHECK(machine.check(96).action == idle::Action::power_off);
  machine.system.verify();

  SUBCASE("the same kernel with the CPU at work is activity however long it runs") {
    machine.root.write("proc/loadavg", "0.90 1.00 0.80 2/100 100\n");
    report = machine.check(400);
    CHECK(report.verdict->active);
    CHECK(report.signals.front().active);
  }
}

TEST_CASE("idle-check: the warning is also a file in Jupyter's folder, written and removed as the user") {
  IdleMachine machine;
  machine.settings.user = "ann";
  machine.settings.notebook_dir = "/home/ann/cs231n";
  const std::string file = "/home/ann/cs231n/IDLE-SHUTDOWN-WARNING.txt";
  machine.check(0);
  machine.expect_wall();
  machine.system.expect({"install", "-m", "0644", "/dev/stdin", file});
  CHECK(machine.check(56).action == idle::Action::warn);
  const auto& written = machine.system.commands().back();
  CHECK(written.user == "ann");
  CHECK(written.input == machine.system.commands()[0].input);  // wall's message
  CHECK(written.input.find("powers off in about 5 minutes") != std::string::npos);

  // Still warned: the file stays. Activity: the user's rm removes it, once.
  machine.root.write(file.substr(1), "the warning");
  CHECK(machine.check(58).action == idle::Action::none);
  CHECK(machine.system.commands().size() == 2);
  machine.root.write("proc/loadavg", "0.90 1.00 0.80 2/100 100\n");
  machine.system.expect({"rm", "-f", "--", file});
  CHECK(machine.check(59).action == idle::Action::none);
  CHECK(machine.system.commands().back().user == "ann");
  std::filesystem::remove(machine.root.path() / file.substr(1));
  CHECK(machine.check(64).action == idle::Action::none);
  CHECK(machine.system.commands().size() == 3);
  machine.system.verify();
}

TEST_CASE("idle-check: a kernel's last activity inside the window postpones the power-off") {
  IdleMachine machine;
  machine.check(0);
  machine.kernels = "[{\"id\": \"k\", \"name\": \"python3\", \"execution_state\": \"idle\", \"last_activity\": \"" +
                    machine.at(40) + "\"}]";
  auto report = machine.check(90);
  CHECK(report.action == idle::Action::none);
  CHECK(report.verdict->last_active == machine.t0 + minutes(40));
  CHECK(report.verdict->deadline == machine.t0 + minutes(100));
  machine.expect_wall();
  CHECK(machine.check(96).action == idle::Action::warn);
  machine.system.verify();
}

TEST_CASE("idle-check: never during an agent run") {
  IdleMachine machine;
  std::filesystem::create_directories(machine.root.path() / "var/lib/cs231n-agent");
  auto lock = engine::RunLock::try_acquire(machine.system.files(), k_state_dir);
  REQUIRE(lock);
  REQUIRE(*lock);
  for (int minute : {0, 56, 61, 300, 1000}) {
    const auto report = machine.check(minute);
    CHECK(report.action == idle::Action::none);
    CHECK(report.verdict->active);
    CHECK(report.reason.starts_with("active now: agent-run (a cs231n-agent run is in progress (pid "));
  }
  CHECK(machine.system.commands().empty());
  lock->reset();
  CHECK(machine.check(1050).action == idle::Action::none);  // the idle time counts from the run's end
  machine.expect_wall();
  CHECK(machine.check(1056).action == idle::Action::warn);
}

TEST_CASE(
    "idle-check: found long past the deadline without a warning (a resumed VM): warn first, power off 5 minutes "
    "later") {
  IdleMachine machine;
  machine.check(0);
  machine.expect_wall();
  auto report = machine.check(300);
  CHECK(report.action == idle::Action::warn);
  CHECK(report.verdict->power_off_at == machine.t0 + minutes(305));
  CHECK(machine.check(303).action == idle::Action::none);
  machine.expect_power_off();
  CHECK(machine.check(304).action == idle::Action::power_off);
  machine.system.verify();
}

TEST_CASE("idle-check: a new boot starts the idle time over (a VM started again must not go down at once)") {
  IdleMachine machine;
  machine.check(0);
  machine.root.write("proc/sys/kernel/random/boot_id", "boot-2\n");
  const auto report = machine.check(600);
  CHECK(report.action == idle::Action::none);
  CHECK(report.verdict->last_active == machine.t0 + minutes(600));
  CHECK(machine.state().find("\"boot_id\": \"boot-2\"") != std::string::npos);
}

TEST_CASE("idle-check: disabled, or not on GCE: nothing is read, recorded or run") {
  IdleMachine machine;
  std::string reason;
  SUBCASE("idle_shutdown.enabled false") {
    machine.settings.enabled = false;
    reason = "idle shutdown is disabled (idle_shutdown.enabled is false): nothing to check";
  }
  SUBCASE("not a GCE VM") {
    machine.settings.gce = false;
    reason = "not a GCE VM: idle shutdown never powers off another machine (it may be someone's workstation)";
  }
  for (int minute : {0, 100, 1000}) {
    const auto report = machine.check(minute);
    CHECK(report.action == idle::Action::disabled);
    CHECK(report.reason == reason);
    CHECK(report.signals.empty());
    CHECK_FALSE(report.verdict);
  }
  CHECK(machine.system.commands().empty());
  CHECK_FALSE(std::filesystem::exists(machine.root.path() / "var/lib/cs231n-agent/idle.json"));
  CHECK(idle::to_json(machine.check(0))["action"] == "disabled");
}

TEST_CASE("idle-check --dry-run: says what it would do; records, warns and runs nothing") {
  IdleMachine machine;
  machine.check(0);
  const auto before = machine.state();
  auto report = machine.check(56, true);
  CHECK(report.action == idle::Action::warn);
  CHECK(report.reason.ends_with(": would warn logged-in users (wall); power-off at " + machine.at(61)));
  CHECK(machine.state() == before);
  machine.expect_wall();
  machine.check(56);
  report = machine.check(70, true);
  CHECK(report.action == idle::Action::power_off);
  CHECK(report.reason.ends_with(": would power the VM off with: /usr/local/sbin/fake-poweroff --now"));
  CHECK(machine.system.commands().size() == 1);  // the real check's wall only
  CHECK(idle::to_json(report)["dry_run"] == true);
}

TEST_CASE("idle-check: a failing power-off command is an error; a failing wall is not") {
  IdleMachine machine;
  machine.check(0);
  machine.system.expect({"wall"}, testing::FakeSystem::failed(1, "wall: cannot get tty name"));
  CHECK(machine.check(56).action == idle::Action::warn);
  machine.system.expect({"/usr/local/sbin/fake-poweroff", "--now"}, testing::FakeSystem::failed(1, "Access denied"));
  CHECK_THROWS_WITH_AS(
      machine.check(61),
      "the power-off command (/usr/local/sbin/fake-poweroff --now) exited with status 1: Access denied", Error);
}

TEST_CASE("idle-check: JSON and text name every signal") {
  IdleMachine machine;
  machine.check(0);
  const auto report = machine.check(20);
  const auto document = idle::to_json(report);
  CHECK(document["action"] == "none");
  CHECK(document["now"] == machine.at(20));
  CHECK(document["last_active"] == machine.at(0));
  CHECK(document["idle_minutes"] == 20);
  CHECK(document["deadline"] == machine.at(60));
  CHECK(document["warned_at"].is_null());
  CHECK(document["active"] == false);
  std::vector<std::string> names;
  for (const auto& signal : document["signals"]) names.push_back(signal["name"]);
  CHECK(names == std::vector<std::string>{"jupyter", "ssh", "gpu", "cpu", "agent-run"});
  CHECK(document["signals"][0]["state"] == "quiet");
  CHECK(document["signals"][0]["detail"] == "no kernel running");
  CHECK(document["signals"][3]["detail"] == "5-minute load 0.02, below 0.50");
  CHECK(idle::to_text(report) == report.reason +
                                     "\n"
                                     "  jupyter    quiet    no kernel running\n"
                                     "  ssh        quiet    no login session (no utmp)\n"
                                     "  gpu        quiet    no nvidia-smi\n"
                                     "  cpu        quiet    5-minute load 0.02, below 0.50\n"
                                     "  agent-run  quiet    no cs231n-agent run in progress\n");
  CHECK(document.dump().find(k_token) == std::string::npos);
}

TEST_CASE("decide: the window arithmetic") {
  const idle::TimePoint t0{std::chrono::seconds(1'800'000'000)};
  const idle::IdleState previous{"boot-1", t0, std::nullopt, t0};
  const std::vector<idle::Signal> all_quiet{quiet("jupyter"), quiet("ssh"), quiet("gpu"), quiet("cpu"),
                                            quiet("agent-run")};

  auto verdict = idle::decide(std::nullopt, "boot-1", all_quiet, t0 + minutes(500), minutes(60));
  CHECK(verdict.last_active == t0 + minutes(500));  // no earlier check: from now
  CHECK(verdict.action == idle::Action::none);

  verdict = idle::decide(previous, "boot-1", all_quiet, t0 + minutes(54), minutes(60));
  CHECK(verdict.action == idle::Action::none);
  CHECK(verdict.deadline == t0 + minutes(60));
  verdict = idle::decide(previous, "boot-1", all_quiet, t0 + minutes(55), minutes(60));
  CHECK(verdict.action == idle::Action::warn);
  CHECK(verdict.warned_at == t0 + minutes(55));
  CHECK(verdict.power_off_at == t0 + minutes(60));

  // A terminal's last input (SSH) inside the window counts; one in the future counts as now.
  verdict = idle::decide(previous, "boot-1", {seen("ssh", t0 + minutes(30))}, t0 + minutes(70), minutes(60));
  CHECK(verdict.last_active == t0 + minutes(30));
  CHECK(verdict.action == idle::Action::none);
  verdict = idle::decide(previous, "boot-1", {seen("ssh", t0 + minutes(900))}, t0 + minutes(70), minutes(60));
  CHECK(verdict.last_active == t0 + minutes(70));
  // An old last_seen does not move the stored time back.
  verdict = idle::decide(previous, "boot-1", {seen("jupyter", t0 - minutes(30))}, t0 + minutes(10), minutes(60));
  CHECK(verdict.last_active == t0);

  // Busy GPU or CPU: active now.
  verdict = idle::decide(previous, "boot-1", {quiet("jupyter"), busy("gpu")}, t0 + minutes(500), minutes(60));
  CHECK(verdict.active);
  CHECK(verdict.last_active == t0 + minutes(500));
  CHECK(verdict.action == idle::Action::none);

  // idle_shutdown.minutes raised after a warning: the warning is void, a new one comes later.
  const idle::IdleState warned{"boot-1", t0, t0 + minutes(55), t0 + minutes(55)};
  verdict = idle::decide(warned, "boot-1", all_quiet, t0 + minutes(60), minutes(120));
  CHECK(verdict.action == idle::Action::none);
  CHECK_FALSE(verdict.warned_at);
  verdict = idle::decide(warned, "boot-1", all_quiet, t0 + minutes(60), minutes(60));
  CHECK(verdict.action == idle::Action::power_off);

  // The shortest setting (5 minutes): warned at the first idle check, off one check later.
  verdict = idle::decide(previous, "boot-1", all_quiet, t0 + minutes(5), minutes(5));
  CHECK(verdict.action == idle::Action::warn);
  CHECK(verdict.power_off_at == t0 + minutes(10));
  verdict = idle::decide(previous, "boot-1", {busy("cpu")}, t0 + minutes(5), minutes(5));
  CHECK(verdict.action == idle::Action::none);
}
