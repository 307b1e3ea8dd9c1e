// `reset` and `logs`: what the state dir records of named steps.
#include <cerrno>
#include <iostream>
#include <regex>

#include "agent/cli/commands/commands.hpp"
#include "agent/cli/target.hpp"
#include "agent/core/error.hpp"
#include "agent/engine/lock.hpp"
#include "agent/engine/state.hpp"
#include "agent/util/hash.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::cli {

namespace {

struct ResetOptions {
  std::string state_dir = Paths::k_default_state_dir;
  std::vector<std::string> steps;
  bool all = false;
};

struct LogsOptions {
  std::string state_dir = Paths::k_default_state_dir;
  // A list of one, so that CLI11 itself refuses a second step ("At Most 1 required but received 2").
  std::vector<std::string> step;
};

void check_step_name(const std::string& name) {
  static const std::regex pattern("[a-z0-9][a-z0-9-]{0,62}");
  if (!std::regex_match(name, pattern))
    throw Error(ExitCode::usage, "\"" + name + "\" is not a step name (`cs231n-agent plan` lists them)");
}

int reset(const ResetOptions& options) {
  if (options.all == !options.steps.empty()) {
    throw Error(ExitCode::usage, "reset takes step names or --all (not both, not neither)");
  }
  const auto system = open_system("/", options.state_dir);
  for (const auto& name : options.steps) check_step_name(name);
  const engine::StateStore store(system->files(), options.state_dir);
  auto lock = engine::RunLock::try_acquire(system->files(), options.state_dir);
  if (!lock || !*lock) {
    if (!lock && lock.error().error_number == ENOENT) {
      std::cout << "nothing recorded in " << options.state_dir << "\n";
      return 0;
    }
    throw Error(ExitCode::busy, "a cs231n-agent run is active; reset after it ends (`cs231n-agent status --wait`)");
  }
  auto state = store.load(util::random_hex(4));
  if (options.all) {
    if (auto removed = system->files().remove(store.state_path()); !removed) {
      throw Error(ExitCode::step_failed, "cannot remove " + store.state_path() + ": " + removed.error().message);
    }
    std::cout << "forgot every recorded result; the next run checks every step again\n";
    return 0;
  }
  for (const auto& name : options.steps) {
    if (state.steps.erase(name) == 0)
      throw Error(ExitCode::usage, "step " + name + " has no recorded result; nothing was reset");
  }
  if (state.run.state == RunState::done) state.run.state = RunState::interrupted;
  store.save(state);
  std::cout << "forgot " << util::join(options.steps, ", ") << "; the next run checks them again\n";
  return 0;
}

int logs(const LogsOptions& options) {
  const auto system = open_system("/", options.state_dir);
  const std::string& step = options.step.front();
  check_step_name(step);
  const engine::StateStore store(system->files(), options.state_dir);
  auto text = system->files().read(store.log_path(step), 1u << 30);
  if (!text) throw Error(ExitCode::usage, "no log for step " + step + " in " + options.state_dir + "/logs");
  std::cout << *text;
  return 0;
}

}  // namespace

CommandRunner add_reset_command(CLI::App& command, const LogOptions&) {
  auto options = std::make_shared<ResetOptions>();
  add_state_dir_option(command, options->state_dir);
  command.add_option("steps", options->steps, "Steps whose results to forget");
  command.add_flag("--all", options->all, "Forget every recorded result");
  return [options] { return reset(*options); };
}

CommandRunner add_logs_command(CLI::App& command, const LogOptions&) {
  auto options = std::make_shared<LogsOptions>();
  add_state_dir_option(command, options->state_dir);
  command.add_option("step", options->step, "The step")->required()->expected(1);
  return [options] { return logs(*options); };
}

}  // namespace cs231n::cli
