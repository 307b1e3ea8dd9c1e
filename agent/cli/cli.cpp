#include "agent/cli/cli.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include "agent/cli/logging.hpp"
#include "agent/config/config.hpp"
#include "agent/config/schema.hpp"
#include "agent/core/error.hpp"
#include "agent/detect/facts.hpp"
#include "agent/os/real_system.hpp"
#include "agent/plan/planner.hpp"
#include "steps/table.hpp"

namespace cs231n::cli {

namespace {

constexpr const char* k_default_state_dir = "/var/lib/cs231n-agent";

// The options shared by the commands, under the same names everywhere.
struct Options {
  std::string root = "/";
  std::string config_file;
  std::string state_dir = k_default_state_dir;
  std::string log_file;
  int verbosity = 0;
  bool json = false;
};

enum OptionSet : unsigned {
  k_root = 1,
  k_config = 2,
  k_state_dir = 4,
  k_json = 8,
};

using Handler = int (*)(const Options&);

struct CommandSpec {
  const char* name;
  const char* description;
  unsigned options;
  Handler handler;
};

// What detect and plan work from.
struct Session {
  std::unique_ptr<os::RealSystem> system;
  std::vector<nlohmann::json> layers;
  std::string configured_user;
};

Session open_session(const Options& options) {
  struct stat st {};
  if (::stat(options.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error(ExitCode::usage, "--root " + options.root + " is not a folder: give the root of the system to inspect");
  }
  Session session;
  session.system = std::make_unique<os::RealSystem>(options.root);
  if (!options.config_file.empty()) {
    session.layers.push_back(config::load_file(options.config_file));
    spdlog::debug("config file {} loaded", options.config_file);
  }
  for (const auto& layer : session.layers) {
    if (layer.contains("user")) session.configured_user = layer["user"].get<std::string>();
  }
  return session;
}

int command_version(const Options& options) {
  std::cout << "cs231n-agent " << CS231N_VERSION << "\n";
  if (options.verbosity > 0) {
    const auto* curl = curl_version_info(CURLVERSION_NOW);
    std::string protocols;
    for (const char* const* protocol = curl->protocols; protocol && *protocol; ++protocol) {
      protocols += (protocols.empty() ? "" : " ") + std::string(*protocol);
    }
    std::cout << "libcurl " << curl->version << " (" << (curl->ssl_version ? curl->ssl_version : "no TLS")
              << "; protocols: " << protocols << ")\n"
              << OpenSSL_version(OPENSSL_VERSION) << "\n";
  }
  return 0;
}

int command_detect(const Options& options) {
  const auto session = open_session(options);
  const auto facts = detect::gather_facts(*session.system, session.configured_user);
  if (options.json) {
    std::cout << detect::to_json(facts).dump(2) << "\n";
  } else {
    std::cout << detect::to_table(facts);
  }
  return 0;
}

int command_plan(const Options& options) {
  const auto session = open_session(options);
  const auto facts = detect::gather_facts(*session.system, session.configured_user);
  const auto config = config::Config::resolve(session.layers, facts.os);
  const auto steps = steps::all_steps(config);
  const auto plan = plan::make_plan(steps, plan::Context{*session.system, facts, config});
  if (options.json) {
    auto document = plan::to_json(plan);
    document["config"] = config.json();
    std::cout << document.dump(2) << "\n";
  } else {
    std::cout << plan::to_table(plan);
  }
  return plan.has_refusal() ? static_cast<int>(ExitCode::refused) : 0;
}

int command_schema(const Options&) {
  std::cout << config::schema_markdown();
  return 0;
}

// The one table of commands.
const CommandSpec k_commands[] = {
    {"detect", "Report what this machine is: OS, GPUs, Secure Boot, memory, disk, target user (reads only)",
     k_root | k_config | k_json, command_detect},
    {"plan", "List every step with what it would do here: run, done, skip or refuse, and why (reads only)",
     k_root | k_config | k_state_dir | k_json, command_plan},
    {"schema", "Print the config schema as the Markdown table of the README", 0, command_schema},
    {"version", "Print the version (-v: also libcurl and OpenSSL)", 0, command_version},
};

void add_options(CLI::App& command, Options& options, unsigned which) {
  if (which & k_root) {
    command.add_option("--root", options.root, "Root of the target system; every path is read under it")
        ->capture_default_str();
  }
  if (which & k_config) command.add_option("--config", options.config_file, "Config file (JSON), merged over the profile defaults");
  if (which & k_state_dir) {
    command.add_option("--state-dir", options.state_dir, "Where the run state and step logs live")->capture_default_str();
  }
  if (which & k_json) command.add_flag("--json", options.json, "Machine-readable output");
  command.add_option("--log-file", options.log_file, "Also log to this file (rotated at 5 MiB)");
  command.add_flag("-v,--verbose", options.verbosity, "More detail; twice for even more");
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
  CLI::App app("cs231n-agent " CS231N_VERSION ": turns a fresh Ubuntu VM into a ready cs231n machine", "cs231n-agent");
  app.require_subcommand(1);
  app.footer(exit_code_table());
  Options options;
  std::vector<std::pair<CLI::App*, const CommandSpec*>> commands;
  for (const auto& spec : k_commands) {
    auto* command = app.add_subcommand(spec.name, spec.description);
    add_options(*command, options, spec.options);
    command->footer(exit_code_table());
    commands.emplace_back(command, &spec);
  }

  std::vector<std::string> reversed(arguments.rbegin(), arguments.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& error) {
    // A subcommand's --help arrives as CallForHelp from the subcommand's own parse.
    if (error.get_exit_code() == 0) {
      for (const auto& [command, spec] : commands) {
        if (command->parsed()) {
          std::cout << command->help();
          return 0;
        }
      }
      std::cout << app.help();
      return 0;
    }
    throw Error(ExitCode::usage, std::string(error.what()) + "; see cs231n-agent --help");
  }

  for (const auto& [command, spec] : commands) {
    if (command->parsed()) {
      setup_logging(options.verbosity, options.log_file);
      return spec->handler(options);
    }
  }
  throw Error(ExitCode::usage, "no command given; see cs231n-agent --help");
}

}  // namespace cs231n::cli
