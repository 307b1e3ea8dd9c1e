#include <algorithm>

#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/gpu_common.hpp"
#include "steps/jupyter_common.hpp"
#include "steps/table.hpp"
#include "steps/verify.hpp"

namespace cs231n::steps {

namespace {

// How long apply() waits for Jupyter to answer after its service started: a server reads its
// config and binds in seconds; one that takes minutes is broken.
constexpr auto k_jupyter_wait = std::chrono::seconds(120);
constexpr auto k_jupyter_poll = std::chrono::seconds(2);

// The first check of verify_machine that fails, or nullopt.
std::optional<VerifyCheck> first_failure(const VerifyReport& report) {
  const auto found = std::ranges::find_if(report.checks, [](const VerifyCheck& check) { return !check.ok; });
  if (found == report.checks.end()) return std::nullopt;
  return *found;
}

// The moment a student can work: Jupyter serves, the env imports torch and, with a GPU, the
// driver is loaded and torch sees the GPU. Its predecessors are what a notebook needs, and no
// more, so that the rest (the CUDA toolkit, the idle timer, persistence mode, verify) finishes
// after it:
//  - jupyter-service (which comes after the env, the assignments and Jupyter's config);
//  - pytorch, and nvidia-driver for the loaded module;
//  - datasets: assignment 1's first notebook (knn.ipynb) loads CIFAR-10 in its first cells, so a
//    notebook without it is not usable; the datasets download beside the env and torch (they come
//    after the assignments only), which are larger, so waiting for them seldom moves ready.
class ReadyStep : public plan::Step {
 public:
  ReadyStep()
      : Step({.name = "ready",
              .after = {"jupyter-service", "pytorch", "nvidia-driver", "datasets"},
              // A live state (a server answering, a module loaded), not something done once: probed at every run.
              .recheck_when_done = true,
              .marks_ready = true}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    if (gpu_plan.refusal) return plan::refused(gpu_plan.refusal->message());
    std::string summary = "the student can work: ";
    if (context.config.boolean("jupyter.service")) summary += "Jupyter answers at " + jupyter_url(context) + ", ";
    summary +=
        std::string(context.config.boolean("pytorch.torchvision") ? "torch and torchvision import" : "torch imports") +
        " in env " + context.config.string("conda_env.name");
    if (gpu_plan.active) summary += ", the driver is loaded and torch sees the GPU";
    return plan::will_run(summary + "; the agent then prints the URL and publishes the guest attribute ready");
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    return {{"env", env_dir(context)},
            {"gpu", gpu_plan.active && !gpu_plan.refusal},
            {"jupyter", context.config.boolean("jupyter.service")},
            {"port", context.config.integer("jupyter.port")}};
  }

  // The cheap signs first, so that `plan` on a fresh machine (or a fixture tree) starts no program.
  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    if (!torch_files_present(files, env_dir(run.context()))) return plan::CheckResult{false, ""};
    if (plan_gpu(run.context()).active && !module_loaded(files, "nvidia")) return plan::CheckResult{false, ""};
    auto report = verify_machine(run);
    if (!report) return std::unexpected(report.error());
    if (first_failure(*report)) return plan::CheckResult{false, ""};
    const auto jupyter = probe_jupyter(run);
    if (!jupyter.serves) return plan::CheckResult{false, ""};
    return plan::CheckResult{true, jupyter.detail + "; " + report->checks.back().detail};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    auto report = verify_machine(run);
    if (!report) return std::unexpected(report.error());
    for (const auto& check : report->checks)
      run.note(std::string(check.ok ? "ok " : "FAIL ") + check.name + ": " + check.detail);
    // Waiting does not make torch import or the driver load.
    if (auto failed = first_failure(*report)) return util::fail("ready: " + failed->name + ": " + failed->detail);
    // Jupyter's service may have started a moment ago (the System's clock: tests move it).
    const auto deadline = run.system().now() + k_jupyter_wait;
    std::string said;
    while (true) {
      const auto jupyter = probe_jupyter(run);
      if (jupyter.serves) return plan::ApplyResult{};
      if (jupyter.problem != said) run.note(jupyter.problem);
      said = jupyter.problem;
      if (run.interrupted()) return util::fail("interrupted while waiting for Jupyter");
      if (run.system().now() >= deadline) {
        return util::fail("ready: " + jupyter.problem + " (waited " + std::to_string(k_jupyter_wait.count()) +
                          " s; see journalctl -u " + k_jupyter_unit + ")");
      }
      run.system().sleep(k_jupyter_poll);
    }
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_ready_step() { return std::make_unique<ReadyStep>(); }

}  // namespace cs231n::steps
