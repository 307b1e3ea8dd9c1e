#include "steps/pip.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <regex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent/gpu/torch_index.hpp"
#include "agent/net/download.hpp"
#include "agent/net/http.hpp"
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

// Why the agent should not ask `python`'s pip what it would download; nothing when it may.
std::optional<std::string> why_pip_cannot_resolve(const plan::StepRun& run, const std::string& python) {
  auto probe = as_user(run, pip_argv(python, {"--version"}));
  probe.capture_stdout = true;
  probe.timeout = std::chrono::minutes(2);
  auto said = run.probe(probe);
  if (!said || !said->ok()) return "`pip --version` failed";
  const auto version = pip_version_of(said->stdout_text);
  if (version.empty()) return "`pip --version` said " + std::string(util::trim(said->stdout_text));
  if (util::compare_versions(version, k_pip_metadata_only_dry_run) < 0) {
    return "pip " + version + " downloads every wheel in full to resolve (pip " +
           std::string(k_pip_metadata_only_dry_run) + " is the first whose --dry-run reads only their metadata)";
  }
  return std::nullopt;
}

// What the pip of `python` would download, from its own resolver, once why_pip_cannot_resolve
// said nothing. `for_target` narrows the resolution to another interpreter than `python`
// (prefetch_wheels).
std::expected<std::vector<ReportedWheel>, std::string> dry_run(const plan::StepRun& run, const std::string& python,
                                                               const std::vector<std::string>& requirements,
                                                               const std::vector<std::string>& index_args,
                                                               const std::vector<std::string>& for_target = {}) {
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

net::DownloadRequest wheel_request(const plan::StepRun& run, const ReportedWheel& wheel) {
  net::DownloadRequest request;
  request.url = wheel.url;
  request.dest = run.context().paths.wheels_dir() + "/" + wheel.file_name;
  request.sha256 = wheel.sha256;
  request.cancel = run.interrupt_flag();
  return request;
}

// One wheel fetched on a thread of its own while pip resolves the rest: its name and sha256 were
// on the index's page, so nothing waits for pip to name it.
class WheelAhead {
 public:
  WheelAhead(const plan::StepRun& run, ReportedWheel wheel) : m_wheel(std::move(wheel)) {
    run.note("download " + m_wheel.url + " (while pip resolves)");
    auto request = wheel_request(run, m_wheel);
    request.cancel = &m_stop;  // its own flag, so that it can be stopped alone
    m_thread = std::jthread([this, request = std::move(request), &run] {
      m_result = net::download(run.system().files(), run.http(), request);
    });
    // The step's interrupt stops it too, also while it waits for a connection or a retry.
    m_watch = std::jthread([this, &run](const std::stop_token& ended) {
      while (!ended.stop_requested() && !m_stop) {
        if (run.interrupted()) m_stop = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~WheelAhead() { std::ignore = finish(); }  // before the watch ends
  WheelAhead(const WheelAhead&) = delete;
  WheelAhead& operator=(const WheelAhead&) = delete;

  const ReportedWheel& wheel() const { return m_wheel; }
  // Stops it and removes what it fetched, saying why.
  void discard(const plan::StepRun& run, const std::string& why) {
    m_stop = true;
    std::ignore = finish();
    const auto& files = run.system().files();
    const auto path = run.context().paths.wheels_dir() + "/" + m_wheel.file_name;
    const auto partial = net::partial_files(path);
    for (const auto& file : {path, partial.part, partial.sidecar}) std::ignore = files.remove(file);
    run.note(m_wheel.file_name + ", fetched while pip resolved: removed (" + why + ")");
  }
  // Waits for it; its failure, if any.
  std::optional<std::string> finish() {
    if (m_thread.joinable()) m_thread.join();
    if (m_result) return std::nullopt;
    return m_result.error().message;
  }

 private:
  ReportedWheel m_wheel;
  std::atomic<bool> m_stop{false};
  std::expected<net::DownloadResult, net::DownloadError> m_result =
      std::unexpected(net::DownloadError{net::DownloadFailure::cancelled, "not started"});
  std::jthread m_thread;
  std::jthread m_watch;
};

// Downloads the wheels into the root-owned cache folder, readable by the user's pip; the files of
// an earlier resolution go (the folder holds one install's wheels, not every torch ever fetched).
// `ahead`: a wheel already being fetched, waited for here when pip named it (fetched again when
// it failed), else stopped and removed.
util::Result<void> fetch_wheels(const plan::StepRun& run, const std::vector<ReportedWheel>& wheels,
                                WheelAhead* ahead = nullptr) {
  const auto& files = run.system().files();
  const auto folder = run.context().paths.wheels_dir();
  if (auto made = files.make_dirs(folder, 0755); !made) return std::unexpected(made.error());
  const auto same_as_ahead = [&](const ReportedWheel& wheel) {
    return ahead && wheel.file_name == ahead->wheel().file_name && wheel.sha256 == ahead->wheel().sha256 &&
           wheel.url == ahead->wheel().url;
  };
  if (ahead && std::ranges::none_of(wheels, same_as_ahead)) {
    ahead->discard(run, "pip did not name it");
    ahead = nullptr;
  }
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
    if (!same_as_ahead(wheel)) queue.push_back({wheel_request(run, wheel)});
  }
  download_files(run, queue);
  if (ahead) {
    if (const auto failed = ahead->finish()) {
      run.note(ahead->wheel().file_name + ", fetched while pip resolved: " + *failed + "; fetched again");
      std::vector<net::QueuedDownload> again{{wheel_request(run, ahead->wheel())}};
      download_files(run, again);
      queue.push_back(std::move(again.front()));
    } else {
      run.note(ahead->wheel().file_name + ": downloaded while pip resolved, verified");
    }
  }
  for (const auto& entry : queue) {
    if (!entry.result) return util::fail(entry.result.error().message);
  }
  return {};
}

// The first requirement's wheel, fetched while pip resolves, when its index page names it
// (--index-url BASE: the project's page is BASE/<name>/, PEP 503); nullptr when it does not, or
// when the page cannot be read (pip then names it as before).
std::unique_ptr<WheelAhead> fetch_ahead(const plan::StepRun& run, const std::string& python_version,
                                        const std::vector<std::string>& requirements,
                                        const std::vector<std::string>& index_args) {
  const auto index = std::ranges::find(index_args, "--index-url");
  if (requirements.empty() || index == index_args.end() || index + 1 == index_args.end()) return nullptr;
  if (!run.system().files().make_dirs(run.context().paths.wheels_dir(), 0755)) return nullptr;
  const auto name = requirements.front().substr(0, requirements.front().find("=="));
  std::string base = *(index + 1);
  while (base.ends_with('/')) base.pop_back();
  net::SimpleRequest request;
  request.url = base + "/" + util::lowercase(name) + "/";
  request.timeout = std::chrono::seconds(60);
  request.connect_timeout = std::chrono::seconds(10);
  request.max_body = 32u << 20;
  const auto page = net::http_request(run.http(), request);
  if (!page || page->status != 200) {
    run.note("pip names " + name + "'s wheel: " + request.url +
             (page ? " answered HTTP " + std::to_string(page->status) : ": " + page.error().message));
    return nullptr;
  }
  auto wheel = pinned_wheel_in_page(page->body, request.url, requirements.front(), python_version);
  if (!wheel) {
    run.note("pip names " + name + "'s wheel: " + request.url + " lists no single wheel of " + requirements.front() +
             " for Python " + python_version + " on Linux x86_64 with a sha256");
    return nullptr;
  }
  return std::make_unique<WheelAhead>(run, std::move(*wheel));
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

// pip installs from the folder alone: --no-index reads nothing but it (pip install --help), so
// the link is the toolkit's meanwhile (4 GB of wheels take pip tens of seconds to unpack).
util::Result<void> install_from_folder(const plan::StepRun& run, const std::string& python,
                                       const std::vector<std::string>& requirements) {
  auto argv = pip_argv(python,
                       {"install", "--no-input", "--disable-pip-version-check", "--progress-bar", "off", "--no-index",
                        "--find-links", run.context().paths.wheels_dir()},
                       requirements);
  run.done_downloading();
  auto installed = run.run(as_user(run, argv));
  if (!installed) {
    run.downloading_again();  // what comes after a failure here is the index's
    return std::unexpected(installed.error());
  }
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

std::optional<ReportedWheel> pinned_wheel_in_page(std::string_view page, std::string_view page_url,
                                                  std::string_view requirement, std::string_view python_version) {
  const auto pin = requirement.find("==");
  if (pin == std::string_view::npos || requirement.substr(0, pin) != "torch") return std::nullopt;
  const std::string version(requirement.substr(pin + 2));
  const auto tag = gpu::python_tag(python_version);
  const std::string_view url(page_url);
  const auto origin_end = url.find('/', url.find("://") == std::string_view::npos ? 0 : url.find("://") + 3);
  static const std::regex link(R"re(href="([^"#]+)#sha256=([0-9a-fA-F]{64})")re");
  std::optional<ReportedWheel> found;
  const std::string text(page);
  for (auto match = std::sregex_iterator(text.begin(), text.end(), link); match != std::sregex_iterator(); ++match) {
    const std::string href = (*match)[1].str();
    const auto file = percent_decoded(href.substr(href.rfind('/') + 1));
    // The ABI tag too: cp313t (free-threaded) is not the env's CPython.
    if (!plain_wheel_name(file) || gpu::wheel_version(file, tag) != version ||
        file.find("-" + tag + "-" + tag + "-") == std::string::npos)
      continue;
    if (found) return std::nullopt;  // two platform tags: pip's to choose
    std::string absolute = href;
    if (href.starts_with("/")) {
      absolute = std::string(url.substr(0, origin_end)) + href;
    } else if (!is_http_url(href)) {
      absolute = std::string(url.substr(0, url.rfind('/') + 1)) + href;
    }
    found = ReportedWheel{"torch", absolute, file, util::lowercase((*match)[2].str())};
  }
  return found;
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
  // torch's own wheel (a fifth of the bytes) does not wait the seconds pip takes to start (on a
  // VM busy making the env and unpacking the driver, `pip --version` alone takes seconds) and to
  // resolve the rest.
  auto ahead = fetch_ahead(run, python_version, requirements, index_args);
  if (auto why = why_pip_cannot_resolve(run, base_python)) {
    if (ahead) ahead->discard(run, "this pip cannot resolve without downloading");
    return why;
  }
  auto wheels = dry_run(run, base_python, requirements, index_args,
                        {"--ignore-installed", "--python-version", python_version, "--only-binary=:all:"});
  if (!wheels) {
    // What it fetched stays, verified: the pytorch step's pip may name it and find it there.
    if (ahead) std::ignore = ahead->finish();
    return wheels.error();
  }
  run.note("base's pip resolves " + std::to_string(wheels->size()) + " wheels for Python " + python_version +
           "; the agent downloads them into " + run.context().paths.wheels_dir());
  if (auto fetched = fetch_wheels(run, *wheels, ahead.get()); !fetched) return fetched.error().message;
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
  if (auto why = why_pip_cannot_resolve(run, python)) return fall_back(*why);
  auto wheels = dry_run(run, python, requirements, index_args);
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
