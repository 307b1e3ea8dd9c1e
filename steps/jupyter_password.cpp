#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include "agent/jupyter/password.hpp"
#include "agent/net/metadata.hpp"
#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/jupyter_common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

constexpr const char* k_password_attribute = "jupyter-password";

std::string without_newline(std::string text) {
  while (text.ends_with('\n') || text.ends_with('\r')) text.pop_back();
  return text;
}

// Where the password comes from, in the order the README gives.
enum class Source { config_hash, password_file, metadata, generated };

class JupyterPasswordStep : public plan::Step {
 public:
  // The password in a file or metadata may change; a digest of it must not go into the state.
  JupyterPasswordStep() : Step({.name = "jupyter-password", .per_instance = true, .recheck_when_done = true}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    const std::string algorithm = config.string("jupyter.hash_algorithm");
    if (!config.string("jupyter.password_hash").empty())
      return plan::will_run("use the password hash from " + config.sources().at("jupyter.password_hash"));
    const std::string file = config.string("jupyter.password_file");
    if (!file.empty()) return plan::will_run("hash the password in " + file + " with " + algorithm);
    return plan::will_run("hash the jupyter-password metadata attribute, or make a random password kept in " +
                          std::string(k_generated_password_file) + " (root only), with " + algorithm);
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    const auto& config = context.config;
    return {{"password_hash", config.string("jupyter.password_hash")},
            {"password_file", config.string("jupyter.password_file")},
            {"algorithm", config.string("jupyter.hash_algorithm")}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    const auto stored = files.read_trimmed(run.context().paths.password_hash_file());
    if (!stored) return plan::CheckResult{false, ""};
    const auto& config = run.config();
    if (!config.string("jupyter.password_hash").empty()) {
      return plan::CheckResult{*stored == config.string("jupyter.password_hash"), "the configured hash is in place"};
    }
    auto password = current_password(run, false);
    if (!password) return plan::CheckResult{false, ""};
    const bool right_algorithm = stored->starts_with(config.string("jupyter.hash_algorithm") + ":");
    if (!password->empty() && right_algorithm && jupyter::check_hash(*stored, *password)) {
      return plan::CheckResult{true, "the password hash is in place"};
    }
    return plan::CheckResult{false, ""};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto& config = run.config();
    const auto& files = run.system().files();
    std::string hash = config.string("jupyter.password_hash");
    if (hash.empty()) {
      auto password = current_password(run, true);
      if (!password) return std::unexpected(password.error());
      hash = config.string("jupyter.hash_algorithm") == "argon2" ? jupyter::make_argon2_hash(*password)
                                                                 : jupyter::make_sha1_hash(*password);
    }
    const auto& paths = run.context().paths;
    if (auto made = files.make_dirs(paths.jupyter_dir(), 0700); !made) return std::unexpected(made.error());
    if (auto written = files.write_atomic(paths.password_hash_file(), hash + "\n", 0600); !written)
      return std::unexpected(written.error());
    return plan::ApplyResult{};
  }

 private:
  // The plaintext password, from the password file, the metadata attribute, or the generated
  // file (made when `create` and there is none). Empty when the config gives a hash.
  static util::Result<std::string> current_password(const plan::StepRun& run, bool create) {
    const auto& files = run.system().files();
    const std::string file = run.config().string("jupyter.password_file");
    if (!file.empty()) {
      auto info = files.stat(file);
      if (!info) return util::fail("jupyter.password_file " + file + " cannot be read: " + info.error().message);
      if (info->uid != 0 || (info->mode & 077) != 0) {
        return util::fail("jupyter.password_file " + file +
                          " must belong to root and be readable by root only: chown root " + file + " && chmod 600 " +
                          file);
      }
      auto password = files.read(file);
      if (!password) return std::unexpected(password.error());
      if (without_newline(*password).empty()) return util::fail("jupyter.password_file " + file + " is empty");
      return without_newline(*password);
    }
    const net::MetadataClient metadata(run.system(), files.is_host_root() && run.facts().gce);
    if (metadata.enabled()) {
      auto attribute = metadata.get(std::string("instance/attributes/") + k_password_attribute);
      if (attribute && *attribute && !without_newline(**attribute).empty()) {
        if (create) {
          spdlog::warn(
              "the Jupyter password comes from the {} metadata attribute, which every process on the VM can read; "
              "prefer jupyter-password-hash (cs231n-agent passwd makes one)",
              k_password_attribute);
        }
        return without_newline(**attribute);
      }
    }
    if (auto generated = files.read(k_generated_password_file)) return without_newline(*generated);
    if (!create) return std::string();
    std::string password = jupyter::random_password();
    if (auto written = files.write_atomic(k_generated_password_file, password + "\n", 0600); !written)
      return std::unexpected(written.error());
    run.note("made a random Jupyter password; read it with: sudo cat " + std::string(k_generated_password_file));
    return password;
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_jupyter_password_step() { return std::make_unique<JupyterPasswordStep>(); }

}  // namespace cs231n::steps
