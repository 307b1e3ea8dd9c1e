#pragma once

#include <string>
#include <string_view>

namespace cs231n::util {

// Lowercase hex of bytes.
std::string to_hex(const unsigned char* data, std::size_t size);
// Lowercase hex sha256 of `data` (OpenSSL EVP).
std::string sha256_hex(std::string_view data);
// Lowercase hex digest of `data` with the named OpenSSL digest ("sha1", "sha256", ...); empty for
// an unknown name.
std::string digest_hex(const std::string& algorithm, std::string_view data);
// `bytes` random bytes from the OS's CSPRNG as lowercase hex.
std::string random_hex(std::size_t bytes);

}  // namespace cs231n::util
