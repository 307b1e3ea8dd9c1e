#pragma once

#include <string>

namespace cs231n {

// Where the agent keeps what it owns on the machine: the run state, step logs and secrets under
// state_dir (--state-dir), downloads it can verify and reuse under cache_dir (--cache-dir). The
// one place that knows their defaults; everything else asks a Paths value for a file in them.
struct Paths {
  static constexpr const char* k_default_state_dir = "/var/lib/cs231n-agent";
  static constexpr const char* k_default_cache_dir = "/var/cache/cs231n-agent";

  std::string state_dir = k_default_state_dir;
  std::string cache_dir = k_default_cache_dir;

  // Paths with the defaults, for code that has no Paths of its own to pass (tests, fixtures).
  static const Paths& defaults();

  bool default_state_dir() const { return state_dir == k_default_state_dir; }
  bool default_cache_dir() const { return cache_dir == k_default_cache_dir; }

  // Under state_dir (0700: the password hash and the API token are secrets).
  std::string state_file() const { return state_dir + "/state.json"; }
  std::string lock_file() const { return state_dir + "/lock"; }
  std::string logs_dir() const { return state_dir + "/logs"; }
  std::string idle_state_file() const { return state_dir + "/idle.json"; }
  // The running agent's download progress per step, for `status` (rewritten about once a second).
  std::string progress_file() const { return state_dir + "/progress.json"; }
  std::string jupyter_dir() const { return state_dir + "/jupyter"; }
  std::string password_hash_file() const { return jupyter_dir() + "/password.hash"; }
  std::string api_token_file() const { return jupyter_dir() + "/api-token.env"; }
  // When the agent last gave Jupyter a new certificate or token (idle::record_jupyter_change).
  std::string jupyter_changed_file() const { return jupyter_dir() + "/changed-at"; }
  std::string nvidia_repo_unusable_file() const { return state_dir + "/nvidia-repo-unusable"; }

  // Under cache_dir.
  std::string datasets_dir() const { return cache_dir + "/datasets"; }
  std::string dataset_pins_file() const { return datasets_dir() + "/pins.json"; }
  // The wheels of the last pip install the agent downloaded for (0755, files 0644: the user's pip
  // reads them).
  std::string wheels_dir() const { return cache_dir + "/wheels"; }
};

// Refuses (Error, exit 2) a folder the units and logs could not name safely: it must be an
// absolute path of letters, digits, _ . / and -, without "..". `flag` names the option.
void check_agent_dir(const std::string& flag, const std::string& dir);

}  // namespace cs231n
