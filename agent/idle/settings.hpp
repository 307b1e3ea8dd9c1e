#pragma once

#include <string>

#include "agent/config/config.hpp"
#include "agent/core/paths.hpp"
#include "agent/detect/facts.hpp"
#include "agent/idle/check.hpp"

namespace cs231n::idle {

// The check's settings from the resolved config (idle_shutdown.*, jupyter.port) and the facts:
// off GCE nothing is powered off, and Jupyter's certificate is in the target user's home. The run
// lock, the idle state and the agent's API token are in the agent's state folder.
Settings settings_from(const config::Config& config, const detect::Facts& facts, const Paths& paths);

}  // namespace cs231n::idle
