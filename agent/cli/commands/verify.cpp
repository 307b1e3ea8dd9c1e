#include <iostream>

#include "agent/cli/commands/commands.hpp"
#include "agent/cli/interrupt.hpp"
#include "agent/cli/target.hpp"
#include "agent/core/error.hpp"
#include "agent/engine/state.hpp"
#include "steps/verify.hpp"

namespace cs231n::cli {

namespace {

struct VerifyOptions {
  std::string config_file;
  Paths paths;
  bool json = false;
};

// Checks the finished machine with the config of the recorded run (or --config / metadata).
int verify(const VerifyOptions& options) {
  const auto system = open_system("/", options.paths);
  auto layers = config_layers(*system, options.config_file);
  if (options.config_file.empty()) {
    if (const auto state = engine::StateStore(system->files(), options.paths.state_dir).peek();
        state && !state->run.config_layers.empty()) {
      layers = state->run.config_layers;
    }
  }
  const auto facts = gather(*system, layers);
  const auto config = config::Config::resolve(layers, facts.os);
  const plan::Context context{*system, facts, config, options.paths};
  const auto run = plan::StepRun::unlogged(context, "verify", std::chrono::minutes(10), interrupt_flag());
  auto report = steps::verify_machine(run);
  if (!report) throw Error(ExitCode::step_failed, "verify: " + report.error().message);
  std::cout << (options.json ? report->to_json().dump(2) + "\n" : report->to_table());
  return report->ok() ? 0 : static_cast<int>(ExitCode::step_failed);
}

}  // namespace

CommandRunner add_verify_command(CLI::App& command, const LogOptions&) {
  auto options = std::make_shared<VerifyOptions>();
  add_config_option(command, options->config_file);
  add_agent_dir_options(command, options->paths);
  add_json_flag(command, options->json);
  return [options] { return verify(*options); };
}

}  // namespace cs231n::cli
