#pragma once

#include <string>

#include "agent/core/paths.hpp"

namespace cs231n::idle {

inline constexpr const char* k_idle_service = "cs231n-agent-idle.service";
inline constexpr const char* k_idle_timer = "cs231n-agent-idle.timer";

// A oneshot that runs `/usr/local/bin/cs231n-agent idle-check` (the agent `run` installs): it
// reads the config of the last run (the state in `state_dir`, passed on when it is not the
// default) and the metadata as they are now. Only options systemd 229 (Ubuntu 16.04) knows.
std::string idle_service_unit(const Paths& paths);

// Runs the service every k_check_interval, the first time k_check_interval after boot (or at
// once when enabled later than that), enabled for timers.target.
std::string idle_timer_unit();

}  // namespace cs231n::idle
