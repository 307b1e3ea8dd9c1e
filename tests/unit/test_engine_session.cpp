#include <doctest/doctest.h>

#include "agent/core/error.hpp"
#include "agent/engine/session_steps.hpp"
#include "steps/table.hpp"
#include "support/fake_system.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;
using nlohmann::json;

namespace {

detect::Facts facts_on(bool gce) {
  detect::Facts facts;
  facts.os = detect::os_info_from({{"ID", "debian"}, {"VERSION_ID", "12"}});
  facts.gce = gce;
  return facts;
}

engine::State finished_run() {
  engine::State state;
  state.run.id = "old";
  state.run.state = RunState::done;
  state.run.started = "2026-01-01T00:00:00Z";
  state.run.instance_id = "111";
  state.run.only = {"user"};
  state.run.skip = {"datasets"};
  state.run.config_layers = {config::Layer(json{{"user", "ann"}})};
  state.run.confirmed = true;
  state.run.reboots = 2;
  state.steps["user"].status = engine::StepStatus::done;
  return state;
}

}  // namespace

TEST_CASE("session: the user the config layers name, the last one winning") {
  CHECK(engine::user_named_in({}) == "");
  CHECK(engine::user_named_in({config::Layer(json{{"profile", "seed"}})}) == "");
  CHECK(engine::user_named_in({config::Layer(json{{"user", "ann"}}), config::Layer(json{{"profile", "seed"}})}) ==
        "ann");
  CHECK(engine::user_named_in({config::Layer(json{{"user", "ann"}}), config::Layer(json{{"user", "bob"}})}) == "bob");
}

TEST_CASE("session: the boot id file comes from the command line, else the config") {
  const auto config = config::Config::resolve({}, facts_on(true).os);
  engine::RunOptions options;
  CHECK(engine::boot_id_file(options, config) == "/proc/sys/kernel/random/boot_id");
  options.boot_id_file = "/tmp/boot";
  CHECK(engine::boot_id_file(options, config) == "/tmp/boot");
}

TEST_CASE("session: a pending reboot stops the session until the boot id changes") {
  engine::RunRecord run;
  run.id = "r1";
  run.state = RunState::reboot_pending;
  run.reboot_requested_by = "nvidia-driver";
  run.reboot_boot_id = "boot-1";
  const auto waiting = engine::reboot_still_pending(run, "boot-1");
  REQUIRE(waiting);
  CHECK(waiting->state == RunState::reboot_pending);
  CHECK(waiting->code == ExitCode::reboot_pending);
  CHECK(waiting->message ==
        "the reboot that step nvidia-driver asked for has not happened yet (same boot id): reboot the "
        "machine (sudo reboot) and the agent continues by itself");
  CHECK_FALSE(engine::reboot_still_pending(run, "boot-2"));
  run.state = RunState::failed;
  CHECK_FALSE(engine::reboot_still_pending(run, "boot-1"));
}

TEST_CASE("session: a run starts when there is none or the last is done, else continues") {
  SUBCASE("no run yet") {
    engine::State state;
    engine::start_or_continue_run(state, false, "new", "now");
    CHECK(state.run.id == "new");
    CHECK(state.run.started == "now");
    CHECK(state.run.state == RunState::not_started);
  }
  SUBCASE("an unfinished run continues as it is") {
    auto state = finished_run();
    state.run.state = RunState::interrupted;
    engine::start_or_continue_run(state, false, "new", "now");
    CHECK(state.run.id == "old");
    CHECK(state.run.started == "2026-01-01T00:00:00Z");
    CHECK(state.run.reboots == 2);
  }
  SUBCASE("after a finished run, `run` starts afresh, keeping only the instance id") {
    auto state = finished_run();
    engine::start_or_continue_run(state, false, "new", "now");
    CHECK(state.run.id == "new");
    CHECK(state.run.started == "now");
    CHECK(state.run.state == RunState::not_started);
    CHECK(state.run.instance_id == "111");
    CHECK(state.run.reboots == 0);
    CHECK(state.run.only.empty());
    CHECK(state.run.config_layers.empty());
    CHECK_FALSE(state.run.confirmed);
    CHECK(state.steps.contains("user"));  // what was done stays done
  }
  SUBCASE("the boot check after a finished run keeps its selection, config and confirmation") {
    auto state = finished_run();
    engine::start_or_continue_run(state, true, "new", "now");
    CHECK(state.run.id == "new");
    CHECK(state.run.reboots == 0);
    CHECK(state.run.instance_id == "111");
    CHECK(state.run.only == std::vector<std::string>{"user"});
    CHECK(state.run.skip == std::vector<std::string>{"datasets"});
    CHECK(state.run.config_layers.front().document == json{{"user", "ann"}});
    CHECK(state.run.confirmed);
  }
}

TEST_CASE("session: resume runs the recorded selection; run records its own") {
  engine::RunRequest request;
  request.options.only = {"anaconda"};
  request.options.skip = {"verify"};
  request.options.workers = 2;
  request.config_layers = {config::Layer(json{{"user", "bob"}})};
  const auto recorded = finished_run().run;

  const auto for_run = engine::options_for(request, recorded);
  CHECK(for_run.only == std::vector<std::string>{"anaconda"});
  CHECK(for_run.skip == std::vector<std::string>{"verify"});
  CHECK(for_run.workers == 2);

  request.resume = true;
  const auto for_resume = engine::options_for(request, recorded);
  CHECK(for_resume.only == std::vector<std::string>{"user"});
  CHECK(for_resume.skip == std::vector<std::string>{"datasets"});
  CHECK(for_resume.workers == 2);

  auto run = recorded;
  engine::record_request(run, request);
  CHECK(run.only == std::vector<std::string>{"anaconda"});
  CHECK(run.skip == std::vector<std::string>{"verify"});
  CHECK(run.config_layers.front().document == json{{"user", "bob"}});
}

TEST_CASE("session: on another instance, the per-instance steps run again and must apply") {
  plan::StepList steps;
  steps.push_back(steps::make_user_step());
  steps.push_back(steps::make_jupyter_cert_step());
  const auto per_instance = steps[1]->info().name;
  auto state = finished_run();
  state.steps[per_instance].status = engine::StepStatus::done;

  SUBCASE("the same instance keeps everything") {
    engine::forget_other_instance(state, steps, detect::GceInstance{.id = "111"});
    CHECK(state.steps.contains(per_instance));
    CHECK(state.run.redo.empty());
  }
  SUBCASE("no instance (off GCE) changes nothing") {
    engine::forget_other_instance(state, steps, std::nullopt);
    CHECK(state.steps.contains(per_instance));
    CHECK(state.run.instance_id == "111");
  }
  SUBCASE("another instance") {
    engine::forget_other_instance(state, steps, detect::GceInstance{.id = "222"});
    CHECK_FALSE(state.steps.contains(per_instance));
    CHECK(state.steps.contains("user"));
    CHECK(state.run.redo == std::vector<std::string>{per_instance});
    CHECK(state.run.instance_id == "222");
    state.run.instance_id = "333";
    state.steps[per_instance].status = engine::StepStatus::done;
    engine::forget_other_instance(state, steps, detect::GceInstance{.id = "444"});
    CHECK(state.run.redo == std::vector<std::string>{per_instance});  // listed once
  }
  SUBCASE("the first instance seen is recorded") {
    state.run.instance_id.clear();
    engine::forget_other_instance(state, steps, detect::GceInstance{.id = "222"});
    CHECK(state.steps.contains(per_instance));
    CHECK(state.run.instance_id == "222");
  }
}

TEST_CASE("session: off GCE the operator confirms once, by --yes or the question") {
  engine::RunRequest request;
  engine::RunRecord run;
  SUBCASE("on GCE nothing is asked") {
    engine::confirm_off_gce(facts_on(true), run, request);
    CHECK_FALSE(run.confirmed);
  }
  SUBCASE("--yes") {
    request.yes = true;
    engine::confirm_off_gce(facts_on(false), run, request);
    CHECK(run.confirmed);
  }
  SUBCASE("no terminal") {
    CHECK_THROWS_WITH_AS(engine::confirm_off_gce(facts_on(false), run, request),
                         "this machine is not a GCE VM and there is no terminal to confirm on: add --yes to let "
                         "cs231n-agent change it",
                         Error);
  }
  SUBCASE("asked: yes, then never again in this run") {
    int asked = 0;
    request.confirm = [&](const std::string& question) {
      ++asked;
      CHECK(question.starts_with("This machine is not a GCE VM."));
      return true;
    };
    engine::confirm_off_gce(facts_on(false), run, request);
    CHECK(run.confirmed);
    engine::confirm_off_gce(facts_on(false), run, request);
    CHECK(asked == 1);
  }
  SUBCASE("asked: no") {
    request.confirm = [](const std::string&) { return false; };
    CHECK_THROWS_WITH_AS(engine::confirm_off_gce(facts_on(false), run, request), "not confirmed; nothing was changed",
                         Error);
    CHECK_FALSE(run.confirmed);
  }
}

TEST_CASE("session: the steps a killed run left running are ended by their marker and recorded interrupted") {
  testing::TempDir root;
  testing::FakeSystem system(root.path());
  engine::State state;
  state.run.id = "r1";
  state.steps["anaconda"].status = engine::StepStatus::running;
  state.steps["user"].status = engine::StepStatus::done;
  engine::end_leftover_processes(system, state);
  CHECK(system.ended_markers == std::vector<std::string>{"r1/anaconda"});
  CHECK(state.steps.at("anaconda").status == engine::StepStatus::interrupted);
  CHECK(state.steps.at("user").status == engine::StepStatus::done);
}

TEST_CASE("session: the run is marked running in this boot, the reboot it waited for cleared") {
  engine::RunRecord run;
  run.state = RunState::reboot_pending;
  run.reboot_requested_by = "nvidia-driver";
  run.reboot_boot_id = "boot-1";
  run.boot_id = "boot-1";
  engine::mark_running(run, 4242, "boot-2", "now");
  CHECK(run.state == RunState::running);
  CHECK(run.pid == 4242);
  CHECK(run.reboot_requested_by.empty());
  CHECK(run.reboot_boot_id.empty());
  CHECK(run.boot_id == "boot-2");
  CHECK(run.updated == "now");
}

TEST_CASE("session: a reboot asked for in this boot, never made (the agent was killed), is still owed") {
  engine::RunRecord run;
  run.state = RunState::running;
  run.reboot_requested_by = "nvidia-driver";
  run.reboot_boot_id = "boot-1";
  engine::mark_running(run, 4242, "boot-1", "now");
  CHECK(run.reboot_requested_by == "nvidia-driver");
  CHECK(run.reboot_boot_id == "boot-1");
}
