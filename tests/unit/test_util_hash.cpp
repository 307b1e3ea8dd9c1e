#include <doctest/doctest.h>

#include "agent/util/hash.hpp"

using namespace cs231n;

TEST_SUITE("util::hash") {
  TEST_CASE("to_hex is lowercase, two digits a byte") {
    const unsigned char bytes[] = {0x00, 0x0f, 0xa0, 0xff};
    CHECK(util::to_hex(bytes, sizeof bytes) == "000fa0ff");
    CHECK(util::to_hex(bytes, 0).empty());
  }

  TEST_CASE("one-shot digests agree with the standard vectors") {
    CHECK(util::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(util::digest_hex("sha256", "abc") == util::sha256_hex("abc"));
    CHECK(util::digest_hex("sha1", "abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(util::digest_hex("md5", "") == "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(util::digest_hex("no-such-digest", "abc").empty());
  }

  TEST_CASE("random_hex gives two digits a byte, differently each time") {
    const auto first = util::random_hex(6);
    CHECK(first.size() == 12);
    CHECK(first.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(util::random_hex(16) != util::random_hex(16));
  }
}
