#pragma once

#include "agent/os/accounts.hpp"
#include "agent/os/system.hpp"

namespace cs231n::os {

// Runs a command with fork/exec (posix_spawn cannot change user): its own process group, a clean
// environment, optionally as another account (setgroups/setgid/setuid from `accounts`, since
// initgroups() would load NSS modules), with a timeout that ends the whole group.
// `inherited_env` supplies the proxy variables passed on to children.
util::Result<CommandResult> run_process(const Command& command, const Accounts& accounts,
                                        const std::map<std::string, std::string>& inherited_env);

// The environment a child gets before Command::env is applied.
std::map<std::string, std::string> base_environment(const Account* account,
                                                    const std::map<std::string, std::string>& inherited_env);

}  // namespace cs231n::os
