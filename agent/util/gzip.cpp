#include "agent/util/gzip.hpp"

#include <zlib.h>

#include <array>
#include <limits>

namespace cs231n::util {

Result<std::string> gunzip(std::string_view compressed, std::size_t max_size) {
  z_stream stream{};
  // 15 + 16: the largest window, gzip wrapper only (zlib.h, inflateInit2).
  if (inflateInit2(&stream, 15 + 16) != Z_OK) return fail("cannot start zlib's inflate");
  std::string content;
  std::array<char, std::size_t{64} << 10> buffer{};
  std::size_t offset = 0;
  int status = Z_OK;
  while (true) {
    if (stream.avail_in == 0 && offset < compressed.size()) {
      const std::size_t chunk = std::min<std::size_t>(compressed.size() - offset, std::numeric_limits<uInt>::max());
      // zlib's API takes non-const input it does not write to.
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data() + offset));
      stream.avail_in = static_cast<uInt>(chunk);
      offset += chunk;
    }
    stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
    stream.avail_out = static_cast<uInt>(buffer.size());
    status = inflate(&stream, Z_NO_FLUSH);
    const std::size_t produced = buffer.size() - stream.avail_out;
    if (content.size() + produced > max_size) {
      inflateEnd(&stream);
      return fail("more than " + std::to_string(max_size) + " bytes once uncompressed");
    }
    content.append(buffer.data(), produced);
    if (status == Z_STREAM_END) {
      // Another member may follow (gzip concatenates them).
      if (stream.avail_in == 0 && offset == compressed.size()) break;
      if (inflateReset(&stream) != Z_OK) break;
      continue;
    }
    if (status != Z_OK && status != Z_BUF_ERROR) break;
    if (status == Z_BUF_ERROR && stream.avail_in == 0 && offset == compressed.size()) break;
  }
  inflateEnd(&stream);
  if (status != Z_STREAM_END) return fail(status == Z_BUF_ERROR ? "truncated gzip data" : "corrupt gzip data");
  return content;
}

}  // namespace cs231n::util
