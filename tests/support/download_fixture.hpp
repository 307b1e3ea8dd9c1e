#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/net/download.hpp"
#include "agent/net/http.hpp"
#include "support/http_test_server.hpp"
#include "support/temp_dir.hpp"

// What the tests of net::download() share: a test server of their own, a folder to download
// into, and ways to read the server's request log.
namespace cs231n::testing::download {

using namespace std::chrono_literals;

inline constexpr std::size_t k_mib = 1u << 20;

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
    return std::filesystem::exists(dest(dest_name).string() + ".part") ||
           std::filesystem::exists(dest(dest_name).string() + ".part.json");
  }
};

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

// The requests that carried data: everything but the agent's one-byte probe ("bytes=0-0").
inline std::vector<nlohmann::json> transfers(const std::vector<nlohmann::json>& log) {
  std::vector<nlohmann::json> found;
  for (const auto& entry : log) {
    if (entry["method"] == "GET" && entry["range"] != "bytes=0-0") found.push_back(entry);
  }
  return found;
}

inline std::size_t probes(const std::vector<nlohmann::json>& log) {
  std::size_t count = 0;
  for (const auto& entry : log) count += entry["range"] == "bytes=0-0" ? 1 : 0;
  return count;
}

// "bytes=123-456" -> 123.
inline std::uint64_t range_start(const nlohmann::json& entry) {
  const auto text = entry["range"].get<std::string>();
  return std::stoull(text.substr(text.find('=') + 1));
}

inline void check_backoff(const std::chrono::milliseconds delay, std::chrono::milliseconds base) {
  // base * 2^(n-1) plus up to a quarter of jitter.
  CHECK(delay >= base);
  CHECK(delay <= base + base / 4);
}

}  // namespace cs231n::testing::download

#define REQUIRE_OK(result) REQUIRE_MESSAGE((result).has_value(), ((result) ? std::string() : (result).error().message))
