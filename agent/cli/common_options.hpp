#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "agent/core/paths.hpp"

namespace cs231n::cli {

inline constexpr const char* k_default_log_file = "/var/log/cs231n-agent.log";

// -v and --log-file: every command has them.
struct LogOptions {
  int verbosity = 0;
  std::string file;
};

// Where a command logs when --log-file is not given.
enum class DefaultLog {
  stderr_only,
  agent_log,  // also k_default_log_file, unless it is a --dry-run: commands that change the machine
};

// The options several commands share, under the same names, help texts and defaults everywhere.
void add_root_option(CLI::App& command, std::string& root);
void add_config_option(CLI::App& command, std::string& config_file);
void add_state_dir_option(CLI::App& command, std::string& state_dir);
// --state-dir and --cache-dir, for the commands that build steps' context (they need both folders).
void add_agent_dir_options(CLI::App& command, Paths& paths);
void add_json_flag(CLI::App& command, bool& json);
void add_wait_flag(CLI::App& command, bool& wait);
void add_log_options(CLI::App& command, LogOptions& log, DefaultLog default_log);

// What a command's add function returns: runs the command once the command line is parsed;
// returns the exit code.
using CommandRunner = std::function<int()>;

}  // namespace cs231n::cli
