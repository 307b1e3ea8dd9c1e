#include "agent/net/backoff.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>

namespace cs231n::net {

bool retryable_status(long status) { return status >= 500 || status == 408 || status == 429; }

bool retryable_curl(CURLcode code) {
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_REMOTE_ACCESS_DENIED: return false;
    default: return true;
  }
}

AttemptError classify_failure(CURLcode code, long status, const ResponseHeaders& headers,
                              std::chrono::system_clock::time_point now) {
  AttemptError error;
  if (code == CURLE_HTTP_RETURNED_ERROR) {
    error.retryable = retryable_status(status);
    error.kind = DownloadFailure::http;
    error.message = "HTTP " + std::to_string(status);
    if (auto after = headers.get("retry-after"); !after.empty()) error.retry_after = parse_retry_after(after, now);
    if (!error.retryable) error.message += " (not retried)";
    return error;
  }
  error.retryable = retryable_curl(code);
  error.message = curl_easy_strerror(code);
  if (code == CURLE_PEER_FAILED_VERIFICATION) error.message += " (the server's certificate is not trusted)";
  if (code == CURLE_UNSUPPORTED_PROTOCOL) error.message += k_refused_redirect;
  return error;
}

Jitter random_jitter() {
  auto random = std::make_shared<std::mt19937>(std::random_device{}());
  return [random](std::chrono::milliseconds max_extra) {
    return std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(0, max_extra.count())(*random));
  };
}

Backoff::Backoff(unsigned max_attempts, Jitter jitter) : m_max_attempts(max_attempts), m_jitter(std::move(jitter)) {}

void Backoff::failed(bool progressed) { m_failures_in_a_row = progressed ? 1 : m_failures_in_a_row + 1; }

std::chrono::milliseconds Backoff::delay(std::optional<std::chrono::seconds> retry_after) const {
  if (retry_after) return std::min<std::chrono::milliseconds>(*retry_after, k_max_retry_after);
  const unsigned doublings = std::min(std::max(m_failures_in_a_row, 1u) - 1, 6u);
  const auto base = std::min(k_first_delay * (1u << doublings), k_max_delay);
  return base + (m_jitter ? m_jitter(base / 4) : std::chrono::milliseconds(0));
}

}  // namespace cs231n::net
