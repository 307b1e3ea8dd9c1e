#include "agent/net/http.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "agent/config/config.hpp"
#include "agent/net/connection_budget.hpp"
#include "agent/net/curl_handle.hpp"
#include "agent/util/redact.hpp"
#include "agent/util/strings.hpp"

// scripts/build.sh builds Debian's libcurl (7.88.1 on Debian 12); HttpSettings::ca_pem needs 7.77.
static_assert(LIBCURL_VERSION_NUM >= 0x074d00, "libcurl 7.77.0 or newer is needed (CURLOPT_CAINFO_BLOB)");

namespace cs231n::net {

std::string find_ca_bundle() {
  if (const char* file = std::getenv("SSL_CERT_FILE"); file && *file) return file;
  for (const char* candidate :
       {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"}) {
    if (::access(candidate, R_OK) == 0) return candidate;
  }
  return "";
}

HttpSettings default_http_settings() {
  HttpSettings settings;
  settings.ca_file = find_ca_bundle();
  return settings;
}

HttpSettings run_http_settings(const config::Config& config) {
  HttpSettings settings = default_http_settings();
  settings.connections =
      std::make_shared<ConnectionBudget>(static_cast<unsigned>(config.integer("downloads.connections")));
  return settings;
}

void ensure_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void apply_settings(CURL* handle, const HttpSettings& settings) {
  curl_easy_setopt(handle, CURLOPT_USERAGENT, settings.user_agent.c_str());
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings.connect_timeout.count() * 1000));
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, settings.low_speed_bytes);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, static_cast<long>(settings.low_speed_time.count()));
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(handle, CURLOPT_MAXREDIRS, settings.max_redirects);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!settings.ca_pem.empty()) {
    // CURLOPT_CAINFO_BLOB: libcurl 7.77.0 (curl.se/libcurl/c/CURLOPT_CAINFO_BLOB.html); copied, so
    // the settings need not outlive the handle. No CA file or folder besides it.
    curl_blob blob{const_cast<char*>(settings.ca_pem.data()), settings.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(handle, CURLOPT_CAINFO_BLOB, &blob);
    curl_easy_setopt(handle, CURLOPT_CAINFO, nullptr);
    curl_easy_setopt(handle, CURLOPT_CAPATH, nullptr);
  } else if (!settings.ca_file.empty()) {
    curl_easy_setopt(handle, CURLOPT_CAINFO, settings.ca_file.c_str());
  }
  if (!settings.use_proxy) curl_easy_setopt(handle, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
}

void set_url(CURL* handle, const std::string& url) {
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  // An https:// URL is followed to https:// only: a redirect to http:// would hand the rest of the
  // transfer (and what root then installs or unpickles) to anyone on the path.
  const bool secure = url.starts_with("https://");
#if LIBCURL_VERSION_NUM >= 0x075500  // CURLOPT_REDIR_PROTOCOLS_STR: libcurl 7.85.0 (Debian 12 has 7.88.1)
  curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, secure ? "https" : "http,https");
#else
  curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS,
                   static_cast<long>(secure ? CURLPROTO_HTTPS : CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

std::optional<std::chrono::seconds> parse_retry_after(const std::string& value,
                                                      std::chrono::system_clock::time_point now) {
  const auto text = std::string(util::trim(value));
  if (auto seconds = util::parse_uint(text)) return std::chrono::seconds(static_cast<long long>(*seconds));
  const time_t when = curl_getdate(text.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  const auto delta = std::chrono::system_clock::from_time_t(when) - now;
  return std::chrono::duration_cast<std::chrono::seconds>(std::max(delta, std::chrono::system_clock::duration::zero()));
}

void ResponseHeaders::add_line(std::string_view line) {
  line = util::trim(line);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or a 100 Continue): start over.
    fields.clear();
    const auto parts = util::split_whitespace(line);
    status = parts.size() >= 2 ? static_cast<long>(util::parse_uint(parts[1]).value_or(0)) : 0;
    return;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return;
  fields[util::lowercase(line.substr(0, colon))] = std::string(util::trim(line.substr(colon + 1)));
}

std::string ResponseHeaders::get(const std::string& name) const {
  const auto found = fields.find(name);
  return found == fields.end() ? std::string() : found->second;
}

namespace {

struct SimpleTransfer {
  SimpleResponse response;
  std::size_t max_body;
  bool too_big = false;
};

size_t on_simple_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<SimpleTransfer*>(user);
  if (transfer->response.body.size() + size * count > transfer->max_body) {
    transfer->too_big = true;
    return 0;
  }
  transfer->response.body.append(data, size * count);
  return size * count;
}

size_t on_simple_header(char* data, size_t size, size_t count, void* user) {
  static_cast<SimpleTransfer*>(user)->response.headers.add_line(std::string_view(data, size * count));
  return size * count;
}

}  // namespace

util::Result<SimpleResponse> http_request(const HttpSettings& settings, const SimpleRequest& request) {
  ensure_curl();
  const CurlEasy easy = make_curl_easy();
  if (!easy) return util::fail("cannot create an HTTP handle");
  CURL* handle = easy.get();
  SimpleTransfer transfer{{}, request.max_body};
  CurlList headers;
  for (const auto& [name, value] : request.headers) append_header(headers, name + ": " + value);
  apply_settings(handle, settings);
  set_url(handle, request.url);
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_simple_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_simple_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
  if (request.method == "PUT") {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  }
  const CURLcode code = curl_easy_perform(handle);
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  if (transfer.too_big)
    return util::fail(util::redact_credentials(request.url) + ": the answer is larger than " +
                      std::to_string(request.max_body) + " bytes");
  if (code == CURLE_UNSUPPORTED_PROTOCOL) {
    return util::fail(util::redact_credentials(request.url) + ": " + curl_easy_strerror(code) + k_refused_redirect);
  }
  if (code != CURLE_OK) return util::fail(util::redact_credentials(request.url) + ": " + curl_easy_strerror(code));
  return transfer.response;
}

}  // namespace cs231n::net
