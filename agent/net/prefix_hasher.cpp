#include "agent/net/prefix_hasher.hpp"

#include <unistd.h>

#include <algorithm>
#include <vector>

namespace cs231n::net {

PrefixHasher::PrefixHasher(bool md5) : m_sha256(util::StreamingDigest::sha256()) {
  if (md5) m_md5.emplace(util::StreamingDigest::md5());
}

bool PrefixHasher::advance(int fd, std::uint64_t upto) {
  static thread_local std::vector<char> buffer(1u << 20);
  while (m_hashed < upto) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), upto - m_hashed));
    const ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(m_hashed));
    if (got <= 0) return false;
    m_sha256.update(buffer.data(), static_cast<std::size_t>(got));
    if (m_md5) m_md5->update(buffer.data(), static_cast<std::size_t>(got));
    m_hashed += static_cast<std::uint64_t>(got);
  }
  return true;
}

}  // namespace cs231n::net
