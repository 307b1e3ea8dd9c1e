#include <doctest/doctest.h>

#include <fstream>

#include "agent/core/error.hpp"
#include "agent/engine/state.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;
using nlohmann::json;

namespace {

// tests/fixtures/state/, found from this file's own path (the unit tests run from any folder).
std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "fixtures" / "state" / name;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  REQUIRE(stream);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

// A saved file names the agent that wrote it; the fixtures were written by 0.1.0.
std::string as_written_by_this_agent(std::string text) {
  const std::string recorded = "\"agent_version\": \"0.1.0\"";
  const auto at = text.find(recorded);
  REQUIRE(at != std::string::npos);
  return text.replace(at, recorded.size(), "\"agent_version\": \"" CS231N_VERSION "\"");
}

void check_same_step(const engine::StepRecord& loaded, const engine::StepRecord& expected) {
  CHECK(loaded.status == expected.status);
  CHECK(loaded.fingerprint == expected.fingerprint);
  CHECK(loaded.attempts == expected.attempts);
  CHECK(loaded.started == expected.started);
  CHECK(loaded.finished == expected.finished);
  CHECK(loaded.duration_s == expected.duration_s);
  CHECK(loaded.error == expected.error);
  CHECK(loaded.log == expected.log);
  CHECK(loaded.boot_id == expected.boot_id);
  CHECK(loaded.detail == expected.detail);
}

void check_same_state(const engine::State& loaded, const engine::State& expected) {
  const auto& run = loaded.run;
  CHECK(run.id == expected.run.id);
  CHECK(run.state == expected.run.state);
  CHECK(run.started == expected.run.started);
  CHECK(run.updated == expected.run.updated);
  CHECK(run.ready == expected.run.ready);
  CHECK(run.reboots == expected.run.reboots);
  CHECK(run.boot_id == expected.run.boot_id);
  CHECK(run.reboot_requested_by == expected.run.reboot_requested_by);
  CHECK(run.reboot_boot_id == expected.run.reboot_boot_id);
  CHECK(run.confirmed == expected.run.confirmed);
  CHECK(run.instance_id == expected.run.instance_id);
  CHECK(run.redo == expected.run.redo);
  CHECK(run.only == expected.run.only);
  CHECK(run.skip == expected.run.skip);
  REQUIRE(run.config_layers.size() == expected.run.config_layers.size());
  for (std::size_t i = 0; i < run.config_layers.size(); ++i) {
    CHECK(run.config_layers[i].source == expected.run.config_layers[i].source);
    CHECK(run.config_layers[i].document == expected.run.config_layers[i].document);
  }
  CHECK(run.pid == expected.run.pid);
  CHECK(run.message == expected.run.message);
  CHECK(run.order == expected.run.order);
  REQUIRE(loaded.steps.size() == expected.steps.size());
  for (const auto& [name, record] : expected.steps) {
    INFO("step ", name);
    REQUIRE(loaded.steps.contains(name));
    check_same_step(loaded.steps.at(name), record);
  }
}

// What tests/fixtures/state/state.json holds: every field set, none to its default (except one
// step that was never started).
engine::State sample_state() {
  engine::State state;
  auto& run = state.run;
  run.id = "3f9a1c2b7d4e";
  run.state = RunState::reboot_pending;
  run.started = "2026-11-29T20:31:05Z";
  run.updated = "2026-11-29T20:47:12Z";
  run.ready = "2026-11-29T20:38:17Z";
  run.reboots = 1;
  run.boot_id = "6c1d0a52-1f7e-4a9b-9d3e-0b8f5c2a7e11";
  run.reboot_requested_by = "nvidia-driver";
  run.reboot_boot_id = "6c1d0a52-1f7e-4a9b-9d3e-0b8f5c2a7e11";
  run.confirmed = true;
  run.instance_id = "4470381209183920117";
  run.redo = {"jupyter-cert"};
  run.only = {"user", "nvidia-driver"};
  run.skip = {"datasets"};
  run.config_layers = {
      config::Layer(json{{"user", "ann"}, {"jupyter", {{"port", 8890}}}}, "metadata attribute cs231n-user"),
      config::Layer(json{{"profile", "current"}}, "config file /etc/cs231n.json")};
  run.pid = 4242;
  run.message = "rebooting (step nvidia-driver asked for it; reboot 1 of 3)";
  run.order = {"user", "nvidia-driver", "jupyter-cert"};

  auto& user = state.steps["user"];
  user.status = engine::StepStatus::done;
  user.fingerprint = "a1b2c3d4e5f60718";
  user.attempts = 1;
  user.started = "2026-11-29T20:31:06Z";
  user.finished = "2026-11-29T20:31:07Z";
  user.duration_s = 1.25;
  user.log = "/var/lib/cs231n-agent/logs/user.log";
  user.boot_id = "0e4c5a3b-2d1f-4c8e-8a7b-5f6e9d0c1b2a";
  user.detail = "account ann exists";

  auto& driver = state.steps["nvidia-driver"];
  driver.status = engine::StepStatus::failed;
  driver.fingerprint = "0f1e2d3c4b5a6978";
  driver.attempts = 2;
  driver.started = "2026-11-29T20:32:00Z";
  driver.finished = "2026-11-29T20:46:59Z";
  driver.duration_s = 899.5;
  driver.error = "apt-get install nvidia-driver-550 exited with 100";
  driver.log = "/var/lib/cs231n-agent/logs/nvidia-driver.log";
  driver.boot_id = "6c1d0a52-1f7e-4a9b-9d3e-0b8f5c2a7e11";
  driver.detail = "driver 550 for the Tesla T4";

  state.steps["jupyter-cert"].status = engine::StepStatus::interrupted;
  return state;
}

}  // namespace

TEST_CASE("state: the golden state file loads to what it holds, and saves back byte for byte") {
  testing::TempDir root;
  const os::Files files(root.path());
  const engine::StateStore store(files, "/state");
  store.prepare();
  const auto golden = read_text(fixture("state.json"));
  root.write("state/state.json", golden);
  const auto loaded = store.load("x");
  check_same_state(loaded, sample_state());
  store.save(loaded);
  CHECK(root.read("state/state.json") == as_written_by_this_agent(golden));
  store.save(sample_state());
  CHECK(root.read("state/state.json") == as_written_by_this_agent(golden));
}

TEST_CASE(
    "state: a file from before the instance id and the ready moment (no run.instance_id, run.redo, run.ready) "
    "still loads") {
  testing::TempDir root;
  const os::Files files(root.path());
  const engine::StateStore store(files, "/state");
  store.prepare();
  root.write("state/state.json", read_text(fixture("state-without-instance-id.json")));
  const auto loaded = store.load("x");
  auto expected = sample_state();
  expected.run.instance_id.clear();
  expected.run.redo.clear();
  expected.run.ready.clear();
  check_same_state(loaded, expected);
  CHECK_FALSE(files.exists("/state/state.json.corrupt-x"));
  store.save(loaded);  // in today's layout
  const auto saved = json::parse(root.read("state/state.json"));
  CHECK(saved["run"]["instance_id"] == "");
  CHECK(saved["run"]["redo"] == json::array());
  CHECK(saved["run"]["ready"] == "");
}

TEST_CASE("state: the ready moment in whole seconds after the run's start, and none before it is ready") {
  auto run = sample_state().run;
  CHECK(engine::ready_after_s(run) == 432);  // 20:31:05 to 20:38:17
  run.ready.clear();
  CHECK_FALSE(engine::ready_after_s(run));
  run.ready = "not a time";
  CHECK_FALSE(engine::ready_after_s(run));
}

TEST_CASE("state: a document with a missing field, a mistyped one or an unknown status is not a state") {
  const auto golden = json::parse(read_text(fixture("state.json")));
  CHECK_NOTHROW(engine::state_from_json(golden));
  auto broken = golden;
  broken["run"].erase("pid");
  CHECK_THROWS(engine::state_from_json(broken));
  broken = golden;
  broken["steps"]["user"].erase("fingerprint");
  CHECK_THROWS(engine::state_from_json(broken));
  broken = golden;
  broken["run"]["reboots"] = "one";
  CHECK_THROWS(engine::state_from_json(broken));
  broken = golden;
  broken["run"]["state"] = "sleeping";
  CHECK_THROWS_WITH(engine::state_from_json(broken), "unknown run state \"sleeping\"");
  broken = golden;
  broken["steps"]["user"]["status"] = "napping";
  CHECK_THROWS(engine::state_from_json(broken));
}

TEST_CASE("state: every step status has one name, read back to itself") {
  using engine::StepStatus;
  for (const auto status : {StepStatus::pending, StepStatus::running, StepStatus::done, StepStatus::failed,
                            StepStatus::skipped, StepStatus::refused, StepStatus::interrupted}) {
    CHECK(engine::parse_step_status(engine::to_string(status)) == status);
    CHECK(json(status) == engine::to_string(status));
    CHECK(json(status).get<StepStatus>() == status);
  }
  CHECK(json(StepStatus::interrupted) == "interrupted");
  CHECK_FALSE(engine::parse_step_status("napping"));
  CHECK_THROWS_WITH(json("napping").get<StepStatus>(), "unknown step status \"napping\"");
}

TEST_CASE("state: run states in JSON by core's names") {
  for (const auto state : {RunState::not_started, RunState::running, RunState::interrupted, RunState::reboot_pending,
                           RunState::failed, RunState::refused, RunState::done}) {
    CHECK(json(state) == to_string(state));
    CHECK(json(state).get<RunState>() == state);
  }
  CHECK(json(RunState::reboot_pending) == "reboot-pending");
  CHECK_THROWS_WITH(json("sleeping").get<RunState>(), "unknown run state \"sleeping\"");
}

TEST_CASE("state: saved atomically, read back, corrupt moved aside, newer format refused") {
  testing::TempDir root;
  const os::Files files(root.path());
  const engine::StateStore store(files, "/state");
  store.prepare();
  CHECK(store.load("x").empty());

  engine::State state;
  state.run.id = "abc";
  state.run.state = RunState::reboot_pending;
  state.run.config_layers = {json{{"user", "ann"}}};
  state.steps["user"].status = engine::StepStatus::done;
  state.steps["user"].fingerprint = "f00";
  store.save(state);
  const auto loaded = store.load("x");
  CHECK(loaded.run.id == "abc");
  CHECK(loaded.run.state == RunState::reboot_pending);
  CHECK(loaded.run.config_layers.front().document["user"] == "ann");
  CHECK(loaded.run.config_layers.front().source == "config");
  CHECK(loaded.steps.at("user").fingerprint == "f00");
  CHECK(files.stat("/state/state.json")->mode == 0600);

  root.write("state/state.json", "{\"format\": 1, \"run\": {\"id\": tru");
  CHECK(store.load("stamp").empty());
  CHECK(root.read("state/state.json.corrupt-stamp") == "{\"format\": 1, \"run\": {\"id\": tru");
  CHECK_FALSE(files.exists("/state/state.json"));

  root.write("state/state.json", "{\"format\": 99}");
  CHECK_THROWS_WITH_AS(
      store.load("x"),
      "/state/state.json was written by a newer cs231n-agent (state format 99, this one reads up to 1): "
      "run that newer agent, or `cs231n-agent reset --all` to start over",
      Error);
  CHECK(root.read("state/state.json") == "{\"format\": 99}");
}
