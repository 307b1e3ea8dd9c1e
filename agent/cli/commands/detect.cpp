#include <iostream>

#include "agent/cli/commands/commands.hpp"
#include "agent/cli/target.hpp"

namespace cs231n::cli {

namespace {

struct DetectOptions {
  std::string root = "/";
  std::string config_file;
  bool json = false;
};

int detect(const DetectOptions& options) {
  const auto system = open_system(options.root);
  const auto layers = config_layers(*system, options.config_file);
  const auto facts = gather(*system, layers);
  std::cout << (options.json ? detect::to_json(facts).dump(2) + "\n" : detect::to_table(facts));
  return 0;
}

}  // namespace

CommandRunner add_detect_command(CLI::App& command, const LogOptions&) {
  auto options = std::make_shared<DetectOptions>();
  add_root_option(command, options->root);
  add_config_option(command, options->config_file);
  add_json_flag(command, options->json);
  return [options] { return detect(*options); };
}

}  // namespace cs231n::cli
