#include <algorithm>
#include <iostream>
#include <iterator>

#include <spdlog/spdlog.h>

#include "agent/cli/commands/commands.hpp"
#include "agent/cli/fixed_clock_system.hpp"
#include "agent/cli/target.hpp"
#include "agent/core/error.hpp"
#include "agent/engine/state.hpp"
#include "agent/idle/check.hpp"
#include "agent/idle/settings.hpp"
#include "agent/net/guest_attributes.hpp"
#include "agent/util/time.hpp"

namespace cs231n::cli {

namespace {

struct IdleCheckOptions {
  std::string config_file;
  std::string state_dir = Paths::k_default_state_dir;
  bool json = false;
  bool dry_run = false;
  std::string now;  // for tests: the UTC time this check takes as now
};

// The timer's check has no --config: it takes the config of the recorded run, with the metadata
// as it is now (so `cs231n-idle-shutdown=false` set on a running VM is heeded), and --config.
std::vector<config::Layer> idle_check_layers(const os::System& system, const IdleCheckOptions& options) {
  const auto recorded = engine::StateStore(system.files(), options.state_dir).peek();
  const auto recorded_layers = recorded ? recorded->run.config_layers : std::vector<config::Layer>{};
  const auto from_metadata = [](const config::Layer& layer) { return layer.source.starts_with("metadata"); };
  std::vector<config::Layer> layers;
  try {
    layers = net::metadata_layers(metadata_client(system));
  } catch (const Error& error) {
    spdlog::warn("{}; using the metadata recorded by the last run", error.what());
    std::ranges::copy_if(recorded_layers, std::back_inserter(layers), from_metadata);
  }
  std::ranges::copy_if(recorded_layers, std::back_inserter(layers),
                       [&](const config::Layer& layer) { return !from_metadata(layer); });
  if (!options.config_file.empty())
    layers.emplace_back(config::load_file(options.config_file), "config file " + options.config_file);
  return layers;
}

int idle_check(const IdleCheckOptions& options) {
  check_agent_dir("--state-dir", options.state_dir);
  std::unique_ptr<os::RealSystem> system;
  if (options.now.empty()) {
    system = std::make_unique<os::RealSystem>("/");
  } else {
    const auto now = util::parse_iso8601(options.now);
    if (!now) throw Error(ExitCode::usage, "--now takes a UTC time like 2026-11-29T22:15:00Z, not " + options.now);
    system = std::make_unique<FixedClockSystem>("/", *now);
  }
  const auto layers = idle_check_layers(*system, options);
  const auto facts = detect::gather_facts(*system, configured_user(layers));
  const auto config = config::Config::resolve(layers, facts.os);
  const auto report = idle::run_check(
      *system, idle::settings_from(config, facts, Paths{.state_dir = options.state_dir}), options.dry_run);
  // For `class.sh status` on the laptop: how long each VM has been idle (0 while active).
  if (!options.dry_run && report.verdict && facts.gce) {
    const auto client = metadata_client(*system);
    if (client.enabled()) {
      net::GuestAttributes guest(client);
      const auto idle = std::chrono::duration_cast<std::chrono::minutes>(report.now - report.verdict->last_active);
      guest.publish("idle-minutes", std::to_string(std::max<long long>(idle.count(), 0)));
    }
  }
  std::cout << (options.json ? idle::to_json(report).dump(2) + "\n" : idle::to_text(report)) << std::flush;
  return 0;
}

}  // namespace

CommandRunner add_idle_check_command(CLI::App& command, const LogOptions&) {
  auto options = std::make_shared<IdleCheckOptions>();
  add_config_option(command, options->config_file);
  add_state_dir_option(command, options->state_dir);
  add_json_flag(command, options->json);
  command.add_flag("--dry-run", options->dry_run,
                   "Read every signal and say what would happen; record, warn and power off nothing");
  command.add_option("--now", options->now, "For tests: the UTC time this check takes as now")->group("");
  return [options] { return idle_check(*options); };
}

}  // namespace cs231n::cli
