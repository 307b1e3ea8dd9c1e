#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "agent/util/digest.hpp"

namespace cs231n::net {

// Hashes a file front to back as its contiguous prefix arrives, reading back from the page cache,
// so verification overlaps the download whatever order the segments come in.
class PrefixHasher {
 public:
  explicit PrefixHasher(bool md5);
  // Hashes the bytes of `fd` from hashed() up to `upto`. False on a read error.
  bool advance(int fd, std::uint64_t upto);
  std::uint64_t hashed() const { return m_hashed; }
  std::string sha256() { return m_sha256.finish(); }
  std::string md5() { return m_md5 ? m_md5->finish() : ""; }

 private:
  util::StreamingDigest m_sha256;
  std::optional<util::StreamingDigest> m_md5;
  std::uint64_t m_hashed = 0;
};

}  // namespace cs231n::net
