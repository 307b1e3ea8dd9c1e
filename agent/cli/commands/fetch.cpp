#include <algorithm>
#include <filesystem>
#include <regex>

#include <spdlog/spdlog.h>

#include "agent/cli/commands/commands.hpp"
#include "agent/cli/interrupt.hpp"
#include "agent/cli/progress.hpp"
#include "agent/core/error.hpp"
#include "agent/net/download.hpp"
#include "agent/os/real_system.hpp"
#include "agent/util/redact.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::cli {

namespace {

struct FetchOptions {
  std::string url;
  std::string output;
  std::string sha256;
  std::string md5;
  unsigned connections = 4;
  unsigned retries = 5;
  std::string ca_file;
};

int fetch(const FetchOptions& options) {
  static const std::regex hex64("[0-9a-f]{64}"), hex32("[0-9a-f]{32}");
  if (!options.sha256.empty() && !std::regex_match(options.sha256, hex64)) {
    throw Error(ExitCode::usage, "--sha256 takes 64 lowercase hex digits");
  }
  if (!options.md5.empty() && !std::regex_match(options.md5, hex32))
    throw Error(ExitCode::usage, "--md5 takes 32 lowercase hex digits");
  if (!options.url.starts_with("http://") && !options.url.starts_with("https://")) {
    throw Error(ExitCode::usage,
                "fetch downloads http:// and https:// URLs, not " + util::redact_credentials(options.url));
  }
  const auto output = std::filesystem::absolute(options.output).lexically_normal();
  std::error_code ignored;
  if (std::filesystem::is_directory(output, ignored)) {
    throw Error(ExitCode::usage, "-o " + options.output + " is a folder: give the file name to write");
  }
  os::RealSystem system("/");
  auto settings = net::default_http_settings();
  if (!options.ca_file.empty()) settings.ca_file = options.ca_file;
  install_signal_handlers();
  DownloadProgressPrinter printer(output.filename().string());
  net::DownloadRequest request;
  request.url = options.url;
  request.dest = output.string();
  request.sha256 = options.sha256;
  request.md5 = options.md5;
  request.connections = std::max(1u, options.connections);
  request.max_attempts = std::max(1u, options.retries + 1);
  request.cancel = interrupt_flag();
  request.on_progress = [&](const net::DownloadProgress& progress) { printer.update(progress); };
  const auto result = net::download(system.files(), settings, request);
  printer.finish();
  if (!result) throw Error(net::exit_code_of(result.error().kind), result.error().message);
  if (result->already_there) {
    spdlog::info("{} is already there and matches its checksum", output.string());
  } else {
    spdlog::info("{}: {} in {} attempt(s) over {} connection(s){}", output.string(), util::human_bytes(result->bytes),
                 result->attempts, result->connections_used,
                 result->sha256.empty() ? "" : ", sha256 " + result->sha256);
  }
  return 0;
}

}  // namespace

CommandRunner add_fetch_command(CLI::App& command, const LogOptions&) {
  auto options = std::make_shared<FetchOptions>();
  command.add_option("url", options->url, "http:// or https:// URL")->required();
  command.add_option("-o,--output", options->output, "File to write (via FILE.part and FILE.part.json)")->required();
  auto* sha256 = command.add_option("--sha256", options->sha256, "Expected sha256 (lowercase hex)");
  command.add_option("--md5", options->md5, "Expected md5 (lowercase hex)")->excludes(sha256);
  command.add_option("--connections", options->connections, "Connections for one file")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  command.add_option("--retries", options->retries, "Retries after a failure without progress")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  command.add_option("--ca-file", options->ca_file,
                     "Trust this CA bundle instead of the system's (tests, private mirrors)");
  return [options] { return fetch(*options); };
}

}  // namespace cs231n::cli
