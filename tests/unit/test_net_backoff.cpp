#include <doctest/doctest.h>

#include <chrono>
#include <ctime>
#include <string>
#include <tuple>
#include <vector>

#include "agent/net/backoff.hpp"

// The retry policy of downloads, without a server: which failures are retried, how long each
// wait is, and when to give up.

using namespace cs231n;
using namespace std::chrono_literals;

namespace {

net::Jitter no_jitter() {
  return [](std::chrono::milliseconds) { return 0ms; };
}

net::Jitter full_jitter() {
  return [](std::chrono::milliseconds max_extra) { return max_extra; };
}

std::vector<std::chrono::milliseconds> delays(net::Backoff& backoff, int failures) {
  std::vector<std::chrono::milliseconds> found;
  for (int i = 0; i < failures; ++i) {
    backoff.failed(false);
    found.push_back(backoff.delay(std::nullopt));
  }
  return found;
}

net::ResponseHeaders headers(const std::string& lines) {
  net::ResponseHeaders parsed;
  std::size_t start = 0;
  while (start < lines.size()) {
    const auto end = lines.find('\n', start);
    parsed.add_line(lines.substr(start, end - start) + "\r\n");
    start = end == std::string::npos ? lines.size() : end + 1;
  }
  return parsed;
}

}  // namespace

TEST_SUITE("net::backoff") {
  TEST_CASE("5xx, 408 and 429 are retried; other 4xx are not") {
    for (const long status : {500L, 502L, 503L, 504L, 408L, 429L}) {
      CAPTURE(status);
      CHECK(net::retryable_status(status));
    }
    for (const long status : {400L, 401L, 403L, 404L, 410L, 416L}) {
      CAPTURE(status);
      CHECK_FALSE(net::retryable_status(status));
    }
  }

  TEST_CASE("connection trouble is retried; certificates, bad URLs and redirect loops are not") {
    for (const auto code : {CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_OPERATION_TIMEDOUT,
                            CURLE_RECV_ERROR, CURLE_PARTIAL_FILE, CURLE_SEND_ERROR}) {
      INFO("curl code ", static_cast<int>(code));
      CHECK(net::retryable_curl(code));
    }
    for (const auto code :
         {CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM, CURLE_UNSUPPORTED_PROTOCOL,
          CURLE_URL_MALFORMAT, CURLE_TOO_MANY_REDIRECTS, CURLE_REMOTE_ACCESS_DENIED}) {
      INFO("curl code ", static_cast<int>(code));
      CHECK_FALSE(net::retryable_curl(code));
    }
  }

  TEST_CASE("classify_failure names the status, keeps Retry-After, and marks what is not retried") {
    const auto now = std::chrono::system_clock::now();
    auto error =
        net::classify_failure(CURLE_HTTP_RETURNED_ERROR, 503, headers("HTTP/1.1 503 Busy\nRetry-After: 7"), now);
    CHECK(error.retryable);
    CHECK(error.kind == net::DownloadFailure::http);
    CHECK(error.message == "HTTP 503");
    CHECK(error.retry_after == std::optional<std::chrono::seconds>(7s));
    CHECK_FALSE(error.restart);

    error = net::classify_failure(CURLE_HTTP_RETURNED_ERROR, 404, headers("HTTP/1.1 404 Not Found"), now);
    CHECK_FALSE(error.retryable);
    CHECK(error.kind == net::DownloadFailure::http);
    CHECK(error.message == "HTTP 404 (not retried)");
    CHECK_FALSE(error.retry_after);

    error = net::classify_failure(CURLE_PEER_FAILED_VERIFICATION, 0, {}, now);
    CHECK_FALSE(error.retryable);
    CHECK(error.kind == net::DownloadFailure::network);
    CHECK(error.message.find("certificate is not trusted") != std::string::npos);

    error = net::classify_failure(CURLE_COULDNT_CONNECT, 0, {}, now);
    CHECK(error.retryable);
    CHECK(error.message == curl_easy_strerror(CURLE_COULDNT_CONNECT));
  }

  TEST_CASE("a Retry-After date counts from now") {
    const auto now = std::chrono::system_clock::from_time_t(1700000000);  // Tue, 14 Nov 2023 22:13:20 GMT
    const auto error =
        net::classify_failure(CURLE_HTTP_RETURNED_ERROR, 429,
                              headers("HTTP/1.1 429 Slow Down\nRetry-After: Tue, 14 Nov 2023 22:13:50 GMT"), now);
    CHECK(error.retry_after == std::optional<std::chrono::seconds>(30s));
  }

  TEST_CASE("the waits double from 1 s up to 60 s") {
    net::Backoff backoff(100, no_jitter());
    CHECK(delays(backoff, 9) == std::vector<std::chrono::milliseconds>{1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s, 60s});
  }

  TEST_CASE("jitter adds up to a quarter of the wait") {
    net::Backoff backoff(100, full_jitter());
    CHECK(delays(backoff, 8) == std::vector<std::chrono::milliseconds>{1250ms, 2500ms, 5s, 10s, 20s, 40s, 75s, 75s});

    std::vector<std::chrono::milliseconds> asked;
    net::Backoff recorded(100, [&](std::chrono::milliseconds max_extra) {
      asked.push_back(max_extra);
      return 0ms;
    });
    std::ignore = delays(recorded, 3);
    CHECK(asked == std::vector<std::chrono::milliseconds>{250ms, 500ms, 1s});
  }

  TEST_CASE("random jitter stays within its bound") {
    const auto jitter = net::random_jitter();
    bool varied = false;
    const auto first = jitter(1000ms);
    for (int i = 0; i < 200; ++i) {
      const auto extra = jitter(1000ms);
      CHECK(extra >= 0ms);
      CHECK(extra <= 1000ms);
      varied = varied || extra != first;
    }
    CHECK(varied);
    CHECK(jitter(0ms) == 0ms);
  }

  TEST_CASE("Retry-After is waited exactly, without jitter, at most 10 minutes") {
    net::Backoff backoff(100, full_jitter());
    backoff.failed(false);
    CHECK(backoff.delay(7s) == 7s);
    CHECK(backoff.delay(0s) == 0s);
    CHECK(backoff.delay(3600s) == 10min);
  }

  TEST_CASE("an attempt that made progress starts the count over") {
    net::Backoff backoff(3, no_jitter());
    backoff.failed(false);
    backoff.failed(false);
    CHECK(backoff.failures_in_a_row() == 2);
    CHECK(backoff.delay(std::nullopt) == 2s);
    backoff.failed(true);
    CHECK(backoff.failures_in_a_row() == 1);
    CHECK(backoff.delay(std::nullopt) == 1s);
    CHECK_FALSE(backoff.exhausted());
  }

  TEST_CASE("max_attempts failures in a row without progress exhaust it; progress keeps it going") {
    net::Backoff backoff(5, no_jitter());
    for (int i = 0; i < 4; ++i) {
      backoff.failed(false);
      CHECK_FALSE(backoff.exhausted());
    }
    backoff.failed(false);
    CHECK(backoff.exhausted());

    net::Backoff progressing(2, no_jitter());
    for (int i = 0; i < 50; ++i) {
      progressing.failed(true);
      CHECK_FALSE(progressing.exhausted());
    }
    progressing.failed(false);
    CHECK(progressing.exhausted());

    net::Backoff single(1, no_jitter());
    single.failed(true);
    CHECK(single.exhausted());
  }
}
