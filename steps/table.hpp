#pragma once

#include "agent/config/config.hpp"
#include "agent/plan/step.hpp"

namespace cs231n::steps {

// Every built-in step in table order, then the custom steps of config "steps".
// `files` reads what the config points at (an environment.yml's channels, for Anaconda's terms).
plan::StepList all_steps(const config::Config& config, const os::Files* files = nullptr);

// One factory per step file.
std::unique_ptr<plan::Step> make_user_step();
std::unique_ptr<plan::Step> make_apt_packages_step();
std::unique_ptr<plan::Step> make_anaconda_step();
std::unique_ptr<plan::Step> make_conda_env_step();
std::unique_ptr<plan::Step> make_torch_wheels_step();
std::unique_ptr<plan::Step> make_assignments_step();
std::unique_ptr<plan::Step> make_datasets_step();
std::unique_ptr<plan::Step> make_jupyter_password_step();
std::unique_ptr<plan::Step> make_jupyter_cert_step();
std::unique_ptr<plan::Step> make_jupyter_config_step();
std::unique_ptr<plan::Step> make_jupyter_service_step();
std::unique_ptr<plan::Step> make_nvidia_repo_step();
std::unique_ptr<plan::Step> make_nvidia_driver_step();
std::unique_ptr<plan::Step> make_cuda_step();
std::unique_ptr<plan::Step> make_pytorch_step();
std::unique_ptr<plan::Step> make_gpu_persistence_step();
std::unique_ptr<plan::Step> make_ready_step();
std::unique_ptr<plan::Step> make_idle_shutdown_step();
std::unique_ptr<plan::Step> make_verify_step();
std::unique_ptr<plan::Step> make_custom_step(const nlohmann::json& definition);

// How each dataset download is verified, for `plan`: `checksum` ("sha256:..." or "md5:...") and
// where it comes from ("config", or "pins" for a sha256 taken at the first download); an empty
// checksum means not pinned yet (pinned when it is first downloaded). Empty when datasets are off.
struct DatasetPin {
  std::string name;
  std::string url;
  std::string checksum;
  std::string source;
};
std::vector<DatasetPin> dataset_pins(const plan::Context& context);

}  // namespace cs231n::steps
