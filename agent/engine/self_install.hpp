#pragma once

#include <string>

#include "agent/core/paths.hpp"
#include "agent/os/system.hpp"

namespace cs231n::engine {

inline constexpr const char* k_installed_agent = "/usr/local/bin/cs231n-agent";
inline constexpr const char* k_resume_unit = "cs231n-agent.service";

// The unit that runs `cs231n-agent resume` at every boot. Only options systemd 229 (Ubuntu 16.04)
// knows.
std::string resume_unit(const Paths& paths);

// Copies the running binary (read through /proc/self/exe, not from the path it was started from) to
// /usr/local/bin/cs231n-agent (temp file + rename, so never "text file busy"), unless the same binary is there, or a
// newer version is there and !force.
void install_self(os::System& system, bool force);

// Installs and enables (does not start) the resume unit; a failure is a warning that says how to
// resume by hand.
void install_resume_unit(os::System& system, const Paths& paths);

}  // namespace cs231n::engine
