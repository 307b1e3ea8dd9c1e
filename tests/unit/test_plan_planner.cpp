#include <doctest/doctest.h>

#include "agent/core/error.hpp"
#include "agent/plan/planner.hpp"
#include "support/machine.hpp"

using namespace cs231n;
using nlohmann::json;
using testing::k_jammy;
using testing::k_xenial;
using testing::Machine;

namespace {

class ScriptedStep : public plan::Step {
 public:
  ScriptedStep(std::string name, std::vector<std::string> after, plan::Decision decision)
      : Step({.name = std::move(name), .after = std::move(after)}), m_decision(std::move(decision)) {}
  plan::Decision decide(const plan::Context&) const override { return m_decision; }
  nlohmann::json inputs(const plan::Context&) const override { return nullptr; }
  util::Result<plan::CheckResult> check(const plan::StepRun&) const override { return plan::CheckResult{}; }
  util::Result<plan::ApplyResult> apply(const plan::StepRun&) const override { return plan::ApplyResult{}; }

 private:
  plan::Decision m_decision;
};

const plan::PlannedStep& step_named(const plan::Plan& plan, const std::string& name) {
  for (const auto& step : plan.steps) {
    if (step.name == name) return step;
  }
  FAIL("no step " << name);
  throw std::logic_error("unreachable");
}

std::vector<std::string> names(const plan::Plan& plan) {
  std::vector<std::string> result;
  for (const auto& step : plan.steps) result.push_back(step.name);
  return result;
}

}  // namespace

TEST_CASE("planner: table order, moved only as far as `after` requires") {
  Machine machine(k_jammy);
  plan::StepList steps;
  steps.push_back(std::make_unique<ScriptedStep>("c", std::vector<std::string>{"b"}, plan::will_run("c")));
  steps.push_back(std::make_unique<ScriptedStep>("a", std::vector<std::string>{}, plan::will_run("a")));
  steps.push_back(std::make_unique<ScriptedStep>("b", std::vector<std::string>{}, plan::will_run("b")));
  steps.push_back(std::make_unique<ScriptedStep>("d", std::vector<std::string>{}, plan::will_run("d")));
  CHECK(names(plan::make_plan(steps, machine.context())) == std::vector<std::string>{"a", "b", "c", "d"});
}

TEST_CASE("planner: a refused step's dependents are skipped, other branches go on") {
  Machine machine(k_jammy);
  plan::StepList steps;
  steps.push_back(std::make_unique<ScriptedStep>("gpu", std::vector<std::string>{}, plan::refused("no way")));
  steps.push_back(std::make_unique<ScriptedStep>("torch", std::vector<std::string>{"gpu"}, plan::will_run("t")));
  steps.push_back(std::make_unique<ScriptedStep>("check", std::vector<std::string>{"torch"}, plan::will_run("c")));
  steps.push_back(std::make_unique<ScriptedStep>("jupyter", std::vector<std::string>{}, plan::will_run("j")));
  const auto plan = plan::make_plan(steps, machine.context());
  CHECK(plan.has_refusal());
  CHECK(step_named(plan, "gpu").decision.action == plan::Action::refuse);
  CHECK(step_named(plan, "torch").decision.action == plan::Action::skip);
  CHECK(step_named(plan, "check").decision.reason == "comes after gpu, which was refused");
  CHECK(step_named(plan, "jupyter").decision.action == plan::Action::run);
}

TEST_CASE("planner: cycles, unknown predecessors and duplicate names are config errors") {
  Machine machine(k_jammy);
  plan::StepList cycle;
  cycle.push_back(std::make_unique<ScriptedStep>("a", std::vector<std::string>{"b"}, plan::will_run("")));
  cycle.push_back(std::make_unique<ScriptedStep>("b", std::vector<std::string>{"a"}, plan::will_run("")));
  CHECK_THROWS_WITH_AS(plan::make_plan(cycle, machine.context()),
                       "the \"after\" lists of these steps form a cycle: a, b; break it in \"steps\"", Error);
  plan::StepList unknown;
  unknown.push_back(std::make_unique<ScriptedStep>("a", std::vector<std::string>{"ghost"}, plan::will_run("")));
  CHECK_THROWS_WITH_AS(plan::make_plan(unknown, machine.context()),
                       "step \"a\" comes after \"ghost\", which is not a step: fix its \"after\" list", Error);
  Machine clash(k_jammy, {json{{"steps", {{{"name", "user"}, {"run", {"true"}}}}}}});
  CHECK_THROWS_WITH_AS(clash.plan(),
                       "config: steps[0].name: \"user\" is already a step; give the custom step another name", Error);
  Machine typo(k_jammy, {json{{"steps", {{{"name", "motd"}, {"after", {"jupyter-servce"}}, {"run", {"true"}}}}}}});
  CHECK_THROWS_WITH_AS(typo.plan(),
                       "config: steps[0].after: \"jupyter-servce\" is not a step; did you mean \"jupyter-service\"? "
                       "(`cs231n-agent plan` lists the steps)",
                       Error);
  Machine timeout(k_jammy, {json{{"timeouts", {{"conda-envs", 10}}}}});
  CHECK_THROWS_WITH_AS(timeout.plan(),
                       "config: timeouts.conda-envs: \"conda-envs\" is not a step; did you mean \"conda-env\"? "
                       "(`cs231n-agent plan` lists the steps)",
                       Error);
}

TEST_CASE("plan: no public sha256 for ubuntu1604's cuda-keyring: nvidia-repo refused, naming gpu.keyring_sha256") {
  Machine machine(k_xenial, {}, true);
  const auto plan = machine.plan();
  const auto& repo = step_named(plan, "nvidia-repo").decision;
  CHECK(repo.action == plan::Action::refuse);
  CHECK(repo.reason.find("set gpu.keyring_sha256 to {\"ubuntu1604/cuda-keyring_1.1-1_all.deb\"") != std::string::npos);
}

TEST_CASE("plan: Ubuntu 16.04 with a T4 follows the tutorial: seed profile, CUDA 10.0") {
  // A test value: the step only needs to know one (no public source gives ubuntu1604's).
  const json pin{{"gpu", {{"keyring_sha256", {{"ubuntu1604/cuda-keyring_1.0-1_all.deb", std::string(64, '0')}}}}}};
  Machine machine(k_xenial, {pin}, true);
  const auto plan = machine.plan();
  CHECK(plan.profile.name == "seed");
  CHECK_FALSE(plan.has_refusal());
  CHECK(step_named(plan, "cuda").decision.summary.find("cuda-toolkit-10-0") != std::string::npos);
  CHECK(step_named(plan, "nvidia-repo").decision.summary.find("ubuntu1604") != std::string::npos);
  CHECK(step_named(plan, "pytorch").decision.summary ==
        "pip install torch==1.2.0 into env cs231n (torch 1.2.0 as configured, its CUDA 10.0 build; versions from "
        "cs231n-agent's table (PyTorch's index is read on GCE VMs))");
  CHECK(step_named(plan, "user").decision.action == plan::Action::done);
  // Ubuntu 16.04's frozen repo has no branch packages: its own cuda-drivers, held.
  CHECK(step_named(plan, "nvidia-driver").decision.summary.find(" cuda-drivers for Tesla T4, hold cuda-drivers;") !=
        std::string::npos);
}

TEST_CASE("plan: CUDA 10.0 on Ubuntu 22.04 is refused, the rest still runs") {
  Machine machine(k_jammy, {json{{"gpu", {{"cuda", "10.0"}}}}}, true);
  const auto plan = machine.plan();
  const auto& cuda = step_named(plan, "nvidia-repo").decision;
  CHECK(cuda.action == plan::Action::refuse);
  CHECK(cuda.reason.starts_with("CUDA 10.0 has no repository for Ubuntu 22.04"));
  CHECK(cuda.reason.find("; set gpu.cuda to \"auto\" (here: CUDA 13.2") != std::string::npos);
  CHECK(step_named(plan, "pytorch").decision.action == plan::Action::skip);  // the GPU path is refused
  CHECK(step_named(plan, "verify").decision.action == plan::Action::skip);
  CHECK(step_named(plan, "anaconda").decision.action == plan::Action::run);
  CHECK(step_named(plan, "jupyter-service").decision.action == plan::Action::run);
}

TEST_CASE("plan: APT 3 rejects NVIDIA's SHA1-bound key: nvidia-repo and cuda skipped, nothing added and purged") {
  Machine machine("ID=ubuntu\nVERSION_ID=\"24.04\"\n", {}, true);
  machine.root.write("proc/sys/kernel/osrelease", "6.8.0-1040-gcp\n");
  machine.root.write("var/lib/dpkg/status", "Package: apt\nStatus: install ok installed\nVersion: 3.0.0\n\n");
  machine.system = std::make_unique<testing::FakeSystem>(machine.root.path());
  machine.facts = detect::gather_facts(*machine.system, "");
  const auto plan = machine.plan();
  const auto& repo = step_named(plan, "nvidia-repo").decision;
  CHECK(repo.action == plan::Action::skip);
  CHECK(repo.reason ==
        "NVIDIA's ubuntu2404 repository is not added: APT 3.0.0 verifies signatures with sqv, which rejects the SHA1 "
        "binding signature of NVIDIA's key 3bf863cc that signs the ubuntu2404 repository "
        "(NVIDIA/cuda-repo-management#39); the driver comes from Ubuntu's signed packages");
  CHECK(step_named(plan, "cuda").decision.action == plan::Action::skip);
  CHECK(
      step_named(plan, "cuda").decision.reason.starts_with("no CUDA toolkit: it comes only from NVIDIA's ubuntu2404"));
  CHECK(step_named(plan, "nvidia-driver").decision.action == plan::Action::run);
  CHECK(step_named(plan, "nvidia-driver")
            .decision.summary.starts_with(
                "install linux-modules-nvidia-580-server-open-6.8.0-1040-gcp linux-modules-nvidia-580-server-open-gcp "
                "nvidia-utils-580-server for Tesla T4"));
  CHECK(step_named(plan, "pytorch").decision.action == plan::Action::run);
  CHECK_FALSE(plan.has_refusal());
}

TEST_CASE("plan: no GPU skips the GPU path and installs CPU torch") {
  Machine machine(k_jammy);
  const auto plan = machine.plan();
  for (const auto* name : {"nvidia-repo", "nvidia-driver", "cuda", "gpu-persistence"}) {
    CHECK(step_named(plan, name).decision.action == plan::Action::skip);
    CHECK(step_named(plan, name).decision.reason == "no NVIDIA GPU");
  }
  // torchvision too (the current profile's assignment 2 imports it), from the same index.
  CHECK(step_named(plan, "pytorch")
            .decision.summary.find("pip install torch==2.14.0+cpu torchvision --index-url "
                                   "https://download.pytorch.org/whl/cpu into env cs231n") != std::string::npos);
  CHECK(step_named(plan, "verify").decision.summary.starts_with("import torch and torchvision in env cs231n"));
  CHECK_FALSE(plan.has_refusal());
}

TEST_CASE("plan: pytorch.torchvision with a torch of before the per-variant indexes is refused, naming the key") {
  Machine machine(k_jammy, {json{{"conda_env", {{"python", "3.6"}}}}});  // torch 1.10.2, torch_stable.html's
  auto plan = machine.plan();
  const auto& pytorch = step_named(plan, "pytorch").decision;
  CHECK(pytorch.action == plan::Action::refuse);
  CHECK(
      pytorch.reason.starts_with("pytorch.torchvision needs torch 1.11 or newer (PyTorch's per-variant indexes): "
                                 "torch 1.10.2 comes from https://download.pytorch.org/whl/torch_stable.html"));
  CHECK(pytorch.reason.ends_with("; set pytorch.torchvision to false"));
  CHECK(step_named(plan, "conda-env").decision.action == plan::Action::run);
  // The seed keeps the tutorial's torch alone: nothing to refuse.
  Machine seed(k_jammy, {json{{"profile", "seed"}}});
  plan = seed.plan();
  CHECK(step_named(plan, "pytorch").decision.summary.starts_with("pip install torch==1.2.0+cpu -f "));
  CHECK(step_named(plan, "verify").decision.summary.starts_with("import torch in env cs231n"));
  Machine asked(k_jammy, {json{{"profile", "seed"}, {"pytorch", {{"torchvision", true}}}}});
  CHECK(step_named(asked.plan(), "pytorch").decision.action == plan::Action::refuse);
}

TEST_CASE("plan: torch-wheels fetches torch's wheels before the env exists, when the env's Python is known") {
  Machine machine(k_jammy, {}, true);
  auto plan = machine.plan();
  const auto& wheels = step_named(plan, "torch-wheels");
  CHECK(wheels.decision.action == plan::Action::run);
  CHECK(wheels.decision.summary.starts_with("base's pip resolves torch=="));
  CHECK(wheels.decision.summary.find(" torchvision for Python " + machine.config.string("conda_env.python") + ";") !=
        std::string::npos);
  // The wheels' bytes are torch-wheels'; pytorch only verifies them.
  REQUIRE(wheels.downloads.size() == 1);
  CHECK(wheels.downloads.front().estimate);
  CHECK(step_named(plan, "pytorch").downloads.empty());

  // pip fetches them itself in pytorch: without the agent's downloads, or when a file on the VM
  // names the env's Python only as conda reads it.
  for (const auto& layer : {json{{"downloads", {{"accelerate_pip_apt", false}}}},
                            json{{"conda_env", {{"environment_file", "/srv/environment.yml"}}}},
                            json{{"conda_env", {{"explicit_file", "/srv/explicit.txt"}}}}}) {
    Machine other(k_jammy, {layer}, true);
    plan = other.plan();
    CAPTURE(layer.dump());
    CHECK(step_named(plan, "torch-wheels").decision.action == plan::Action::skip);
    CHECK(step_named(plan, "pytorch").decision.action == plan::Action::run);
    CHECK(step_named(plan, "pytorch").downloads.size() == 1);
  }
  // A list served over HTTP(S) names the env's Python in its python package: read in the step.
  Machine listed(k_jammy, {json{{"conda_env", {{"explicit_file", "https://example.org/cs231n/explicit.txt"}}}}}, true);
  CHECK(step_named(listed.plan(), "torch-wheels")
            .decision.summary.find(" for the Python of the @EXPLICIT list https://example.org/cs231n/explicit.txt;") !=
        std::string::npos);
  // No torch to fetch: the reason is pytorch's.
  Machine refused(k_jammy, {json{{"conda_env", {{"python", "3.6"}}}}});
  CHECK(step_named(refused.plan(), "torch-wheels").decision.reason == "no torch to install (see pytorch)");
}

TEST_CASE("plan: an unsupported OS refuses every step") {
  Machine machine("ID=centos\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n");
  const auto plan = machine.plan();
  REQUIRE(plan.refusal);
  for (const auto& step : plan.steps) CHECK(step.decision.action == plan::Action::refuse);
  CHECK(plan::to_json(plan)["steps"][0]["reason"].get<std::string>().starts_with(
      "CentOS Linux 7 (Core) is not supported"));
}

TEST_CASE("plan: custom steps take part in the graph") {
  Machine machine(
      k_jammy, {json{{"steps", {{{"name", "site-motd"}, {"after", {"anaconda"}}, {"run", {"touch", "/etc/motd"}}}}}}});
  const auto plan = machine.plan();
  const auto order = names(plan);
  const auto position = [&](const std::string& name) { return std::ranges::find(order, name) - order.begin(); };
  CHECK(position("site-motd") > position("anaconda"));
  CHECK(step_named(plan, "site-motd").decision.summary == "run touch /etc/motd as root");
}

TEST_CASE("plan table: the profile, then one row per step; run rows say what, the others why") {
  plan::Plan plan;
  plan.profile = {"auto", "seed", "Ubuntu 16.04"};
  plan.steps = {{"user", {}, plan::will_run("create ann")},
                {"nvidia-driver", {}, plan::refused("Secure Boot is on", "install the driver")},
                {"git", {}, plan::already_done("recorded", "install git")},
                {"conda", {"nvidia-driver"}, plan::skipped("after nvidia-driver")}};
  CHECK(plan::to_table(plan) ==
        "Profile: seed (auto: Ubuntu 16.04)\n"
        "\n"
        "user           run     create ann\n"
        "nvidia-driver  refuse  Secure Boot is on\n"
        "git            done    recorded\n"
        "conda          skip    after nvidia-driver\n");
  plan.profile = {"seed", "seed", "asked for"};
  plan.refusal = "Ubuntu 14.04 is not supported";
  plan.steps = {{"git", {}, plan::skipped("unsupported")}};
  CHECK(plan::to_table(plan) ==
        "Profile: seed\n"
        "Refused: Ubuntu 14.04 is not supported\n"
        "\n"
        "git  skip    unsupported\n");
}

namespace {

plan::PlannedStep planned(std::string name, std::vector<std::string> after,
                          std::vector<plan::ExpectedDownload> downloads,
                          plan::Decision decision = plan::will_run("do it")) {
  return {std::move(name), std::move(after), std::move(decision), std::move(downloads), false};
}

}  // namespace

TEST_CASE("critical path: the chain with the most to download, to the ready step and to the end") {
  constexpr std::uint64_t mb = 1'000'000;
  plan::Plan plan;
  plan.steps = {
      planned("user", {}, {}),
      planned("anaconda", {"user"}, {{"installer", 100 * mb, "the server"}}),
      planned("assignments", {"user"}, {{"git clone", std::nullopt, "not known"}}),
      planned("datasets", {"assignments"}, {{"cifar", 170 * mb, "the config"}, {"coco", 1000 * mb, "the config"}}),
      planned("conda-env", {"anaconda"}, {{"conda packages", std::nullopt, "not known"}}),
      planned("pytorch", {"conda-env"}, {{"wheels", 2400 * mb, "estimate", true}}),
      planned("nvidia-driver", {"user"}, {{"driver", 300 * mb, "index"}}),
      planned("cuda", {"nvidia-driver"}, {{"toolkit", 3500 * mb, "index"}}),
      planned("jupyter-service", {"conda-env", "assignments"}, {}),
      planned("ready", {"jupyter-service", "pytorch", "nvidia-driver", "datasets"}, {}),
      planned("verify", {"ready", "cuda"}, {}),
  };
  plan.steps[9].marks_ready = true;
  CHECK(plan.ready_step() == "ready");

  const auto ready = plan::critical_path(plan, "ready");
  CHECK(ready.target == "ready");
  // pytorch's 2.4 GB outweigh the datasets' 1.17 GB and the driver's 300 MB.
  CHECK(ready.steps == std::vector<std::string>{"user", "anaconda", "conda-env", "pytorch", "ready"});
  CHECK(ready.bytes.known == 2500 * mb);
  CHECK_FALSE(ready.bytes.complete);  // conda-env's packages are not known
  CHECK(ready.bytes.estimate);
  // Everything before ready but the toolkit.
  CHECK(ready.needed.known == (100 + 170 + 1000 + 2400 + 300) * mb);

  const auto done = plan::critical_path(plan, "");
  CHECK(done.target == "done");
  CHECK(done.steps == std::vector<std::string>{"user", "nvidia-driver", "cuda", "verify"});
  CHECK(done.bytes.known == 3800 * mb);
  CHECK(done.bytes.complete);
  CHECK_FALSE(done.bytes.estimate);
  CHECK(done.needed.known == (100 + 170 + 1000 + 2400 + 300 + 3500) * mb);

  // A step that would not run weighs nothing and is left out of the chain.
  plan.steps[7].decision = plan::already_done("installed", "install the toolkit");
  const auto without_toolkit = plan::critical_path(plan, "");
  CHECK(without_toolkit.steps ==
        std::vector<std::string>{"user", "anaconda", "conda-env", "pytorch", "ready", "verify"});
  CHECK(without_toolkit.needed.known == (100 + 170 + 1000 + 2400 + 300) * mb);

  CHECK(plan::bytes_text({2500 * mb, false, true}) == "~2.3 GiB+?");
  CHECK(plan::bytes_text({0, false, false}) == "?");
  CHECK(plan::bytes_text({}) == "");
  CHECK(plan::bytes_text({300 * mb, true, false}) == "286.1 MiB");
}

TEST_CASE("plan table and JSON: each step's downloads and the expected order to ready and to done") {
  plan::Plan plan;
  plan.profile = {"current", "current", "asked for"};
  plan.steps = {planned("anaconda", {}, {{"Miniforge3.sh", 1'048'576, "the server"}}),
                planned("pytorch", {"anaconda"}, {{"torch wheels", std::nullopt, "not known here"}}),
                planned("ready", {"pytorch"}, {}),
                planned("cuda", {}, {{"cuda-toolkit-12-6", 4 * 1'048'576, "NVIDIA's index"}}),
                planned("verify", {"ready", "cuda"}, {})};
  plan.steps[2].marks_ready = true;
  const auto table = plan::to_table(plan);
  CHECK(table.find("Downloads (~: an estimate, ?: not known here):\n"
                   "  anaconda  Miniforge3.sh      1.0 MiB  the server\n"
                   "  pytorch   torch wheels             ?  not known here\n"
                   "  cuda      cuda-toolkit-12-6  4.0 MiB  NVIDIA's index\n") != std::string::npos);
  CHECK(table.find("  to ready: anaconda (1.0 MiB) -> pytorch (?) -> ready\n"
                   "    1.0 MiB+? on this path; 1.0 MiB+? downloaded before ready\n"
                   "  to done: cuda (4.0 MiB) -> verify\n"
                   "    4.0 MiB on this path; 5.0 MiB+? downloaded before done\n") != std::string::npos);
  const auto document = plan::to_json(plan);
  CHECK(document["steps"][0]["downloads"][0] ==
        json{{"what", "Miniforge3.sh"}, {"bytes", 1'048'576}, {"source", "the server"}, {"estimate", false}});
  CHECK(document["steps"][1]["downloads"][0]["bytes"].is_null());
  CHECK(document["steps"][1]["download_bytes"] == json{{"bytes", 0}, {"complete", false}, {"estimate", false}});
  CHECK(document["critical_path"]["ready"]["steps"].size() == 3);
  CHECK(document["critical_path"]["ready"]["steps"][0]["name"] == "anaconda");
  CHECK(document["critical_path"]["done"]["download_bytes"]["bytes"] == 4 * 1'048'576);
  CHECK(document["critical_path"]["done"]["needed"]["complete"] == false);
}
