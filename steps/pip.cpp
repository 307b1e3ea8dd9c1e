#include "steps/pip.hpp"

#include <algorithm>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "agent/util/strings.hpp"
#include "steps/common.hpp"

namespace cs231n::steps {

namespace {

// The report of a torch install is tens of KiB (each wheel's metadata, description included).
constexpr std::size_t k_max_report = 16u << 20;

std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      if (auto byte = util::parse_uint(text.substr(i + 1, 2), 16)) {
        out += static_cast<char>(*byte);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// A wheel's file name as PEP 427 spells it (name-version[-build]-python-abi-platform.whl), which
// is all a find-links folder needs; nothing that could name another folder.
bool plain_wheel_name(const std::string& name) {
  static const std::regex wheel(R"([A-Za-z0-9_][A-Za-z0-9_.+!-]*-[A-Za-z0-9_.+!-]+\.whl)");
  return name.size() < 256 && std::regex_match(name, wheel);
}

// `python -m pip ARGUMENTS... EXTRA...`.
std::vector<std::string> pip_argv(const std::string& python, std::vector<std::string> arguments,
                                  const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{python, "-m", "pip"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// The plain install, as it has always been: pip downloads and installs.
util::Result<void> plain_install(const plan::StepRun& run, const std::string& python,
                                 const std::vector<std::string>& requirements,
                                 const std::vector<std::string>& index_args) {
  auto argv = pip_argv(python, {"install", "--no-input", "--progress-bar", "off"}, requirements);
  argv.insert(argv.end(), index_args.begin(), index_args.end());
  if (auto installed = run.run(as_user(run, argv)); !installed) return std::unexpected(installed.error());
  return {};
}

// What the env's pip would download, from its own resolver; or why the agent should not ask.
// `for_target` narrows the resolution to another interpreter than `python` (prefetch_wheels).
std::expected<std::vector<ReportedWheel>, std::string> resolve(const plan::StepRun& run, const std::string& python,
                                                               const std::vector<std::string>& requirements,
                                                               const std::vector<std::string>& index_args,
                                                               const std::vector<std::string>& for_target = {}) {
  auto probe = as_user(run, pip_argv(python, {"--version"}));
  probe.capture_stdout = true;
  probe.timeout = std::chrono::minutes(2);
  auto said = run.probe(probe);
  if (!said || !said->ok()) return std::unexpected(std::string("`pip --version` failed"));
  const auto version = pip_version_of(said->stdout_text);
  if (version.empty()) return std::unexpected("`pip --version` said " + std::string(util::trim(said->stdout_text)));
  if (util::compare_versions(version, k_pip_metadata_only_dry_run) < 0) {
    return std::unexpected("pip " + version + " downloads every wheel in full to resolve (pip " +
                           std::string(k_pip_metadata_only_dry_run) +
                           " is the first whose --dry-run reads only their metadata)");
  }
  // `--report -` writes the JSON to stdout, `--quiet` keeps pip's other output off it (pip's
  // install --help); no --ignore-installed: the report then lists only what pip would install.
  auto argv = pip_argv(python,
                       {"install", "--dry-run", "--report", "-", "--quiet", "--no-input", "--disable-pip-version-check",
                        "--progress-bar", "off"},
                       requirements);
  argv.insert(argv.end(), index_args.begin(), index_args.end());
  argv.insert(argv.end(), for_target.begin(), for_target.end());
  auto dry_run = as_user(run, argv);
  dry_run.capture_stdout = true;
  auto resolved = run.probe(dry_run);
  if (!resolved) return std::unexpected(resolved.error().message);
  if (!resolved->ok())
    return std::unexpected("pip install --dry-run " + resolved->describe() + ": " +
                           std::string(util::trim(resolved->output_tail)));
  if (resolved->stdout_text.size() > k_max_report) return std::unexpected(std::string("pip's report is too large"));
  return parse_install_report(resolved->stdout_text);
}

// Downloads the wheels into the root-owned cache folder, readable by the user's pip; the files of
// an earlier resolution go (the folder holds one install's wheels, not every torch ever fetched).
util::Result<void> fetch_wheels(const plan::StepRun& run, const std::vector<ReportedWheel>& wheels) {
  const auto& files = run.system().files();
  const auto folder = run.context().paths.wheels_dir();
  if (auto made = files.make_dirs(folder, 0755); !made) return std::unexpected(made.error());
  std::set<std::string> wanted;
  for (const auto& wheel : wheels) {
    const auto partial = net::partial_files(wheel.file_name);
    wanted.insert({wheel.file_name, partial.part, partial.sidecar});
  }
  for (const auto& entry : files.list(folder).value_or(std::vector<std::string>{})) {
    if (!wanted.contains(entry)) std::ignore = files.remove(folder + "/" + entry);
  }
  std::vector<net::QueuedDownload> queue;
  for (const auto& wheel : wheels) {
    net::DownloadRequest request;
    request.url = wheel.url;
    request.dest = folder + "/" + wheel.file_name;
    request.sha256 = wheel.sha256;
    queue.push_back({request});
  }
  download_files(run, queue);
  for (const auto& entry : queue) {
    if (!entry.result) return util::fail(entry.result.error().message);
  }
  return {};
}

// What torch-wheels fetched, named beside the wheels: pip_install takes them as they are when they
// are for the same requirements and index. A wheel is only ever there whole and verified (the
// downloader renames it into place after its sha256 matched), in a folder only root writes.
constexpr std::string_view k_prefetch_manifest = "prefetched.json";

std::string manifest_path(const plan::StepRun& run) {
  return run.context().paths.wheels_dir() + "/" + std::string(k_prefetch_manifest);
}

nlohmann::json manifest_key(const std::vector<std::string>& requirements, const std::vector<std::string>& index_args) {
  return {{"version", 1}, {"requirements", requirements}, {"index", index_args}};
}

// Whether every wheel torch-wheels fetched for these requirements is in the folder.
bool prefetched_for(const plan::StepRun& run, const std::vector<std::string>& requirements,
                    const std::vector<std::string>& index_args) {
  const auto& files = run.system().files();
  const auto text = files.read(manifest_path(run), 1u << 20);
  if (!text) return false;
  const auto manifest = nlohmann::json::parse(*text, nullptr, false);
  if (!manifest.is_object() || !manifest.contains("wheels") || !manifest["wheels"].is_array()) return false;
  auto key = manifest;
  key.erase("wheels");
  if (key != manifest_key(requirements, index_args)) return false;
  const auto folder = run.context().paths.wheels_dir();
  return std::ranges::all_of(manifest["wheels"], [&](const nlohmann::json& name) {
    return name.is_string() && plain_wheel_name(name.get<std::string>()) &&
           files.exists(folder + "/" + name.get<std::string>());
  });
}

// pip installs from the folder alone: --no-index reads nothing but it (pip install --help).
util::Result<void> install_from_folder(const plan::StepRun& run, const std::string& python,
                                       const std::vector<std::string>& requirements) {
  auto argv = pip_argv(python,
                       {"install", "--no-input", "--disable-pip-version-check", "--progress-bar", "off", "--no-index",
                        "--find-links", run.context().paths.wheels_dir()},
                       requirements);
  if (auto installed = run.run(as_user(run, argv)); !installed) return std::unexpected(installed.error());
  return {};
}

}  // namespace

std::string pip_version_of(std::string_view version_output) {
  static const std::regex said(R"(^pip ([0-9]+(\.[0-9]+)*)\S* from )");
  std::cmatch match;
  const std::string text(util::trim(version_output));
  if (!std::regex_search(text.c_str(), match, said)) return "";
  return match[1].str();
}

std::expected<std::vector<ReportedWheel>, std::string> parse_install_report(std::string_view report) {
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(report);
  } catch (const nlohmann::json::exception&) {
    return std::unexpected(std::string("pip's report is not JSON"));
  }
  // docs/html/reference/installation-report.md (pip 23.0 on): "version" is "1" until an
  // incompatible change; "install" lists what would be installed, each with PEP 610's download_info.
  if (!parsed.is_object() || parsed.value("version", nlohmann::json()) != "1" || !parsed.contains("install") ||
      !parsed["install"].is_array()) {
    return std::unexpected(std::string("pip's report is not an installation report of version 1"));
  }
  std::vector<ReportedWheel> wheels;
  for (const auto& item : parsed["install"]) {
    const auto* info = item.is_object() && item.contains("download_info") ? &item["download_info"] : nullptr;
    const auto name = item.is_object() && item.contains("metadata") && item["metadata"].is_object()
                          ? item["metadata"].value("name", std::string())
                          : std::string();
    if (!info || !info->is_object() || !(*info)["url"].is_string()) {
      return std::unexpected("pip's report has no download URL for " + (name.empty() ? "an item" : name));
    }
    const std::string url = (*info)["url"].get<std::string>();
    if (!url.starts_with("https://") && !url.starts_with("http://")) {
      return std::unexpected(name + " comes from " + url + ", not from an index");
    }
    ReportedWheel wheel{name, url.substr(0, url.find('#')), "", ""};
    wheel.file_name = percent_decoded(file_name_of(wheel.url));
    if (!wheel.file_name.ends_with(".whl"))
      return std::unexpected(name + " is a source archive (" + wheel.file_name + "), which pip builds");
    if (!plain_wheel_name(wheel.file_name)) return std::unexpected("the wheel name " + wheel.file_name + " is unusual");
    // PEP 610's archive_info: "hashes" {"sha256": hex}; the older "hash" "sha256=hex" as well.
    const auto archive = info->value("archive_info", nlohmann::json::object());
    if (archive.is_object() && archive.contains("hashes") && archive["hashes"].is_object())
      wheel.sha256 = archive["hashes"].value("sha256", std::string());
    if (wheel.sha256.empty() && archive.is_object() && archive.value("hash", std::string()).starts_with("sha256="))
      wheel.sha256 = archive["hash"].get<std::string>().substr(7);
    wheel.sha256 = util::lowercase(wheel.sha256);
    static const std::regex hex64("[0-9a-f]{64}");
    if (!std::regex_match(wheel.sha256, hex64))
      return std::unexpected("the index gives no sha256 for " + wheel.file_name);
    if (std::ranges::none_of(wheels, [&](const auto& other) { return other.file_name == wheel.file_name; }))
      wheels.push_back(wheel);
  }
  return wheels;
}

std::optional<std::string> why_no_prefetch(const plan::Context& context) {
  if (!context.config.boolean("downloads.accelerate_pip_apt"))
    return "downloads.accelerate_pip_apt is false: pip downloads torch itself in the pytorch step";
  const auto& config = context.config;
  if (!config.string("conda_env.environment_file").empty())
    return "conda_env.environment_file decides the env's Python: the pytorch step fetches torch once the env exists";
  const auto list = config.string("conda_env.explicit_file");
  if (!list.empty() && !is_http_url(list))
    return "conda_env.explicit_file is a file of the VM, read by conda as the user: the pytorch step fetches torch "
           "once the env exists";
  return std::nullopt;
}

std::optional<std::string> python_of_explicit_list(std::string_view list) {
  // conda's package file names are NAME-VERSION-BUILD.conda or .tar.bz2, the URL's last part.
  static const std::regex python_package(R"(^python-(3\.[0-9]+)\.[0-9]+[^-]*-[^-]+\.(conda|tar\.bz2)$)");
  for (const auto& raw : util::split(list, '\n')) {
    auto line = std::string(util::trim(raw));
    line = line.substr(0, line.find('#'));
    const auto file = line.substr(line.find_last_of('/') + 1);
    std::smatch match;
    if (std::regex_match(file, match, python_package)) return match[1].str();
  }
  return std::nullopt;
}

std::optional<std::string> prefetch_wheels(const plan::StepRun& run, const std::string& base_python,
                                           const std::string& python_version,
                                           const std::vector<std::string>& requirements,
                                           const std::vector<std::string>& index_args) {
  // pip's cmdoptions.check_dist_restriction (pip 26.2.2): --python-version needs
  // --only-binary=:all: (or --no-deps), and is allowed without --target under --dry-run. Nothing
  // installed in base may count: --ignore-installed lists every wheel the new env will lack.
  auto wheels = resolve(run, base_python, requirements, index_args,
                        {"--ignore-installed", "--python-version", python_version, "--only-binary=:all:"});
  if (!wheels) return wheels.error();
  run.note("base's pip resolves " + std::to_string(wheels->size()) + " wheels for Python " + python_version +
           "; the agent downloads them into " + run.context().paths.wheels_dir());
  if (auto fetched = fetch_wheels(run, *wheels); !fetched) return fetched.error().message;
  auto manifest = manifest_key(requirements, index_args);
  manifest["wheels"] = nlohmann::json::array();
  for (const auto& wheel : *wheels) manifest["wheels"].push_back(wheel.file_name);
  if (auto written = run.system().files().write_atomic(manifest_path(run), manifest.dump(2) + "\n", 0644); !written)
    return written.error().message;
  return std::nullopt;
}

util::Result<void> pip_install(const plan::StepRun& run, const std::string& python,
                               const std::vector<std::string>& requirements,
                               const std::vector<std::string>& index_args) {
  if (!run.config().boolean("downloads.accelerate_pip_apt"))
    return plain_install(run, python, requirements, index_args);
  const auto fall_back = [&](const std::string& why) {
    run.note("pip downloads by itself: " + why);
    return plain_install(run, python, requirements, index_args);
  };
  // Asking the index again and hashing 4 GB of wheels once more would only delay `ready`; the
  // env's pip still decides, from the folder, and what it lacks there sends it to the index.
  if (prefetched_for(run, requirements, index_args)) {
    run.note("the wheels torch-wheels fetched are all in " + run.context().paths.wheels_dir() +
             ": pip installs from them without asking the index again");
    const auto installed = install_from_folder(run, python, requirements);
    if (installed) return {};
    run.note("pip did not install from torch-wheels' wheels (" + installed.error().message +
             "): pip resolves against the index again");
  }
  auto wheels = resolve(run, python, requirements, index_args);
  if (!wheels) return fall_back(wheels.error());
  run.note("pip would install " + std::to_string(wheels->size()) + " wheels; the agent downloads them into " +
           run.context().paths.wheels_dir());
  if (auto fetched = fetch_wheels(run, *wheels); !fetched) return fall_back(fetched.error().message);
  if (auto installed = install_from_folder(run, python, requirements); !installed) {
    return fall_back("pip install --no-index from the downloaded wheels failed: " + installed.error().message);
  }
  return {};
}

}  // namespace cs231n::steps
