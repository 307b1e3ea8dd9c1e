#include <doctest/doctest.h>
#include <zlib.h>

#include <string>

#include "agent/util/gzip.hpp"

using namespace cs231n;

namespace {

// gzip data as gzip(1) writes it (a gzip wrapper around deflate), made with zlib itself.
std::string gzipped(const std::string& text) {
  z_stream stream{};
  REQUIRE(deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&stream, text.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace

TEST_CASE("gunzip: content of one or more members; corrupt, truncated and oversized data refused") {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "Package: cuda-toolkit-12-" + std::to_string(i) + "\nVersion: 1\n\n";
  const auto data = gzipped(text);
  REQUIRE(data.size() < text.size() / 5);
  CHECK(util::gunzip(data, text.size()).value() == text);
  CHECK(util::gunzip(data + gzipped("more\n"), 1u << 30).value() == text + "more\n");
  CHECK(util::gunzip(data, text.size() - 1).error().message ==
        "more than " + std::to_string(text.size() - 1) + " bytes once uncompressed");
  CHECK(util::gunzip(data.substr(0, data.size() / 2), 1u << 30).error().message == "truncated gzip data");
  CHECK(util::gunzip("Package: not gzip\n", 1u << 30).error().message == "corrupt gzip data");
  CHECK(util::gunzip("", 1u << 30).error().message == "truncated gzip data");
}
