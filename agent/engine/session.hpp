#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/engine/engine.hpp"
#include "agent/engine/self_install.hpp"
#include "agent/engine/state.hpp"

namespace cs231n::engine {

// Builds the steps for a config; injected so that the engine does not know the step table.
using StepFactory = std::function<plan::StepList(const config::Config&)>;

// The address the finished machine serves (Jupyter's), "" when there is none to show; injected so
// that the engine knows no port.
using UrlBuilder = std::function<std::string(const config::Config&, const detect::Facts&)>;

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
  UrlBuilder jupyter_url;  // nullptr: SessionResult::jupyter_url stays empty
};

struct SessionResult {
  RunOutcome outcome;
  bool ran = false;         // false when there was nothing to do (resume without a pending run)
  std::string jupyter_url;  // what RunRequest::jupyter_url built for the run's config and facts
};

// `run` and `resume`: takes the lock, loads the state, checks the reboot that was asked for,
// starts or continues the run record, asks off GCE, ends processes a killed run left behind,
// installs the agent and its resume unit, and runs the engine (session_steps.hpp names each step).
// Throws Error for what stops it before any step runs (busy, bad selection, not confirmed).
SessionResult run_session(os::System& system, const StepFactory& make_steps, const RunRequest& request,
                          Progress& progress);

}  // namespace cs231n::engine
