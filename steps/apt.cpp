#include "steps/apt.hpp"

#include <fcntl.h>

#include "agent/util/strings.hpp"

namespace cs231n::steps {

namespace {

constexpr auto k_lock_wait = std::chrono::minutes(15);

}  // namespace

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
  const std::map<std::string, std::string> env{{"DEBIAN_FRONTEND", "noninteractive"},
                                               {"APT_LISTCHANGES_FRONTEND", "none"}};
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

util::Result<void> apt_install(const plan::StepRun& run, const std::vector<std::string>& packages) {
  if (auto updated = apt_get(run, {"update"}); !updated) return updated;
  std::vector<std::string> arguments{"install", "--no-install-recommends"};
  arguments.insert(arguments.end(), packages.begin(), packages.end());
  return apt_get(run, arguments);
}

util::Result<bool> apt_has(const plan::StepRun& run, const std::string& package) {
  os::Command show{.argv = {"apt-cache", "show", "--no-all-versions", "--", package}};
  show.capture_stdout = true;
  auto shown = run.probe(show);
  if (!shown) return std::unexpected(shown.error());
  return shown->ok() && !shown->stdout_text.empty();
}

}  // namespace cs231n::steps
