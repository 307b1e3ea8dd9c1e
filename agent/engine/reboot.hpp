#pragma once

#include <functional>
#include <string>

#include "agent/engine/engine.hpp"

namespace cs231n::engine {

// A reboot a step asked for, with what the run knows of this boot.
struct RebootRequest {
  std::string step;          // the step that asked
  std::string boot_id;       // this boot's id, empty when it could not be read
  std::string boot_id_path;  // where it is read, for the message when it could not be
};

// Ends a run whose step asked for a reboot: refuses a reboot loop (reboot.max_reboots) and a
// reboot it could not detect afterwards (no boot id); otherwise records reboot-pending in `run`
// (count, step, this boot's id), saves through `save` before the machine goes down, and runs the
// reboot command (not with no_reboot). The outcome says which, and what to do.
RunOutcome reboot_for(const RebootRequest& request, RunRecord& run, const plan::Context& context,
                      const RunOptions& options, const std::function<void()>& save);

}  // namespace cs231n::engine
