#include <doctest/doctest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "agent/net/download.hpp"
#include "support/download_fixture.hpp"

// net::download() against tests/support/http_server.py on 127.0.0.1: plain and segmented
// downloads, checksums, sizes, redirects, TLS. Resumes are in test_net_download_resume.cpp,
// retries in test_net_download_retry.cpp.

using namespace cs231n;
using namespace cs231n::testing::download;
using namespace std::chrono_literals;
using nlohmann::json;

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
  CHECK(ranges == std::vector<std::string>{"bytes=0-2097151", "bytes=2097152-4194303", "bytes=4194304-6291455",
                                           "bytes=6291456-8388607"});
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
