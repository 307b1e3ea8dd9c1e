#include "steps/table.hpp"

#include <set>

#include "agent/core/error.hpp"
#include "agent/util/strings.hpp"
#include "steps/conda_terms.hpp"

namespace cs231n::steps {

namespace {

// Custom steps and timeouts name steps; check them against the table here, where the table is
// known, so a typo is a config error naming the key instead of a failure later.
void check_step_names(const plan::StepList& steps, std::size_t built_in_count, const config::Config& config) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto name = steps[i]->info().name;
    if (std::ranges::find(names, name) != names.end()) {
      throw Error(ExitCode::usage, "config: steps[" + std::to_string(i - built_in_count) + "].name: \"" + name +
                                       "\" is already a step; give the custom step another name");
    }
    names.push_back(name);
  }
  const auto unknown = [&](const std::string& key, const std::string& name) {
    std::string message = "config: " + key + ": \"" + name + "\" is not a step";
    if (auto guess = util::closest_match(name, names)) message += "; did you mean \"" + *guess + "\"?";
    throw Error(ExitCode::usage, message + " (`cs231n-agent plan` lists the steps)");
  };
  for (std::size_t i = built_in_count; i < steps.size(); ++i) {
    for (const auto& predecessor : steps[i]->info().after) {
      if (std::ranges::find(names, predecessor) == names.end()) {
        unknown("steps[" + std::to_string(i - built_in_count) + "].after", predecessor);
      }
    }
  }
  for (const auto& [name, seconds] : config.at("timeouts").items()) {
    if (name != "default" && std::ranges::find(names, name) == names.end()) unknown("timeouts." + name, name);
  }
}

}  // namespace

plan::StepList all_steps(const config::Config& config, const os::Files* files) {
  plan::StepList steps;
  steps.push_back(make_user_step());
  steps.push_back(make_apt_packages_step());
  steps.push_back(make_anaconda_step());
  steps.push_back(make_conda_env_step());
  steps.push_back(make_torch_wheels_step());
  steps.push_back(make_assignments_step());
  steps.push_back(make_datasets_step());
  steps.push_back(make_jupyter_password_step());
  steps.push_back(make_jupyter_cert_step());
  steps.push_back(make_jupyter_config_step());
  steps.push_back(make_jupyter_service_step());
  steps.push_back(make_nvidia_repo_step());
  steps.push_back(make_nvidia_driver_step());
  steps.push_back(make_cuda_step());
  steps.push_back(make_pytorch_step());
  steps.push_back(make_gpu_persistence_step());
  steps.push_back(make_ready_step());
  steps.push_back(make_idle_shutdown_step());
  steps.push_back(make_verify_step());
  const std::size_t built_in_count = steps.size();
  for (const auto& definition : config.at("steps")) steps.push_back(make_custom_step(definition));
  check_step_names(steps, built_in_count, config);
  // Before anything is installed, in `plan` too: whose terms these are is not the agent's call.
  if (auto refusal = terms_refusal(config, files)) throw Error(ExitCode::usage, *refusal);
  if (!config.string("conda_env.explicit_file").empty() && !config.string("conda_env.environment_file").empty()) {
    throw Error(ExitCode::usage,
                "config: conda_env.explicit_file: an env comes from one list; set it or conda_env.environment_file, "
                "not both");
  }
  if (config.string("assignments.repo").empty() && config.at("assignments.archives").empty()) {
    throw Error(ExitCode::usage,
                "config: assignments.repo: empty, and assignments.archives names nothing either: set a git "
                "repository, or the .zip archives to unpack");
  }
  if (!config.string("conda_env.explicit_sha256").empty() &&
      !config.string("conda_env.explicit_file").starts_with("https://") &&
      !config.string("conda_env.explicit_file").starts_with("http://")) {
    throw Error(ExitCode::usage,
                "config: conda_env.explicit_sha256: checks the download of an explicit_file URL; set "
                "conda_env.explicit_file to one, or leave explicit_sha256 empty");
  }
  return steps;
}

}  // namespace cs231n::steps
