#include <doctest/doctest.h>

#include "agent/detect/os_release.hpp"
#include "agent/gpu/compat_table.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;

TEST_CASE("os-release: quoted, unquoted and escaped values") {
  const auto fields = detect::parse_os_release(
      "NAME=\"Ubuntu\"\n"
      "ID=ubuntu\n"
      "VERSION_ID='22.04'\n"
      "PRETTY_NAME=\"Say \\\"hi\\\" \\$HOME \\\\ done\"\n"
      "EMPTY=\n");
  CHECK(fields.at("NAME") == "Ubuntu");
  CHECK(fields.at("ID") == "ubuntu");
  CHECK(fields.at("VERSION_ID") == "22.04");
  CHECK(fields.at("PRETTY_NAME") == "Say \"hi\" $HOME \\ done");
  CHECK(fields.at("EMPTY").empty());
}

TEST_CASE("os-release: comments, blank and malformed lines are ignored") {
  const auto fields = detect::parse_os_release(
      "# a comment\n"
      "\n"
      "   \n"
      "not a key value line\n"
      "lower=case key\n"
      "UNTERMINATED=\"oops\n"
      "SPACED=two words\n"
      "  ID=debian  \n"
      "VERSION_ID=\"12\"\r\n");
  CHECK(fields.size() == 2);
  CHECK(fields.at("ID") == "debian");
  CHECK(fields.at("VERSION_ID") == "12");
}

TEST_CASE("os-release: supported releases and the reason for others") {
  CHECK(detect::os_info_from({{"ID", "ubuntu"}, {"VERSION_ID", "16.04"}}).supported);
  CHECK(detect::os_info_from({{"ID", "ubuntu"}, {"VERSION_ID", "24.04"}}).supported);
  CHECK(detect::os_info_from({{"ID", "debian"}, {"VERSION_ID", "11"}}).supported);
  const auto interim = detect::os_info_from({{"ID", "ubuntu"}, {"VERSION_ID", "23.10"}});
  CHECK_FALSE(interim.supported);
  CHECK(interim.reason == "Ubuntu 23.10 is not supported; cs231n-agent supports " + gpu::supported_os_list());
  const auto centos =
      detect::os_info_from({{"ID", "centos"}, {"VERSION_ID", "7"}, {"PRETTY_NAME", "CentOS Linux 7 (Core)"}});
  CHECK_FALSE(centos.supported);
  CHECK(centos.reason.starts_with("CentOS Linux 7 (Core) is not supported"));
  const auto nameless = detect::os_info_from({{"NAME", "Something"}});
  CHECK_FALSE(nameless.supported);
  CHECK(nameless.reason.find("no ID") != std::string::npos);
}

TEST_CASE("os-release: the supported releases are exactly gpu's OS table") {
  for (const auto& os : gpu::supported_oses()) {
    CAPTURE(os.nvidia_repo);
    CHECK(detect::os_info_from({{"ID", std::string(os.id)}, {"VERSION_ID", std::string(os.version_id)}}).supported);
  }
  CHECK_FALSE(detect::os_info_from({{"ID", "debian"}, {"VERSION_ID", "14"}}).supported);
}

TEST_CASE("os-release: codename falls back to UBUNTU_CODENAME") {
  CHECK(detect::os_info_from({{"ID", "ubuntu"}, {"VERSION_ID", "16.04"}, {"UBUNTU_CODENAME", "xenial"}}).codename ==
        "xenial");
}

TEST_CASE("os-release: read from the root, /usr/lib fallback, missing file") {
  testing::TempDir root;
  os::Files files(root.path());
  auto missing = detect::read_os_info(files);
  CHECK_FALSE(missing.supported);
  CHECK(missing.reason.find("no /etc/os-release") != std::string::npos);

  root.write("usr/lib/os-release", "ID=ubuntu\nVERSION_ID=\"18.04\"\nVERSION_CODENAME=bionic\n");
  auto fallback = detect::read_os_info(files);
  CHECK(fallback.supported);
  CHECK(fallback.codename == "bionic");

  // An absolute symlink inside a root must resolve within the root, never to the host's file
  // (the host running the tests is not Ubuntu 18.04).
  std::filesystem::create_directories(root.path() / "etc");
  std::filesystem::create_symlink("/usr/lib/os-release", root.path() / "etc/os-release");
  CHECK(detect::read_os_info(files).is("ubuntu", "18.04"));
}
