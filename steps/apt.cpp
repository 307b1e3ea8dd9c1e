#include "steps/apt.hpp"

#include <fcntl.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <thread>

#include "agent/core/exit_codes.hpp"
#include "agent/util/redact.hpp"
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

// How a probed command went wrong: "exited with status 1: <its last output>", or why it did not run.
std::string what_went_wrong(const util::Result<os::CommandResult>& result) {
  if (!result) return result.error().message;
  return result->describe() + ": " + std::string(util::trim(result->output_tail));
}

// dpkg --unpack of `debs`; what it could not unpack (a Pre-Depends not yet configured, a conflict
// apt resolves by its ordering) is left to apt, so a failure here is only noted.
void unpack_ahead(const plan::StepRun& run, const std::vector<std::string>& debs) {
  if (dpkg_lock_busy(run.system().files())) {
    run.note("dpkg is busy: apt unpacks these .debs itself");
    return;
  }
  os::Command unpack{.argv = {"dpkg", "--force-confdef", "--force-confold", "--unpack"}};
  unpack.argv.insert(unpack.argv.end(), debs.begin(), debs.end());
  unpack.env = apt_env();
  const auto unpacked = run.probe(unpack);
  if (!unpacked || !unpacked->ok())
    run.note("dpkg --unpack " + what_went_wrong(unpacked) + "; apt installs what it left");
}

// dpkg's state of each of `names` it knows: the second letter of dpkg-query's db:Status-Abbrev
// (n not installed, c config files only, U unpacked, F half-configured, ..., i installed).
std::map<std::string, char> dpkg_states(const plan::StepRun& run, const std::vector<std::string>& names) {
  os::Command query{.argv = {"dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\\n", "--"}};
  query.argv.insert(query.argv.end(), names.begin(), names.end());
  query.capture_stdout = true;
  const auto said = run.probe(query);  // exits 1 when one is unknown to dpkg; the others are still printed
  std::map<std::string, char> states;
  if (!said) return states;
  for (const auto& line : util::lines(said->stdout_text)) {
    const auto words = util::split(line, ' ');
    if (words.size() >= 2 && words[1].size() >= 2) states[words[0]] = words[1][1];
  }
  return states;
}

// After a failed install: what dpkg unpacked ahead (or apt, before it failed) among `planned` and
// nobody configured goes again (purged: none of it was there before), so that the next install
// starts from what was there; the .debs stay cached.
void purge_unconfigured(const plan::StepRun& run, const std::vector<std::string>& planned) {
  std::vector<std::string> pending;
  for (const auto& [name, state] : dpkg_states(run, planned)) {
    if (state != 'i' && state != 'n' && state != 'c') pending.push_back(name);
  }
  if (pending.empty() || !wait_for_dpkg(run, k_lock_wait)) return;
  run.note("apt's install failed: dpkg purges the " + std::to_string(pending.size()) +
           " packages it unpacked ahead, which apt did not configure");
  os::Command purge{.argv = {"dpkg", "--purge"}};
  purge.argv.insert(purge.argv.end(), pending.begin(), pending.end());
  purge.env = apt_env();
  if (const auto purged = run.probe(purge); !purged || !purged->ok())
    run.note("dpkg --purge " + what_went_wrong(purged) + "; `apt-get -f install` finishes or removes them");
}

// As apt marks what it pulls in, so that `apt autoremove` takes them once nothing needs them.
void mark_automatic(const plan::StepRun& run, const std::vector<std::string>& pulled_in) {
  if (pulled_in.empty()) return;
  os::Command mark{.argv = {"apt-mark", "auto", "--"}};
  mark.argv.insert(mark.argv.end(), pulled_in.begin(), pulled_in.end());
  if (const auto marked = run.probe(mark); !marked || !marked->ok())
    run.note("apt-mark auto " + what_went_wrong(marked) + ": the packages dpkg unpacked ahead stay marked as manual");
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
    AptArchive archive{match[1].str(), "", match[2].str(), 0, ""};
    if (!std::regex_match(archive.file_name, deb_name))
      return std::unexpected("an unexpected file name: " + archive.file_name);
    archive.package = archive.file_name.substr(0, archive.file_name.find('_'));
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

util::Failure apt_failure(util::Failure failure, std::string_view output) {
  // apt's own words (apt 2.6.1's source; the agent runs it under LANG=C.UTF-8, so in English):
  // "You don't have enough free space in %s." (apt-private/private-download.cc), and for each file
  // it could not have, "Failed to fetch %s  %s" (the same file, apt-pkg/update.cc,
  // apt-pkg/acquire-item.cc), its reason "Hash Sum mismatch" when the bytes were not the index's.
  const auto lines = util::lines(output);
  const auto said = [&](std::string_view words) {
    return std::ranges::find_if(lines, [&](const std::string& line) { return line.find(words) != std::string::npos; });
  };
  if (const auto full = said("You don't have enough free space in"); full != lines.end()) {
    failure.message = "apt has no room for its downloads: " + std::string(util::trim(*full)) +
                      "; free some disk space (or give the VM a larger disk), then run again";
    failure.exit_code = static_cast<int>(ExitCode::no_space);
    return failure;
  }
  const auto fetch = said("Failed to fetch ");
  if (fetch == lines.end()) return failure;
  std::string what = util::redact_credentials(util::trim(*fetch));
  if (what.starts_with("E: ") || what.starts_with("W: ")) what.erase(0, 3);
  if (what.find("Hash Sum mismatch") != std::string::npos) {
    failure.message = "apt got other bytes than its index names: " + what +
                      " (a mirror being updated, or a proxy changing files); run again later";
    failure.exit_code = static_cast<int>(ExitCode::checksum);
  } else {
    failure.message = "apt could not download what it needs: " + what +
                      "; check the VM's network and its apt sources, then run again";
    failure.exit_code = static_cast<int>(ExitCode::network);
  }
  return failure;
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
                  "-o", "DPkg::Lock::Timeout=600",
                  // The default since apt 2.3.2 (its changelog); 0 before it (Ubuntu 18.04, 20.04).
                  "-o", "Acquire::Retries=3"};
  command.argv.insert(command.argv.end(), arguments.begin(), arguments.end());
  command.env = env;
  const std::string shown = util::join(command.argv, " ");
  auto result = run.probe(command);
  if (!result) return std::unexpected(result.error());
  if (result->ok()) return {};
  return std::unexpected(apt_failure(run.failure_of(shown, *result), result->output_tail));
}

std::vector<std::string> fetch_apt_archives(const plan::StepRun& run, const std::vector<std::string>& packages,
                                            Unpack unpack) {
  if (auto waited = wait_for_dpkg(run, k_lock_wait); !waited) return {};
  // --print-uris takes no lock and downloads nothing (apt-private/private-install.cc); SHA256
  // rather than the MD5Sum it would print otherwise.
  os::Command print{.argv = {"apt-get", "-qq", "--print-uris", "-o", "Acquire::ForceHash=SHA256", "install",
                             "--no-install-recommends"}};
  print.argv.insert(print.argv.end(), packages.begin(), packages.end());
  print.env = apt_env();
  print.capture_stdout = true;
  const auto printed = run.probe(print);
  if (!printed || !printed->ok()) {
    run.note("apt downloads by itself: apt-get --print-uris " + what_went_wrong(printed));
    return {};
  }
  auto archives = parse_print_uris(printed->stdout_text);
  if (!archives) {
    run.note("apt downloads by itself: apt-get --print-uris printed " + archives.error());
    return {};
  }
  const auto folder = archives_dir(run);
  std::vector<net::QueuedDownload> queue;
  std::uint64_t bytes = 0;
  for (const auto& archive : *archives) {
    if (archive.sha256.empty() || !is_http_url(archive.uri)) {
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
  if (queue.empty()) return {};
  run.note("the agent downloads " + std::to_string(queue.size()) + " .debs (" + util::human_bytes(bytes) + ") into " +
           folder);
  bool unpacked_any = false;
  std::vector<std::string> new_packages;  // what dpkg did not have before: upgrades are left as they are
  if (unpack == Unpack::by_apt) {
    download_files(run, queue);
  } else {
    std::vector<std::string> names;
    for (const auto& archive : *archives) names.push_back(archive.package);
    const auto before = dpkg_states(run, names);
    for (const auto& name : names) {
      if (!before.contains(name) || before.at(name) != 'i') new_packages.push_back(name);
    }
    // The downloads run on their own thread; this one unpacks what has arrived whenever dpkg is
    // free. What arrives once the downloads have ended is apt's, which would unpack it as fast.
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::string> arrived;
    bool downloads_ended = false;
    std::jthread downloads([&] {
      download_files(run, queue, [&](const net::QueuedDownload& entry) {
        if (!entry.result) return;
        const std::lock_guard lock(mutex);
        arrived.push_back(entry.request.dest);
        changed.notify_one();
      });
      const std::lock_guard lock(mutex);
      downloads_ended = true;
      changed.notify_one();
    });
    while (!run.interrupted()) {
      std::vector<std::string> group;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return downloads_ended || !arrived.empty(); });
        if (downloads_ended) break;
        group.swap(arrived);
      }
      run.note("dpkg unpacks " + std::to_string(group.size()) + " .debs while the rest download");
      unpack_ahead(run, group);
      unpacked_any = true;
    }
    downloads.join();
  }
  const auto& files = run.system().files();
  for (const auto& entry : queue) {
    if (entry.result) continue;
    // Nothing unverified stays in apt's folder: apt fetches this one itself.
    const auto partial = net::partial_files(entry.request.dest);
    std::ignore = files.remove(partial.part);
    std::ignore = files.remove(partial.sidecar);
    run.note("apt downloads " + file_name_of(entry.request.dest) + " itself");
  }
  if (!unpacked_any) return {};
  return new_packages;
}

util::Result<void> apt_get_install(const plan::StepRun& run, const std::vector<std::string>& packages, Unpack unpack) {
  std::vector<std::string> planned;
  if (run.config().boolean("downloads.accelerate_pip_apt")) planned = fetch_apt_archives(run, packages, unpack);
  // Named, so that apt installs what dpkg did not unpack ahead: it takes an unpacked package as
  // installed ("already the newest version") and would not pull in what that one still lacks.
  std::vector<std::string> pulled_in;
  for (const auto& name : planned) {
    if (std::ranges::find(packages, name) == packages.end()) pulled_in.push_back(name);
  }
  std::vector<std::string> arguments{"install", "--no-install-recommends"};
  arguments.insert(arguments.end(), packages.begin(), packages.end());
  arguments.insert(arguments.end(), pulled_in.begin(), pulled_in.end());
  auto installed = apt_get(run, arguments);
  if (planned.empty()) return installed;
  if (installed) {
    mark_automatic(run, pulled_in);
  } else {
    purge_unconfigured(run, planned);
  }
  return installed;
}

util::Result<void> apt_install(const plan::StepRun& run, const std::vector<std::string>& packages, Unpack unpack) {
  if (auto updated = apt_get(run, {"update"}); !updated) return updated;
  return apt_get_install(run, packages, unpack);
}

util::Result<bool> apt_has(const plan::StepRun& run, const std::string& package) {
  os::Command show{.argv = {"apt-cache", "show", "--no-all-versions", "--", package}};
  show.capture_stdout = true;
  auto shown = run.probe(show);
  if (!shown) return std::unexpected(shown.error());
  return shown->ok() && !shown->stdout_text.empty();
}

}  // namespace cs231n::steps
