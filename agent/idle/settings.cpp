#include "agent/idle/settings.hpp"

#include "agent/jupyter/api_token.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::idle {

Settings settings_from(const config::Config& config, const detect::Facts& facts, const Paths& paths) {
  Settings settings;
  settings.enabled = config.boolean("idle_shutdown.enabled");
  settings.gce = facts.gce;
  settings.minutes = std::chrono::minutes(config.integer("idle_shutdown.minutes"));
  settings.power_off_command = config.strings("idle_shutdown.command");
  settings.cpu_load_percent = static_cast<int>(config.integer("idle_shutdown.cpu_load_percent"));
  settings.gpu_percent = static_cast<int>(config.integer("idle_shutdown.gpu_percent"));
  settings.busy_max = std::chrono::minutes(config.integer("idle_shutdown.busy_max_minutes"));
  settings.state_dir = paths.state_dir;
  settings.jupyter.port = static_cast<int>(config.integer("jupyter.port"));
  settings.jupyter.token_file = paths.api_token_file();
  settings.jupyter.changed_file = paths.jupyter_changed_file();
  if (facts.user.account) {
    settings.jupyter.certificate = facts.user.account->home + jupyter::k_certificate_in_home;
    settings.user = facts.user.name;
    settings.notebook_dir = util::expand_home(config.string("assignments.folder"), facts.user.account->home);
  }
  return settings;
}

}  // namespace cs231n::idle
