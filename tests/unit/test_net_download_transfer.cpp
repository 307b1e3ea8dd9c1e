#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "agent/net/download_transfer.hpp"

// What the downloader reads from its one-byte probe (the transfers themselves are covered by
// test_net_download*.cpp against the local test server).

using namespace cs231n;

namespace {

net::ProbeAnswer answer(const std::string& status_line, const std::vector<std::string>& fields) {
  net::ProbeAnswer probe;
  probe.headers.add_line(status_line + "\r\n");
  for (const auto& field : fields) probe.headers.add_line(field + "\r\n");
  probe.status = probe.headers.status;
  return probe;
}

}  // namespace

TEST_SUITE("net::download_transfer") {
  TEST_CASE("a 206 tells the size and that ranges work") {
    const auto file =
        net::describe(answer("HTTP/1.1 206 Partial Content", {"Content-Range: bytes 0-0/4194304", "ETag: \"abc\"",
                                                              "Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT"}));
    CHECK(file.size == std::optional<std::uint64_t>(4194304));
    CHECK(file.ranges);
    CHECK(file.etag == "\"abc\"");
    CHECK(file.last_modified == "Tue, 14 Nov 2023 22:13:20 GMT");
  }

  TEST_CASE("a 206 without a total size is no use for ranges") {
    const auto file = net::describe(answer("HTTP/1.1 206 Partial Content", {"Content-Range: bytes 0-0/*"}));
    CHECK_FALSE(file.size);
    CHECK_FALSE(file.ranges);
  }

  TEST_CASE("a 200 (ranges ignored) tells the size from Content-Length, or nothing") {
    auto file = net::describe(answer("HTTP/1.1 200 OK", {"Content-Length: 3145728"}));
    CHECK(file.size == std::optional<std::uint64_t>(3145728));
    CHECK_FALSE(file.ranges);
    file = net::describe(answer("HTTP/1.1 200 OK", {"Transfer-Encoding: chunked"}));
    CHECK_FALSE(file.size);
  }

  TEST_CASE("a 416 is an empty file") {
    const auto file = net::describe(answer("HTTP/1.1 416 Range Not Satisfiable", {"Content-Range: bytes */0"}));
    CHECK(file.size == std::optional<std::uint64_t>(0));
    CHECK_FALSE(file.ranges);
  }

  TEST_CASE("a weak ETag is dropped: If-Range cannot use it") {
    const auto file =
        net::describe(answer("HTTP/1.1 206 Partial Content", {"Content-Range: bytes 0-0/10", "ETag: W/\"abc\""}));
    CHECK(file.etag.empty());
    CHECK(file.ranges);
  }
}
