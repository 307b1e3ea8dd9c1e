#include <doctest/doctest.h>

#include "agent/detect/facts.hpp"
#include "support/accounts_fixture.hpp"

using namespace cs231n;

using testing::k_group;
using testing::k_passwd;

TEST_CASE("accounts: passwd and group parsing") {
  const auto accounts = os::Accounts::parse(k_passwd, k_group);
  CHECK(accounts.users().size() == 5);
  const auto ann = accounts.find_user("ann");
  REQUIRE(ann);
  CHECK(ann->home == "/home/ann");
  CHECK(ann->uid == 1000);
  CHECK(accounts.groups_of(*ann) == std::vector<gid_t>{1000, 44});
  CHECK_FALSE(accounts.find_user("broken line"));
  const auto regular = accounts.regular_users();
  REQUIRE(regular.size() == 1);  // svc has nologin, nobody is out of range
  CHECK(regular.front().name == "ann");
}

TEST_CASE("account names: the strict pattern") {
  CHECK(os::is_valid_user_name("ann"));
  CHECK(os::is_valid_user_name("_build-2"));
  CHECK_FALSE(os::is_valid_user_name(""));
  CHECK_FALSE(os::is_valid_user_name("Ann"));
  CHECK_FALSE(os::is_valid_user_name("-rf"));
  CHECK_FALSE(os::is_valid_user_name("1abc"));
  CHECK_FALSE(os::is_valid_user_name("ann;rm"));
  CHECK_FALSE(os::is_valid_user_name("../etc"));
  CHECK_FALSE(os::is_valid_user_name(std::string(33, 'a')));
}
