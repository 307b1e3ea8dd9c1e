#include "steps/common.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <mutex>

#include "agent/net/download.hpp"
#include "agent/net/download_transfer.hpp"
#include "agent/os/accounts.hpp"
#include "agent/util/redact.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::steps {

std::string home_of(const plan::Context& context) {
  const auto& user = context.facts.user;
  if (auto account = os::Accounts::load(context.system.files()).find_user(user.name)) return account->home;
  if (user.account) return user.account->home;
  return "/home/" + user.name;
}

util::Result<std::string> download_to_cache(const plan::StepRun& run, const std::string& url, const std::string& name,
                                            const std::string& sha256, const std::string& md5,
                                            std::optional<std::uint64_t> size, std::string* computed_sha256) {
  const auto& files = run.system().files();
  const auto& cache_dir = run.context().paths.cache_dir;
  if (auto made = files.make_dirs(cache_dir, 0755); !made) return std::unexpected(made.error());
  net::DownloadRequest request;
  request.url = url;
  request.dest = cache_dir + "/" + name;
  request.sha256 = sha256;
  request.md5 = md5;
  request.size = size;
  request.want_sha256 = computed_sha256 != nullptr;
  request.cancel = run.interrupt_flag();
  int last_decile = -1;
  request.on_progress = [&](const net::DownloadProgress& progress) {
    if (!progress.total || *progress.total == 0) return;
    const int decile = static_cast<int>(progress.bytes * 10 / *progress.total);
    if (decile == last_decile) return;
    last_decile = decile;
    run.note(name + ": " + util::human_bytes(progress.bytes) + " of " + util::human_bytes(*progress.total));
  };
  run.note("download " + url + " -> " + request.dest);
  const auto result = net::download(files, run.http(), request);
  if (!result) {
    auto failure = util::Failure{result.error().message, 0, static_cast<int>(net::exit_code_of(result.error().kind))};
    return std::unexpected(failure);
  }
  run.note(name +
           (result->already_there ? ": already in the cache, verified" : ": downloaded, sha256 " + result->sha256));
  if (computed_sha256) *computed_sha256 = result->sha256;
  return request.dest;
}

void download_files(const plan::StepRun& run, std::vector<net::QueuedDownload>& queue,
                    const net::DownloadFinished& finished) {
  std::mutex log_mutex;
  for (auto& entry : queue) {
    entry.request.cancel = run.interrupt_flag();
    run.note("download " + entry.request.url + " -> " + entry.request.dest);
  }
  net::download_all(run.system().files(), run.http(), queue, k_files_at_once, [&](const net::QueuedDownload& entry) {
    const std::lock_guard lock(log_mutex);
    const auto name = file_name_of(entry.request.dest);
    if (!entry.result) {
      run.note(name + ": " + entry.result.error().message);
    } else {
      run.note(name + ": " + util::human_bytes(entry.result->bytes) +
               (entry.result->already_there ? ", already there, verified" : ", downloaded, verified"));
    }
    if (finished) finished(entry);
  });
}

nlohmann::json read_download_pins(const os::Files& files, const Paths& paths) {
  try {
    return nlohmann::json::parse(files.read(paths.dataset_pins_file()).value_or("{}"));
  } catch (const nlohmann::json::exception&) {
    return nlohmann::json::object();
  }
}

std::optional<std::string> pinned_sha256(const nlohmann::json& pins, const std::string& url) {
  for (const auto& key : {url, url.starts_with("https://") ? "http://" + url.substr(8) : std::string()}) {
    if (!key.empty() && pins.contains(key) && pins.at(key).is_string()) return pins.at(key).get<std::string>();
  }
  return std::nullopt;
}

util::Result<void> save_download_pin(const os::Files& files, const Paths& paths, const std::string& url,
                                     const std::string& sha256) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  auto pins = read_download_pins(files, paths);
  if (!pins.is_object()) pins = nlohmann::json::object();
  pins[url] = sha256;
  if (auto made = files.make_dirs(paths.datasets_dir(), 0755); !made) return std::unexpected(made.error());
  return files.write_atomic(paths.dataset_pins_file(), pins.dump(1) + "\n", 0600);
}

std::string held_sha256(const plan::StepRun& run, const std::string& url, const std::string& sha256) {
  if (!sha256.empty()) return sha256;
  return pinned_sha256(read_download_pins(run.system().files(), run.context().paths), url).value_or("");
}

util::Result<std::string> download_pinned(const plan::StepRun& run, const std::string& url, const std::string& name,
                                          const std::string& sha256) {
  const auto& files = run.system().files();
  const auto& paths = run.context().paths;
  const std::string held_to = held_sha256(run, url, sha256);
  std::string computed;
  auto cached = download_to_cache(run, url, name, held_to, "", std::nullopt, held_to.empty() ? &computed : nullptr);
  if (!cached || computed.empty()) return cached;
  if (auto saved = save_download_pin(files, paths, url, computed); !saved) return std::unexpected(saved.error());
  run.note(url + ": sha256 " + computed + " pinned at its first download (it must not change from now on)");
  return cached;
}

os::Command as_user(const plan::StepRun& run, std::vector<std::string> argv) {
  os::Command command;
  command.argv = std::move(argv);
  command.user = run.facts().user.name;
  return command;
}

namespace {

// What `argv`, run as the user, prints (trimmed): for what root must not look up itself.
util::Result<std::string> ask_as_user(const plan::StepRun& run, std::vector<std::string> argv) {
  auto command = as_user(run, std::move(argv));
  command.capture_stdout = true;
  command.timeout = std::chrono::seconds(30);
  auto result = run.run(command);
  if (!result) return std::unexpected(result.error());
  return std::string(util::trim(result->stdout_text));
}

}  // namespace

util::Result<void> append_as_user(const plan::StepRun& run, const std::string& path, const std::string& marker,
                                  const std::string& block) {
  auto existing = read_as_user(run, path);
  if (!existing) return std::unexpected(existing.error());
  if (existing->value_or("").find(marker) != std::string::npos) return {};
  // The whole file is written anew (write_as_user: temp file, sync, rename), keeping its mode. A
  // symlink (dotfiles kept in a repository) stays: the file it leads to is the one replaced, and
  // where that is and its mode are found out as the user.
  std::string target = path;
  std::string mode = "0644";
  if (const auto info = run.system().files().stat_user_path(path); info && info->type == os::FileType::regular) {
    char bits[8];
    std::snprintf(bits, sizeof bits, "%04o", static_cast<unsigned>(info->mode & 07777));
    mode = bits;
  } else if (*existing) {
    auto resolved = ask_as_user(run, {"realpath", "-e", "--", path});
    if (!resolved) return std::unexpected(resolved.error());
    auto bits = ask_as_user(run, {"stat", "-c", "%a", "--", *resolved});
    if (!bits) return std::unexpected(bits.error());
    if (bits->empty() || bits->size() > 4 || bits->find_first_not_of("01234567") != std::string::npos)
      return util::fail("cannot tell the mode of " + *resolved + " (stat said \"" + *bits + "\")");
    target = *resolved;
    mode = "0" + *bits;
  }
  return write_as_user(run, target, existing->value_or("") + block, mode);
}

std::string expand_home(const plan::Context& context, const std::string& path) {
  return util::expand_home(path, home_of(context));
}

std::string env_dir(const plan::Context& context) {
  return expand_home(context, context.config.string("anaconda.prefix")) + "/envs/" +
         context.config.string("conda_env.name");
}

std::string installed_version(const os::Files& files, const std::string& name) {
  const auto status = files.read("/var/lib/dpkg/status", 256u << 20).value_or("");
  bool in_package = false;
  bool installed = false;
  for (const auto& line : util::lines(status)) {
    if (line.starts_with("Package: ")) {
      in_package = line.substr(9) == name;
      installed = false;
    }
    if (!in_package) continue;
    if (line.starts_with("Status: "))
      installed = line.ends_with(" installed") && line.find(" ok ") != std::string::npos;
    if (line.starts_with("Version: ") && installed) return line.substr(9);
  }
  return "";
}

std::set<std::string> installed_packages(const os::Files& files) {
  std::set<std::string> installed;
  const auto status = files.read("/var/lib/dpkg/status", 256u << 20).value_or("");
  std::string package;
  for (const auto& line : util::lines(status)) {
    if (line.starts_with("Package: ")) package = line.substr(9);
    if (line.starts_with("Status: ") && line.ends_with(" installed") && line.find(" ok ") != std::string::npos) {
      installed.insert(package);
    }
  }
  return installed;
}

std::vector<std::string> missing_packages(const os::Files& files, const std::vector<std::string>& names) {
  const auto installed = installed_packages(files);
  std::vector<std::string> missing;
  for (const auto& name : names) {
    if (!installed.contains(name)) missing.push_back(name);
  }
  return missing;
}

bool may_read_remote(const plan::Context& context, const std::string& url) {
  const auto host_start = url.find("://");
  if (host_start == std::string::npos) return false;
  const std::string rest = url.substr(host_start + 3);
  const std::string host = rest.substr(0, rest.find_first_of(":/"));
  if (host == "127.0.0.1" || host == "localhost") return true;
  return context.facts.gce && context.system.files().is_host_root();
}

std::optional<std::uint64_t> remote_size(const plan::Context& context, const std::string& url) {
  if (!may_read_remote(context, url)) return std::nullopt;
  auto settings = context.http;
  settings.connect_timeout = std::chrono::seconds(5);
  settings.low_speed_time = std::chrono::seconds(10);
  const auto answer = net::probe(settings, url);
  if (!answer) return std::nullopt;
  return net::describe(*answer).size;
}

plan::ExpectedDownload expected_file(const plan::Context& context, const std::string& url,
                                     std::optional<std::uint64_t> size, const std::string& size_source) {
  plan::ExpectedDownload download{file_name_of(util::redact_credentials(url)), size, size_source};
  if (!size) {
    download.bytes = remote_size(context, url);
    download.source = download.bytes ? "the server" : "not known here (the server is asked on GCE VMs)";
  }
  return download;
}

std::string file_name_of(const std::string& url) {
  const std::string path = url.substr(0, url.find_first_of("?#"));
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

util::Result<void> write_as_user(const plan::StepRun& run, const std::string& path, const std::string& content,
                                 const std::string& mode) {
  const auto [parent, name] = os::split_parent(path);
  if (auto made = run.run(as_user(run, {"mkdir", "-p", "-m", "0700", "--", parent})); !made)
    return std::unexpected(made.error());
  // A temp file beside it, synced, then renamed over it and the folder synced: a kill or a power
  // loss leaves the old file or the new one, never none (`install` alone unlinks it first). Each
  // step runs as the user; a temp file a killed write left is replaced by the next one.
  const std::string temp = parent + "/." + name + ".cs231n-agent.tmp";
  auto write_temp = as_user(run, {"install", "-m", mode, "/dev/stdin", temp});
  write_temp.input = content;
  for (const auto& command : {write_temp, as_user(run, {"sync", "--", temp}),
                              as_user(run, {"mv", "-fT", "--", temp, path}), as_user(run, {"sync", "--", parent})}) {
    if (auto done = run.run(command); !done) return std::unexpected(done.error());
  }
  return {};
}

util::Result<std::optional<std::string>> read_as_user(const plan::StepRun& run, const std::string& path) {
  auto direct = run.system().files().read_user_file(path);
  if (direct) return std::optional<std::string>(std::move(*direct));
  const int error_number = direct.error().error_number;
  if (error_number == ENOENT) return std::optional<std::string>();
  if (error_number != ELOOP && error_number != ENOTDIR) {
    return util::fail(direct.error().message + ": move it away (the agent writes a new one) and run again");
  }
  // A symlink the user made (dotfiles in a repository): followed with the user's rights only,
  // and bounded in time (it may lead to a FIFO).
  auto command = as_user(run, {"cat", "--", path});
  command.capture_stdout = true;
  command.timeout = std::chrono::seconds(30);
  auto result = run.probe(command);
  if (!result) return std::unexpected(result.error());
  if (result->ok()) return std::optional<std::string>(result->stdout_text);
  const std::string& user = run.facts().user.name;
  return util::fail("cannot read " + path + " as " + user + " (" + std::string(util::trim(result->output_tail)) +
                    "): make it a file " + user + " can read, or move it away, and run again");
}

}  // namespace cs231n::steps
