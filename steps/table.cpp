#include "steps/table.hpp"

namespace cs231n::steps {

plan::StepList all_steps(const config::Config& config) {
  plan::StepList steps;
  steps.push_back(make_user_step());
  steps.push_back(make_apt_packages_step());
  steps.push_back(make_anaconda_step());
  steps.push_back(make_conda_env_step());
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
  steps.push_back(make_idle_shutdown_step());
  steps.push_back(make_verify_step());
  for (const auto& definition : config.at("steps")) steps.push_back(make_custom_step(definition));
  return steps;
}

}  // namespace cs231n::steps
