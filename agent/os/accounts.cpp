#include "agent/os/accounts.hpp"

#include <algorithm>

#include "agent/util/strings.hpp"

namespace cs231n::os {

namespace {

bool is_login_shell(std::string_view shell) {
  if (shell.empty()) return true;  // login(1) uses /bin/sh for an empty shell field
  return !shell.ends_with("/nologin") && !shell.ends_with("/false") && !shell.ends_with("/sync");
}

}  // namespace

Accounts Accounts::parse(std::string_view passwd, std::string_view group) {
  Accounts accounts;
  for (const auto& line : util::lines(passwd)) {
    if (line.empty() || line.starts_with('#')) continue;
    const auto fields = util::split(line, ':');
    if (fields.size() != 7 || fields[0].empty()) continue;
    const auto uid = util::parse_uint(fields[2]);
    const auto gid = util::parse_uint(fields[3]);
    if (!uid || !gid) continue;
    accounts.m_users.push_back(
        Account{fields[0], static_cast<uid_t>(*uid), static_cast<gid_t>(*gid), fields[4], fields[5], fields[6]});
  }
  for (const auto& line : util::lines(group)) {
    if (line.empty() || line.starts_with('#')) continue;
    const auto fields = util::split(line, ':');
    if (fields.size() != 4 || fields[0].empty()) continue;
    const auto gid = util::parse_uint(fields[2]);
    if (!gid) continue;
    Group entry{fields[0], static_cast<gid_t>(*gid), {}};
    if (!fields[3].empty()) entry.members = util::split(fields[3], ',');
    accounts.m_groups.push_back(std::move(entry));
  }
  return accounts;
}

Accounts Accounts::load(const Files& files) {
  return parse(files.read("/etc/passwd").value_or(""), files.read("/etc/group").value_or(""));
}

std::optional<Account> Accounts::find_user(std::string_view name) const {
  for (const auto& user : m_users) {
    if (user.name == name) return user;
  }
  return std::nullopt;
}

std::vector<gid_t> Accounts::groups_of(const Account& account) const {
  std::vector<gid_t> gids{account.gid};
  for (const auto& group : m_groups) {
    if (std::ranges::find(group.members, account.name) != group.members.end() &&
        std::ranges::find(gids, group.gid) == gids.end()) {
      gids.push_back(group.gid);
    }
  }
  return gids;
}

std::vector<Account> Accounts::regular_users() const {
  std::vector<Account> regular;
  for (const auto& user : m_users) {
    if (user.uid >= 1000 && user.uid < 60000 && is_login_shell(user.shell)) regular.push_back(user);
  }
  return regular;
}

bool is_valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  const auto lower_or_underscore = [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; };
  if (!lower_or_underscore(name[0])) return false;
  return std::ranges::all_of(name,
                             [&](char c) { return lower_or_underscore(c) || (c >= '0' && c <= '9') || c == '-'; });
}

}  // namespace cs231n::os
