#include "agent/gpu/readme_table.hpp"

#include "agent/gpu/choose.hpp"

namespace cs231n::gpu {

namespace {

struct ReferenceMachine {
  std::string heading;
  Request request;
};

Request machine(std::string os_id, std::string version, std::string label, std::string kernel, std::string python,
                std::string apt) {
  Request request;
  request.gpu_path = true;
  request.os_id = std::move(os_id);
  request.os_version = std::move(version);
  request.os_label = std::move(label);
  request.kernel_release = std::move(kernel);
  request.python = std::move(python);
  request.apt_version = std::move(apt);
  return request;
}

std::vector<ReferenceMachine> reference_machines() {
  auto tutorial = machine("ubuntu", "18.04", "Ubuntu 18.04", "5.4.0-1103-gcp", "3.6", "1.6.17");
  tutorial.cuda = "10.0";
  tutorial.torch = "1.2.0";
  return {
      {"tutorial VM (`seed`: Ubuntu 18.04, Python 3.6, CUDA 10.0, torch 1.2.0)", tutorial},
      {"Ubuntu 24.04, GCP kernel (`current`, Python 3.12)",
       machine("ubuntu", "24.04", "Ubuntu 24.04", "6.8.0-1015-gcp", "3.12", "2.7.14")},
      {"Debian 13 (`current`, Python 3.12)",
       machine("debian", "13", "Debian 13", "6.12.57+deb13-cloud-amd64", "3.12", "3.0.3")},
  };
}

std::string driver_of(const Choice& choice) {
  const std::string branch = std::to_string(choice.driver_branch);
  const std::string flavour = choice.open_modules ? " (open)" : "";
  switch (choice.driver_source) {
    case DriverSource::ubuntu_signed: return "Ubuntu's signed " + branch + flavour;
    case DriverSource::nvidia_repo_latest: return "NVIDIA's " + branch + "+" + flavour + ", DKMS";
    case DriverSource::nvidia_repo: break;
  }
  return "driver " + branch + flavour + ", DKMS";
}

std::string cell(const Request& request) {
  const auto choice = choose(request);
  if (!choice) {
    std::string reason = choice.error().reason;
    for (auto& c : reason) {
      if (c == '|') c = '/';
    }
    return "refused: " + reason;
  }
  return "CUDA " + choice->cuda + ", " + driver_of(*choice) + ", torch " + choice->torch_version + "+" +
         choice->torch_variant;
}

}  // namespace

std::string gpu_table_markdown() {
  const auto machines = reference_machines();
  std::string text = "| GPU |";
  std::string rule = "| --- |";
  for (const auto& each : machines) {
    text += " " + each.heading + " |";
    rule += " --- |";
  }
  text += "\n" + rule + "\n";
  for (const auto& model : gpu_models()) {
    text += "| " + std::string(model.name) + " (`10de:" + std::string(model.device_id) + "`, " +
            std::string(model.architecture) + ", sm_" + std::to_string(model.compute_capability) +
            (model.retired_on_gce ? "; retired from GCE: refused there" : "") + ") |";
    for (const auto& each : machines) {
      auto request = each.request;
      request.gpu_ids = {std::string(model.device_id)};
      text += " " + cell(request) + " |";
    }
    text += "\n";
  }
  return text;
}

}  // namespace cs231n::gpu
