#include "agent/core/exit_codes.hpp"
#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class AnacondaStep : public plan::Step {
 public:
  AnacondaStep() : Step({.name = "anaconda", .after = {"user", "apt-packages"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    const std::string prefix = expand_home(context, config.string("anaconda.prefix"));
    const std::string installer = file_name_of(config.string("anaconda.installer_url"));
    return plan::will_run("install " + installer + " (sha256 " +
                          config.string("anaconda.installer_sha256").substr(0, 12) + "...) as " +
                          context.facts.user.name + " into " + prefix);
  }

  std::vector<plan::ExpectedDownload> expected_downloads(const plan::Context& context) const override {
    return {expected_file(context, context.config.string("anaconda.installer_url"), std::nullopt)};
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    // accept_tos is the conda-env step's business (conda tos accept runs there).
    auto anaconda = context.config.at("anaconda");
    anaconda.erase("accept_tos");
    return {{"user", context.facts.user.name}, {"anaconda", anaconda}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const std::string prefix = expand_home(run.context(), run.config().string("anaconda.prefix"));
    if (!run.system().files().user_path_exists(prefix + "/bin/conda")) return plan::CheckResult{false, ""};
    auto version = run.probe(as_user(run, {prefix + "/bin/conda", "--version"}));
    if (!version) return std::unexpected(version.error());
    if (!version->ok()) return plan::CheckResult{false, ""};
    auto in_shell = shell_has_conda(run, prefix);
    if (!in_shell) return std::unexpected(in_shell.error());
    if (!*in_shell) return plan::CheckResult{false, ""};
    return plan::CheckResult{true, "conda works in " + prefix + " and the user's shell has it"};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto& config = run.config();
    const auto& files = run.system().files();
    const std::string prefix = expand_home(run.context(), config.string("anaconda.prefix"));
    bool working = false;
    if (files.user_path_exists(prefix + "/bin/conda")) {
      auto version = run.probe(as_user(run, {prefix + "/bin/conda", "--version"}));
      working = version && version->ok();
    }
    if (!working) {
      if (auto space = check_space(run); !space) return std::unexpected(space.error());
      const std::string url = config.string("anaconda.installer_url");
      auto installer = download_to_cache(run, url, file_name_of(url), config.string("anaconda.installer_sha256"), "");
      if (!installer) return std::unexpected(installer.error());
      // -b: batch (accepts the licence, leaves .bashrc alone); -u: a half-installed prefix from a
      // killed run is completed rather than refused.
      auto installed = run.run(as_user(run, {"bash", files.host_path(*installer).string(), "-b", "-u", "-p", prefix}));
      if (!installed) return std::unexpected(installed.error());
    }
    auto in_shell = shell_has_conda(run, prefix);
    if (!in_shell) return std::unexpected(in_shell.error());
    if (!*in_shell) {
      // conda >= 4.6 knows `conda init`; Anaconda 2018.12's 4.5 does not: source conda.sh instead.
      auto has_init = run.probe(as_user(run, {prefix + "/bin/conda", "init", "--help"}));
      if (has_init && has_init->ok()) {
        if (auto init = run.run(as_user(run, {prefix + "/bin/conda", "init", "bash"})); !init)
          return std::unexpected(init.error());
      } else {
        const std::string block = std::string("\n") + k_our_marker + "\n. \"" + prefix + "/etc/profile.d/conda.sh\"\n" +
                                  "# <<< cs231n-agent conda <<<\n";
        if (auto appended = append_as_user(run, home_of(run.context()) + "/.bashrc", k_our_marker, block); !appended) {
          return std::unexpected(appended.error());
        }
      }
    }
    return plan::ApplyResult{};
  }

 private:
  static constexpr const char* k_our_marker = "# >>> cs231n-agent conda >>>";

  // Read as the user when it is a symlink (dotfiles kept in a repository): one to a file the user
  // cannot read (/etc/shadow) is an error naming it, and nothing of that file is read.
  static util::Result<bool> shell_has_conda(const plan::StepRun& run, const std::string& prefix) {
    auto read = read_as_user(run, home_of(run.context()) + "/.bashrc");
    if (!read) return std::unexpected(read.error());
    const std::string bashrc = read->value_or("");
    return bashrc.find(k_our_marker) != std::string::npos ||
           (bashrc.find(">>> conda initialize >>>") != std::string::npos && bashrc.find(prefix) != std::string::npos);
  }

  // Anaconda and the env need room: refuse early rather than fill the disk half-way.
  static util::Result<void> check_space(const plan::StepRun& run) {
    const bool full_anaconda = file_name_of(run.config().string("anaconda.installer_url")).starts_with("Anaconda");
    const std::uint64_t needed = (full_anaconda ? 8ull : 4ull) << 30;
    const auto free = run.system().files().free_bytes(home_of(run.context()));
    if (free && *free < needed) {
      return std::unexpected(util::Failure{"Anaconda and the conda env need about " + util::human_bytes(needed) +
                                               ", but " + home_of(run.context()) + " has only " +
                                               util::human_bytes(*free) + " free; grow the disk and run again",
                                           0, static_cast<int>(cs231n::ExitCode::no_space)});
    }
    return {};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_anaconda_step() { return std::make_unique<AnacondaStep>(); }

}  // namespace cs231n::steps
