#include "agent/jupyter/config_file.hpp"
#include "agent/util/hash.hpp"
#include "steps/common.hpp"
#include "steps/jupyter_common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

struct ConfigFile {
  const char* name;
  std::string (*block)(const jupyter::ServerSettings&);
  const char* overriding_json;
};

// notebook 6 reads the first; notebook 7 and JupyterLab 4 (jupyter_server) the second. A .json
// file beside a .py file wins over it, so its presence is worth a warning.
const ConfigFile k_config_files[] = {
    {"jupyter_notebook_config.py", jupyter::notebook_config_block, "jupyter_notebook_config.json"},
    {"jupyter_server_config.py", jupyter::server_config_block, "jupyter_server_config.json"},
};

class JupyterConfigStep : public plan::Step {
 public:
  JupyterConfigStep() : Step({.name = "jupyter-config", .after = {"jupyter-password", "jupyter-cert"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    return plan::will_run("write the cs231n block of " + jupyter_dir(context) +
                          "/jupyter_notebook_config.py and jupyter_server_config.py (https, port " +
                          std::to_string(config.integer("jupyter.port")) + ", notebooks in " +
                          expand_home(context, config.string("assignments.folder")) + ")");
  }

  // The hash (not a secret, and salted) is an input: a new password rewrites the config files.
  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"port", context.config.integer("jupyter.port")},
            {"folder", context.config.string("assignments.folder")},
            {"user", context.facts.user.name},
            {"hash", util::sha256_hex(context.system.files().read(context.paths.password_hash_file()).value_or(""))}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto settings = server_settings(run);
    if (!settings) return plan::CheckResult{false, ""};
    for (const auto& file : k_config_files) {
      const auto content = run.system().files().read_user_file(jupyter_dir(run.context()) + "/" + file.name);
      if (!content || jupyter::with_managed_block(*content, file.block(*settings)) != *content)
        return plan::CheckResult{false, ""};
    }
    return plan::CheckResult{true, "both Jupyter config files have the current block"};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto settings = server_settings(run);
    if (!settings) return util::fail("there is no Jupyter password hash yet (the jupyter-password step makes it)");
    const std::string dir = jupyter_dir(run.context());
    for (const auto& file : k_config_files) {
      const std::string path = dir + "/" + file.name;
      auto existing = read_as_user(run, path);
      if (!existing) return std::unexpected(existing.error());
      const std::string current = existing->value_or("");
      const std::string wanted = jupyter::with_managed_block(current, file.block(*settings));
      if (wanted != current) {
        if (auto written = write_as_user(run, path, wanted, "0600"); !written) return std::unexpected(written.error());
      }
      if (run.system().files().user_path_exists(dir + "/" + file.overriding_json)) {
        run.note("warning: " + dir + "/" + file.overriding_json + " overrides settings of " + file.name +
                 " (a .json file wins over the .py file); remove it if Jupyter does not use HTTPS or the password");
      }
    }
    return plan::ApplyResult{};
  }

 private:
  static std::optional<jupyter::ServerSettings> server_settings(const plan::StepRun& run) {
    const auto hash = run.system().files().read_trimmed(run.context().paths.password_hash_file());
    if (!hash) return std::nullopt;
    return jupyter::ServerSettings{certificate_path(run.context()), key_path(run.context()),
                                   static_cast<int>(run.config().integer("jupyter.port")),
                                   expand_home(run.context(), run.config().string("assignments.folder")), *hash};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_jupyter_config_step() { return std::make_unique<JupyterConfigStep>(); }

}  // namespace cs231n::steps
