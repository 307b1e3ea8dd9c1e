#include "agent/idle/units.hpp"

#include "agent/engine/session.hpp"
#include "agent/idle/check.hpp"
#include "agent/jupyter/config_file.hpp"

namespace cs231n::idle {

std::string idle_service_unit(const Paths& paths) {
  const std::string agent = engine::k_installed_agent;
  // clang-format off
  return "# Written by cs231n-agent: powers the VM off when it has been idle (see cs231n-agent idle-check --help).\n"
         "[Unit]\n"
         "Description=cs231n-agent: power the VM off when it is idle\n"
         "ConditionPathExists=" + jupyter::systemd_quote(agent) + "\n"
         "\n"
         "[Service]\n"
         "Type=oneshot\n"
         "ExecStart=" + jupyter::systemd_quote(agent) + " idle-check" +
         (paths.default_state_dir() ? "" : " --state-dir " + jupyter::systemd_quote(paths.state_dir)) + "\n"
         // A hung probe must not hold the next checks back for ever.
         "TimeoutStartSec=5min\n";
  // clang-format on
}

std::string idle_timer_unit() {
  const std::string interval = std::to_string(k_check_interval.count()) + "min";
  // clang-format off
  return "# Written by cs231n-agent: runs " + std::string(k_idle_service) + " every " + interval + ".\n"
         "[Unit]\n"
         "Description=cs231n-agent: check every " + interval + " whether the VM is idle\n"
         "\n"
         "[Timer]\n"
         "OnBootSec=" + interval + "\n"
         "OnUnitActiveSec=" + interval + "\n"
         "AccuracySec=30s\n"
         "Unit=" + std::string(k_idle_service) + "\n"
         "\n"
         "[Install]\n"
         "WantedBy=timers.target\n";
  // clang-format on
}

}  // namespace cs231n::idle
