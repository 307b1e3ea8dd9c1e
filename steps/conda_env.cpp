#include <csignal>

#include <algorithm>
#include <array>

#include "agent/core/exit_codes.hpp"
#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/conda_metapackage.hpp"
#include "steps/conda_terms.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

// "numpy>=1.20" -> "numpy"
std::string package_name(const std::string& spec) { return spec.substr(0, spec.find_first_of("=<>!")); }

// conda's progress headings, in the order it goes through them (conda 4.5 to 26: "Collecting
// package metadata" appeared with 4.6; 4.5 fetches repodata inside "Solving environment").
constexpr std::array<std::string_view, 6> k_conda_phases = {
    "Collecting package metadata", "Solving environment",   "Downloading and Extracting Packages",
    "Preparing transaction",       "Verifying transaction", "Executing transaction"};

// The last phase conda's output reached, or empty.
std::string last_phase(const std::string& output) {
  std::size_t best_position = 0;
  std::string best;
  for (const auto phase : k_conda_phases) {
    const auto position = output.rfind(phase);
    if (position != std::string::npos && (best.empty() || position >= best_position)) {
      best_position = position;
      best = std::string(phase);
    }
  }
  return best;
}

// The metapackage whose pins make the env without a solve: with conda_env.metapackage_channel set,
// no list or environment file given, and the packages one `name=version` spec (anaconda=2018.12).
std::optional<MetapackageSpec> metapackage_of(const config::Config& config) {
  if (config.string("conda_env.metapackage_channel").empty() || !config.string("conda_env.explicit_file").empty() ||
      !config.string("conda_env.environment_file").empty())
    return std::nullopt;
  const auto packages = config.strings("conda_env.packages");
  return packages.size() == 1 ? parse_metapackage_spec(packages.front()) : std::nullopt;
}

std::string metapackage_channel(const config::Config& config) {
  std::string channel = config.string("conda_env.metapackage_channel");
  while (channel.ends_with('/')) channel.pop_back();
  return channel;
}

class CondaEnvStep : public plan::Step {
 public:
  CondaEnvStep() : Step({.name = "conda-env", .after = {"anaconda"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    std::string summary = "create conda env " + config.string("conda_env.name") + " from ";
    const std::string explicit_file = config.string("conda_env.explicit_file");
    const std::string file = config.string("conda_env.environment_file");
    const auto metapackage = metapackage_of(config);
    if (!explicit_file.empty()) {
      summary += "the @EXPLICIT list " + explicit_file + " (no solve" + list_check(context) + ")";
    } else if (metapackage) {
      summary += "the pins of " + metapackage->name + "=" + metapackage->version + " for python " +
                 config.string("conda_env.python") + " in " + metapackage_channel(config) +
                 "/linux-64/repodata.json, as an @EXPLICIT list (no solve)";
    } else if (!file.empty()) {
      summary += file;
    } else {
      summary +=
          "python=" + config.string("conda_env.python") + " " + util::join(config.strings("conda_env.packages"), " ");
    }
    if (!config.string("conda_env.metapackage_channel").empty() && !metapackage && explicit_file.empty() &&
        file.empty()) {
      summary += " (conda solves: conda_env.metapackage_channel needs the packages to be one name=version metapackage)";
    }
    if (file.empty() && !metapackage) {
      const auto channels = config.strings("conda_env.channels");
      summary += channels.empty() ? " (conda's configured channels)"
                                  : " (channels " + util::join(channels, ", ") + " only: --override-channels)";
    }
    return plan::will_run(summary + terms_summary(config, anaconda_terms(config, &context.system.files())));
  }

  // conda fetches the packages itself, and says their sizes only once it has solved (or, for an
  // @EXPLICIT list, read each URL).
  std::vector<plan::ExpectedDownload> expected_downloads(const plan::Context& context) const override {
    const std::string explicit_file = context.config.string("conda_env.explicit_file");
    if (const auto metapackage = metapackage_of(context.config); metapackage && explicit_file.empty()) {
      auto repodata =
          expected_file(context, metapackage_channel(context.config) + "/linux-64/repodata.json", std::nullopt);
      repodata.what = "the channel's linux-64 repodata.json";
      return {repodata,
              {"the packages " + metapackage->name + "=" + metapackage->version + " pins", std::nullopt,
               "not known here (the repodata says once it is read)"}};
    }
    return {{explicit_file.empty() ? "the env's conda packages" : "the packages of the @EXPLICIT list", std::nullopt,
             "not known here (conda knows them once it has solved the env)"}};
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    // Keys added later count only when set, so that an env made before them is not made again.
    // (nlohmann's empty() is false for every string, "" too.)
    auto conda_env = context.config.at("conda_env");
    // How the metapackage's pins are found (read from the channel, or solved) does not change
    // which packages the env gets: a seed env solved before the key existed is not made again.
    conda_env.erase("metapackage_channel");
    for (const char* key : {"channels", "explicit_file", "explicit_sha256"}) {
      const auto& value = conda_env.at(key);
      if (value.is_string() ? value.get_ref<const std::string&>().empty() : value.empty()) conda_env.erase(key);
    }
    nlohmann::json inputs = {{"conda_env", conda_env},
                             {"prefix", context.config.string("anaconda.prefix")},
                             {"user", context.facts.user.name}};
    if (context.config.boolean("anaconda.accept_tos")) inputs["accept_tos"] = true;
    return inputs;
  }

  // Done when conda lists the env and its conda-meta records the wanted Python and packages.
  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& config = run.config();
    const std::string env = config.string("conda_env.name");
    const std::string prefix = expand_home(run.context(), config.string("anaconda.prefix"));
    const std::string env_dir = steps::env_dir(run.context());
    const auto& files = run.system().files();
    if (!files.user_path_exists(env_dir + "/conda-meta/history")) return plan::CheckResult{false, ""};
    const auto records = files.list_user_folder(env_dir + "/conda-meta").value_or(std::vector<std::string>{});
    const auto has = [&](const std::string& package, const std::string& version_prefix) {
      return std::ranges::any_of(records, [&](const std::string& record) {
        return record.starts_with(package + "-" + version_prefix) && record.ends_with(".json");
      });
    };
    if (config.string("conda_env.environment_file").empty() && config.string("conda_env.explicit_file").empty()) {
      if (!has("python", config.string("conda_env.python") + ".")) return plan::CheckResult{false, ""};
      for (const auto& spec : config.strings("conda_env.packages")) {
        if (!has(package_name(spec), "")) return plan::CheckResult{false, ""};
      }
    }
    auto listed = run.probe(with_capture(as_user(run, {prefix + "/bin/conda", "env", "list", "--json"})));
    if (!listed) return std::unexpected(listed.error());
    if (!listed->ok()) return plan::CheckResult{false, ""};
    try {
      const auto envs = nlohmann::json::parse(listed->stdout_text).at("envs");
      if (std::ranges::find(envs, nlohmann::json(env_dir)) == envs.end()) return plan::CheckResult{false, ""};
    } catch (const nlohmann::json::exception&) {
      return util::fail("conda env list --json printed something that is not JSON");
    }
    return plan::CheckResult{true, "env " + env + " in " + prefix + " has what the config asks for"};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto& config = run.config();
    const std::string prefix = expand_home(run.context(), config.string("anaconda.prefix"));
    const std::string conda = prefix + "/bin/conda";
    const std::string env = config.string("conda_env.name");
    const std::string file = config.string("conda_env.environment_file");
    const std::string explicit_file = config.string("conda_env.explicit_file");
    // The plan decided on the installer's name; the installed conda now says what it really is.
    const auto terms = anaconda_terms(config, &run.system().files(), has_tos_plugin(run, conda));
    if (auto refusal = terms_refusal(config, terms)) {
      return std::unexpected(util::Failure{*refusal, 0, static_cast<int>(ExitCode::refused)});
    }
    if (auto accepted = accept_terms(run, conda, terms); !accepted) return std::unexpected(accepted.error());
    std::vector<std::string> argv;
    if (const auto metapackage = metapackage_of(config)) {
      // The same exact pins the solver would have to find, linked as an @EXPLICIT list.
      auto list = metapackage_list(run, *metapackage);
      if (!list) return std::unexpected(list.error());
      argv = {conda, "create", "-y", "-n", env, "--file", *list};
    } else if (!explicit_file.empty()) {
      // An @EXPLICIT list is linked as it is: no repodata is read and nothing is solved (conda
      // 4.5.12 and 24.3 conda/cli/install.py: an @EXPLICIT --file returns before the solver).
      std::string list = explicit_file;
      if (is_http_url(explicit_file)) {
        auto cached = download_explicit_list(run, explicit_file);
        if (!cached) return std::unexpected(cached.error());
        list = *cached;
      }
      argv = {conda, "create", "-y", "-n", env, "--file", list};
      for (auto& argument : channel_arguments(config)) argv.push_back(std::move(argument));
    } else if (!file.empty()) {
      // Replacing an env left half-made: --force until conda 24.3 removed it for --yes.
      const auto version = conda_version(run, prefix);
      const bool new_flag = version && util::compare_versions(*version, "24.3") >= 0;
      argv = {conda, "env", "create", new_flag ? "--yes" : "--force", "-n", env, "-f", file};
    } else {
      // Only the env's own packages: the assignments' requirements.txt is for virtualenv, and
      // pip-installing it into a conda env breaks the env (the tutorial's warning).
      argv = {conda, "create", "-y", "-n", env, "python=" + config.string("conda_env.python")};
      for (const auto& spec : config.strings("conda_env.packages")) argv.push_back(spec);
      for (auto& argument : channel_arguments(config)) argv.push_back(std::move(argument));
      if (auto solver = solver_option(run, prefix)) argv.push_back(*solver);
    }
    const std::string shown = util::join(argv, " ");
    auto created = run.probe(as_user(run, argv));
    if (!created) return std::unexpected(created.error());
    if (created->ok()) return plan::ApplyResult{};
    auto failure = run.failure_of(shown, *created);
    // Nobody but the kernel's OOM killer sends conda a SIGKILL that is not the agent's timeout or
    // interrupt: a classic solver loading today's repodata can fill a small VM's memory.
    const bool killed = created->signal == SIGKILL && !created->timed_out && !created->cancelled;
    if (killed) {
      failure.message +=
          "; killed: out of memory? (the kernel's OOM killer ends a process with signal 9; `journalctl -k` names it)";
    }
    if (created->timed_out || killed) {
      // Say where the time went: a 2018 solver against today's repodata never ends in "Solving environment".
      const std::string phase = last_phase(created->output_tail);
      failure.message +=
          phase.empty() ? "; conda had not printed any progress yet" : "; conda was in its \"" + phase + "\" phase";
      if (phase.empty() || phase == k_conda_phases[0] || phase == k_conda_phases[1]) {
        failure.message += " (conda_env.explicit_file installs an @EXPLICIT list with no solve)";
      }
    }
    return std::unexpected(failure);
  }

 private:
  // What `plan` says about Anaconda's Terms of Service, after the rest.
  static std::string terms_summary(const config::Config& config, const AnacondaTerms& terms) {
    if (!config.boolean("anaconda.accept_tos")) return "";
    if (terms.runs_accept()) {
      return "; first accepts Anaconda's Terms of Service for " + util::join(terms.anaconda_channels, ", ") +
             " (anaconda.accept_tos: conda tos accept)";
    }
    if (terms.anaconda_channels.empty()) return "; anaconda.accept_tos is set, but the env uses no Anaconda channel";
    return "; anaconda.accept_tos is set for " + util::join(terms.anaconda_channels, ", ") + "; " + terms.installer +
           " has no ToS plugin to record it";
  }

  // With anaconda.accept_tos and a conda that has the ToS plugin: `conda tos accept` for exactly
  // the Anaconda channels the env reads, as the user (the plugin's default --user store,
  // ~/.conda/tos, is where the user's own conda looks; anaconda/conda-anaconda-tos plugin.py, path.py).
  static util::Result<void> accept_terms(const plan::StepRun& run, const std::string& conda,
                                         const AnacondaTerms& terms) {
    if (!run.config().boolean("anaconda.accept_tos") || !terms.runs_accept()) return {};
    std::vector<std::string> argv{conda, "tos", "accept", "--override-channels"};
    for (const auto& channel : terms.anaconda_channels) {
      argv.push_back("--channel");
      argv.push_back(channel);
    }
    run.note("anaconda.accept_tos is true: accepting Anaconda's Terms of Service for " +
             util::join(terms.anaconda_channels, ", "));
    auto accepted = run.run(as_user(run, argv));
    if (!accepted) return std::unexpected(accepted.error());
    return {};
  }

  // The @EXPLICIT list of the metapackage's pins for the env's python, from the channel's
  // repodata.json (linux-64, then noarch for what that does not list), written to the cache for
  // conda (run as the user) to read. The repodata is fetched anew each time (it changes daily; TLS
  // is what it has, as for conda itself), and its md5s are what conda checks each package against.
  static util::Result<std::string> metapackage_list(const plan::StepRun& run, const MetapackageSpec& spec) {
    const auto& config = run.config();
    const auto& files = run.system().files();
    const std::string channel = metapackage_channel(config);
    const std::string python = config.string("conda_env.python");
    const std::string way_out =
        "; set conda_env.explicit_file to an @EXPLICIT list, or conda_env.metapackage_channel to \"\" to let "
        "conda solve";
    const auto read_repodata = [&](const std::string& subdir) -> util::Result<std::string> {
      auto path = download_to_cache(run, channel + "/" + subdir + "/repodata.json",
                                    "conda-repodata-" + subdir + ".json", "", "");
      if (!path) return std::unexpected(path.error());
      auto text = files.read(*path, std::size_t{1} << 30);
      if (!text) return util::fail("cannot read " + *path + ": " + text.error().message);
      return text;
    };
    auto linux_64 = read_repodata("linux-64");
    if (!linux_64) return std::unexpected(linux_64.error());
    const std::string where = channel + "/linux-64/repodata.json";
    auto record = find_metapackage(*linux_64, spec, python);
    if (!record) return util::fail(where + ": " + record.error().message + way_out);
    std::vector<std::string> wanted;  // in the order of its depends, the metapackage itself last
    for (const auto& entry : record->depends) {
      auto file = pinned_file(entry);
      if (!file) {
        return util::fail(where + ": " + record->file + " depends on \"" + entry +
                          "\", which is not an exact pin (name version build)" + way_out);
      }
      wanted.push_back(*file);
    }
    wanted.push_back(record->file);
    std::set<std::string> missing(wanted.begin(), wanted.end());
    std::map<std::string, ExplicitEntry> found;
    const auto take_md5s = [&](const std::string& repodata, const std::string& subdir) -> util::Result<void> {
      auto md5s = md5_of_files(repodata, missing);
      if (!md5s) return util::fail(channel + "/" + subdir + "/repodata.json: " + md5s.error().message);
      for (const auto& [file, md5] : *md5s) {
        found[file] = {subdir, file, md5};
        missing.erase(file);
      }
      return {};
    };
    if (auto taken = take_md5s(*linux_64, "linux-64"); !taken) return std::unexpected(taken.error());
    if (!missing.empty()) {
      auto noarch = read_repodata("noarch");
      if (!noarch) return std::unexpected(noarch.error());
      if (auto taken = take_md5s(*noarch, "noarch"); !taken) return std::unexpected(taken.error());
    }
    if (!missing.empty()) {
      return util::fail(channel + "'s repodata.json (linux-64, noarch) lists no " + *missing.begin() + " (" +
                        std::to_string(missing.size()) + " of the " + std::to_string(wanted.size()) + " files of " +
                        record->file + ")" + way_out);
    }
    std::vector<ExplicitEntry> entries;
    for (const auto& file : wanted) entries.push_back(found.at(file));
    std::string path =
        run.context().paths.cache_dir + "/" + spec.name + "-" + spec.version + "-python" + python + ".explicit.txt";
    const std::string text = explicit_list_text(channel, "the pins of " + record->file + " in " + where, entries);
    if (auto written = files.write_atomic(path, text, 0644); !written) return std::unexpected(written.error());
    run.note("the @EXPLICIT list of " + record->file + "'s " + std::to_string(entries.size()) + " packages: " + path);
    return path;
  }

  // How a downloaded list is verified, for `plan`.
  static std::string list_check(const plan::Context& context) {
    const std::string url = context.config.string("conda_env.explicit_file");
    if (!is_http_url(url)) return "";
    if (const auto given = context.config.string("conda_env.explicit_sha256"); !given.empty())
      return "; sha256 " + given.substr(0, 12) + "... from conda_env.explicit_sha256";
    if (const auto pinned = pinned_sha256(read_download_pins(context.system.files(), context.paths), url))
      return "; sha256 " + pinned->substr(0, 12) + "... pinned at its first download";
    return "; its sha256 is pinned at the first download";
  }

  // The list a URL names, held to conda_env.explicit_sha256 or, without it, to the sha256 pinned
  // at its first download (the datasets' pins): the list names every package the env gets, so a
  // list changed on the server (or on the way) must not be installed unnoticed.
  static util::Result<std::string> download_explicit_list(const plan::StepRun& run, const std::string& url) {
    const std::string given = run.config().string("conda_env.explicit_sha256");
    auto cached = download_pinned(run, url, file_name_of(url), given);
    if (!cached && cached.error().exit_code == static_cast<int>(ExitCode::checksum)) {
      cached.error().message += std::string("; the @EXPLICIT list is not the one ") +
                                (given.empty() ? "pinned at its first download" : "conda_env.explicit_sha256 names") +
                                ", so nothing was installed from it";
    }
    return cached;
  }

  // Whether the installed conda carries Anaconda's ToS plugin: with it, `conda tos --version`
  // prints "conda-anaconda-tos 0.2.2" and exits 0 (argparse's version action in the plugin's
  // configure_parser, conda_anaconda_tos/plugin.py); without it `tos` is an invalid choice (exit 2).
  static bool has_tos_plugin(const plan::StepRun& run, const std::string& conda) {
    auto answer = run.probe(with_capture(as_user(run, {conda, "tos", "--version"})));
    return answer && answer->ok() && answer->stdout_text.find("conda-anaconda-tos") != std::string::npos;
  }

  static os::Command with_capture(os::Command command) {
    command.capture_stdout = true;
    return command;
  }

  // "24.3.0" from `conda --version`.
  static std::optional<std::string> conda_version(const plan::StepRun& run, const std::string& prefix) {
    auto version = run.probe(with_capture(as_user(run, {prefix + "/bin/conda", "--version"})));
    if (!version || !version->ok()) return std::nullopt;
    const auto words = util::split_whitespace(version->stdout_text);
    if (words.size() < 2) return std::nullopt;
    return std::string(util::trim(words[1]));
  }

  // conda 22.11 to 23.9 can use the much faster libmamba solver when it is installed; from 23.10
  // it is the default.
  static std::optional<std::string> solver_option(const plan::StepRun& run, const std::string& prefix) {
    const auto number = conda_version(run, prefix);
    if (!number || util::compare_versions(*number, "22.11") < 0 || util::compare_versions(*number, "23.10") >= 0)
      return std::nullopt;
    const auto& files = run.system().files();
    for (const auto& entry : files.list_user_folder(prefix + "/lib").value_or(std::vector<std::string>{})) {
      if (entry.starts_with("python3") &&
          files.user_path_exists(prefix + "/lib/" + entry + "/site-packages/conda_libmamba_solver")) {
        return "--solver=libmamba";
      }
    }
    return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_conda_env_step() { return std::make_unique<CondaEnvStep>(); }

}  // namespace cs231n::steps
