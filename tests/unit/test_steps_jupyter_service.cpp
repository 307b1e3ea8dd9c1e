#include <doctest/doctest.h>
#include <sys/stat.h>

#include "agent/detect/facts.hpp"
#include "agent/jupyter/api_token.hpp"
#include "steps/table.hpp"
#include "support/fake_system.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;

namespace {

constexpr const char* k_token_file = "var/lib/cs231n-agent/jupyter/api-token.env";

struct ServiceVm {
  testing::TempDir root;
  std::unique_ptr<testing::FakeSystem> system;
  detect::Facts facts;
  config::Config config;
  std::unique_ptr<plan::Step> step = steps::make_jupyter_service_step();

  explicit ServiceVm(bool systemd = false) {
    root.write("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
    root.write("etc/passwd", "root:x:0:0::/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/bash\n");
    root.write("proc/sys/kernel/arch", "x86_64\n");
    if (systemd) std::filesystem::create_directories(root.path() / "run/systemd/system");
    system = std::make_unique<testing::FakeSystem>(root.path());
    facts = detect::gather_facts(*system, "ann");
    config = config::Config::resolve({}, facts.os);
  }
  plan::StepRun run(const plan::Context& context) const {
    return plan::StepRun::unlogged(context, step->info().name, std::chrono::minutes(1));
  }
  util::Result<plan::ApplyResult> apply() const {
    const plan::Context context{*system, facts, config};
    return step->apply(run(context));
  }
  util::Result<plan::CheckResult> check() const {
    const plan::Context context{*system, facts, config};
    return step->check(run(context));
  }
  mode_t token_mode() const {
    struct stat st {};
    REQUIRE(::stat((root.path() / k_token_file).c_str(), &st) == 0);
    return st.st_mode & 07777;
  }
};

}  // namespace

TEST_CASE("jupyter-service: a root-only API token, read by systemd through EnvironmentFile=") {
  ServiceVm vm;
  REQUIRE(vm.apply());
  const auto unit = vm.root.read("etc/systemd/system/cs231n-jupyter.service");
  CHECK(unit.find("\nEnvironmentFile=/var/lib/cs231n-agent/jupyter/api-token.env\n") != std::string::npos);
  const auto content = vm.root.read(k_token_file);
  const auto token = jupyter::parse_api_token_file(content);
  REQUIRE(token);
  CHECK(vm.token_mode() == 0600);
  CHECK(unit.find(*token) == std::string::npos);
  CHECK(vm.check()->done);
  CHECK(vm.system->commands().empty());

  SUBCASE("a second run keeps the token") {
    REQUIRE(vm.apply());
    CHECK(vm.root.read(k_token_file) == content);
  }
  SUBCASE("a token file others can read is replaced by a new one, 0600") {
    std::filesystem::permissions(vm.root.path() / k_token_file, std::filesystem::perms(0644));
    CHECK_FALSE(vm.check()->done);
    REQUIRE(vm.apply());
    CHECK(vm.token_mode() == 0600);
    CHECK(vm.root.read(k_token_file) != content);
    CHECK(vm.check()->done);
  }
  SUBCASE("a malformed token file is replaced") {
    vm.root.write(k_token_file, "CS231N_JUPYTER_API_TOKEN=\n");
    CHECK_FALSE(vm.check()->done);
    REQUIRE(vm.apply());
    CHECK(jupyter::parse_api_token_file(vm.root.read(k_token_file)));
  }
}

TEST_CASE(
    "jupyter-service: with systemd, a changed unit or token restarts a running server (so it reads the token); a new "
    "one just starts") {
  ServiceVm vm(true);
  vm.system->expect({"systemctl", "daemon-reload"});
  vm.system->expect({"systemctl", "enable", "--now", "cs231n-jupyter.service"});
  REQUIRE(vm.apply());
  vm.system->verify();

  vm.root.write("etc/systemd/system/cs231n-jupyter.service",
                "[Service]\nExecStart=/old/jupyter notebook\n");  // an older agent's
  vm.system->expect({"systemctl", "daemon-reload"});
  vm.system->expect({"systemctl", "enable", "--now", "cs231n-jupyter.service"});
  vm.system->expect({"systemctl", "try-restart", "cs231n-jupyter.service"});
  REQUIRE(vm.apply());
  vm.system->verify();

  // Same unit, but a new token (the old file was unusable): the server must read it too.
  vm.root.write(k_token_file, "garbage\n");
  vm.system->expect({"systemctl", "daemon-reload"});
  vm.system->expect({"systemctl", "enable", "--now", "cs231n-jupyter.service"});
  vm.system->expect({"systemctl", "try-restart", "cs231n-jupyter.service"});
  REQUIRE(vm.apply());
  vm.system->verify();
}
