#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent/net/download.hpp"
#include "support/download_fixture.hpp"

// net::download() resuming against tests/support/http_server.py: cut connections, part files
// left by an earlier call, servers without ranges or validators, files that change meanwhile.

using namespace cs231n;
using namespace cs231n::testing::download;
using namespace std::chrono_literals;
using nlohmann::json;

TEST_CASE_FIXTURE(Fixture, "download: a body cut off three times resumes where it stopped, not from the start") {
  const std::size_t size = 4 * k_mib;
  const auto source = serve("a.bin", size);
  auto request = this->request("/files/a.bin?cut=600000&cut_times=3");
  request.sha256 = testing::sha256_of_file(source);
  request.connections = 1;
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  CHECK_FALSE(leftovers());

  const auto log = transfers(server.log_for("/files/a.bin"));
  REQUIRE(log.size() == 4);
  for (std::size_t i = 0; i < log.size(); ++i) {
    INFO("request ", i, ": ", log[i].dump());
    CHECK(range_start(log[i]) == i * 600000);
    CHECK(log[i]["status"] == 206);
    CHECK(log[i]["if_range"].is_string());  // a resume names the version it continues
  }
  // Resumed, not restarted: about the file's size crossed the network (the probe adds a byte).
  CHECK(server.bytes_sent("/files/a.bin") <= size + 1);
  CHECK(result->bytes_transferred == size);
  // Each cut made progress, so each wait is the first step of the backoff again.
  REQUIRE(sleeps.size() == 3);
  for (const auto delay : sleeps) check_backoff(delay, 1000ms);
}

TEST_CASE_FIXTURE(Fixture, "download: cuts on 4 connections resume each segment") {
  const std::size_t size = 8 * k_mib;
  const auto source = serve("a.bin", size);
  auto request = this->request("/files/a.bin?cut=300000&cut_times=6");
  request.sha256 = testing::sha256_of_file(source);
  request.connections = 4;
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  CHECK(result->connections_used == 4);
  CHECK(server.bytes_sent("/files/a.bin") <= size + 1);
  std::size_t cut = 0;
  for (const auto& entry : server.log_for("/files/a.bin")) cut += entry.contains("cut") ? 1 : 0;
  CHECK(cut == 6);
}

TEST_CASE_FIXTURE(Fixture, "download: a server that ignores ranges gets one stream, and a cut starts it over") {
  const std::size_t size = 3 * k_mib;
  const auto source = serve("a.bin", size);
  auto request = this->request("/files/a.bin?norange=1");
  request.sha256 = testing::sha256_of_file(source);
  request.connections = 4;
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  CHECK(result->connections_used == 1);
  auto log = transfers(server.log_for("/files/a.bin"));
  REQUIRE(log.size() == 1);
  CHECK(log[0]["range"].is_null());  // nothing to ask for but the whole file
  CHECK(log[0]["status"] == 200);

  // The probe asks for one byte but gets the whole file: that is the first response cut.
  auto cut = this->request("/files/a.bin?norange=1&cut=1000000&cut_times=2", "cut.bin");
  cut.sha256 = request.sha256;
  const auto again = download(cut);
  REQUIRE_OK(again);
  CHECK(slurp(dest("cut.bin")) == slurp(source));
  log = transfers(server.log_for("/files/a.bin", "norange=1&cut=1000000&cut_times=2"));
  REQUIRE(log.size() == 2);
  CHECK(log[0]["cut"] == true);
  CHECK(log[1]["range"].is_null());  // from the start again
  CHECK(log[1]["bytes"] == size);
  REQUIRE(sleeps.size() == 1);
}

TEST_CASE_FIXTURE(Fixture, "download: a file that changes on the server between attempts is started over") {
  const std::size_t size = 3 * k_mib;
  const auto source = serve("a.bin", size);
  // Version 0 is served and cut off after 1 MB; then the file is replaced by the real one.
  auto request = this->request("/files/a.bin?etag_flip=1&cut=1000000&cut_times=1");
  request.sha256 = testing::sha256_of_file(source);
  request.connections = 1;
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  const auto log = server.log_for("/files/a.bin");
  const auto data = transfers(log);
  REQUIRE(data.size() == 3);
  const auto old_etag = data[0]["if_range"];
  CHECK(data[0]["cut"] == true);
  CHECK(data[0]["version"] == 0);
  // The resume names the old version; the server answers with the whole new file, which the
  // agent must not splice onto the old bytes.
  CHECK(range_start(data[1]) == 1000000);
  CHECK(data[1]["if_range"] == old_etag);
  CHECK(data[1]["status"] == 200);
  // Then a new probe and the new version from byte 0.
  CHECK(probes(log) == 2);
  CHECK(range_start(data[2]) == 0);
  CHECK(data[2]["if_range"] != old_etag);
  CHECK(data[2]["status"] == 206);
  CHECK(data[2]["version"] == 1);
}

TEST_CASE_FIXTURE(Fixture, "download: a file that changes during a segmented download ends as the new file") {
  const auto source = serve("a.bin", 8 * k_mib);
  auto request = this->request("/files/a.bin?etag_flip=1&cut=500000&cut_times=1");
  request.sha256 = testing::sha256_of_file(source);
  request.connections = 4;
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  CHECK(probes(server.log_for("/files/a.bin")) == 2);
}

TEST_CASE_FIXTURE(Fixture, "download: a second call resumes the first one's part file, unless the file changed") {
  const std::size_t size = 3 * k_mib;
  const auto source = serve("a.bin", size);
  const std::string sha256 = testing::sha256_of_file(source);

  SUBCASE("same file: resumed") {
    auto request = this->request("/files/a.bin?cut=1000000&cut_times=1");
    request.sha256 = sha256;
    request.connections = 1;
    request.max_attempts = 1;
    const auto first = download(request);
    REQUIRE_FALSE(first);
    CHECK(first.error().kind == net::DownloadFailure::network);
    CHECK(std::filesystem::exists(dest().string() + ".part"));
    CHECK(std::filesystem::exists(dest().string() + ".part.json"));
    CHECK_FALSE(std::filesystem::exists(dest()));
    const auto second = download(request);
    REQUIRE_OK(second);
    CHECK(slurp(dest()) == slurp(source));
    CHECK(second->bytes_transferred == size - 1000000);
    const auto data = transfers(server.log_for("/files/a.bin"));
    REQUIRE(data.size() == 2);
    CHECK(range_start(data[1]) == 1000000);
  }
  SUBCASE("changed file: started over") {
    auto request = this->request("/files/a.bin?etag_flip=1&cut=1000000&cut_times=1");
    request.sha256 = sha256;
    request.connections = 1;
    request.max_attempts = 1;
    REQUIRE_FALSE(download(request));
    CHECK(std::filesystem::exists(dest().string() + ".part.json"));
    const auto second = download(request);
    REQUIRE_OK(second);
    CHECK(slurp(dest()) == slurp(source));
    CHECK(second->bytes_transferred == size);
    const auto data = transfers(server.log_for("/files/a.bin"));
    REQUIRE(data.size() == 2);
    CHECK(range_start(data[1]) == 0);
    CHECK(data[1]["version"] == 1);
  }
}

TEST_CASE_FIXTURE(Fixture, "download: resuming works with only Last-Modified, and with no validators at all") {
  const std::size_t size = 3 * k_mib;
  const auto source = serve("a.bin", size);
  for (const std::string validators : {"date", "none"}) {
    CAPTURE(validators);
    const std::string query = "validators=" + validators + "&cut=1000000&cut_times=1";
    auto request = this->request("/files/a.bin?" + query, validators + ".bin");
    request.sha256 = testing::sha256_of_file(source);
    request.connections = 1;
    const auto result = download(request);
    REQUIRE_OK(result);
    CHECK(slurp(dest(validators + ".bin")) == slurp(source));
    const auto data = transfers(server.log_for("/files/a.bin", query));
    REQUIRE(data.size() == 2);
    CHECK(range_start(data[1]) == 1000000);
    CHECK(data[1]["status"] == 206);
    if (validators == "date") CHECK(data[1]["if_range"].is_string());
    if (validators == "none") CHECK(data[1]["if_range"].is_null());
  }
}

TEST_CASE_FIXTURE(Fixture, "download: a weak ETag is not used for If-Range, so segments and resumes still work") {
  // RFC 9110 13.1.5: If-Range with a weak entity tag never matches, so a client that sends one
  // always gets the whole file back. Servers that compress on the fly (and some CDNs) use them.
  const std::size_t size = 4 * k_mib;
  const auto source = serve("a.bin", size);
  auto request = this->request("/files/a.bin?validators=weak&cut=1000000&cut_times=1");
  request.sha256 = testing::sha256_of_file(source);
  request.connections = 4;
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  for (const auto& entry : transfers(server.log_for("/files/a.bin"))) {
    INFO(entry.dump());
    CHECK(entry["status"] == 206);
    CHECK_FALSE((entry["if_range"].is_string() && entry["if_range"].get<std::string>().starts_with("W/")));
  }
  CHECK(server.bytes_sent("/files/a.bin") <= size + 1);
}

TEST_CASE_FIXTURE(Fixture, "download: a sidecar segment that has all its bytes is not asked for again") {
  // A crash between the last byte of a segment and its completion leaves done == length with
  // complete == false; the resume must not ask for an empty range (which servers answer with
  // the whole file, so everything would start over).
  const std::size_t size = 4 * k_mib;
  const std::size_t half = size / 2;
  const auto source = serve("a.bin", size);
  auto request = this->request("/files/a.bin");
  request.sha256 = testing::sha256_of_file(source);
  // The part file holds the first half; the sidecar has the validators the server reports.
  std::filesystem::copy_file(source, dest().string() + ".part");
  std::filesystem::resize_file(dest().string() + ".part", half);
  std::filesystem::resize_file(dest().string() + ".part", size);
  net::SimpleRequest head;
  head.url = server.url("/files/a.bin");
  head.headers["Range"] = "bytes=0-0";
  const auto response = net::http_request(settings, head);
  REQUIRE(response);
  const std::string etag = response->headers.get("etag");
  const std::string last_modified = response->headers.get("last-modified");
  REQUIRE_FALSE(etag.empty());
  const json sidecar = {
      {"format", 1},
      {"url", request.url},
      {"etag", etag},
      {"last_modified", last_modified},
      {"size", size},
      {"ranges", true},
      {"segments", json::array({{{"start", 0}, {"end", half}, {"done", half}, {"complete", false}},
                                {{"start", half}, {"end", size}, {"done", 0}, {"complete", false}}})}};
  std::ofstream(dest().string() + ".part.json") << sidecar.dump();
  const auto before = server.log_for("/files/a.bin").size();
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  auto log = server.log_for("/files/a.bin");
  log.erase(log.begin(), log.begin() + static_cast<std::ptrdiff_t>(before));
  const auto data = transfers(log);
  REQUIRE(data.size() == 1);
  CHECK(data[0]["range"] == "bytes=" + std::to_string(half) + "-" + std::to_string(size - 1));
  CHECK(result->bytes_transferred == size - half);
}

TEST_CASE_FIXTURE(Fixture, "download: cancelling keeps the part file, and the next call resumes it") {
  const std::size_t size = 2 * k_mib;
  const auto source = serve("a.bin", size);
  std::atomic<bool> cancel{false};
  auto request = this->request("/files/a.bin?rate=2000000");  // about a second
  request.sha256 = testing::sha256_of_file(source);
  request.connections = 1;
  request.cancel = &cancel;
  request.on_progress = [&](const net::DownloadProgress& progress) {
    if (progress.bytes >= 256 * 1024) cancel = true;
  };
  const auto first = download(request);
  REQUIRE_FALSE(first);
  CHECK(first.error().kind == net::DownloadFailure::cancelled);
  CHECK(net::exit_code_of(first.error().kind) == ExitCode::interrupted);
  CHECK(first.error().message.find("run again to resume") != std::string::npos);
  CHECK(std::filesystem::exists(dest().string() + ".part"));
  CHECK(std::filesystem::exists(dest().string() + ".part.json"));
  CHECK_FALSE(std::filesystem::exists(dest()));
  cancel = false;
  request.on_progress = nullptr;

  SUBCASE("the same URL resumes") {
    const auto resumed = download(request);
    REQUIRE_OK(resumed);
    CHECK(slurp(dest()) == slurp(source));
    const auto data = transfers(server.log_for("/files/a.bin"));
    REQUIRE(data.size() == 2);
    CHECK(range_start(data[1]) >= 256 * 1024);
    CHECK(resumed->bytes_transferred == size - range_start(data[1]));
  }
  SUBCASE("another URL starts over (the sidecar remembers the URL)") {
    request.url = server.url("/files/a.bin");
    const auto other = download(request);
    REQUIRE_OK(other);
    CHECK(slurp(dest()) == slurp(source));
    CHECK(other->bytes_transferred == size);
  }
}
