#include <doctest/doctest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <string>

#include "agent/net/download.hpp"
#include "support/download_fixture.hpp"

// net::download() retrying against tests/support/http_server.py: what is retried, and the waits
// in between (recorded, never slept; the policy itself is in test_net_backoff.cpp).

using namespace cs231n;
using namespace cs231n::testing::download;
using namespace std::chrono_literals;
using nlohmann::json;

TEST_CASE_FIXTURE(Fixture, "download: 503 twice, then success, with exponential backoff") {
  const auto source = serve("a.bin", 1 * k_mib);
  auto request = this->request("/files/a.bin?fail=503&fail_times=2");
  request.sha256 = testing::sha256_of_file(source);
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  REQUIRE(sleeps.size() == 2);
  check_backoff(sleeps[0], 1000ms);
  check_backoff(sleeps[1], 2000ms);
  const auto log = server.log_for("/files/a.bin");
  REQUIRE(log.size() >= 3);
  CHECK(log[0]["status"] == 503);
  CHECK(log[1]["status"] == 503);
  CHECK(log[2]["status"] == 206);
}

TEST_CASE_FIXTURE(Fixture, "download: a 503 that never ends gives up after max_attempts, the waits doubling") {
  serve("a.bin", 1 * k_mib);
  auto request = this->request("/files/a.bin?fail=503&fail_times=1000");
  request.max_attempts = 5;
  const auto result = download(request);
  REQUIRE_FALSE(result);
  CHECK(net::exit_code_of(result.error().kind) == ExitCode::network);
  CHECK(result.error().message.find("503") != std::string::npos);
  CHECK(result.error().message.find("gave up after 5 attempts") != std::string::npos);
  CHECK(server.log_for("/files/a.bin").size() == 5);
  REQUIRE(sleeps.size() == 4);
  check_backoff(sleeps[0], 1000ms);
  check_backoff(sleeps[1], 2000ms);
  check_backoff(sleeps[2], 4000ms);
  check_backoff(sleeps[3], 8000ms);
  CHECK_FALSE(std::filesystem::exists(dest()));
}

TEST_CASE_FIXTURE(Fixture, "download: 429 with Retry-After waits as long as the server says (seconds, date, capped)") {
  const auto source = serve("a.bin", 1 * k_mib);
  auto request = this->request("/files/a.bin?fail=429&fail_times=1&retry_after=7");
  request.sha256 = testing::sha256_of_file(source);
  auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  REQUIRE(sleeps.size() == 1);
  CHECK(sleeps[0] == 7000ms);  // exactly that: no jitter on top

  // An HTTP date 30 s from now.
  sleeps.clear();
  char date[64];
  const std::time_t when = std::time(nullptr) + 30;
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  std::strftime(date, sizeof date, "%a,%%20%d%%20%b%%20%Y%%20%H:%M:%S%%20GMT", &tm);
  request = this->request(std::string("/files/a.bin?fail=503&fail_times=1&retry_after=") + date, "date.bin");
  result = download(request);
  REQUIRE_OK(result);
  REQUIRE(sleeps.size() == 1);
  CHECK(sleeps[0] >= 28s);
  CHECK(sleeps[0] <= 30s);

  // An hour is too long to wait: at most 10 minutes.
  sleeps.clear();
  request = this->request("/files/a.bin?fail=429&fail_times=1&retry_after=3600", "long.bin");
  result = download(request);
  REQUIRE_OK(result);
  REQUIRE(sleeps.size() == 1);
  CHECK(sleeps[0] == 10min);
}

TEST_CASE_FIXTURE(Fixture, "download: 404 is not retried and names the URL and the status") {
  auto request = this->request("/files/missing.bin");
  const auto result = download(request);
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == net::DownloadFailure::http);
  CHECK(net::exit_code_of(result.error().kind) == ExitCode::network);
  CHECK(result.error().message.find(request.url) != std::string::npos);
  CHECK(result.error().message.find("404") != std::string::npos);
  CHECK(sleeps.empty());
  CHECK(server.log().size() == 1);
  CHECK_FALSE(std::filesystem::exists(dest()));
  CHECK_FALSE(leftovers());

  // Other 4xx neither.
  request = this->request("/files/missing.bin?fail=403&fail_times=5");
  serve("missing.bin", 1000);
  CHECK_FALSE(download(request));
  CHECK(sleeps.empty());
}
