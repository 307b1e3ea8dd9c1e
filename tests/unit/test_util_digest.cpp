#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "agent/util/digest.hpp"

// util::StreamingDigest against published test vectors (FIPS 180-2, RFC 1321).

using cs231n::util::StreamingDigest;

namespace {

std::string digest_of(StreamingDigest digest, const std::string& data) {
  digest.update(data);
  return digest.finish();
}

}  // namespace

TEST_SUITE("util::StreamingDigest") {
  TEST_CASE("sha256 of the standard vectors") {
    CHECK(digest_of(StreamingDigest::sha256(), "") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(digest_of(StreamingDigest::sha256(), "abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(digest_of(StreamingDigest::sha256(), "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  }

  TEST_CASE("md5 of the standard vectors") {
    CHECK(digest_of(StreamingDigest::md5(), "") == "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(digest_of(StreamingDigest::md5(), "abc") == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(digest_of(StreamingDigest::md5(), "The quick brown fox jumps over the lazy dog") ==
          "9e107d9d372bb6826bd81d3542a419d6");
  }

  TEST_CASE("a million 'a's fed in uneven pieces hash like one piece") {
    auto digest = StreamingDigest::sha256();
    const std::string piece(999, 'a');
    std::size_t fed = 0;
    while (fed + piece.size() <= 1000000) {
      digest.update(piece.data(), piece.size());
      fed += piece.size();
    }
    digest.update(std::string(1000000 - fed, 'a'));
    CHECK(digest.finish() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }

  TEST_CASE("finish starts the digest over") {
    auto digest = StreamingDigest::md5();
    digest.update("abc");
    CHECK(digest.finish() == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(digest.finish() == "d41d8cd98f00b204e9800998ecf8427e");
    digest.update("abc");
    CHECK(digest.finish() == "900150983cd24fb0d6963f7d28e17f72");
  }

  TEST_CASE("by name: any digest OpenSSL knows, none for an unknown name") {
    auto sha1 = StreamingDigest::by_name("sha1");
    REQUIRE(sha1);
    CHECK(digest_of(std::move(*sha1), "abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
    auto sha256 = StreamingDigest::by_name("sha256");
    REQUIRE(sha256);
    CHECK(digest_of(std::move(*sha256), "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_FALSE(StreamingDigest::by_name("no-such-digest"));
  }
}
