#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "agent/config/config.hpp"
#include "agent/detect/facts.hpp"
#include "agent/os/accounts.hpp"
#include "agent/os/real_system.hpp"
#include "steps/common.hpp"
#include "support/temp_dir.hpp"

// steps/common's writes as the user with the real programs (cat, realpath, stat, install, sync,
// mv) run as nobody, on files in a folder of nobody's that stands in for the home (nobody's own is
// /nonexistent on every Debian/Ubuntu host).

using namespace cs231n;

namespace {

// The host, with the commands' working folder in the stand-in home. With kill_the_writer, the
// first command that is given input (the one that writes the file's bytes) gets only half of it
// and the agent dies with it: nothing after that runs, as when the VM goes down half-way.
class NobodysSystem : public os::RealSystem {
 public:
  explicit NobodysSystem(std::filesystem::path home) : RealSystem("/"), m_home(std::move(home)) {}

  util::Result<os::CommandResult> run(const os::Command& command) override {
    if (m_dead) return util::fail("the agent was killed");
    auto adjusted = command;
    if (adjusted.cwd.empty()) adjusted.cwd = m_home.string();
    if (!kill_the_writer || adjusted.input.empty()) return RealSystem::run(adjusted);
    adjusted.input.resize(adjusted.input.size() / 2);
    m_dead = true;
    auto result = RealSystem::run(adjusted);
    if (result) {
      result->exit_code = -1;
      result->signal = SIGKILL;
    }
    return result;
  }

  bool kill_the_writer = false;
  void revive() { m_dead = false; }

 private:
  std::filesystem::path m_home;
  bool m_dead = false;
};

struct NobodysHome {
  testing::TempDir dir;
  std::filesystem::path home = dir.path() / "home";
  std::filesystem::path bashrc = home / ".bashrc";
  NobodysSystem system{home};
  detect::Facts facts;
  config::Config config = config::Config::resolve({}, detect::os_info_from({{"ID", "debian"}, {"VERSION_ID", "12"}}));
  uid_t uid = 0;

  NobodysHome() {
    REQUIRE_MESSAGE(::geteuid() == 0, "running as another user needs root; scripts/test.sh runs as root");
    const auto nobody = os::Accounts::load(os::Files("/")).find_user("nobody");
    REQUIRE(nobody);
    uid = nobody->uid;
    std::filesystem::permissions(dir.path(), std::filesystem::perms::owner_all | std::filesystem::perms::others_exec);
    std::filesystem::create_directories(home);
    own(home);
    facts.user.name = "nobody";
  }

  void own(const std::filesystem::path& path) const { REQUIRE(::lchown(path.c_str(), uid, uid) == 0); }
  std::filesystem::path write(const std::filesystem::path& path, const std::string& content, mode_t mode) const {
    std::ofstream(path, std::ios::binary) << content;
    own(path);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    return path;
  }
  util::Result<void> append(const std::string& block) {
    const plan::Context context{system, facts, config};
    const auto run = plan::StepRun::unlogged(context, "anaconda", std::chrono::minutes(1));
    return steps::append_as_user(run, bashrc.string(), "# >>> marker >>>", block);
  }
  std::string read(const std::filesystem::path& path) const {
    std::ifstream stream(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
  }
};

const std::string k_block =
    "\n# >>> marker >>>\n. \"/home/nobody/anaconda3/etc/profile.d/conda.sh\"\n# <<< marker <<<\n";

}  // namespace

TEST_CASE(
    "append_as_user: a writer killed half-way leaves ~/.bashrc as it was; the next run appends the block once, as "
    "the user, keeping the mode") {
  NobodysHome machine;
  const std::string before = "alias ll='ls -l'\nexport EDITOR=vi\n";
  machine.write(machine.bashrc, before, 0640);

  machine.system.kill_the_writer = true;
  CHECK_FALSE(machine.append(k_block));
  CHECK(machine.read(machine.bashrc) == before);

  machine.system.kill_the_writer = false;
  machine.system.revive();
  const auto appended = machine.append(k_block);
  REQUIRE_MESSAGE(appended, (appended ? std::string() : appended.error().message));
  CHECK(machine.read(machine.bashrc) == before + k_block);
  struct stat st {};
  REQUIRE(::lstat(machine.bashrc.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(st.st_uid == machine.uid);
  REQUIRE(machine.append(k_block));  // the marker is there: nothing more
  CHECK(machine.read(machine.bashrc) == before + k_block);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(machine.home))
    names.push_back(entry.path().filename().string());
  CHECK(names == std::vector<std::string>{".bashrc"});  // the killed write's temp file is gone too
}

TEST_CASE(
    "append_as_user: a ~/.bashrc kept elsewhere (a dotfiles link) stays a link; the file it leads to gets the block") {
  NobodysHome machine;
  std::filesystem::create_directories(machine.home / "dotfiles");
  machine.own(machine.home / "dotfiles");
  const auto kept = machine.write(machine.home / "dotfiles/bashrc", "set -o vi\n", 0600);
  std::filesystem::create_symlink("dotfiles/bashrc", machine.bashrc);
  machine.own(machine.bashrc);
  const auto appended = machine.append(k_block);
  REQUIRE_MESSAGE(appended, (appended ? std::string() : appended.error().message));
  CHECK(std::filesystem::is_symlink(machine.bashrc));
  CHECK(machine.read(kept) == "set -o vi\n" + k_block);
  CHECK((std::filesystem::status(kept).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
}

TEST_CASE(
    "append_as_user: ~/.bashrc -> a root-only file is an error naming it; that file is neither read nor changed") {
  NobodysHome machine;
  const auto shadow = machine.dir.path() / "shadow";
  std::ofstream(shadow) << "root:$6$rootsecret:19000:0:99999:7:::\n";
  REQUIRE(::chmod(shadow.c_str(), 0600) == 0);
  std::filesystem::create_symlink(shadow, machine.bashrc);
  machine.own(machine.bashrc);
  const auto appended = machine.append(k_block);
  REQUIRE_FALSE(appended);
  CHECK(appended.error().message.find(machine.bashrc.string()) != std::string::npos);
  CHECK(appended.error().message.find("rootsecret") == std::string::npos);
  CHECK(machine.read(shadow) == "root:$6$rootsecret:19000:0:99999:7:::\n");
  CHECK(std::filesystem::is_symlink(machine.bashrc));
}
