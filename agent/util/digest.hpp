#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct evp_md_st;
struct evp_md_ctx_st;

namespace cs231n::util {

// A message digest fed piece by piece (OpenSSL EVP): the one place the agent hashes data.
//   auto digest = StreamingDigest::sha256();
//   digest.update(part1); digest.update(part2);
//   std::string hex = digest.finish();  // lowercase hex
class StreamingDigest {
 public:
  static StreamingDigest sha256();
  static StreamingDigest md5();
  // Any digest OpenSSL knows by name ("sha1", "sha512", ...); nullopt for an unknown name.
  static std::optional<StreamingDigest> by_name(const std::string& algorithm);

  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // The digest of everything fed so far, as lowercase hex. The digest then starts over, empty.
  std::string finish();

 private:
  struct ContextFree {
    void operator()(evp_md_ctx_st* context) const;
  };
  explicit StreamingDigest(const evp_md_st* type);

  const evp_md_st* m_type;
  std::unique_ptr<evp_md_ctx_st, ContextFree> m_context;
};

}  // namespace cs231n::util
