#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <curl/curl.h>

#include "agent/net/download.hpp"
#include "agent/net/http.hpp"

namespace cs231n::net {

// Why one attempt at a download stopped short, as far as trying again is concerned.
struct AttemptError {
  bool retryable = true;
  DownloadFailure kind = DownloadFailure::network;
  std::string message;
  std::optional<std::chrono::seconds> retry_after;
  bool restart = false;  // the data so far is useless: start over from a new probe
};

// Connection errors, timeouts, 5xx, 408 and 429 are worth another try; other 4xx, certificate
// problems, bad URLs and redirect loops are not.
bool retryable_status(long status);
bool retryable_curl(CURLcode code);

// An attempt that ended with `code` (and HTTP `status`, `headers`), as an AttemptError; a
// Retry-After header counts from `now`.
AttemptError classify_failure(CURLcode code, long status, const ResponseHeaders& headers,
                              std::chrono::system_clock::time_point now);

// The extra wait added to a delay, in [0, max_extra]; tests pin it, the downloader draws it at random.
using Jitter = std::function<std::chrono::milliseconds(std::chrono::milliseconds max_extra)>;
Jitter random_jitter();

// When to try again: 1 s, 2 s, 4 s, ... up to 60 s, plus up to a quarter of jitter; a server's
// Retry-After instead when it gives one (at most 10 minutes, no jitter). Failures count in a row
// only while no attempt makes progress: one that got bytes onto the disk starts the count over.
class Backoff {
 public:
  static constexpr std::chrono::milliseconds k_first_delay{1000};
  static constexpr std::chrono::milliseconds k_max_delay{60000};
  static constexpr std::chrono::milliseconds k_max_retry_after{600000};

  Backoff(unsigned max_attempts, Jitter jitter);

  // Records a failed attempt; `progressed`: it added bytes to the download.
  void failed(bool progressed);
  unsigned failures_in_a_row() const { return m_failures_in_a_row; }
  // True once `max_attempts` attempts in a row failed without progress.
  bool exhausted() const { return m_failures_in_a_row >= m_max_attempts; }
  // The wait before the next attempt, after at least one failure.
  std::chrono::milliseconds delay(std::optional<std::chrono::seconds> retry_after) const;

 private:
  unsigned m_max_attempts;
  Jitter m_jitter;
  unsigned m_failures_in_a_row = 0;
};

}  // namespace cs231n::net
