#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/engine/engine.hpp"
#include "agent/engine/state.hpp"

namespace cs231n::engine {

inline constexpr const char* k_installed_agent = "/usr/local/bin/cs231n-agent";
inline constexpr const char* k_resume_unit = "cs231n-agent.service";

// Builds the steps for a config; injected so that the engine does not know the step table.
using StepFactory = std::function<plan::StepList(const config::Config&)>;

struct RunRequest {
  Paths paths;
  bool resume = false;  // continue the recorded run with its recorded config and selection only
  std::vector<config::Layer> config_layers;
  std::optional<detect::GceInstance> instance;  // what the metadata server says of this VM
  RunOptions options;
  bool wait_for_lock = false;
  bool yes = false;    // agreed in advance to change a machine that is not a GCE VM
  bool force = false;  // replace a newer installed agent
  // Asks the operator to confirm changing a machine that is not a GCE VM (nullptr: no terminal).
  std::function<bool(const std::string& question)> confirm;
};

struct SessionResult {
  RunOutcome outcome;
  bool ran = false;  // false when there was nothing to do (resume without a pending run)
  std::string jupyter_url;  // https://<external ip>:<port>/ on GCE, else empty
};

// `run` and `resume`: takes the lock, loads the state, checks the reboot that was asked for,
// ends processes a killed run left behind, installs the agent and its resume unit, and runs the
// engine. Throws Error for what stops it before any step runs (busy, bad selection, not confirmed).
SessionResult run_session(os::System& system, const StepFactory& make_steps, const RunRequest& request, Progress& progress);

// The unit that runs `cs231n-agent resume` at every boot. Only options systemd 229 (Ubuntu 16.04)
// knows.
std::string resume_unit(const Paths& paths);

// Copies the running binary to /usr/local/bin/cs231n-agent (temp file + rename, so never "text
// file busy"), unless the same binary is there, or a newer version is there and !force.
void install_self(os::System& system, bool force);

}  // namespace cs231n::engine
