#pragma once

#include <string>

#include "agent/config/config.hpp"
#include "agent/detect/facts.hpp"
#include "agent/idle/check.hpp"

namespace cs231n::idle {

// The check's settings from the resolved config (idle_shutdown.*, jupyter.port) and the facts:
// off GCE nothing is powered off, and Jupyter's certificate is in the target user's home.
Settings settings_from(const config::Config& config, const detect::Facts& facts, const std::string& state_dir);

}  // namespace cs231n::idle
