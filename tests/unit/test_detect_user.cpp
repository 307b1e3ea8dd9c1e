#include <doctest/doctest.h>

#include "agent/detect/facts.hpp"
#include "support/accounts_fixture.hpp"

using namespace cs231n;

using testing::k_group;
using testing::k_passwd;

TEST_CASE("target user: config, then SUDO_USER, then the only regular account") {
  const auto accounts = os::Accounts::parse(k_passwd, k_group);

  auto from_config = detect::resolve_target_user(accounts, "zoe", "ann");
  CHECK(from_config.name == "zoe");
  CHECK(from_config.source == "config");
  CHECK_FALSE(from_config.account);  // not created yet: the user step will

  auto from_sudo = detect::resolve_target_user(accounts, "", "ann");
  CHECK(from_sudo.name == "ann");
  CHECK(from_sudo.source == "SUDO_USER");
  REQUIRE(from_sudo.account);
  CHECK(from_sudo.account->home == "/home/ann");

  auto sudo_root = detect::resolve_target_user(accounts, "", "root");
  CHECK(sudo_root.name == "ann");
  CHECK(sudo_root.source == "/etc/passwd");

  auto only = detect::resolve_target_user(accounts, "", std::nullopt);
  CHECK(only.name == "ann");
  CHECK(only.error.empty());
}

TEST_CASE("target user: errors name the key to set") {
  const auto none =
      detect::resolve_target_user(os::Accounts::parse("root:x:0:0::/root:/bin/bash\n", ""), "", std::nullopt);
  CHECK(none.name.empty());
  CHECK(none.error.find("set \"user\"") != std::string::npos);

  const auto two = detect::resolve_target_user(
      os::Accounts::parse("a:x:1000:1000::/home/a:/bin/bash\nb:x:1001:1001::/home/b:/bin/sh\n", ""), "", std::nullopt);
  CHECK(two.name.empty());
  CHECK(two.error.find("several accounts could be the target (a, b)") != std::string::npos);

  const auto bad = detect::resolve_target_user(os::Accounts::parse(k_passwd, k_group), "", "x;reboot");
  CHECK(bad.name.empty());
  CHECK(bad.error.find("not a valid account name") != std::string::npos);
}
