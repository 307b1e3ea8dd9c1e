#include "agent/jupyter/password.hpp"

#include <argon2.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

#include "agent/util/hash.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::jupyter {

namespace {

constexpr std::uint32_t k_argon2_time = 10;
constexpr std::uint32_t k_argon2_memory_kib = 10240;
constexpr std::uint32_t k_argon2_lanes = 8;
constexpr std::size_t k_argon2_salt = 16;
constexpr std::size_t k_argon2_hash = 16;

}  // namespace

std::string sha1_hash(std::string_view passphrase, std::string_view salt) {
  return "sha1:" + std::string(salt) + ":" + util::digest_hex("sha1", std::string(passphrase) + std::string(salt));
}

std::string make_sha1_hash(std::string_view passphrase) { return sha1_hash(passphrase, util::random_hex(6)); }

std::string make_argon2_hash(std::string_view passphrase) {
  unsigned char salt[k_argon2_salt];
  if (RAND_bytes(salt, sizeof salt) != 1) throw std::runtime_error("no random bytes for the salt");
  // argon2_encodedlen counts the trailing NUL.
  std::vector<char> encoded(
      argon2_encodedlen(k_argon2_time, k_argon2_memory_kib, k_argon2_lanes, k_argon2_salt, k_argon2_hash, Argon2_id));
  const int result =
      argon2id_hash_encoded(k_argon2_time, k_argon2_memory_kib, k_argon2_lanes, passphrase.data(), passphrase.size(),
                            salt, sizeof salt, k_argon2_hash, encoded.data(), encoded.size());
  if (result != ARGON2_OK) throw std::runtime_error(std::string("argon2 failed: ") + argon2_error_message(result));
  return "argon2:" + std::string(encoded.data());
}

bool check_hash(std::string_view hash, std::string_view passphrase) {
  if (hash.starts_with("argon2:")) {
    const std::string encoded(hash.substr(7));
    return argon2_verify(encoded.c_str(), passphrase.data(), passphrase.size(),
                         encoded.starts_with("$argon2id$")  ? Argon2_id
                         : encoded.starts_with("$argon2i$") ? Argon2_i
                                                            : Argon2_d) == ARGON2_OK;
  }
  // "algorithm:salt:digest", split on the first two colons, as notebook's passwd_check does.
  const auto first = hash.find(':');
  const auto second = first == std::string_view::npos ? first : hash.find(':', first + 1);
  if (second == std::string_view::npos) return false;
  const std::string algorithm(hash.substr(0, first));
  const auto salt = hash.substr(first + 1, second - first - 1);
  const auto digest = util::digest_hex(algorithm, std::string(passphrase) + std::string(salt));
  return !digest.empty() && digest == hash.substr(second + 1);
}

std::string random_password() {
  static constexpr char k_alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
  constexpr std::size_t alphabet_size = sizeof k_alphabet - 1;
  std::string password;
  while (password.size() < 20) {
    unsigned char byte = 0;
    if (RAND_bytes(&byte, 1) != 1) throw std::runtime_error("no random bytes for the password");
    if (byte < 256 - 256 % alphabet_size) password += k_alphabet[byte % alphabet_size];  // no modulo bias
  }
  return password;
}

}  // namespace cs231n::jupyter
