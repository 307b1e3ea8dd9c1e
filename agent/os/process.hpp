#pragma once

#include "agent/os/accounts.hpp"
#include "agent/os/system.hpp"

namespace cs231n::os {

// Runs a command with fork/exec (posix_spawn cannot change user): its own session (no controlling
// terminal; its process group is the one a timeout ends), no descriptor but 0, 1 and 2, a clean
// environment, optionally as another account (setgroups/setgid/setuid from `accounts`, since
// initgroups() would load NSS modules), with a timeout that ends the whole group.
// `inherited_env` supplies the proxy variables passed on to children.
util::Result<CommandResult> run_process(const Command& command, const Accounts& accounts,
                                        const std::map<std::string, std::string>& inherited_env);

// What the agent sets once at start, before anything else: SIGPIPE ignored (a child that stops
// reading its stdin is a write error, reported by run_process, not the end of the agent; children
// get the default back), and umask 022, so that the modes of what it creates (folders, its log)
// do not depend on the umask of whoever started it.
void set_process_defaults();

// Command::low_priority for the calling thread alone, for the rest of its life (the downloads of
// steps nobody waits for): on Linux, setpriority(2) and ioprio_set(2) given a thread id act on
// that thread only. Best effort, like the children's.
void lower_this_thread_priority();

// The environment a child gets before Command::env is applied.
std::map<std::string, std::string> base_environment(const Account* account,
                                                    const std::map<std::string, std::string>& inherited_env);

}  // namespace cs231n::os
