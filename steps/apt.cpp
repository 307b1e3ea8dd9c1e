#include "steps/apt.hpp"

#include <fcntl.h>

#include <algorithm>
#include <regex>

#include "agent/util/strings.hpp"
#include "steps/common.hpp"

namespace cs231n::steps {

namespace {

constexpr auto k_lock_wait = std::chrono::minutes(15);

const std::map<std::string, std::string>& apt_env() {
  static const std::map<std::string, std::string> env{{"DEBIAN_FRONTEND", "noninteractive"},
                                                      {"APT_LISTCHANGES_FRONTEND", "none"}};
  return env;
}

// apt's archive folder (Dir::Cache::Archives, normally /var/cache/apt/archives), as apt-config
// says: `ARCHIVES='/var/cache/apt/archives/'`.
std::string archives_dir(const plan::StepRun& run) {
  os::Command query{.argv = {"apt-config", "shell", "ARCHIVES", "Dir::Cache::Archives/d"}};
  query.capture_stdout = true;
  query.timeout = std::chrono::minutes(1);
  const auto said = run.probe(query);
  static const std::regex shell_line(R"(ARCHIVES='(/[^']*?)/?'\s*)");
  std::smatch match;
  const std::string text = said && said->ok() ? said->stdout_text : "";
  if (std::regex_match(text, match, shell_line)) return match[1].str();
  return "/var/cache/apt/archives";
}

}  // namespace

std::expected<std::vector<AptArchive>, std::string> parse_print_uris(std::string_view output) {
  // apt-private/private-install.cc: '\'' << URI << "' " << flNotDir(DestFile) << ' ' << FileSize << ' '
  // << HashSum(), the hash as HashString::toStr() writes it ("SHA256:<hex>"; empty without one).
  static const std::regex line_format(R"('([^' ]+)' (\S+) ([0-9]+) ?(\S*))");
  static const std::regex deb_name(R"([A-Za-z0-9][A-Za-z0-9.+~%_-]*\.deb)");
  static const std::regex sha256(R"(SHA256:([0-9a-fA-F]{64}))");
  std::vector<AptArchive> archives;
  for (const auto& line : util::lines(output)) {
    if (!line.starts_with('\'')) continue;
    std::smatch match;
    if (!std::regex_match(line, match, line_format)) return std::unexpected("an unexpected line: " + line);
    AptArchive archive{match[1].str(), match[2].str(), 0, ""};
    if (!std::regex_match(archive.file_name, deb_name))
      return std::unexpected("an unexpected file name: " + archive.file_name);
    const auto size = util::parse_uint(match[3].str());
    if (!size) return std::unexpected("an unexpected size: " + line);
    archive.size = *size;
    std::smatch hash;
    const std::string hash_text = match[4].str();
    if (std::regex_match(hash_text, hash, sha256)) {
      archive.sha256 = util::lowercase(hash[1].str());
    }
    archives.push_back(std::move(archive));
  }
  return archives;
}

bool dpkg_lock_busy(const os::Files& files) {
  for (const char* path : k_dpkg_locks) {
    auto fd = files.open(path, O_RDWR);
    if (!fd) continue;
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    if (::fcntl(fd->get(), F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK) return true;
  }
  return false;
}

bool dpkg_interrupted(const os::Files& files) {
  const auto pending = files.list("/var/lib/dpkg/updates");
  return pending && !pending->empty();
}

util::Result<void> wait_for_dpkg(const plan::StepRun& run, std::chrono::seconds limit) {
  auto& system = run.system();
  const auto started = system.now();
  auto last_said = started - std::chrono::minutes(1);
  while (dpkg_lock_busy(system.files())) {
    const auto waited = std::chrono::duration_cast<std::chrono::seconds>(system.now() - started);
    if (waited >= limit) {
      return util::fail("another package manager (often unattended-upgrades on a fresh VM) held the dpkg lock for " +
                        std::to_string(waited.count()) + " s; let it finish, then run again");
    }
    if (run.interrupted()) return util::fail("interrupted while waiting for the dpkg lock");
    if (system.now() - last_said >= std::chrono::seconds(30)) {
      run.note("waiting for the dpkg lock (another package manager is working), " + std::to_string(waited.count()) +
               " s so far");
      last_said = system.now();
    }
    system.sleep(std::chrono::seconds(2));
  }
  return {};
}

util::Result<void> apt_get(const plan::StepRun& run, const std::vector<std::string>& arguments) {
  if (auto waited = wait_for_dpkg(run, k_lock_wait); !waited) return waited;
  const auto& env = apt_env();
  if (dpkg_interrupted(run.system().files())) {
    run.note("dpkg was interrupted earlier: dpkg --configure -a");
    os::Command repair;
    repair.argv = {"dpkg", "--force-confdef", "--force-confold", "--configure", "-a"};
    repair.env = env;
    if (auto repaired = run.run(repair); !repaired)
      return util::fail("repairing the interrupted dpkg failed: " + repaired.error().message);
  }
  os::Command command;
  command.argv = {"apt-get", "-q", "-y", "-o", "Dpkg::Options::=--force-confdef", "-o",
                  "Dpkg::Options::=--force-confold",
                  // apt >= 1.9.11 waits for the lock itself; older ones ignore the option.
                  "-o", "DPkg::Lock::Timeout=600"};
  command.argv.insert(command.argv.end(), arguments.begin(), arguments.end());
  command.env = env;
  auto result = run.run(command);
  if (!result) return std::unexpected(result.error());
  return {};
}

void fetch_apt_archives(const plan::StepRun& run, const std::vector<std::string>& packages) {
  if (auto waited = wait_for_dpkg(run, k_lock_wait); !waited) return;
  // --print-uris takes no lock and downloads nothing (apt-private/private-install.cc); SHA256
  // rather than the MD5Sum it would print otherwise.
  os::Command print{.argv = {"apt-get", "-qq", "--print-uris", "-o", "Acquire::ForceHash=SHA256", "install",
                             "--no-install-recommends"}};
  print.argv.insert(print.argv.end(), packages.begin(), packages.end());
  print.env = apt_env();
  print.capture_stdout = true;
  const auto printed = run.probe(print);
  if (!printed || !printed->ok()) {
    run.note("apt downloads by itself: apt-get --print-uris " +
             (printed ? printed->describe() + ": " + std::string(util::trim(printed->output_tail))
                      : printed.error().message));
    return;
  }
  auto archives = parse_print_uris(printed->stdout_text);
  if (!archives) {
    run.note("apt downloads by itself: apt-get --print-uris printed " + archives.error());
    return;
  }
  const auto folder = archives_dir(run);
  std::vector<net::QueuedDownload> queue;
  std::uint64_t bytes = 0;
  for (const auto& archive : *archives) {
    if (archive.sha256.empty() || !(archive.uri.starts_with("http://") || archive.uri.starts_with("https://"))) {
      run.note("apt downloads " + archive.file_name + " itself (" + archive.uri +
               (archive.sha256.empty() ? ", no SHA256 in its index)" : ")"));
      continue;
    }
    net::DownloadRequest request;
    request.url = archive.uri;
    request.dest = folder + "/" + archive.file_name;
    request.sha256 = archive.sha256;
    request.size = archive.size;
    queue.push_back({request});
    bytes += archive.size;
  }
  if (queue.empty()) return;
  run.note("the agent downloads " + std::to_string(queue.size()) + " .debs (" + util::human_bytes(bytes) + ") into " +
           folder);
  download_files(run, queue);
  const auto& files = run.system().files();
  for (const auto& entry : queue) {
    if (entry.result) continue;
    // Nothing unverified stays in apt's folder: apt fetches this one itself.
    const auto partial = net::partial_files(entry.request.dest);
    std::ignore = files.remove(partial.part);
    std::ignore = files.remove(partial.sidecar);
    run.note("apt downloads " + file_name_of(entry.request.dest) + " itself");
  }
}

util::Result<void> apt_get_install(const plan::StepRun& run, const std::vector<std::string>& packages) {
  if (run.config().boolean("downloads.accelerate_pip_apt")) fetch_apt_archives(run, packages);
  std::vector<std::string> arguments{"install", "--no-install-recommends"};
  arguments.insert(arguments.end(), packages.begin(), packages.end());
  return apt_get(run, arguments);
}

util::Result<void> apt_install(const plan::StepRun& run, const std::vector<std::string>& packages) {
  if (auto updated = apt_get(run, {"update"}); !updated) return updated;
  return apt_get_install(run, packages);
}

util::Result<bool> apt_has(const plan::StepRun& run, const std::string& package) {
  os::Command show{.argv = {"apt-cache", "show", "--no-all-versions", "--", package}};
  show.capture_stdout = true;
  auto shown = run.probe(show);
  if (!shown) return std::unexpected(shown.error());
  return shown->ok() && !shown->stdout_text.empty();
}

}  // namespace cs231n::steps
