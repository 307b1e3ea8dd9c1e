#pragma once

#include <CLI/CLI.hpp>

#include "agent/cli/common_options.hpp"

namespace cs231n::cli {

// One function per command, listed in cli.cpp's table: adds the command's own options to
// `command` and returns what runs it once the command line is parsed. `log` (-v, --log-file) is
// filled in by the same parse.
CommandRunner add_run_command(CLI::App& command, const LogOptions& log);
CommandRunner add_resume_command(CLI::App& command, const LogOptions& log);
CommandRunner add_status_command(CLI::App& command, const LogOptions& log);
CommandRunner add_detect_command(CLI::App& command, const LogOptions& log);
CommandRunner add_plan_command(CLI::App& command, const LogOptions& log);
CommandRunner add_verify_command(CLI::App& command, const LogOptions& log);
CommandRunner add_reset_command(CLI::App& command, const LogOptions& log);
CommandRunner add_logs_command(CLI::App& command, const LogOptions& log);
CommandRunner add_fetch_command(CLI::App& command, const LogOptions& log);
CommandRunner add_passwd_command(CLI::App& command, const LogOptions& log);
CommandRunner add_cert_command(CLI::App& command, const LogOptions& log);
CommandRunner add_idle_check_command(CLI::App& command, const LogOptions& log);
CommandRunner add_schema_command(CLI::App& command, const LogOptions& log);
CommandRunner add_gpus_command(CLI::App& command, const LogOptions& log);
CommandRunner add_version_command(CLI::App& command, const LogOptions& log);

}  // namespace cs231n::cli
