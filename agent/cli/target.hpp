#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/config/config.hpp"
#include "agent/detect/facts.hpp"
#include "agent/net/metadata.hpp"
#include "agent/os/real_system.hpp"
#include "agent/plan/step.hpp"

namespace cs231n::cli {

// The system under `root`; throws Error(usage) when `root` is not a folder, or (the other forms)
// when the agent's folders are not acceptable (check_agent_dir).
std::unique_ptr<os::RealSystem> open_system(const std::string& root);
std::unique_ptr<os::RealSystem> open_system(const std::string& root, const std::string& state_dir);
std::unique_ptr<os::RealSystem> open_system(const std::string& root, const Paths& paths);

// The instance metadata server: only for the real root of a GCE VM, or wherever $GCE_METADATA_HOST
// points (a fixture root never makes the agent ask the real one).
net::MetadataClient metadata_client(const os::System& system);

// Lowest precedence first: metadata, then `config_file` when not empty.
std::vector<config::Layer> config_layers(const os::System& system, const std::string& config_file);

// The `user` of the last layer that sets it, or "".
std::string configured_user(const std::vector<config::Layer>& layers);

// The facts, with what the metadata server says of this VM when there is one.
detect::Facts gather(const os::System& system, const std::vector<config::Layer>& layers);

// Every step for `config`; an error of the config's steps names `config_file` when there is one.
plan::StepList steps_for(const config::Config& config, const std::string& config_file, const os::Files& files);

}  // namespace cs231n::cli
