#include "agent/util/hash.hpp"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

#include "agent/util/digest.hpp"

namespace cs231n::util {

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    hex += k_digits[data[i] >> 4];
    hex += k_digits[data[i] & 0xf];
  }
  return hex;
}

std::string digest_hex(const std::string& algorithm, std::string_view data) {
  auto digest = StreamingDigest::by_name(algorithm);
  if (!digest) return "";
  digest->update(data);
  return digest->finish();
}

std::string sha256_hex(std::string_view data) {
  auto digest = StreamingDigest::sha256();
  digest.update(data);
  return digest.finish();
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(bytes)) != 1) throw std::runtime_error("no random bytes from OpenSSL");
  return to_hex(buffer.data(), bytes);
}

}  // namespace cs231n::util
