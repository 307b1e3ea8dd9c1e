#pragma once

#include <string>
#include <string_view>

namespace cs231n::util {

// Lowercase hex sha256 of `data` (OpenSSL EVP).
std::string sha256_hex(std::string_view data);
// `bytes` random bytes from the OS's CSPRNG as lowercase hex.
std::string random_hex(std::size_t bytes);

}  // namespace cs231n::util
