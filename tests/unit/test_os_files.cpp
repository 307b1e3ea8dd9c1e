#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

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

TEST_CASE("files: read_user_file reads a regular file of bounded size, under a root or the host's") {
  testing::TempDir root;
  root.write("home/ann/.bashrc", "alias ll='ls -l'\n");
  CHECK(os::Files(root.path()).read_user_file("/home/ann/.bashrc") == "alias ll='ls -l'\n");
  CHECK(os::Files("/").read_user_file((root.path() / "home/ann/.bashrc").string()) == "alias ll='ls -l'\n");
  CHECK(os::Files(root.path()).read_user_file_trimmed("/home/ann/.bashrc") == "alias ll='ls -l'");
  const auto missing = os::Files(root.path()).read_user_file("/home/ann/.profile");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().error_number == ENOENT);
}

TEST_CASE("files: read_user_file returns an error at once for a FIFO, where read() would block") {
  testing::TempDir root;
  std::filesystem::create_directories(root.path() / "home/ann/.jupyter/certs");
  const auto fifo = root.path() / "home/ann/.jupyter/certs/jupyter.pem";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  // Should the read block, a writer that opens and closes the FIFO after 5 s ends it (as EOF).
  std::atomic<bool> done = false;
  std::thread unblocker([&] {
    for (int i = 0; i < 50 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!done) ::close(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK));
  });
  const auto started = std::chrono::steady_clock::now();
  const auto result = os::Files(root.path()).read_user_file("/home/ann/.jupyter/certs/jupyter.pem");
  const auto elapsed = std::chrono::steady_clock::now() - started;
  done = true;
  unblocker.join();
  CHECK(elapsed < std::chrono::seconds(1));
  REQUIRE_FALSE(result);
  CHECK(result.error().message.find("not a regular file") != std::string::npos);
  CHECK(result.error().message.find("jupyter.pem") != std::string::npos);
}

TEST_CASE("files: read_user_file refuses a symlink to a root-only file, and a symlinked folder") {
  testing::TempDir root;
  const auto secret = root.write("etc/shadow", "root:$6$secret:19000:0:99999:7:::\n");
  std::filesystem::permissions(secret, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::filesystem::create_directories(root.path() / "home/ann");
  const os::Files host("/");
  // The final component: ~/.bashrc -> /etc/shadow (absolute, on the host).
  std::filesystem::create_symlink(secret, root.path() / "home/ann/.bashrc");
  const auto link = host.read_user_file((root.path() / "home/ann/.bashrc").string());
  REQUIRE_FALSE(link);
  CHECK(link.error().error_number == ELOOP);
  CHECK(link.error().message.find("symlink") != std::string::npos);
  // A folder on the way: ~/.jupyter -> /etc, then ~/.jupyter/shadow.
  std::filesystem::create_symlink(root.path() / "etc", root.path() / "home/ann/.jupyter");
  const auto folder = host.read_user_file((root.path() / "home/ann/.jupyter/shadow").string());
  REQUIRE_FALSE(folder);
  CHECK(folder.error().error_number == ENOTDIR);
  CHECK(folder.error().message.find("secret") == std::string::npos);
  // Under a root too, and ".." is refused rather than resolved.
  const os::Files under(root.path());
  CHECK_FALSE(under.read_user_file("/home/ann/.bashrc"));
  CHECK_FALSE(under.read_user_file("/home/ann/.jupyter/shadow"));
  CHECK_FALSE(under.read_user_file("/home/ann/../../etc/shadow"));
  CHECK(under.read_user_file("/etc/shadow"));  // the same file, reached without a link, is read
}

TEST_CASE("files: read_user_file refuses a file larger than its bound, and a folder") {
  testing::TempDir root;
  root.write("home/ann/big", std::string(4096, 'x'));
  const os::Files files(root.path());
  const auto big = files.read_user_file("/home/ann/big", 1024);
  REQUIRE_FALSE(big);
  CHECK(big.error().error_number == EFBIG);
  CHECK(files.read_user_file("/home/ann/big", 4096).value().size() == 4096);
  CHECK(files.read_user_file("/home/ann").error().error_number == EINVAL);
}

TEST_CASE("files: exists, stat and list of a user's path follow no symlink on the way: nothing of root's is revealed") {
  testing::TempDir root;
  // Root's own folder, and a student's home where ~/miniforge3 leads into it.
  root.write("root/conda/bin/conda", "#!/bin/sh\n");
  std::filesystem::permissions(root.path() / "root", std::filesystem::perms::owner_all);
  root.write("home/ann/.bashrc", "# ann's\n");
  std::filesystem::create_symlink("/root/conda", root.path() / "home/ann/miniforge3");
  std::filesystem::create_symlink("/root/conda/bin/conda", root.path() / "home/ann/conda-link");
  const os::Files files(root.path());
  // What root sees when it follows the links (the functions for root's own paths)...
  REQUIRE(files.exists("/home/ann/miniforge3/bin/conda"));
  REQUIRE(files.list("/home/ann/miniforge3/bin"));
  // ...and what the user-path ones say: a symlinked folder on the way is refused, not followed.
  CHECK_FALSE(files.user_path_exists("/home/ann/miniforge3/bin/conda"));
  const auto info = files.stat_user_path("/home/ann/miniforge3/bin/conda");
  REQUIRE_FALSE(info);
  CHECK(info.error().error_number == ENOTDIR);
  const auto listed = files.list_user_folder("/home/ann/miniforge3/bin");
  REQUIRE_FALSE(listed);
  CHECK(listed.error().error_number == ENOTDIR);
  CHECK(listed.error().message.find("symlink") != std::string::npos);
  // A final symlink is the link itself: it exists, stat says symlink, and it is not listed through.
  CHECK(files.user_path_exists("/home/ann/conda-link"));
  CHECK(files.stat_user_path("/home/ann/conda-link")->type == os::FileType::symlink);
  CHECK_FALSE(files.list_user_folder("/home/ann/miniforge3"));
  // What is really in the home is seen as usual, on the host's root too.
  CHECK(files.user_path_exists("/home/ann/.bashrc"));
  CHECK(files.stat_user_path("/home/ann/.bashrc")->size == 8);
  CHECK(files.list_user_folder("/home/ann").value() == std::vector<std::string>{".bashrc", "conda-link", "miniforge3"});
  CHECK(os::Files("/").list_user_folder((root.path() / "home/ann").string()).value().size() == 3);
  CHECK_FALSE(files.user_path_exists("/home/ann/missing"));
  CHECK(files.stat_user_path("/home/ann/missing").error().error_number == ENOENT);
  CHECK_FALSE(files.stat_user_path("/home/ann/../../root/conda/bin/conda"));
}

TEST_CASE("files: stat and list of a user's FIFO answer at once") {
  testing::TempDir root;
  std::filesystem::create_directories(root.path() / "home/ann");
  const auto fifo = root.path() / "home/ann/datasets";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  // Should either block, a writer that opens and closes the FIFO after 5 s ends it.
  std::atomic<bool> done = false;
  std::thread unblocker([&] {
    for (int i = 0; i < 50 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!done) ::close(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK));
  });
  const os::Files files(root.path());
  const auto started = std::chrono::steady_clock::now();
  const auto info = files.stat_user_path("/home/ann/datasets");
  const auto listed = files.list_user_folder("/home/ann/datasets");
  const bool exists = files.user_path_exists("/home/ann/datasets");
  const auto elapsed = std::chrono::steady_clock::now() - started;
  done = true;
  unblocker.join();
  CHECK(elapsed < std::chrono::seconds(1));
  REQUIRE(info);
  CHECK(info->type == os::FileType::other);
  CHECK(exists);
  REQUIRE_FALSE(listed);
  CHECK(listed.error().error_number == ENOTDIR);
}
