#include "agent/cli/cli.hpp"

#include <algorithm>
#include <iostream>

#include <CLI/CLI.hpp>

#include "agent/cli/commands/commands.hpp"
#include "agent/cli/common_options.hpp"
#include "agent/cli/logging.hpp"
#include "agent/core/error.hpp"
#include "agent/os/process.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::cli {

namespace {

struct CommandSpec {
  const char* name;
  const char* description;
  DefaultLog log;
  CommandRunner (*add)(CLI::App& command, const LogOptions& log);
};

// The one table of commands.
const CommandSpec k_commands[] = {
    {"run", "Set this machine up: run every step that is not done yet, resuming an unfinished run",
     DefaultLog::agent_log, add_run_command},
    {"resume", "Continue the recorded run with its recorded config and step selection (run at every boot)",
     DefaultLog::agent_log, add_resume_command},
    {"status", "Show the run's state and each step's result (reads only)", DefaultLog::stderr_only, add_status_command},
    {"detect", "Report what this machine is: OS, GPUs, Secure Boot, memory, disk, target user (reads only)",
     DefaultLog::stderr_only, add_detect_command},
    {"plan", "List every step with what it would do here: run, done, skip or refuse, and why (reads only)",
     DefaultLog::stderr_only, add_plan_command},
    {"verify",
     "Check the result: the env imports torch; with a GPU, nvidia-smi, the driver version and "
     "torch.cuda.is_available()",
     DefaultLog::stderr_only, add_verify_command},
    {"reset", "Forget recorded results so those steps run again", DefaultLog::stderr_only, add_reset_command},
    {"logs", "Print a step's log", DefaultLog::stderr_only, add_logs_command},
    {"fetch", "Download a file: resumable, verified, over several connections", DefaultLog::stderr_only,
     add_fetch_command},
    {"passwd", "Print a Jupyter password hash (sha1: or argon2:) for a password read from the terminal or stdin",
     DefaultLog::stderr_only, add_passwd_command},
    {"cert", "Make a self-signed TLS certificate for Jupyter (EC P-256 or RSA >= 2048, SHA-256, subjectAltName)",
     DefaultLog::stderr_only, add_cert_command},
    {"idle-check", "Power the VM off when it has been idle for idle_shutdown.minutes (run by cs231n-agent-idle.timer)",
     DefaultLog::stderr_only, add_idle_check_command},
    {"schema", "Print the config schema as the Markdown table of the README", DefaultLog::stderr_only,
     add_schema_command},
    {"gpus", "Print what the GPU path picks for each GPU on reference machines, as the Markdown table of the README",
     DefaultLog::stderr_only, add_gpus_command},
    {"version", "Print the version (-v: also libcurl and OpenSSL)", DefaultLog::stderr_only, add_version_command},
};

struct AddedCommand {
  CLI::App* app;
  const CommandSpec* spec;
  CommandRunner run;
};

void check_command_name(const std::vector<std::string>& arguments) {
  if (arguments.empty() || arguments.front().starts_with("-")) return;
  if (std::ranges::any_of(k_commands, [&](const CommandSpec& spec) { return arguments.front() == spec.name; })) return;
  std::vector<std::string> names;
  for (const auto& spec : k_commands) names.emplace_back(spec.name);
  std::string message = "unknown command \"" + arguments.front() + "\"";
  if (auto guess = util::closest_match(arguments.front(), names)) message += "; did you mean " + *guess + "?";
  throw Error(ExitCode::usage, message + " (commands: " + util::join(names, ", ") + ")");
}

// A dry run changes nothing, so it writes no log file either.
bool is_dry_run(const CLI::App& command) {
  const auto* dry_run = command.get_option_no_throw("--dry-run");
  return dry_run != nullptr && dry_run->count() > 0;
}

}  // namespace

std::string exit_code_table() {
  std::string table = "Exit codes:\n";
  for (int code = 0; code <= static_cast<int>(ExitCode::interrupted); ++code) {
    table += "  " + std::to_string(code) + "  " + std::string(describe(static_cast<ExitCode>(code))) + "\n";
  }
  return table;
}

int run_cli(const std::vector<std::string>& arguments) {
  os::set_process_defaults();
  CLI::App app("cs231n-agent " CS231N_VERSION ": turns a fresh Ubuntu VM into a ready cs231n machine", "cs231n-agent");
  app.require_subcommand(1);
  app.footer(exit_code_table());
  LogOptions log;
  std::vector<AddedCommand> commands;
  for (const auto& spec : k_commands) {
    auto* command = app.add_subcommand(spec.name, spec.description);
    auto run = spec.add(*command, log);
    add_log_options(*command, log, spec.log);
    command->footer(exit_code_table());
    // Reported below, in the order given (CLI11's own message lists them backwards).
    command->allow_extras();
    commands.push_back({command, &spec, std::move(run)});
  }

  check_command_name(arguments);
  std::vector<const char*> argv{"cs231n-agent"};
  for (const auto& argument : arguments) argv.push_back(argument.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) {  // --help, of the program or of a command
      for (const auto& command : commands) {
        if (command.app->parsed()) {
          std::cout << command.app->help("cs231n-agent");
          return 0;
        }
      }
      std::cout << app.help();
      return 0;
    }
    throw Error(ExitCode::usage, std::string(error.what()) + "; see cs231n-agent --help");
  }

  for (const auto& command : commands) {
    if (!command.app->parsed()) continue;
    if (const auto extra = command.app->remaining(); !extra.empty()) {
      throw Error(ExitCode::usage, "unexpected argument" + std::string(extra.size() > 1 ? "s" : "") + " " +
                                       util::join(extra, " ") + "; see cs231n-agent " + command.spec->name + " --help");
    }
    if (log.file.empty() && command.spec->log == DefaultLog::agent_log && !is_dry_run(*command.app)) {
      log.file = k_default_log_file;
    }
    setup_logging(log.verbosity, log.file);
    return command.run();
  }
  throw Error(ExitCode::usage, "no command given; see cs231n-agent --help");
}

}  // namespace cs231n::cli
