#include "agent/net/http.hpp"
#include "agent/util/hash.hpp"
#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/gpu_common.hpp"
#include "steps/pip.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

std::string base_python(const plan::Context& context) {
  return expand_home(context, context.config.string("anaconda.prefix")) + "/bin/python";
}

std::string explicit_list(const plan::Context& context) { return context.config.string("conda_env.explicit_file"); }

// The env's Python as conda will make it: the @EXPLICIT list's python package when a list is
// given (read here, a few kB, held to conda_env.explicit_sha256 or the list's pin when there is
// one: conda-env downloads it again, and that is the copy conda installs), else conda_env.python.
std::expected<std::string, std::string> env_python_version(const plan::StepRun& run) {
  const auto url = explicit_list(run.context());
  if (url.empty()) return run.config().string("conda_env.python");
  net::SimpleRequest request;
  request.url = url;
  request.timeout = std::chrono::seconds(60);
  request.connect_timeout = std::chrono::seconds(10);
  const auto answer = net::http_request(run.http(), request);
  if (!answer) return std::unexpected(url + ": " + answer.error().message);
  if (answer->status != 200) return std::unexpected(url + " answered HTTP " + std::to_string(answer->status));
  const auto expected = held_sha256(run, url, run.config().string("conda_env.explicit_sha256"));
  if (!expected.empty() && util::sha256_hex(answer->body) != expected)
    return std::unexpected(url + ": sha256 mismatch (the conda-env step says more)");
  auto python = python_of_explicit_list(answer->body);
  if (!python) return std::unexpected(url + " names no python package");
  return *python;
}

// torch's wheels (4 GB with CUDA's) are most of a run's bytes and the last thing before `ready`.
// Fetched only once the env exists, they would wait for conda's solve, downloads and linking; base's
// pip can name them as soon as conda is installed, so they come down beside the env's packages.
// Best effort: the pytorch step resolves again with the env's own pip and fetches what is missing.
class TorchWheelsStep : public plan::Step {
 public:
  TorchWheelsStep() : Step({.name = "torch-wheels", .after = {"anaconda"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    if (auto why = why_no_prefetch(context)) return plan::skipped(*why);
    const auto gpu_plan = plan_gpu(context);
    if (gpu_plan.refusal) return plan::skipped("the GPU path is refused (see nvidia-repo)");
    const auto install = torch_install_of(context, gpu_plan.choice);
    if (!install) return plan::skipped("no torch to install (see pytorch)");
    const auto list = explicit_list(context);
    const auto python = list.empty() ? "Python " + context.config.string("conda_env.python")
                                     : "the Python of the @EXPLICIT list " + list;
    return plan::will_run("base's pip resolves " + util::join(install->requirements, " ") + " for " + python +
                          "; the agent downloads the wheels into " + context.paths.wheels_dir() +
                          " while the env is made");
  }

  std::vector<plan::ExpectedDownload> expected_downloads(const plan::Context& context) const override {
    return {expected_torch_wheels(plan_gpu(context), wants_torchvision(context))};
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    const auto install = torch_install_of(context, plan_gpu(context).choice);
    if (!install) return {{"refused", install.error()}};
    nlohmann::json inputs{{"requirements", install->requirements},
                          {"index", install->index_args},
                          {"python", context.config.string("conda_env.python")},
                          {"base", base_python(context)}};
    if (const auto list = explicit_list(context); !list.empty()) inputs["explicit_file"] = list;
    return inputs;
  }

  // Nothing to fetch ahead once the env exists: the pytorch step resolves with the env's own pip
  // then. Before, there is no state to tell a finished prefetch by (pytorch verifies the wheels),
  // so the step is not checkable and runs.
  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    if (run.system().files().user_path_exists(env_dir(run.context()) + "/conda-meta/history"))
      return plan::CheckResult{true, "the env exists: the pytorch step fetches with its own pip"};
    return plan::CheckResult{false, "", false};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto install = torch_install_of(run.context(), plan_gpu(run.context()).choice);
    if (!install) return util::fail(install.error());
    const auto python = env_python_version(run);
    const auto unfetched =
        python ? prefetch_wheels(run, base_python(run.context()), *python, install->requirements, install->index_args)
               : std::optional<std::string>(python.error());
    if (run.interrupted()) return util::fail("interrupted");
    if (unfetched) run.note("torch's wheels wait for the pytorch step: " + *unfetched);
    return plan::ApplyResult{};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_torch_wheels_step() { return std::make_unique<TorchWheelsStep>(); }

}  // namespace cs231n::steps
