#include "agent/idle/signals.hpp"
#include "agent/jupyter/api_token.hpp"
#include "agent/jupyter/config_file.hpp"
#include "steps/common.hpp"
#include "steps/jupyter_common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class JupyterServiceStep : public plan::Step {
 public:
  JupyterServiceStep() : Step({.name = "jupyter-service", .after = {"jupyter-config", "conda-env", "assignments"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    if (!context.config.boolean("jupyter.service")) return plan::skipped("jupyter.service is false");
    std::string summary = "install and enable " + std::string(k_jupyter_unit) + ", running Jupyter as " +
                          context.facts.user.name + " from the " + context.config.string("conda_env.name") +
                          " env at " + jupyter_url(context);
    if (!context.system.services().systemd_running()) summary += " (systemd is not running here: enabled, not started)";
    return plan::will_run(summary);
  }

  nlohmann::json inputs(const plan::Context& context) const override { return {{"unit", unit(context)}}; }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    const auto current = files.read(std::string(k_unit_dir) + "/" + k_jupyter_unit);
    if (!current || *current != unit(run.context())) return plan::CheckResult{false, ""};
    if (!api_token_in_place(files, run.context().paths)) return plan::CheckResult{false, ""};
    if (run.system().services().systemd_running()) {
      auto active = run.probe(os::Command{{"systemctl", "is-active", "--quiet", k_jupyter_unit}});
      if (!active || !active->ok()) return plan::CheckResult{false, ""};
    } else if (!files.stat(std::string(k_unit_dir) + "/multi-user.target.wants/" + k_jupyter_unit)) {
      return plan::CheckResult{false, ""};
    }
    return plan::CheckResult{true, "Jupyter: " + jupyter_url(run.context()) + " (password: sudo cat " +
                                       k_generated_password_file + ", unless you set one)"};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    auto& services = run.system().services();
    const auto& files = run.system().files();
    const auto previous = files.read(std::string(k_unit_dir) + "/" + k_jupyter_unit);
    bool restart = previous && *previous != unit(run.context());
    if (!api_token_in_place(files, run.context().paths)) {
      const auto& paths = run.context().paths;
      if (auto made = files.make_dirs(paths.jupyter_dir(), 0700); !made) return std::unexpected(made.error());
      const auto content = jupyter::api_token_file_content(jupyter::make_api_token());
      if (auto written = files.write_atomic(paths.api_token_file(), content, 0600); !written)
        return std::unexpected(written.error());
      run.note("made the agent's Jupyter API token (root only, " + paths.api_token_file() + ")");
      restart = restart || previous.has_value();
    }
    if (auto installed = services.install_unit(k_jupyter_unit, unit(run.context())); !installed)
      return std::unexpected(installed.error());
    // Jupyter (re)starts from here on: the idle check's grace for a probe that gets no answer.
    if (auto recorded =
            idle::record_jupyter_change(files, run.context().paths.jupyter_changed_file(), run.system().now());
        !recorded)
      return std::unexpected(recorded.error());
    if (auto enabled = services.enable(k_jupyter_unit, "multi-user.target", true); !enabled)
      return std::unexpected(enabled.error());
    // A running server keeps its old settings (and its old token, or none) until it starts again.
    if (restart && services.systemd_running()) {
      if (auto restarted = run.run(os::Command{{"systemctl", "try-restart", k_jupyter_unit}}); !restarted) {
        return std::unexpected(restarted.error());
      }
    }
    return plan::ApplyResult{};
  }

 private:
  // Root's own file, 0600, holding a well-formed token: anything else is written anew.
  static bool api_token_in_place(const os::Files& files, const Paths& paths) {
    const auto info = files.stat(paths.api_token_file());
    if (!info || info->type != os::FileType::regular || info->uid != 0 || (info->mode & 077) != 0) return false;
    const auto content = files.read(paths.api_token_file());
    return content && jupyter::parse_api_token_file(*content);
  }

  // Every value is validated by the config schema, and quoted for systemd all the same.
  static std::string unit(const plan::Context& context) {
    using jupyter::systemd_quote;
    const auto& config = context.config;
    const std::string env =
        expand_home(context, config.string("anaconda.prefix")) + "/envs/" + config.string("conda_env.name");
    // clang-format off
    return "# Written by cs231n-agent.\n"
           "[Unit]\n"
           "Description=Jupyter for cs231n (cs231n-agent)\n"
           "Wants=network-online.target\n"
           "After=network-online.target\n"
           "\n"
           "[Service]\n"
           "Type=simple\n"
           "User=" + systemd_quote(context.facts.user.name) + "\n"
           "WorkingDirectory=" + systemd_quote(expand_home(context, config.string("assignments.folder"))) + "\n"
           "Environment=" + systemd_quote("PATH=" + env + "/bin:/usr/local/bin:/usr/bin:/bin") + "\n"
           // The agent's API token (jupyter/api_token.hpp): read by systemd as root, before it
           // becomes the user, so the root-only file never has to be readable by the user.
           "EnvironmentFile=" + systemd_quote(context.paths.api_token_file()) + "\n"
           "ExecStart=" + systemd_quote(env + "/bin/jupyter") + " notebook --no-browser\n"
           "Restart=on-failure\n"
           "RestartSec=5\n"
           "\n"
           "[Install]\n"
           "WantedBy=multi-user.target\n";
    // clang-format on
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_jupyter_service_step() { return std::make_unique<JupyterServiceStep>(); }

}  // namespace cs231n::steps
