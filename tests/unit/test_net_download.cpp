#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/net/download.hpp"
#include "support/http_test_server.hpp"
#include "support/temp_dir.hpp"

// net::download() against tests/support/http_server.py on 127.0.0.1: resume, retries and their
// backoff (recorded, never slept), checksums, segments, redirects, changed files, TLS.

using namespace cs231n;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr std::size_t k_mib = 1u << 20;

// One test's world: a server with its own root, and a folder to download into.
struct Fixture {
  testing::TempDir dir;
  testing::HttpTestServer server{dir.path() / "server"};
  os::Files files{"/"};
  net::HttpSettings settings = quiet_settings();
  std::vector<std::chrono::milliseconds> sleeps;

  static net::HttpSettings quiet_settings() {
    net::HttpSettings settings;
    settings.use_proxy = false;  // the environment's proxy must not see 127.0.0.1
    settings.connect_timeout = 5s;
    settings.low_speed_time = 10s;
    return settings;
  }

  // A served file of `size` pseudo-random bytes; returns its host path.
  std::filesystem::path serve(const std::string& name, std::size_t size, unsigned seed = 1) {
    const auto path = server.root() / name;
    testing::write_random_file(path, size, seed);
    return path;
  }

  std::filesystem::path dest(const std::string& name = "out.bin") const { return dir.path() / "downloads" / name; }

  net::DownloadRequest request(const std::string& url_path, const std::string& dest_name = "out.bin") {
    std::filesystem::create_directories(dir.path() / "downloads");
    net::DownloadRequest request;
    request.url = server.url(url_path);
    request.dest = dest(dest_name).string();
    request.sleep = [this](std::chrono::milliseconds delay) { sleeps.push_back(delay); };
    return request;
  }

  std::expected<net::DownloadResult, net::DownloadError> download(const net::DownloadRequest& request) {
    return net::download(files, settings, request);
  }

  bool leftovers(const std::string& dest_name = "out.bin") const {
    return std::filesystem::exists(dest(dest_name).string() + ".part") || std::filesystem::exists(dest(dest_name).string() + ".part.json");
  }
};

std::string slurp(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

// The requests that carried data: everything but the agent's one-byte probe ("bytes=0-0").
std::vector<json> transfers(const std::vector<json>& log) {
  std::vector<json> found;
  for (const auto& entry : log) {
    if (entry["method"] == "GET" && entry["range"] != "bytes=0-0") found.push_back(entry);
  }
  return found;
}

std::size_t probes(const std::vector<json>& log) {
  std::size_t count = 0;
  for (const auto& entry : log) count += entry["range"] == "bytes=0-0" ? 1 : 0;
  return count;
}

// "bytes=123-456" -> 123.
std::uint64_t range_start(const json& entry) {
  const auto text = entry["range"].get<std::string>();
  return std::stoull(text.substr(text.find('=') + 1));
}

void check_backoff(const std::chrono::milliseconds delay, std::chrono::milliseconds base) {
  // base * 2^(n-1) plus up to a quarter of jitter.
  CHECK(delay >= base);
  CHECK(delay <= base + base / 4);
}

#define REQUIRE_OK(result) REQUIRE_MESSAGE((result).has_value(), ((result) ? std::string() : (result).error().message))

}  // namespace

TEST_CASE_FIXTURE(Fixture, "download: a plain file, verified by sha256 and by md5, over 4 connections and over 1") {
  const auto source = serve("a.bin", 4 * k_mib + 123);
  auto request = this->request("/files/a.bin");
  request.sha256 = testing::sha256_of_file(source);
  std::vector<net::DownloadProgress> reports;
  request.on_progress = [&](const net::DownloadProgress& progress) { reports.push_back(progress); };
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  CHECK(result->sha256 == request.sha256);
  CHECK(result->bytes == 4 * k_mib + 123);
  CHECK(result->bytes_transferred == 4 * k_mib + 123);
  CHECK_FALSE(result->already_there);
  CHECK(result->attempts == 1);
  CHECK(result->connections_used == 4);
  CHECK_FALSE(leftovers());
  CHECK(sleeps.empty());
  REQUIRE_FALSE(reports.empty());
  CHECK(reports.back().bytes == 4 * k_mib + 123);
  CHECK(reports.back().total == std::optional<std::uint64_t>(4 * k_mib + 123));

  auto by_md5 = this->request("/files/a.bin", "md5.bin");
  by_md5.md5 = testing::md5_of_file(source);
  by_md5.connections = 1;
  const auto second = download(by_md5);
  REQUIRE_OK(second);
  CHECK(slurp(dest("md5.bin")) == slurp(source));
  CHECK(second->connections_used == 1);
  CHECK(second->sha256 == request.sha256);  // always computed
  CHECK_FALSE(leftovers("md5.bin"));
}

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

TEST_CASE_FIXTURE(Fixture, "download: an unknown size (chunked, no Content-Length) is one stream to the end") {
  const std::size_t size = 2 * k_mib + 7;
  const auto source = serve("a.bin", size);
  auto request = this->request("/files/a.bin?chunked=1");
  request.sha256 = testing::sha256_of_file(source);
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  CHECK(result->bytes == size);
  CHECK(result->connections_used == 1);
}

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

TEST_CASE_FIXTURE(Fixture, "download: a wrong checksum downloads twice, then fails with nothing left behind") {
  const std::size_t size = 2 * k_mib;
  const auto source = serve("a.bin", size);
  const std::string wrong(64, 'a');
  auto request = this->request("/files/a.bin");
  request.sha256 = wrong;
  const auto result = download(request);
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == net::DownloadFailure::checksum);
  CHECK(net::exit_code_of(result.error().kind) == ExitCode::checksum);
  const auto& message = result.error().message;
  CHECK(message.find(wrong) != std::string::npos);
  CHECK(message.find(testing::sha256_of_file(source)) != std::string::npos);
  CHECK(message.find(request.url) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dest()));
  CHECK_FALSE(leftovers());
  // Two complete downloads (plus two one-byte probes).
  CHECK(server.bytes_sent("/files/a.bin") == 2 * size + 2);
  CHECK(probes(server.log_for("/files/a.bin")) == 2);

  auto md5 = this->request("/files/a.bin", "md5.bin");
  md5.md5 = std::string(32, 'b');
  const auto by_md5 = download(md5);
  REQUIRE_FALSE(by_md5);
  CHECK(by_md5.error().kind == net::DownloadFailure::checksum);
  CHECK(by_md5.error().message.find(std::string(32, 'b')) != std::string::npos);
  CHECK(by_md5.error().message.find(testing::md5_of_file(source)) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dest("md5.bin")));
  CHECK_FALSE(leftovers("md5.bin"));
}

TEST_CASE_FIXTURE(Fixture, "download: a size the server contradicts is refused before any data") {
  serve("a.bin", 1 * k_mib);
  auto request = this->request("/files/a.bin");
  request.size = 12345;
  const auto result = download(request);
  REQUIRE_FALSE(result);
  CHECK(result.error().message.find("12345") != std::string::npos);
  CHECK(transfers(server.log()).empty());
  CHECK(sleeps.empty());
}

TEST_CASE_FIXTURE(Fixture, "download: redirects are followed, up to max_redirects") {
  const auto source = serve("a.bin", 1 * k_mib + 5);
  auto request = this->request("/redirect/3/files/a.bin");
  request.sha256 = testing::sha256_of_file(source);
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  CHECK_FALSE(server.log_for("/redirect/3/files/a.bin").empty());
  CHECK_FALSE(server.log_for("/redirect/2/files/a.bin").empty());
  CHECK_FALSE(server.log_for("/files/a.bin").empty());

  settings.max_redirects = 5;
  request = this->request("/redirect/8/files/a.bin", "far.bin");
  const auto far = download(request);
  REQUIRE_FALSE(far);
  CHECK(far.error().message.find(request.url) != std::string::npos);
  CHECK(sleeps.empty());  // a redirect loop is not worth retrying
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

TEST_CASE_FIXTURE(Fixture, "download: an empty file") {
  // A one-byte range of an empty file is unsatisfiable: the probe gets 416 "bytes */0".
  const auto source = serve("empty.bin", 0);
  auto request = this->request("/files/empty.bin");
  request.sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(std::filesystem::exists(dest()));
  CHECK(std::filesystem::file_size(dest()) == 0);
  CHECK(result->bytes == 0);
  CHECK_FALSE(leftovers());
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
  const json sidecar = {{"format", 1}, {"url", request.url}, {"etag", etag}, {"last_modified", last_modified}, {"size", size},
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

TEST_CASE_FIXTURE(Fixture, "download: 4 connections make 4 ranged requests that cover the file") {
  const std::size_t size = 8 * k_mib;
  const auto source = serve("a.bin", size);
  auto request = this->request("/files/a.bin");
  request.sha256 = testing::sha256_of_file(source);
  request.connections = 4;
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(slurp(dest()) == slurp(source));
  CHECK(result->connections_used == 4);
  const auto log = server.log_for("/files/a.bin");
  CHECK(probes(log) == 1);
  auto data = transfers(log);
  REQUIRE(data.size() == 4);
  std::vector<std::string> ranges;
  for (const auto& entry : data) {
    CHECK(entry["status"] == 206);
    CHECK(entry["bytes"] == size / 4);
    ranges.push_back(entry["range"].get<std::string>());
  }
  std::ranges::sort(ranges);
  CHECK(ranges == std::vector<std::string>{"bytes=0-2097151", "bytes=2097152-4194303", "bytes=4194304-6291455", "bytes=6291456-8388607"});
}

TEST_CASE_FIXTURE(Fixture, "download: a destination that already matches its checksum is kept without a request") {
  const auto source = serve("a.bin", 1 * k_mib);
  std::filesystem::create_directories(dest().parent_path());
  std::filesystem::copy_file(source, dest());
  auto request = this->request("/files/a.bin");
  request.sha256 = testing::sha256_of_file(source);
  const auto result = download(request);
  REQUIRE_OK(result);
  CHECK(result->already_there);
  CHECK(result->bytes_transferred == 0);
  CHECK(result->sha256 == request.sha256);
  CHECK(server.log().empty());

  // One that does not match is replaced.
  testing::write_random_file(dest(), 1 * k_mib, 99);
  const auto replaced = download(request);
  REQUIRE_OK(replaced);
  CHECK_FALSE(replaced->already_there);
  CHECK(slurp(dest()) == slurp(source));
}

TEST_CASE("download: TLS works with the test CA given as ca_file, and fails on an untrusted certificate") {
  testing::TempDir dir;
  const auto certificates = testing::make_test_certificates(dir.path() / "tls");
  testing::HttpTestServer::Options options;
  options.cert = certificates.cert;
  options.key = certificates.key;
  testing::HttpTestServer server(dir.path() / "server", options);
  const auto source = server.root() / "a.bin";
  testing::write_random_file(source, 1 * k_mib + 1, 5);
  const os::Files files("/");
  std::vector<std::chrono::milliseconds> sleeps;
  net::DownloadRequest request;
  request.url = server.url("/files/a.bin");
  REQUIRE(request.url.starts_with("https://"));
  request.dest = (dir.path() / "out.bin").string();
  request.sha256 = testing::sha256_of_file(source);
  request.sleep = [&](std::chrono::milliseconds delay) { sleeps.push_back(delay); };

  auto settings = net::default_http_settings();
  settings.use_proxy = false;
  settings.ca_file = certificates.ca.string();
  const auto trusted = net::download(files, settings, request);
  REQUIRE_MESSAGE(trusted.has_value(), (trusted ? std::string() : trusted.error().message));
  CHECK(slurp(dir.path() / "out.bin") == slurp(source));

  std::filesystem::remove(dir.path() / "out.bin");
  settings.ca_file = net::find_ca_bundle();  // the system's CAs do not know the test CA
  const auto untrusted = net::download(files, settings, request);
  REQUIRE_FALSE(untrusted);
  INFO(untrusted.error().message);
  CHECK(untrusted.error().message.find("certificate") != std::string::npos);
  CHECK(untrusted.error().message.find(request.url) != std::string::npos);
  CHECK(sleeps.empty());  // not retried
  CHECK_FALSE(std::filesystem::exists(dir.path() / "out.bin"));
}

// net::http_request() against the server's GCE metadata emulation.
TEST_CASE("http_request: metadata GETs and PUTs, status codes, the Metadata-Flavor header, timeouts, size limit") {
  testing::TempDir dir;
  const auto metadata = dir.write("metadata.json", R"({"instance": {
      "attributes": {"cs231n-config": "{\"profile\": \"auto\"}", "user": "alice"},
      "id": "1234567890", "zone": "projects/1/zones/us-west1-b", "machine-type": "projects/1/machineTypes/n1-standard-4",
      "network-interfaces": [{"ip": "10.0.0.2", "access-configs": [{"external-ip": "34.1.2.3"}]}]}})");
  testing::HttpTestServer::Options options;
  options.metadata = metadata;
  testing::HttpTestServer server(dir.path() / "server", options);
  auto settings = Fixture::quiet_settings();
  const auto get = [&](const std::string& path, bool flavor = true) {
    net::SimpleRequest request;
    request.url = server.url("/computeMetadata/v1/" + path);
    if (flavor) request.headers["Metadata-Flavor"] = "Google";
    auto response = net::http_request(settings, request);
    REQUIRE_MESSAGE(response.has_value(), (response ? std::string() : response.error().message));
    return *response;
  };

  auto response = get("instance/attributes/user");
  CHECK(response.status == 200);
  CHECK(response.body == "alice");
  CHECK(response.headers.get("metadata-flavor") == "Google");
  CHECK(get("instance/attributes/cs231n-config").body == R"({"profile": "auto"})");
  CHECK(get("instance/zone").body == "projects/1/zones/us-west1-b");
  CHECK(get("instance/id").body == "1234567890");
  CHECK(get("instance/network-interfaces/0/access-configs/0/external-ip").body == "34.1.2.3");
  response = get("instance/attributes/?recursive=true");
  CHECK(response.status == 200);
  CHECK(json::parse(response.body) == json{{"cs231n-config", R"({"profile": "auto"})"}, {"user", "alice"}});

  response = get("instance/attributes/missing");
  CHECK(response.status == 404);  // a response, not a failure
  CHECK(response.headers.get("metadata-flavor") == "Google");
  response = get("instance/attributes/user", false);
  CHECK(response.status == 403);

  net::SimpleRequest put;
  put.url = server.url("/computeMetadata/v1/instance/guest-attributes/cs231n/state");
  put.method = "PUT";
  put.body = "running";
  put.headers["Metadata-Flavor"] = "Google";
  const auto stored = net::http_request(settings, put);
  REQUIRE(stored);
  CHECK(stored->status == 200);
  CHECK(get("instance/guest-attributes/cs231n/state").body == "running");
  const auto puts = server.log_for("/computeMetadata/v1/instance/guest-attributes/cs231n/state");
  REQUIRE(puts.size() == 2);
  CHECK(puts[0]["method"] == "PUT");
  CHECK(puts[0]["body"] == "running");

  // A slow answer runs into the timeout: no response at all, and the URL is named.
  net::SimpleRequest slow;
  slow.url = server.url("/computeMetadata/v1/instance/id?slow=3");
  slow.headers["Metadata-Flavor"] = "Google";
  slow.timeout = 300ms;
  const auto timed_out = net::http_request(settings, slow);
  REQUIRE_FALSE(timed_out);
  CHECK(timed_out.error().message.find(slow.url) != std::string::npos);

  // An answer larger than max_body is refused.
  testing::write_random_file(server.root() / "big.bin", 64 * 1024, 3);
  net::SimpleRequest big;
  big.url = server.url("/files/big.bin");
  big.max_body = 1000;
  const auto too_big = net::http_request(settings, big);
  REQUIRE_FALSE(too_big);
  CHECK(too_big.error().message.find("larger than 1000 bytes") != std::string::npos);
}

TEST_CASE("http_request: a metadata server started with --no-flavor-header omits the header") {
  testing::TempDir dir;
  const auto metadata = dir.write("metadata.json", R"({"instance": {"id": "42"}})");
  testing::HttpTestServer::Options options;
  options.metadata = metadata;
  options.no_flavor_header = true;
  testing::HttpTestServer server(dir.path() / "server", options);
  net::SimpleRequest request;
  request.url = server.url("/computeMetadata/v1/instance/id");
  request.headers["Metadata-Flavor"] = "Google";
  const auto response = net::http_request(Fixture::quiet_settings(), request);
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body == "42");
  CHECK(response->headers.get("metadata-flavor").empty());
}
