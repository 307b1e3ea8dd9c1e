#include "agent/cli/logging.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/sinks/ansicolor_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace cs231n::cli {

namespace {
constexpr std::size_t k_log_file_bytes = 5u << 20;
constexpr std::size_t k_log_files_kept = 3;
}  // namespace

void setup_logging(int verbosity, const std::string& log_file) {
  std::vector<spdlog::sink_ptr> sinks;
  spdlog::sink_ptr console;
  if (::isatty(STDERR_FILENO)) {
    console = std::make_shared<spdlog::sinks::ansicolor_stderr_sink_mt>();
  } else {
    console = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  // On a terminal the time is noise; in journald or on the serial console it is what tells when.
  console->set_pattern(::isatty(STDERR_FILENO) ? "cs231n-agent: %^%l%$: %v" : "%Y-%m-%dT%H:%M:%S cs231n-agent: %l: %v");
  console->set_level(verbosity >= 2   ? spdlog::level::trace
                     : verbosity == 1 ? spdlog::level::debug
                                      : spdlog::level::info);
  sinks.push_back(console);
  std::string file_problem;
  if (!log_file.empty()) {
    try {
      // spdlog 1.10 opens the file with fopen("ab"), without close-on-exec: set it on every open
      // (rotation reopens), so the log never reaches a child. (SPDLOG_PREVENT_CHILD_FD would too,
      // but it is a define that every file including spdlog must agree on.)
      spdlog::file_event_handlers handlers;
      handlers.after_open = [](const spdlog::filename_t&, std::FILE* stream) {
        const int fd = ::fileno(stream);
        ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
      };
      auto file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(log_file, k_log_file_bytes, k_log_files_kept,
                                                                         false, handlers);
      file->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%l] %v");
      file->set_level(spdlog::level::debug);
      sinks.push_back(file);
    } catch (const spdlog::spdlog_ex& error) {
      file_problem = error.what();
    }
  }
  auto logger = std::make_shared<spdlog::logger>("cs231n-agent", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  if (!file_problem.empty())
    spdlog::warn("cannot write the log file {}: {}; logging to stderr only", log_file, file_problem);
}

}  // namespace cs231n::cli
