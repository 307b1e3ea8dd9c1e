#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/os/files.hpp"
#include "agent/util/result.hpp"

namespace cs231n::os {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string gecos;
  std::string home;
  std::string shell;
};

struct Group {
  std::string name;
  gid_t gid = 0;
  std::vector<std::string> members;
};

// Users and groups read straight from <root>/etc/passwd and <root>/etc/group. A static glibc
// binary must not call getpwnam(): that loads the VM's NSS modules (systemd, OS Login), which were
// built for another glibc. Malformed lines are skipped, as the C library does.
class Accounts {
 public:
  static Accounts parse(std::string_view passwd, std::string_view group);
  // Missing files read as empty (a fixture root may have none).
  static Accounts load(const Files& files);

  const std::vector<Account>& users() const { return m_users; }
  std::optional<Account> find_user(std::string_view name) const;
  // The primary group plus every group that lists the user as a member (what initgroups() sets).
  std::vector<gid_t> groups_of(const Account& account) const;
  // Accounts a person logs in to: uid 1000..59999 and a shell that is not nologin/false.
  std::vector<Account> regular_users() const;

 private:
  std::vector<Account> m_users;
  std::vector<Group> m_groups;
};

// The strict account-name pattern the agent accepts anywhere a user name comes from config,
// metadata or the environment: [a-z_][a-z0-9_-]*, at most 32 characters.
bool is_valid_user_name(std::string_view name);

}  // namespace cs231n::os
