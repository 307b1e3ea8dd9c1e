#include <doctest/doctest.h>

#include <regex>

#include "agent/jupyter/password.hpp"

using namespace cs231n;

TEST_CASE("jupyter password: sha1 form is IPython's, byte for byte") {
  // hashlib.sha1(("pässword" + "0123456789ab").encode()).hexdigest()
  CHECK(jupyter::sha1_hash("pässword", "0123456789ab") == "sha1:0123456789ab:8e1b04744c08f7f5d405615f25fe8f4d76422cb1");
  const auto made = jupyter::make_sha1_hash("hunter2");
  CHECK(std::regex_match(made, std::regex("sha1:[0-9a-f]{12}:[0-9a-f]{40}")));
  CHECK(made != jupyter::make_sha1_hash("hunter2"));  // a fresh salt each time
  CHECK(jupyter::check_hash(made, "hunter2"));
  CHECK_FALSE(jupyter::check_hash(made, "hunter3"));
  CHECK_FALSE(jupyter::check_hash("sha1:nocolon", "x"));
  CHECK_FALSE(jupyter::check_hash("nosuchalgo:ab:cd", "x"));
}

TEST_CASE("jupyter password: argon2 form is jupyter_server's") {
  const auto made = jupyter::make_argon2_hash("hunter2");
  CHECK(std::regex_match(
      made, std::regex(R"(argon2:\$argon2id\$v=19\$m=10240,t=10,p=8\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{22})")));
  CHECK(jupyter::check_hash(made, "hunter2"));
  CHECK_FALSE(jupyter::check_hash(made, "Hunter2"));
}

TEST_CASE("jupyter password: random passwords are long and unambiguous") {
  const auto password = jupyter::random_password();
  CHECK(password.size() == 20);
  CHECK(password.find_first_of("0O1lI") == std::string::npos);
  CHECK(password != jupyter::random_password());
}
