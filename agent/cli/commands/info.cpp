// `schema`, `gpus` and `version`: what the binary knows of itself.
#include <iostream>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "agent/cli/commands/commands.hpp"
#include "agent/config/schema.hpp"
#include "agent/gpu/readme_table.hpp"

namespace cs231n::cli {

namespace {

int print_version(int verbosity) {
  std::cout << "cs231n-agent " << CS231N_VERSION << "\n";
  if (verbosity > 0) {
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

}  // namespace

CommandRunner add_schema_command(CLI::App&, const LogOptions&) {
  return [] {
    std::cout << config::schema_markdown();
    return 0;
  };
}

CommandRunner add_gpus_command(CLI::App&, const LogOptions&) {
  return [] {
    std::cout << gpu::gpu_table_markdown();
    return 0;
  };
}

CommandRunner add_version_command(CLI::App&, const LogOptions& log) {
  return [&log] { return print_version(log.verbosity); };
}

}  // namespace cs231n::cli
