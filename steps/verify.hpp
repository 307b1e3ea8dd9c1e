#pragma once

#include <string>
#include <vector>

#include "agent/plan/step.hpp"

namespace cs231n::steps {

// What `verify` (the command and the last step) finds: the env imports torch (and torchvision,
// with pytorch.torchvision); with a GPU, nvidia-smi lists it, the driver is new enough for the CUDA
// in use, and torch sees CUDA.
struct VerifyCheck {
  std::string name;  // "torch", "torchvision", "nvidia-smi", "driver", "torch.cuda"
  bool ok = false;
  std::string detail;
};

struct VerifyReport {
  std::vector<VerifyCheck> checks;
  bool ok() const;
  nlohmann::json to_json() const;
  std::string to_table() const;
};

util::Result<VerifyReport> verify_machine(const plan::StepRun& run);

}  // namespace cs231n::steps
