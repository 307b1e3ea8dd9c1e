#include <doctest/doctest.h>

#include <sys/stat.h>

#include "agent/os/files.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;

TEST_CASE("files: paths resolve under the root and cannot leave it") {
  testing::TempDir root;
  root.write("etc/hostname", "inside\n");
  os::Files files(root.path());
  CHECK(files.read_trimmed("/etc/hostname") == "inside");
  CHECK(files.host_path("/etc/hostname") == root.path() / "etc/hostname");
  // ".." and absolute symlinks stop at the root, as in a chroot.
  CHECK(files.read_trimmed("/../../../etc/hostname") == "inside");
  std::filesystem::create_symlink("/etc/passwd", root.path() / "passwd-link");
  CHECK_FALSE(files.read("/passwd-link").has_value());  // the host's /etc/passwd is not reachable
  std::filesystem::create_symlink("../../../../../../etc/hostname", root.path() / "climb");
  CHECK(files.read_trimmed("/climb") == "inside");
}

TEST_CASE("files: list, stat, exists, missing files") {
  testing::TempDir root;
  root.write("d/b", "2");
  root.write("d/a", "1");
  os::Files files(root.path());
  CHECK(files.list("/d").value() == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(files.list("/nope").has_value());
  CHECK(files.exists("/d/a"));
  CHECK_FALSE(files.exists("/d/c"));
  const auto info = files.stat("/d/a");
  REQUIRE(info);
  CHECK(info->type == os::FileType::regular);
  CHECK(info->size == 1);
  const auto failure = files.read("/d/c");
  REQUIRE_FALSE(failure);
  CHECK(failure.error().error_number == ENOENT);
  CHECK(failure.error().message.find("/d/c") != std::string::npos);
}

TEST_CASE("files: write_atomic replaces whole files, sets the mode, leaves no temp file") {
  testing::TempDir root;
  os::Files files(root.path());
  REQUIRE(files.make_dirs("/var/lib/x", 0755));
  REQUIRE(files.write_atomic("/var/lib/x/state.json", "first", 0600));
  REQUIRE(files.write_atomic("/var/lib/x/state.json", "second", 0640));
  CHECK(root.read("var/lib/x/state.json") == "second");
  CHECK(files.stat("/var/lib/x/state.json")->mode == 0640);
  CHECK(files.list("/var/lib/x").value() == std::vector<std::string>{"state.json"});
}

TEST_CASE("files: write_atomic removes the temp files a killed writer of the same file left") {
  testing::TempDir root;
  os::Files files(root.path());
  root.write("etc/systemd/system/.cs231n-jupyter.service.tmp.1706879491", "");
  root.write("etc/systemd/system/.other.service.tmp.42", "");
  REQUIRE(files.write_atomic("/etc/systemd/system/cs231n-jupyter.service", "[Unit]\n", 0644));
  CHECK(files.list("/etc/systemd/system").value() ==
        std::vector<std::string>{".other.service.tmp.42", "cs231n-jupyter.service"});
}

TEST_CASE("files: write_atomic refuses to replace a symlink") {
  testing::TempDir root;
  root.write("target", "precious");
  std::filesystem::create_symlink("/target", root.path() / "link");
  os::Files files(root.path());
  const auto result = files.write_atomic("/link", "overwritten", 0644);
  REQUIRE_FALSE(result);
  CHECK(result.error().message.find("refusing to replace symlink") != std::string::npos);
  CHECK(root.read("target") == "precious");
}

TEST_CASE("files: symlink and remove") {
  testing::TempDir root;
  os::Files files(root.path());
  REQUIRE(files.symlink("/etc/x", "/link"));
  CHECK(std::filesystem::read_symlink(root.path() / "link") == "/etc/x");
  REQUIRE(files.remove("/link"));
  CHECK_FALSE(std::filesystem::is_symlink(root.path() / "link"));
  CHECK(files.remove("/link"));  // already gone is fine
}
