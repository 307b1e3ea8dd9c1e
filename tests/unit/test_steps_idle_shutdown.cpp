#include <doctest/doctest.h>

#include "agent/detect/facts.hpp"
#include "agent/idle/units.hpp"
#include "steps/table.hpp"
#include "support/fake_system.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;

namespace {

const std::vector<std::string> k_daemon_reload{"systemctl", "daemon-reload"};

// Debian 12; a GCE VM unless told otherwise; systemd running when asked.
struct Vm {
  testing::TempDir root;
  std::unique_ptr<testing::FakeSystem> system;
  detect::Facts facts;
  config::Config config;
  std::unique_ptr<plan::Step> step = steps::make_idle_shutdown_step();

  explicit Vm(bool enabled = true, bool gce = true, bool systemd = false) {
    root.write("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
    root.write("etc/passwd", "root:x:0:0::/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/bash\n");
    root.write("proc/sys/kernel/arch", "x86_64\n");
    if (gce) root.write("sys/class/dmi/id/product_name", "Google Compute Engine\n");
    if (systemd) std::filesystem::create_directories(root.path() / "run/systemd/system");
    configure(enabled);
  }
  void configure(bool enabled) {
    system = std::make_unique<testing::FakeSystem>(root.path());
    facts = detect::gather_facts(*system, "ann");
    config =
        config::Config::resolve({config::Layer(nlohmann::json{{"idle_shutdown", {{"enabled", enabled}}}})}, facts.os);
  }
  plan::Context context() const { return {*system, facts, config}; }
  util::Result<plan::CheckResult> check() const {
    const auto the_context = context();
    return step->check(plan::StepRun::unlogged(the_context, step->info().name, std::chrono::minutes(1)));
  }
  util::Result<plan::ApplyResult> apply() const {
    const auto the_context = context();
    return step->apply(plan::StepRun::unlogged(the_context, step->info().name, std::chrono::minutes(1)));
  }
  bool exists(const std::string& path) const {
    return std::filesystem::exists(std::filesystem::symlink_status(root.path() / path));
  }
};

}  // namespace

TEST_CASE("idle-shutdown step: the service and its timer, with only what systemd 229 knows") {
  const auto service = idle::idle_service_unit(Paths::defaults());
  CHECK(service.find(
            "\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/cs231n-agent idle-check\nTimeoutStartSec=5min\n") !=
        std::string::npos);
  CHECK(service.find("ConditionPathExists=/usr/local/bin/cs231n-agent\n") != std::string::npos);
  CHECK(service.find("[Install]") == std::string::npos);  // started by the timer only
  const auto timer = idle::idle_timer_unit();
  CHECK(timer.find(
            "\n[Timer]\nOnBootSec=5min\nOnUnitActiveSec=5min\nAccuracySec=30s\nUnit=cs231n-agent-idle.service\n") !=
        std::string::npos);
  CHECK(timer.ends_with("[Install]\nWantedBy=timers.target\n"));
}

TEST_CASE("idle-shutdown step: a --state-dir other than the default reaches the check the timer runs") {
  Paths paths;
  paths.state_dir = "/srv/cs231n-state";
  const auto service = idle::idle_service_unit(paths);
  CHECK(service.find("\nExecStart=/usr/local/bin/cs231n-agent idle-check --state-dir /srv/cs231n-state\n") !=
        std::string::npos);
}

TEST_CASE("idle-shutdown step: decide") {
  SUBCASE("a GCE VM: run, saying what it does") {
    Vm vm;
    const auto decision = vm.step->decide(vm.context());
    CHECK(decision.action == plan::Action::run);
    CHECK(decision.summary ==
          "install cs231n-agent-idle.timer: every 5 minutes `cs231n-agent idle-check` powers the VM off after 60 idle "
          "minutes (no busy or recently active Jupyter kernel, no terminal input, GPU below 10%, 5-minute load below "
          "50% of a CPU), warning 5 minutes ahead");
  }
  SUBCASE("not a GCE VM: skipped, whatever the config says") {
    Vm vm(true, false);
    const auto decision = vm.step->decide(vm.context());
    CHECK(decision.action == plan::Action::skip);
    CHECK(decision.reason == "not a GCE VM: this machine is never powered off for being idle");
  }
  SUBCASE("disabled, nothing installed: skipped") {
    Vm vm(false);
    const auto decision = vm.step->decide(vm.context());
    CHECK(decision.action == plan::Action::skip);
    CHECK(decision.reason == "idle_shutdown.enabled is false");
  }
  SUBCASE("disabled with the timer installed: run, to remove it") {
    Vm vm(false);
    vm.root.write("etc/systemd/system/cs231n-agent-idle.timer", "old");
    const auto decision = vm.step->decide(vm.context());
    CHECK(decision.action == plan::Action::run);
    CHECK(decision.summary == "idle_shutdown.enabled is false: stop and remove cs231n-agent-idle.timer");
  }
}

TEST_CASE("idle-shutdown step: without systemd, units written and the timer enabled offline; disabling removes them") {
  Vm vm;
  CHECK_FALSE(vm.check()->done);
  REQUIRE(vm.apply());
  CHECK(vm.root.read("etc/systemd/system/cs231n-agent-idle.service") == idle::idle_service_unit(Paths::defaults()));
  CHECK(vm.root.read("etc/systemd/system/cs231n-agent-idle.timer") == idle::idle_timer_unit());
  CHECK(std::filesystem::read_symlink(vm.root.path() /
                                      "etc/systemd/system/timers.target.wants/cs231n-agent-idle.timer") ==
        "/etc/systemd/system/cs231n-agent-idle.timer");
  CHECK_FALSE(vm.exists("etc/systemd/system/multi-user.target.wants/cs231n-agent-idle.service"));
  const auto checked = vm.check();
  REQUIRE(checked);
  CHECK(checked->done);
  CHECK(checked->detail == "idle shutdown after 60 idle minutes (cs231n-agent-idle.timer)");
  CHECK(vm.system->commands().empty());

  vm.root.write("etc/systemd/system/cs231n-agent-idle.timer", "[Timer]\nOnUnitActiveSec=1h\n");  // edited by hand
  CHECK_FALSE(vm.check()->done);

  vm.configure(false);
  CHECK_FALSE(vm.check()->done);
  REQUIRE(vm.apply());
  CHECK_FALSE(vm.exists("etc/systemd/system/cs231n-agent-idle.service"));
  CHECK_FALSE(vm.exists("etc/systemd/system/cs231n-agent-idle.timer"));
  CHECK_FALSE(vm.exists("etc/systemd/system/timers.target.wants/cs231n-agent-idle.timer"));
  CHECK(vm.check()->done);
  REQUIRE(vm.apply());  // nothing left to remove: fine
  CHECK(vm.system->commands().empty());
}

TEST_CASE(
    "idle-shutdown step: with systemd, systemctl reloads, enables and starts the timer; disabling stops it first") {
  Vm vm(true, true, true);
  vm.system->expect(k_daemon_reload);
  vm.system->expect(k_daemon_reload);
  vm.system->expect({"systemctl", "enable", "--now", "cs231n-agent-idle.timer"});
  REQUIRE(vm.apply());
  vm.system->verify();
  vm.system->expect({"systemctl", "is-enabled", "--quiet", "cs231n-agent-idle.timer"});
  vm.system->expect({"systemctl", "is-active", "--quiet", "cs231n-agent-idle.timer"});
  CHECK(vm.check()->done);
  vm.system->verify();

  vm.configure(false);
  vm.system->expect({"systemctl", "disable", "--now", "cs231n-agent-idle.timer"});
  vm.system->expect(k_daemon_reload);
  vm.system->expect({"systemctl", "disable", "--now", "cs231n-agent-idle.service"});
  vm.system->expect(k_daemon_reload);
  REQUIRE(vm.apply());
  vm.system->verify();
  CHECK_FALSE(vm.exists("etc/systemd/system/cs231n-agent-idle.timer"));
  CHECK_FALSE(vm.exists("etc/systemd/system/cs231n-agent-idle.service"));
}

TEST_CASE(
    "idle-shutdown step: turning it on or off changes the fingerprint; the minutes do not (each check reads them)") {
  Vm vm;
  const auto on = plan::fingerprint(*vm.step, vm.context());
  vm.configure(false);
  CHECK(plan::fingerprint(*vm.step, vm.context()) != on);
  vm.config =
      config::Config::resolve({config::Layer(nlohmann::json{{"idle_shutdown", {{"minutes", 90}}}})}, vm.facts.os);
  CHECK(plan::fingerprint(*vm.step, vm.context()) == on);
}
