#include <doctest/doctest.h>

#include "support/fake_system.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;

TEST_CASE("services: without systemd, units are written and enabled offline, nothing started") {
  testing::TempDir root;
  testing::FakeSystem system(root.path());
  auto& services = system.services();
  CHECK_FALSE(services.systemd_running());
  REQUIRE(services.install_unit("cs231n-agent.service", "[Unit]\nDescription=x\n"));
  REQUIRE(services.enable("cs231n-agent.service", "multi-user.target", true));
  REQUIRE(services.enable("cs231n-agent.service", "multi-user.target", true));  // idempotent
  CHECK(root.read("etc/systemd/system/cs231n-agent.service") == "[Unit]\nDescription=x\n");
  CHECK(
      std::filesystem::read_symlink(root.path() / "etc/systemd/system/multi-user.target.wants/cs231n-agent.service") ==
      "/etc/systemd/system/cs231n-agent.service");
  CHECK(system.commands().empty());  // FakeSystem throws on any command: none was run
}

TEST_CASE("services: with systemd running, systemctl reloads, enables and starts") {
  testing::TempDir root;
  std::filesystem::create_directories(root.path() / "run/systemd/system");
  testing::FakeSystem system(root.path());
  system.expect({"systemctl", "daemon-reload"});
  system.expect({"systemctl", "enable", "--now", "jupyter.service"});
  auto& services = system.services();
  CHECK(services.systemd_running());
  REQUIRE(services.install_unit("jupyter.service", "[Service]\n"));
  REQUIRE(services.enable("jupyter.service", "multi-user.target", true));
  system.verify();
}

TEST_CASE("services: a failing systemctl is an error with its output") {
  testing::TempDir root;
  std::filesystem::create_directories(root.path() / "run/systemd/system");
  testing::FakeSystem system(root.path());
  system.expect({"systemctl", "enable", "x.service"}, testing::FakeSystem::failed(1, "Unit x.service not found."));
  const auto result = system.services().enable("x.service", "multi-user.target", false);
  REQUIRE_FALSE(result);
  CHECK(result.error().message == "systemctl enable exited with status 1: Unit x.service not found.");
}

TEST_CASE("fake system: an unscripted command fails loudly") {
  testing::TempDir root;
  testing::FakeSystem system(root.path());
  os::Command command;
  command.argv = {"apt-get", "install", "-y", "git"};
  CHECK_THROWS_AS(system.run(command), testing::UnexpectedCommand);
  system.expect({"apt-get", "update"});
  CHECK_THROWS_WITH_AS(system.run(command), "unexpected command: apt-get install -y git (expected: apt-get update)",
                       testing::UnexpectedCommand);
}

TEST_CASE("system: kernel facts are read under the root") {
  testing::TempDir root;
  root.write("proc/sys/kernel/osrelease", "5.15.0-1053-gcp\n");
  root.write("proc/sys/kernel/hostname", "cs231n-vm\n");
  root.write("proc/sys/kernel/random/boot_id", "0d3c8a0e-1111-2222-3333-444455556666\n");
  root.write("proc/sys/kernel/arch", "aarch64\n");
  testing::FakeSystem system(root.path());
  CHECK(system.kernel_release() == "5.15.0-1053-gcp");
  CHECK(system.hostname() == "cs231n-vm");
  CHECK(system.boot_id() == "0d3c8a0e-1111-2222-3333-444455556666");
  CHECK(system.machine() == "aarch64");
}
