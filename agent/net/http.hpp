#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent/net/connection_budget.hpp"
#include "agent/util/result.hpp"

typedef void CURL;

namespace cs231n::config {
class Config;
}

namespace cs231n::net {

class TransferMeter;

// How every HTTP request of the agent is made. Certificate verification is always on.
struct HttpSettings {
  std::string user_agent = "cs231n-agent/" CS231N_VERSION;
  std::chrono::seconds connect_timeout{15};
  // A transfer slower than this for low_speed_time is treated as dropped (and retried).
  long low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{30};
  long max_redirects = 10;
  // The CA bundle: SSL_CERT_FILE, else the first of Debian's, Ubuntu's and RHEL's usual paths.
  // Tests and private mirrors may name their own (fetch --ca-file).
  std::string ca_file;
  // The CA certificates themselves (PEM), trusted instead of ca_file and any default: for a
  // certificate root read without trusting where it lies (a user's file), so that libcurl never
  // opens that path itself, following whatever symlink or FIFO is there by then.
  std::string ca_pem;
  bool use_proxy = true;  // http_proxy, https_proxy, no_proxy from the environment
  // The run's limit on download connections (connection_budget.hpp), shared by every copy of
  // these settings; null: no limit. Small requests (http_request) do not count against it.
  std::shared_ptr<ConnectionBudget> connections;
  // The lane of that budget these downloads take (connection_budget.hpp).
  Lane lane = Lane::ready_path;
  // Where download() counts what it fetches (one step's downloads; the engine reads it for
  // `status`); null: nowhere. Owned by whoever set it, for as long as these settings are used.
  TransferMeter* meter = nullptr;
};

// The system CA bundle: $SSL_CERT_FILE, /etc/ssl/certs/ca-certificates.crt, ... ("" if none).
std::string find_ca_bundle();

HttpSettings default_http_settings();

// The settings of a run: default_http_settings() with one connection budget of
// `downloads.connections` slots for all its downloads.
HttpSettings run_http_settings(const config::Config& config);

// curl_global_init, once per process.
void ensure_curl();

// Applies the settings shared by every request to a handle.
void apply_settings(CURL* handle, const HttpSettings& settings);

// Sets the URL and the schemes a redirect may go to: https:// only from an https:// URL.
void set_url(CURL* handle, const std::string& url);

// Said after CURLE_UNSUPPORTED_PROTOCOL: the URLs given are http(s)://, so a redirect was refused.
inline constexpr const char* k_refused_redirect =
    " (a redirect to another scheme was refused: an https:// URL is never followed to http://)";

// Seconds to wait from a Retry-After value (delta seconds or an HTTP date), if it parses.
std::optional<std::chrono::seconds> parse_retry_after(const std::string& value,
                                                      std::chrono::system_clock::time_point now);

// A parsed response header block (names lowercased; the last block after redirects wins).
struct ResponseHeaders {
  long status = 0;
  std::map<std::string, std::string> fields;
  void add_line(std::string_view line);
  std::string get(const std::string& name) const;
};

// A small request whose whole body fits in memory (metadata, probes).
struct SimpleResponse {
  long status = 0;
  ResponseHeaders headers;
  std::string body;
};

struct SimpleRequest {
  std::string url;
  std::string method = "GET";
  std::string body;  // for PUT
  std::map<std::string, std::string> headers;
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds connect_timeout{2000};
  std::size_t max_body = 4u << 20;
};

// Fails (as a value) only when no HTTP response arrived; any status is a response.
util::Result<SimpleResponse> http_request(const HttpSettings& settings, const SimpleRequest& request);

}  // namespace cs231n::net
