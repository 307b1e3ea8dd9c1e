#include "agent/cli/target.hpp"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include "agent/core/error.hpp"
#include "steps/table.hpp"

namespace cs231n::cli {

namespace {

void check_root(const std::string& root) {
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error(ExitCode::usage, "--root " + root + " is not a folder: give the root of the system to inspect");
  }
}

std::unique_ptr<os::RealSystem> make_system(const std::string& root) {
  spdlog::debug("reading the target system under {}", root);
  return std::make_unique<os::RealSystem>(root);
}

}  // namespace

std::unique_ptr<os::RealSystem> open_system(const std::string& root) {
  check_root(root);
  return make_system(root);
}

std::unique_ptr<os::RealSystem> open_system(const std::string& root, const std::string& state_dir) {
  check_root(root);
  check_agent_dir("--state-dir", state_dir);
  return make_system(root);
}

std::unique_ptr<os::RealSystem> open_system(const std::string& root, const Paths& paths) {
  check_root(root);
  check_agent_dir("--state-dir", paths.state_dir);
  check_agent_dir("--cache-dir", paths.cache_dir);
  return make_system(root);
}

net::MetadataClient metadata_client(const os::System& system) {
  return net::MetadataClient(system, system.files().is_host_root() && detect::is_gce(system.files()));
}

std::vector<config::Layer> config_layers(const os::System& system, const std::string& config_file) {
  auto layers = net::metadata_layers(metadata_client(system));
  for (const auto& layer : layers) spdlog::debug("config from {}", layer.source);
  if (!config_file.empty()) {
    layers.emplace_back(config::load_file(config_file), "config file " + config_file);
    spdlog::debug("config file {} is valid", config_file);
  }
  return layers;
}

std::string configured_user(const std::vector<config::Layer>& layers) {
  std::string user;
  for (const auto& layer : layers) {
    if (layer.document.contains("user")) user = layer.document.at("user").get<std::string>();
  }
  return user;
}

detect::Facts gather(const os::System& system, const std::vector<config::Layer>& layers) {
  auto facts = detect::gather_facts(system, configured_user(layers));
  if (const auto client = metadata_client(system); client.enabled()) facts.instance = net::read_instance(client);
  return facts;
}

plan::StepList steps_for(const config::Config& config, const std::string& config_file, const os::Files& files) {
  try {
    return steps::all_steps(config, &files);
  } catch (const Error& error) {
    const std::string message = error.what();
    if (config_file.empty() || !message.starts_with("config: ")) throw;
    throw Error(error.code(), "config file " + config_file + ": " + message.substr(8));
  }
}

}  // namespace cs231n::cli
