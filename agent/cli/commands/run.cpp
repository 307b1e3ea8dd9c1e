#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <tuple>

#include "agent/cli/commands/commands.hpp"
#include "agent/cli/commands/plan.hpp"
#include "agent/cli/interrupt.hpp"
#include "agent/cli/progress.hpp"
#include "agent/cli/target.hpp"
#include "agent/core/error.hpp"
#include "agent/detect/os_release.hpp"
#include "agent/engine/session.hpp"
#include "agent/engine/summary.hpp"
#include "agent/net/guest_attributes.hpp"
#include "agent/util/strings.hpp"
#include "steps/jupyter_common.hpp"

namespace cs231n::cli {

namespace {

// --no-reboot --reboot-command --boot-id-file, of run and resume.
struct RebootOptions {
  bool no_reboot = false;
  std::string reboot_command;
  std::string boot_id_file;
};

struct RunOptions {
  std::string config_file;
  Paths paths;
  std::vector<std::string> only;
  std::vector<std::string> skip;
  bool dry_run = false;
  unsigned workers = 4;
  bool yes = false;
  bool force = false;
  RebootOptions reboot;
  bool wait = false;
};

void add_reboot_options(CLI::App& command, RebootOptions& reboot) {
  command.add_flag("--no-reboot", reboot.no_reboot, "Stop with exit code 3 instead of rebooting");
  command.add_option("--reboot-command", reboot.reboot_command, "Command that reboots (default: systemctl reboot)");
  command.add_option("--boot-id-file", reboot.boot_id_file,
                     "Where the boot id is read (default: /proc/sys/kernel/random/boot_id)");
}

bool ask_on_terminal(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

// Where the Jupyter password is, when the agent generated it (the jupyter-password step).
std::string password_note(const os::System& system) {
  if (!system.files().exists(steps::k_generated_password_file)) return "";
  return std::string("Its password: sudo cat ") + steps::k_generated_password_file + "\n";
}

void publish_outcome(net::GuestAttributes& guest, const engine::SessionResult& result) {
  const auto& outcome = result.outcome;
  if (outcome.state == RunState::done && !result.jupyter_url.empty()) guest.publish("jupyter-url", result.jupyter_url);
  guest.publish("error",
                outcome.state == RunState::failed || outcome.state == RunState::refused ? outcome.message : "");
  guest.publish_state(outcome.state);
}

// A run refused before the engine starts (a bad config from metadata, Anaconda's terms) tells the
// laptop waiting on the VM too, once: else the guest attributes say nothing, or the last run's state.
void publish_refusal(const net::MetadataClient& client, const Error& error) {
  if (error.code() != ExitCode::usage && error.code() != ExitCode::refused) return;
  net::GuestAttributes guest(client);
  const std::string message = error.what();
  guest.publish("error", message.substr(0, message.find('\n')));
  guest.publish_state(RunState::refused);
}

// `resume` takes the recorded config and selection: only the state dir, reboot and wait options
// count then.
int run_or_resume(const RunOptions& options, bool resume) {
  const auto system = open_system("/", options.paths);
  install_signal_handlers();
  engine::RunRequest request;
  request.paths = options.paths;
  request.jupyter_url = steps::external_jupyter_url;
  request.resume = resume;
  const auto client = metadata_client(*system);
  if (!resume) {
    try {
      request.config_layers = config_layers(*system, options.config_file);
      // What the step table refuses in a config (anaconda.accept_tos) is refused here, before the
      // state folder or anything else is made.
      std::ignore = steps_for(config::Config::resolve(request.config_layers, detect::read_os_info(system->files())),
                              options.config_file, system->files());
    } catch (const Error& error) {
      publish_refusal(client, error);
      throw;
    }
  }
  if (client.enabled()) request.instance = net::read_instance(client);
  request.options.only = options.only;
  request.options.skip = options.skip;
  request.options.workers = std::max(1u, options.workers);
  request.options.no_reboot = options.reboot.no_reboot;
  request.options.reboot_command = util::split_whitespace(options.reboot.reboot_command);
  request.options.boot_id_file = options.reboot.boot_id_file;
  request.options.interrupt = interrupt_flag();
  request.wait_for_lock = options.wait;
  request.yes = options.yes;
  request.force = options.force;
  if (::isatty(STDIN_FILENO) == 1) request.confirm = ask_on_terminal;
  ConsoleProgress console([&system] { return password_note(*system); });
  net::GuestAttributes guest(client);
  PublishingProgress progress(console, guest);
  const auto make_steps = [&](const config::Config& config) {
    return steps_for(config, options.config_file, system->files());
  };
  const auto result = engine::run_session(*system, make_steps, request, progress);
  if (!result.ran) return 0;
  const auto& outcome = result.outcome;
  publish_outcome(guest, result);
  if (!outcome.steps.empty()) std::cout << engine::summary_table(outcome);
  if (outcome.state == RunState::done && !result.jupyter_url.empty()) {
    std::cout << "\nJupyter: " << result.jupyter_url << "\n" << password_note(*system);
  }
  std::cout << "\n" << to_string(outcome.state) << ": " << outcome.message << "\n";
  return static_cast<int>(outcome.code);
}

}  // namespace

CommandRunner add_run_command(CLI::App& command, const LogOptions&) {
  auto options = std::make_shared<RunOptions>();
  add_config_option(command, options->config_file);
  add_agent_dir_options(command, options->paths);
  command.add_option("--only", options->only, "Run just these steps (comma-separated)")->delimiter(',');
  command.add_option("--skip", options->skip, "Leave these steps out (comma-separated)")->delimiter(',');
  command.add_flag("--dry-run", options->dry_run, "Print what would run and change nothing");
  command.add_option("--workers", options->workers, "Steps run at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  command.add_flag("--yes", options->yes, "Agree in advance to change a machine that is not a GCE VM");
  command.add_flag("--force", options->force, "Replace a newer installed agent with this one");
  add_reboot_options(command, options->reboot);
  add_wait_flag(command, options->wait);
  return [options] {
    if (options->dry_run) {
      return print_plan({.config_file = options->config_file, .paths = options->paths}, options->only, options->skip);
    }
    return run_or_resume(*options, false);
  };
}

CommandRunner add_resume_command(CLI::App& command, const LogOptions&) {
  auto options = std::make_shared<RunOptions>();
  add_agent_dir_options(command, options->paths);
  add_reboot_options(command, options->reboot);
  add_wait_flag(command, options->wait);
  return [options] { return run_or_resume(*options, true); };
}

}  // namespace cs231n::cli
