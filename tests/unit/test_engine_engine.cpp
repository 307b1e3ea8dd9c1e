#include <doctest/doctest.h>

#include <functional>
#include <mutex>
#include <thread>

#include "agent/core/error.hpp"
#include "agent/engine/engine.hpp"
#include "agent/engine/session_steps.hpp"
#include "agent/net/connection_budget.hpp"
#include "agent/net/transfer_meter.hpp"
#include "agent/util/time.hpp"
#include "support/fake_system.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Shared by the test steps of one test: what ran, when, and how many at once.
struct Journal {
  std::mutex mutex;
  std::vector<std::string> applied;
  int running = 0;
  int max_running = 0;
  std::map<std::string, int> running_per_resource;
  std::map<std::string, int> max_per_resource;
  std::map<std::string, bool> in_wanted_state;
  std::map<std::string, std::string> progress_seen;  // the progress file, as a step saw it while it downloaded
  std::map<std::string, net::Lane> lanes;            // the lane of its downloads, as each step saw it
  std::map<std::string, unsigned> ready_path_steps;  // the budget's ready-path count while it applied
};

struct Behaviour {
  std::vector<std::string> resources;
  std::chrono::milliseconds duration{0};
  bool fail = false;
  bool check_stays_false = false;
  bool reboot = false;
  bool recheck_when_done = false;
  bool wait_for_interrupt = false;
  std::string input = "v1";
  bool marks_ready = false;
  bool done_downloading = false;  // says so first thing in apply, as pip does before installing
  // Counts this many of `download_total` bytes in its meter, then waits for the engine to write
  // the progress file (about once a second) and keeps what it says.
  std::uint64_t download_done = 0;
  std::uint64_t download_total = 0;
  std::function<void()> after_apply;  // runs at the end of apply, outside the journal's lock
};

class TestStep : public plan::Step {
 public:
  TestStep(Journal& journal, std::string name, std::vector<std::string> after, Behaviour behaviour = {})
      : Step({.name = name,
              .after = std::move(after),
              .resources = behaviour.resources,
              .recheck_when_done = behaviour.recheck_when_done,
              .marks_ready = behaviour.marks_ready}),
        m_journal(journal),
        m_name(std::move(name)),
        m_behaviour(std::move(behaviour)) {}

  plan::Decision decide(const plan::Context&) const override { return plan::will_run("test step " + m_name); }
  json inputs(const plan::Context&) const override { return m_behaviour.input; }

  util::Result<plan::CheckResult> check(const plan::StepRun&) const override {
    std::lock_guard lock(m_journal.mutex);
    return plan::CheckResult{m_journal.in_wanted_state[m_name], "marker set"};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    {
      std::lock_guard lock(m_journal.mutex);
      m_journal.applied.push_back(m_name);
      m_journal.max_running = std::max(m_journal.max_running, ++m_journal.running);
      for (const auto& resource : m_behaviour.resources) {
        m_journal.max_per_resource[resource] =
            std::max(m_journal.max_per_resource[resource], ++m_journal.running_per_resource[resource]);
      }
    }
    if (m_behaviour.done_downloading) run.done_downloading();
    std::this_thread::sleep_for(m_behaviour.duration);
    if (const auto settings = run.http(); settings.connections) {
      std::lock_guard lock(m_journal.mutex);
      m_journal.lanes[m_name] = settings.lane;
      m_journal.ready_path_steps[m_name] = settings.connections->ready_path_steps();
    }
    if (m_behaviour.download_total > 0) {
      net::TransferMeter::Share share(run.http().meter, m_behaviour.download_total);
      share.update(m_behaviour.download_done, m_behaviour.download_total);
      std::this_thread::sleep_for(1500ms);
      const auto seen = run.system().files().read(run.context().paths.progress_file());
      std::lock_guard lock(m_journal.mutex);
      m_journal.progress_seen[m_name] = seen.value_or("");
    }
    while (m_behaviour.wait_for_interrupt && !run.interrupted()) std::this_thread::sleep_for(5ms);
    if (m_behaviour.after_apply) m_behaviour.after_apply();
    std::lock_guard lock(m_journal.mutex);
    --m_journal.running;
    for (const auto& resource : m_behaviour.resources) --m_journal.running_per_resource[resource];
    if (m_behaviour.wait_for_interrupt) return util::fail("interrupted");
    if (m_behaviour.fail) return util::fail("it broke");
    if (!m_behaviour.check_stays_false) m_journal.in_wanted_state[m_name] = true;
    return plan::ApplyResult{m_behaviour.reboot};
  }

 private:
  Journal& m_journal;
  std::string m_name;
  Behaviour m_behaviour;
};

class SilentProgress : public engine::Progress {
 public:
  void started(const std::string&, int) override {}
  void finished(const std::string& step, engine::StepStatus, double, const std::string&) override {
    std::lock_guard lock(mutex);
    finished_steps.push_back(step);
  }
  void tick(const std::vector<std::pair<std::string, double>>&) override {}
  void ready(const engine::ReadyEvent& event) override {
    std::lock_guard lock(mutex);
    ready_events.push_back(event);
    finished_at_ready = finished_steps;
  }

  std::mutex mutex;
  std::vector<std::string> finished_steps;
  std::vector<std::string> finished_at_ready;
  std::vector<engine::ReadyEvent> ready_events;
};

struct Bench {
  testing::TempDir root;
  std::unique_ptr<testing::FakeSystem> system;
  detect::Facts facts;
  config::Config config;
  std::unique_ptr<engine::StateStore> store;
  engine::State state;
  Journal journal;
  plan::StepList steps;
  engine::RunOptions options;
  SilentProgress progress;
  Paths paths;
  std::shared_ptr<net::ConnectionBudget> budget;  // the run's, when a test gives one

  explicit Bench(json layer = json::object()) {
    root.write("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    root.write("etc/passwd", "root:x:0:0::/root:/bin/bash\n");
    root.write("proc/sys/kernel/arch", "x86_64\n");
    root.write("proc/sys/kernel/random/boot_id", "boot-1\n");
    system = std::make_unique<testing::FakeSystem>(root.path());
    facts = detect::gather_facts(*system, "root");
    config = config::Config::resolve({layer}, facts.os);
    store = std::make_unique<engine::StateStore>(system->files(), "/var/lib/cs231n-agent");
    store->prepare();
  }

  void add(std::string name, std::vector<std::string> after = {}, Behaviour behaviour = {}) {
    steps.push_back(std::make_unique<TestStep>(journal, std::move(name), std::move(after), std::move(behaviour)));
  }

  engine::RunOutcome run() {
    state.run.id = "run1";
    plan::Context context{*system, facts, config};
    context.http.connections = budget;
    engine::Engine engine(steps, context, *store, state, options, progress);
    return engine.run();
  }

  engine::StepStatus status_of(const std::string& name) { return state.steps.at(name).status; }
  int times_applied(const std::string& name) { return static_cast<int>(std::ranges::count(journal.applied, name)); }
};

}  // namespace

TEST_CASE("engine: independent steps run in parallel, bounded by the workers") {
  for (unsigned workers : {4u, 1u}) {
    Bench bench;
    bench.options.workers = workers;
    for (const char* name : {"a", "b", "c"}) bench.add(name, {}, {.duration = 150ms});
    const auto started = std::chrono::steady_clock::now();
    const auto outcome = bench.run();
    const auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(outcome.state == RunState::done);
    CHECK(outcome.code == ExitCode::success);
    CHECK(bench.journal.max_running == (workers == 1 ? 1 : 3));
    if (workers == 1) CHECK(elapsed >= 450ms);
  }
}

TEST_CASE("engine: the steps the ready step waits for download in the budget's first lane while they run") {
  Bench bench;
  bench.budget = std::make_shared<net::ConnectionBudget>(16);
  bench.add("env", {}, {.duration = 300ms});
  bench.add("torch", {"env"}, {.duration = 300ms});
  bench.add("ready", {"torch"}, {.marks_ready = true});
  bench.add("toolkit", {}, {.duration = 50ms});  // starts beside env, as cuda does
  bench.add("verify", {"ready", "toolkit"});
  REQUIRE(bench.run().state == RunState::done);
  const auto& journal = bench.journal;
  for (const char* name : {"env", "torch", "ready"}) {
    CHECK_MESSAGE(journal.lanes.at(name) == net::Lane::ready_path, name);
    CHECK_MESSAGE(journal.ready_path_steps.at(name) >= 1, name);  // itself, at least
  }
  CHECK(journal.lanes.at("toolkit") == net::Lane::after_ready);
  CHECK(journal.ready_path_steps.at("toolkit") == 1);  // env ran beside it: the toolkit was capped
  CHECK(journal.lanes.at("verify") == net::Lane::after_ready);
  CHECK(journal.ready_path_steps.at("verify") == 0);  // after ready: every slot is the toolkit's too
  CHECK(bench.budget->ready_path_steps() == 0);
}

TEST_CASE("engine: a ready-path step done downloading no longer caps the toolkit; its end does not count twice") {
  Bench bench;
  bench.budget = std::make_shared<net::ConnectionBudget>(16);
  bench.add("torch", {}, {.duration = 400ms, .done_downloading = true});  // pip installs from its wheels
  bench.add("datasets", {}, {.duration = 700ms});                         // still downloading
  bench.add("ready", {"torch", "datasets"}, {.marks_ready = true});
  bench.add("toolkit", {}, {.duration = 200ms});
  bench.add("verify", {"ready", "toolkit"});
  bench.options.workers = 4;
  REQUIRE(bench.run().state == RunState::done);
  const auto& journal = bench.journal;
  CHECK(journal.ready_path_steps.at("torch") == 1);     // datasets only: torch let go
  CHECK(journal.ready_path_steps.at("toolkit") == 1);   // while both ran: capped by datasets alone
  CHECK(journal.ready_path_steps.at("datasets") == 1);  // after torch's end, which took nothing of datasets' part
  CHECK(bench.budget->ready_path_steps() == 0);
}

TEST_CASE("engine: the ready step ending done records the moment and tells the progress while the rest runs") {
  Bench bench;
  bench.options.jupyter_url = "https://34.1.2.3:8888/";
  bench.state.run.started = util::iso8601(bench.system->now() - 42s);
  bench.add("env");
  bench.add("toolkit", {}, {.duration = 400ms});
  bench.add("ready", {"env"}, {.marks_ready = true});
  bench.add("verify", {"ready", "toolkit"});
  const auto outcome = bench.run();
  CHECK(outcome.state == RunState::done);
  REQUIRE(bench.progress.ready_events.size() == 1);
  const auto& event = bench.progress.ready_events.front();
  CHECK(event.seconds == 42);  // the fake clock stands still
  CHECK(event.url == "https://34.1.2.3:8888/");
  CHECK(event.still_running == std::vector<std::string>{"toolkit", "verify"});
  // Told after the step's own end, before the steps still running end.
  CHECK(bench.progress.finished_at_ready == std::vector<std::string>{"env", "ready"});
  const auto saved = bench.store->peek();
  REQUIRE(saved);
  CHECK_FALSE(saved->run.ready.empty());
  CHECK(engine::ready_after_s(saved->run) == event.seconds);

  // A later boot of the same run (after a reboot that came after ready) says so again at once.
  Bench again;
  again.state.run = saved->run;
  again.add("ready", {}, {.marks_ready = true});
  again.journal.in_wanted_state["ready"] = true;
  again.run();
  REQUIRE(again.progress.ready_events.size() == 2);
  CHECK(again.progress.ready_events.front().still_running == std::vector<std::string>{"ready"});
}

TEST_CASE("engine: a failed ready step records no ready moment") {
  Bench bench;
  bench.state.run.started = util::iso8601(bench.system->now());
  bench.add("ready", {}, {.fail = true, .marks_ready = true});
  bench.run();
  CHECK(bench.progress.ready_events.empty());
  CHECK(bench.store->peek()->run.ready.empty());
}

TEST_CASE("engine: each running step's downloads go to the progress file, which the end of the run removes") {
  Bench bench;
  bench.add("datasets", {}, {.download_done = 400, .download_total = 1000});
  bench.add("quiet", {}, {.duration = 200ms});
  CHECK(bench.run().state == RunState::done);
  const auto seen = json::parse(bench.journal.progress_seen.at("datasets"));
  CHECK(seen["run"] == "run1");
  CHECK(seen["steps"]["datasets"] == json{{"bytes", 400}, {"total", 1000}, {"files", 1}, {"sizes_unknown", 0}});
  CHECK_FALSE(seen["steps"].contains("quiet"));  // it downloads nothing
  CHECK_FALSE(bench.system->files().exists(bench.paths.progress_file()));
}

TEST_CASE("engine: steps sharing a resource never overlap; others run beside them") {
  Bench bench;
  bench.add("apt-one", {}, {.resources = {"apt"}, .duration = 100ms});
  bench.add("apt-two", {}, {.resources = {"apt"}, .duration = 100ms});
  bench.add("download", {}, {.duration = 150ms});
  CHECK(bench.run().state == RunState::done);
  CHECK(bench.journal.max_per_resource["apt"] == 1);
  CHECK(bench.journal.max_running == 2);
}

TEST_CASE("engine: `after` orders steps; start order follows the table") {
  Bench bench;
  bench.options.workers = 1;
  bench.add("late", {"early"});
  bench.add("early");
  bench.add("other");
  bench.run();
  CHECK(bench.journal.applied == std::vector<std::string>{"early", "late", "other"});
}

TEST_CASE("engine: a failed step stops its dependents, independent branches go on") {
  Bench bench;
  bench.add("broken", {}, {.fail = true});
  bench.add("needs-broken", {"broken"});
  bench.add("needs-needs", {"needs-broken"});
  bench.add("independent");
  const auto outcome = bench.run();
  CHECK(outcome.state == RunState::failed);
  CHECK(outcome.code == ExitCode::step_failed);
  CHECK(outcome.message.starts_with("step broken failed: it broke (log: "));
  CHECK(outcome.message.find("/var/lib/cs231n-agent/logs/broken.log") != std::string::npos);
  CHECK(bench.status_of("broken") == engine::StepStatus::failed);
  CHECK(bench.state.steps.at("broken").error == "it broke");
  CHECK(bench.status_of("needs-broken") == engine::StepStatus::skipped);
  CHECK(bench.state.steps.at("needs-needs").detail == "comes after broken, which did not finish");
  CHECK(bench.status_of("independent") == engine::StepStatus::done);
  CHECK(bench.times_applied("needs-broken") == 0);
  CHECK(bench.store->peek()->run.state == RunState::failed);  // on disk too
}

TEST_CASE("engine: done only after apply and a second check succeed") {
  Bench bench;
  bench.add("stubborn", {}, {.check_stays_false = true});
  const auto outcome = bench.run();
  CHECK(bench.status_of("stubborn") == engine::StepStatus::failed);
  CHECK(bench.state.steps.at("stubborn").error == "applied, but the system is still not in the wanted state");
  CHECK(bench.state.steps.at("stubborn").fingerprint.empty());
  CHECK(outcome.code == ExitCode::step_failed);
}

TEST_CASE("engine: a step already in the wanted state is recorded done without applying") {
  Bench bench;
  bench.add("present");
  bench.journal.in_wanted_state["present"] = true;
  bench.run();
  CHECK(bench.status_of("present") == engine::StepStatus::done);
  CHECK(bench.times_applied("present") == 0);
  CHECK(bench.state.steps.at("present").detail == "marker set");
}

TEST_CASE("engine: a done step with the same fingerprint never runs again; a changed input re-runs it") {
  Bench bench;
  bench.add("a");
  bench.add("b", {"a"});
  bench.run();
  CHECK(bench.times_applied("a") == 1);
  // Even if the system drifted, a recorded done step is not checked or applied again.
  bench.journal.in_wanted_state.clear();
  const auto again = bench.run();
  CHECK(again.state == RunState::done);
  CHECK(bench.times_applied("a") == 1);
  CHECK(bench.times_applied("b") == 1);

  bench.steps.clear();
  bench.add("a", {}, {.input = "v2"});
  bench.add("b", {"a"});
  bench.run();
  CHECK(bench.times_applied("a") == 2);
  CHECK(bench.times_applied("b") == 1);  // only the steps whose fingerprint changed run again
  CHECK(bench.state.steps.at("a").attempts == 2);
}

TEST_CASE("engine: --only and --skip") {
  Bench bench;
  bench.add("a");
  bench.add("b", {"a"});
  bench.add("c");
  bench.options.only = {"b"};
  CHECK_THROWS_WITH_AS(bench.run(),
                       "step b comes after a, which is not selected and not done: add it to --only, or run it first",
                       Error);
  CHECK(bench.journal.applied.empty());

  bench.options.only = {"a", "b"};
  bench.options.skip = {"b"};
  bench.run();
  CHECK(bench.journal.applied == std::vector<std::string>{"a"});
  CHECK_FALSE(bench.state.steps.contains("c"));

  bench.options.only = {"b"};  // a is done now
  bench.options.skip = {};
  bench.run();
  CHECK(bench.journal.applied == std::vector<std::string>{"a", "b"});

  bench.options.only = {"nope"};
  CHECK_THROWS_WITH_AS(bench.run(), "--only names nope, which is not a step (`cs231n-agent plan` lists them)", Error);
  bench.options.only = {};
  bench.options.skip = {"bb"};
  CHECK_THROWS_WITH_AS(bench.run(),
                       "--skip names bb, which is not a step; did you mean b? (`cs231n-agent plan` lists them)", Error);
}

TEST_CASE("engine: a reboot request stops new steps, records the boot, and reboots") {
  Bench bench(json{{"reboot", {{"command", {"/sbin/shutdown", "-r", "now"}}}}});
  bench.options.workers = 1;
  bench.add("driver", {}, {.reboot = true});
  bench.add("after-driver", {"driver"});
  bench.add("unrelated");
  const auto outcome = bench.run();
  CHECK(outcome.state == RunState::reboot_pending);
  CHECK(outcome.code == ExitCode::reboot_pending);
  CHECK(bench.system->reboots() == std::vector<std::vector<std::string>>{{"/sbin/shutdown", "-r", "now"}});
  CHECK(bench.status_of("driver") == engine::StepStatus::done);
  CHECK(bench.times_applied("after-driver") == 0);
  CHECK(bench.times_applied("unrelated") == 0);  // nothing new starts once a reboot is pending
  const auto saved = bench.store->peek();
  REQUIRE(saved);
  CHECK(saved->run.state == RunState::reboot_pending);
  CHECK(saved->run.reboot_boot_id == "boot-1");
  CHECK(saved->run.reboot_requested_by == "driver");
  CHECK(saved->run.reboots == 1);
}

TEST_CASE(
    "engine: a run killed after a step asked for a reboot, before the reboot, reboots without applying it again") {
  Bench bench(json{{"reboot", {{"command", {"/sbin/shutdown", "-r", "now"}}}}});
  bench.options.workers = 2;
  // The driver's module loads only after a reboot: until then its check says no, and it is
  // checked again on every run (as nvidia-driver is).
  bench.add("driver", {}, {.check_stays_false = true, .reboot = true, .recheck_when_done = true});
  bench.add("after-driver", {"driver"});
  std::optional<engine::State> at_the_kill;  // the state file while the other step still ran
  bench.add("beside", {}, {.duration = 300ms, .after_apply = [&] { at_the_kill = bench.store->peek(); }});
  engine::mark_running(bench.state.run, 4241, "boot-1", "now");
  REQUIRE(bench.run().state == RunState::reboot_pending);
  REQUIRE(at_the_kill);
  CHECK(at_the_kill->run.state == RunState::running);
  CHECK(at_the_kill->steps.at("driver").status == engine::StepStatus::done);
  CHECK(at_the_kill->run.reboot_requested_by == "driver");
  CHECK(at_the_kill->run.reboot_boot_id == "boot-1");

  // Killed then: the next run, in the same boot, owes the reboot.
  bench.state = *at_the_kill;
  engine::mark_running(bench.state.run, 4242, "boot-1", "now");
  auto outcome = bench.run();
  CHECK(outcome.state == RunState::reboot_pending);
  CHECK(bench.times_applied("driver") == 1);
  CHECK(bench.times_applied("after-driver") == 0);
  CHECK(bench.system->reboots().size() == 2);
  CHECK(bench.store->peek()->run.reboots == 1);  // the first request's save never landed

  // After the reboot the driver's check passes: nothing is applied again, the rest runs.
  bench.root.write("proc/sys/kernel/random/boot_id", "boot-2\n");
  bench.journal.in_wanted_state["driver"] = true;
  engine::mark_running(bench.state.run, 4243, "boot-2", "now");
  CHECK(bench.state.run.reboot_requested_by.empty());
  outcome = bench.run();
  CHECK(outcome.state == RunState::done);
  CHECK(bench.times_applied("driver") == 1);
  CHECK(bench.times_applied("after-driver") == 1);
}

TEST_CASE("engine: --no-reboot stops with exit 3 and the command is not run; the limit stops loops") {
  Bench bench(json{{"reboot", {{"max_reboots", 1}}}});
  bench.options.no_reboot = true;
  bench.add("driver", {}, {.reboot = true});
  auto outcome = bench.run();
  CHECK(outcome.code == ExitCode::reboot_pending);
  CHECK(outcome.message ==
        "step driver needs a reboot: reboot the machine (sudo reboot) and the agent continues by itself");
  CHECK(bench.system->reboots().empty());

  bench.state.steps.clear();  // the step asks again after the reboot
  bench.journal.in_wanted_state.clear();
  outcome = bench.run();
  CHECK(outcome.code == ExitCode::step_failed);
  CHECK(outcome.message.find("reboot.max_reboots") != std::string::npos);
}

TEST_CASE("engine: an interrupt starts nothing new and records the running step as interrupted") {
  Bench bench;
  std::atomic<bool> interrupt{false};
  bench.options.interrupt = &interrupt;
  bench.options.workers = 1;
  bench.add("long", {}, {.wait_for_interrupt = true});
  bench.add("next");
  std::thread signaller([&] {
    std::this_thread::sleep_for(100ms);
    interrupt = true;
  });
  const auto outcome = bench.run();
  signaller.join();
  CHECK(outcome.state == RunState::interrupted);
  CHECK(outcome.code == ExitCode::interrupted);
  CHECK(bench.status_of("long") == engine::StepStatus::interrupted);
  CHECK(bench.times_applied("next") == 0);
}
