#include "agent/cli/common_options.hpp"

namespace cs231n::cli {

void add_root_option(CLI::App& command, std::string& root) {
  command.add_option("--root", root, "Root of the target system; every path is read under it")->capture_default_str();
}

void add_config_option(CLI::App& command, std::string& config_file) {
  command.add_option("--config", config_file, "Config file (JSON), merged over the profile defaults");
}

void add_state_dir_option(CLI::App& command, std::string& state_dir) {
  command
      .add_option(
          "--state-dir", state_dir,
          "Where the run state, the step logs, the run lock and the agent's secrets (the Jupyter password hash, "
          "its API token) live")
      ->capture_default_str();
}

void add_agent_dir_options(CLI::App& command, Paths& paths) {
  add_state_dir_option(command, paths.state_dir);
  command
      .add_option("--cache-dir", paths.cache_dir,
                  "Where verified downloads are kept for reuse (the installers, NVIDIA's keyring package, the datasets "
                  "and their pins)")
      ->capture_default_str();
}

void add_json_flag(CLI::App& command, bool& json) { command.add_flag("--json", json, "Machine-readable output"); }

void add_wait_flag(CLI::App& command, bool& wait) {
  command.add_flag("--wait", wait, "Wait for another active run to end instead of exiting with 5");
}

void add_log_options(CLI::App& command, LogOptions& log, DefaultLog default_log) {
  command.add_option("--log-file", log.file,
                     default_log == DefaultLog::agent_log
                         ? "Log file, rotated at 5 MiB (default: " + std::string(k_default_log_file) + ")"
                         : std::string("Also log to this file (rotated at 5 MiB)"));
  command.add_flag("-v,--verbose", log.verbosity, "More detail; twice for even more");
}

}  // namespace cs231n::cli
