#include <algorithm>

#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

// "numpy>=1.20" -> "numpy"
std::string package_name(const std::string& spec) { return spec.substr(0, spec.find_first_of("=<>!")); }

class CondaEnvStep : public plan::Step {
 public:
  CondaEnvStep() : Step({.name = "conda-env", .after = {"anaconda"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    std::string summary = "create conda env " + config.string("conda_env.name") + " from ";
    const std::string file = config.string("conda_env.environment_file");
    if (!file.empty()) return plan::will_run(summary + file);
    return plan::will_run(summary + "python=" + config.string("conda_env.python") + " " +
                          util::join(config.strings("conda_env.packages"), " "));
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"conda_env", context.config.at("conda_env")},
            {"prefix", context.config.string("anaconda.prefix")},
            {"user", context.facts.user.name}};
  }

  // Done when conda lists the env and its conda-meta records the wanted Python and packages.
  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& config = run.config();
    const std::string env = config.string("conda_env.name");
    const std::string prefix = expand_home(run.context(), config.string("anaconda.prefix"));
    const std::string env_dir = steps::env_dir(run.context());
    const auto& files = run.system().files();
    if (!files.exists(env_dir + "/conda-meta/history")) return plan::CheckResult{false, ""};
    const auto records = files.list(env_dir + "/conda-meta").value_or(std::vector<std::string>{});
    const auto has = [&](const std::string& package, const std::string& version_prefix) {
      return std::ranges::any_of(records, [&](const std::string& record) {
        return record.starts_with(package + "-" + version_prefix) && record.ends_with(".json");
      });
    };
    if (config.string("conda_env.environment_file").empty()) {
      if (!has("python", config.string("conda_env.python") + ".")) return plan::CheckResult{false, ""};
      for (const auto& spec : config.strings("conda_env.packages")) {
        if (!has(package_name(spec), "")) return plan::CheckResult{false, ""};
      }
    }
    auto listed = run.probe(with_capture(as_user(run, {prefix + "/bin/conda", "env", "list", "--json"})));
    if (!listed) return std::unexpected(listed.error());
    if (!listed->ok()) return plan::CheckResult{false, ""};
    try {
      const auto envs = nlohmann::json::parse(listed->stdout_text).at("envs");
      if (std::ranges::find(envs, nlohmann::json(env_dir)) == envs.end()) return plan::CheckResult{false, ""};
    } catch (const nlohmann::json::exception&) {
      return util::fail("conda env list --json printed something that is not JSON");
    }
    return plan::CheckResult{true, "env " + env + " in " + prefix + " has what the config asks for"};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto& config = run.config();
    const std::string prefix = expand_home(run.context(), config.string("anaconda.prefix"));
    const std::string conda = prefix + "/bin/conda";
    const std::string env = config.string("conda_env.name");
    const std::string file = config.string("conda_env.environment_file");
    std::vector<std::string> argv;
    if (!file.empty()) {
      // Replacing an env left half-made: --force until conda 24.3 removed it for --yes.
      const auto version = conda_version(run, prefix);
      const bool new_flag = version && util::compare_versions(*version, "24.3") >= 0;
      argv = {conda, "env", "create", new_flag ? "--yes" : "--force", "-n", env, "-f", file};
    } else {
      // Only the env's own packages: the assignments' requirements.txt is for virtualenv, and
      // pip-installing it into a conda env breaks the env (the tutorial's warning).
      argv = {conda, "create", "-y", "-n", env, "python=" + config.string("conda_env.python")};
      for (const auto& spec : config.strings("conda_env.packages")) argv.push_back(spec);
      if (auto solver = solver_option(run, prefix)) argv.push_back(*solver);
    }
    auto created = run.run(as_user(run, argv));
    if (!created) return std::unexpected(created.error());
    return plan::ApplyResult{};
  }

 private:
  static os::Command with_capture(os::Command command) {
    command.capture_stdout = true;
    return command;
  }

  // "24.3.0" from `conda --version`.
  static std::optional<std::string> conda_version(const plan::StepRun& run, const std::string& prefix) {
    auto version = run.probe(with_capture(as_user(run, {prefix + "/bin/conda", "--version"})));
    if (!version || !version->ok()) return std::nullopt;
    const auto words = util::split_whitespace(version->stdout_text);
    if (words.size() < 2) return std::nullopt;
    return std::string(util::trim(words[1]));
  }

  // conda 22.11 to 23.9 can use the much faster libmamba solver when it is installed; from 23.10
  // it is the default.
  static std::optional<std::string> solver_option(const plan::StepRun& run, const std::string& prefix) {
    const auto number = conda_version(run, prefix);
    if (!number || util::compare_versions(*number, "22.11") < 0 || util::compare_versions(*number, "23.10") >= 0)
      return std::nullopt;
    const auto& files = run.system().files();
    for (const auto& entry : files.list(prefix + "/lib").value_or(std::vector<std::string>{})) {
      if (entry.starts_with("python3") &&
          files.exists(prefix + "/lib/" + entry + "/site-packages/conda_libmamba_solver")) {
        return "--solver=libmamba";
      }
    }
    return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_conda_env_step() { return std::make_unique<CondaEnvStep>(); }

}  // namespace cs231n::steps
