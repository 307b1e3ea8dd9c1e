#include "agent/util/digest.hpp"

#include <openssl/evp.h>

#include <stdexcept>

#include "agent/util/hash.hpp"

namespace cs231n::util {

void StreamingDigest::ContextFree::operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }

StreamingDigest::StreamingDigest(const EVP_MD* type) : m_type(type), m_context(EVP_MD_CTX_new()) {
  if (!m_context || EVP_DigestInit_ex(m_context.get(), m_type, nullptr) != 1)
    throw std::runtime_error("cannot start a digest");
}

StreamingDigest StreamingDigest::sha256() { return StreamingDigest(EVP_sha256()); }

StreamingDigest StreamingDigest::md5() { return StreamingDigest(EVP_md5()); }

std::optional<StreamingDigest> StreamingDigest::by_name(const std::string& algorithm) {
  const EVP_MD* type = EVP_get_digestbyname(algorithm.c_str());
  if (!type) return std::nullopt;
  return StreamingDigest(type);
}

void StreamingDigest::update(const void* data, std::size_t size) {
  if (EVP_DigestUpdate(m_context.get(), data, size) != 1) throw std::runtime_error("digest update failed");
}

std::string StreamingDigest::finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(m_context.get(), digest, &size) != 1 ||
      EVP_DigestInit_ex(m_context.get(), m_type, nullptr) != 1) {
    throw std::runtime_error("digest final failed");
  }
  return to_hex(digest, size);
}

}  // namespace cs231n::util
