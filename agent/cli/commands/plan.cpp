#include "agent/cli/commands/plan.hpp"

#include <algorithm>
#include <iostream>

#include "agent/cli/commands/commands.hpp"
#include "agent/cli/target.hpp"
#include "agent/core/error.hpp"
#include "agent/engine/state.hpp"
#include "agent/plan/planner.hpp"
#include "agent/util/redact.hpp"
#include "agent/util/text_table.hpp"
#include "steps/gpu_common.hpp"
#include "steps/table.hpp"

namespace cs231n::cli {

int print_plan(const PlanOptions& options, const std::vector<std::string>& only, const std::vector<std::string>& skip) {
  const auto system = open_system(options.root, options.paths);
  const auto layers = config_layers(*system, options.config_file);
  const auto facts = gather(*system, layers);
  const auto config = config::Config::resolve(layers, facts.os);
  const auto steps = steps_for(config, options.config_file, system->files());
  plan::RecordedResults recorded;
  if (const auto state = engine::StateStore(system->files(), options.paths.state_dir).peek()) {
    for (const auto& [name, record] : state->steps) {
      if (record.status == engine::StepStatus::done) recorded[name] = {record.fingerprint, record.finished};
    }
  }
  auto plan = plan::make_plan(steps, plan::Context{*system, facts, config, options.paths}, recorded);
  std::erase_if(plan.steps, [&](const plan::PlannedStep& step) {
    const bool chosen = only.empty() || std::ranges::find(only, step.name) != only.end();
    return !chosen || std::ranges::find(skip, step.name) != skip.end();
  });
  const plan::Context context{*system, facts, config, options.paths};
  const auto pins = steps::dataset_pins(context);
  const auto gpu_plan = steps::plan_gpu(context);
  if (options.json) {
    auto document = plan::to_json(plan);
    document["datasets"] = nlohmann::json::array();
    for (const auto& pin : pins) {
      document["datasets"].push_back(
          {{"name", pin.name},
           {"url", util::redact_credentials(pin.url)},
           {"pinned", !pin.checksum.empty()},
           {"checksum", pin.checksum.empty() ? nlohmann::json() : nlohmann::json(pin.checksum)},
           {"source", pin.source.empty() ? nlohmann::json() : nlohmann::json(pin.source)}});
    }
    document["gpu_index_reads"] = nlohmann::json::array();
    for (const auto& line : gpu_plan.index_reads) document["gpu_index_reads"].push_back(util::redact_credentials(line));
    document["config"] = config.json();
    document["config_sources"] = config.sources();
    std::cout << document.dump(2) << "\n";
  } else {
    std::cout << plan::to_table(plan);
    std::string settings;
    for (const auto& [path, source] : config.sources()) {
      if (!source.starts_with("default"))
        settings += "  " + path + " = " + config.at(path).dump() + "  (" + source + ")\n";
    }
    if (!settings.empty()) std::cout << "\nSettings that differ from the defaults:\n" << settings;
    // What is fetched and then unpickled by numpy: say which downloads are held to a checksum.
    util::TextTable datasets({}, "  ");
    for (const auto& pin : pins) {
      std::string how = "not pinned yet: its sha256 is pinned at the first download";
      if (pin.source == "config") how = pin.checksum.substr(0, pin.checksum.find(':')) + " from the config";
      if (pin.source == "pins") how = "sha256 pinned at its first download (" + options.paths.dataset_pins_file() + ")";
      datasets.add_row({pin.name, how});
    }
    if (!datasets.empty()) std::cout << "\nDataset checksums:\n" << datasets.render();
    if (!gpu_plan.index_reads.empty()) {
      std::cout << "\nIndexes the GPU choice read:\n";
      for (const auto& line : gpu_plan.index_reads) std::cout << "  " << util::redact_credentials(line) << "\n";
    }
  }
  return plan.has_refusal() ? static_cast<int>(ExitCode::refused) : 0;
}

CommandRunner add_plan_command(CLI::App& command, const LogOptions&) {
  auto options = std::make_shared<PlanOptions>();
  add_root_option(command, options->root);
  add_config_option(command, options->config_file);
  add_agent_dir_options(command, options->paths);
  add_json_flag(command, options->json);
  return [options] { return print_plan(*options); };
}

}  // namespace cs231n::cli
