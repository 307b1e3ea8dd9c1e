#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/net/download_sidecar.hpp"

// The sidecar <dest>.part.json: its on-disk format (golden files written by the downloader as it
// was before the sidecar had a unit of its own), its layout of segments, and what it says about
// the part file.

using namespace cs231n;

namespace {

// tests/fixtures/sidecar/<name> (CS231N_SOURCE_DIR, else next to this file).
std::filesystem::path fixture(const std::string& name) {
  const char* source = std::getenv("CS231N_SOURCE_DIR");
  const auto tests = source && *source ? std::filesystem::path(source) / "tests"
                                       : std::filesystem::path(__FILE__).parent_path().parent_path();
  return tests / "fixtures" / "sidecar" / name;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  REQUIRE_MESSAGE(stream, "cannot read " << path);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

net::Segment segment(std::uint64_t start, std::uint64_t end, std::uint64_t done, bool complete) {
  return {start, end, done, complete};
}

bool same(const net::Segment& a, const net::Segment& b) {
  return a.start == b.start && a.end == b.end && a.done == b.done && a.complete == b.complete;
}

}  // namespace

TEST_SUITE("net::download_sidecar") {
  TEST_CASE("golden: a segmented download's sidecar loads and is written back byte for byte") {
    const auto text = slurp(fixture("segmented.part.json"));
    const auto sidecar = net::parse_sidecar(text);
    REQUIRE(sidecar);
    CHECK(sidecar->format == 1);
    CHECK(sidecar->url.starts_with("http://127.0.0.1:"));
    CHECK(sidecar->url.ends_with("/files/a.bin?cut=300000&cut_times=1"));
    CHECK_FALSE(sidecar->etag.empty());
    CHECK_FALSE(sidecar->last_modified.empty());
    CHECK(sidecar->size == std::optional<std::uint64_t>(8u << 20));
    CHECK(sidecar->ranges);
    REQUIRE(sidecar->segments.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
      CAPTURE(i);
      CHECK(sidecar->segments[i].start == i * (2u << 20));
      CHECK(sidecar->segments[i].end == (i + 1) * (2u << 20));
    }
    CHECK(net::sidecar_text(*sidecar) == text);
  }

  TEST_CASE("golden: a sidecar of unknown size (null size, open-ended segment) round-trips") {
    const auto text = slurp(fixture("unknown-size.part.json"));
    const auto sidecar = net::parse_sidecar(text);
    REQUIRE(sidecar);
    CHECK_FALSE(sidecar->size);
    CHECK_FALSE(sidecar->ranges);
    REQUIRE(sidecar->segments.size() == 1);
    CHECK(sidecar->segments[0].end == UINT64_MAX);
    CHECK_FALSE(sidecar->segments[0].complete);
    CHECK(text.find("\"size\":null") != std::string::npos);
    CHECK(text.find("\"end\":18446744073709551615") != std::string::npos);
    CHECK(net::sidecar_text(*sidecar) == text);
  }

  TEST_CASE("the file is one line of JSON with the fields in a stable order") {
    net::Sidecar sidecar;
    sidecar.url = "https://example.org/a.bin";
    sidecar.etag = "\"e\"";
    sidecar.last_modified = "Tue, 14 Nov 2023 22:13:20 GMT";
    sidecar.size = 10;
    sidecar.ranges = true;
    sidecar.segments = {segment(0, 5, 5, true), segment(5, 10, 2, false)};
    CHECK(net::sidecar_text(sidecar) ==
          R"({"etag":"\"e\"","format":1,"last_modified":"Tue, 14 Nov 2023 22:13:20 GMT","ranges":true,)"
          R"("segments":[{"complete":true,"done":5,"end":5,"start":0},{"complete":false,"done":2,"end":10,"start":5}],)"
          R"("size":10,"url":"https://example.org/a.bin"})"
          "\n");
    const auto loaded = net::parse_sidecar(net::sidecar_text(sidecar));
    REQUIRE(loaded);
    CHECK(loaded->size == sidecar.size);
    REQUIRE(loaded->segments.size() == 2);
    CHECK(same(loaded->segments[1], sidecar.segments[1]));
  }

  TEST_CASE("another format, a missing or mistyped field, or no JSON at all: not loaded") {
    const std::string good = R"({"etag":"","format":1,"last_modified":"","ranges":false,)"
                             R"("segments":[{"complete":false,"done":0,"end":10,"start":0}],"size":10,"url":"u"})";
    REQUIRE(net::parse_sidecar(good));
    auto replaced = [&](const std::string& from, const std::string& to) {
      auto text = good;
      text.replace(text.find(from), from.size(), to);
      return text;
    };
    CHECK_FALSE(net::parse_sidecar(replaced("\"format\":1", "\"format\":2")));
    CHECK_FALSE(net::parse_sidecar(replaced("\"url\":\"u\"", "\"uri\":\"u\"")));
    CHECK_FALSE(net::parse_sidecar(replaced("\"ranges\":false", "\"ranges\":0")));
    CHECK_FALSE(net::parse_sidecar(replaced("\"done\":0,", "")));
    CHECK_FALSE(net::parse_sidecar(replaced("\"size\":10", "\"size\":\"10\"")));
    CHECK_FALSE(net::parse_sidecar(good.substr(0, good.size() / 2)));
    CHECK_FALSE(net::parse_sidecar(""));
  }

  TEST_CASE("plan: segments of at least min_segment, at most one per connection, covering the file") {
    auto sidecar = net::plan_sidecar("u", "e", "m", 8u << 20, true, 4, 1u << 20);
    REQUIRE(sidecar.segments.size() == 4);
    CHECK(same(sidecar.segments[0], segment(0, 2u << 20, 0, false)));
    CHECK(same(sidecar.segments[3], segment(6u << 20, 8u << 20, 0, false)));
    CHECK(sidecar.url == "u");
    CHECK(sidecar.etag == "e");
    CHECK(sidecar.last_modified == "m");
    CHECK(sidecar.format == net::Sidecar::k_format);

    sidecar = net::plan_sidecar("u", "", "", (3u << 20) + 7, true, 8, 1u << 20);
    REQUIRE(sidecar.segments.size() == 3);
    CHECK(sidecar.segments[2].end == (3u << 20) + 7);  // the last one takes the rest
    CHECK(sidecar.segments[1].end == sidecar.segments[2].start);

    sidecar = net::plan_sidecar("u", "", "", 1000, true, 4, 1u << 20);
    REQUIRE(sidecar.segments.size() == 1);
    CHECK(same(sidecar.segments[0], segment(0, 1000, 0, false)));

    sidecar = net::plan_sidecar("u", "", "", 8u << 20, true, 0, 1u << 20);
    CHECK(sidecar.segments.size() == 1);  // 0 connections means 1
  }

  TEST_CASE("plan: one stream without ranges or size; an empty file is complete at once") {
    auto sidecar = net::plan_sidecar("u", "", "", 8u << 20, false, 4, 1u << 20);
    REQUIRE(sidecar.segments.size() == 1);
    CHECK(same(sidecar.segments[0], segment(0, 8u << 20, 0, false)));

    sidecar = net::plan_sidecar("u", "", "", std::nullopt, false, 4, 1u << 20);
    REQUIRE(sidecar.segments.size() == 1);
    CHECK(same(sidecar.segments[0], segment(0, UINT64_MAX, 0, false)));

    sidecar = net::plan_sidecar("u", "", "", 0, true, 4, 1u << 20);
    REQUIRE(sidecar.segments.size() == 1);
    CHECK(same(sidecar.segments[0], segment(0, 0, 0, true)));
    CHECK(sidecar.all_complete());
  }

  TEST_CASE("bytes done, the contiguous prefix, and completion") {
    net::Sidecar sidecar;
    sidecar.segments = {segment(0, 10, 10, true), segment(10, 20, 4, false), segment(20, 30, 10, true)};
    CHECK(sidecar.bytes_done() == 24);
    CHECK(sidecar.contiguous_end() == 14);  // the second segment's hole stops it
    CHECK_FALSE(sidecar.all_complete());
    sidecar.segments[1] = segment(10, 20, 10, true);
    CHECK(sidecar.contiguous_end() == 30);
    CHECK(sidecar.all_complete());
    sidecar.segments[0] = segment(0, 10, 3, false);
    CHECK(sidecar.contiguous_end() == 3);
    CHECK(net::Sidecar{}.contiguous_end() == 0);
  }

  TEST_CASE("describes: same URL, size, ranges and validator (ETag, else Last-Modified)") {
    auto sidecar = net::plan_sidecar("u", "\"e\"", "m", 100, true, 1, 1u << 20);
    CHECK(sidecar.describes("u", 100, true, "\"e\"", "m"));
    CHECK(sidecar.describes("u", 100, true, "\"e\"", "other date"));  // the ETag decides
    CHECK_FALSE(sidecar.describes("v", 100, true, "\"e\"", "m"));
    CHECK_FALSE(sidecar.describes("u", 101, true, "\"e\"", "m"));
    CHECK_FALSE(sidecar.describes("u", 100, false, "\"e\"", "m"));
    CHECK_FALSE(sidecar.describes("u", 100, true, "\"f\"", "m"));

    sidecar = net::plan_sidecar("u", "", "m", 100, true, 1, 1u << 20);
    CHECK(sidecar.describes("u", 100, true, "", "m"));
    CHECK_FALSE(sidecar.describes("u", 100, true, "", "n"));

    sidecar = net::plan_sidecar("u", "", "", 100, false, 1, 1u << 20);
    CHECK_FALSE(sidecar.describes("u", 100, true, "", ""));  // it had no ranges: nothing to resume
  }
}
