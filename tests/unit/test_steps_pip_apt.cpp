#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "agent/core/exit_codes.hpp"
#include "steps/apt.hpp"
#include "steps/pip.hpp"

using namespace cs231n;
using nlohmann::json;

namespace {

const std::string k_torch_sha(64, 'a');
const std::string k_cublas_sha(64, 'b');

// An installation report as pip prints it (docs/html/reference/installation-report.md), cut to the
// fields the agent reads and two wheels of a torch install.
json report_with(const std::vector<json>& items) {
  return {{"version", "1"},
          {"pip_version", "25.3"},
          {"install", items},
          {"environment", {{"platform_machine", "x86_64"}, {"python_version", "3.12"}}}};
}

json item(const std::string& name, const std::string& url, const json& archive_info) {
  return {{"download_info", {{"url", url}, {"archive_info", archive_info}}},
          {"is_direct", false},
          {"is_yanked", false},
          {"requested", name == "torch"},
          {"metadata", {{"name", name}, {"version", "1.0"}}}};
}

json torch_item() {
  return item("torch",
              "https://download-r2.pytorch.org/whl/cu130/torch-2.9.1%2Bcu130-cp312-cp312-manylinux_2_28_x86_64.whl",
              {{"hash", "sha256=" + k_torch_sha}, {"hashes", {{"sha256", k_torch_sha}}}});
}

}  // namespace

TEST_CASE("pip_version_of: the version pip --version prints, empty for anything else") {
  CHECK(steps::pip_version_of("pip 25.3 from /home/ann/miniforge3/envs/cs231n/lib/python3.12/site-packages/pip "
                              "(python 3.12)\n") == "25.3");
  CHECK(steps::pip_version_of("pip 26.0.1 from /x/pip (python 3.9)") == "26.0.1");
  CHECK(steps::pip_version_of("pip 24.1.dev0 from /x/pip (python 3.12)") == "24.1");
  CHECK(steps::pip_version_of("pip 9.0.1 from /usr/lib/python3/dist-packages (python 3.6)") == "9.0.1");
  CHECK(steps::pip_version_of("/x/bin/python: No module named pip").empty());
  CHECK(steps::pip_version_of("").empty());
}

TEST_CASE("parse_install_report: each wheel's URL, file name (%2B decoded) and sha256") {
  const auto report =
      report_with({torch_item(), item("nvidia-cublas",
                                      "https://pypi.nvidia.com/nvidia-cublas/"
                                      "nvidia_cublas-13.0.0.19-py3-none-manylinux_2_27_x86_64.whl#sha256=" +
                                          k_cublas_sha,
                                      {{"hashes", {{"sha256", k_cublas_sha}}}})});
  const auto wheels = steps::parse_install_report(report.dump(2));
  REQUIRE(wheels);
  REQUIRE(wheels->size() == 2);
  CHECK((*wheels)[0].name == "torch");
  CHECK((*wheels)[0].file_name == "torch-2.9.1+cu130-cp312-cp312-manylinux_2_28_x86_64.whl");
  CHECK((*wheels)[0].url ==
        "https://download-r2.pytorch.org/whl/cu130/torch-2.9.1%2Bcu130-cp312-cp312-manylinux_2_28_x86_64.whl");
  CHECK((*wheels)[0].sha256 == k_torch_sha);
  CHECK((*wheels)[1].file_name == "nvidia_cublas-13.0.0.19-py3-none-manylinux_2_27_x86_64.whl");
  CHECK((*wheels)[1].url.find('#') == std::string::npos);
  CHECK((*wheels)[1].sha256 == k_cublas_sha);
}

TEST_CASE("parse_install_report: the older \"hash\" alone is read; uppercase hex is lowered") {
  std::string upper(64, 'A');
  const auto wheels =
      steps::parse_install_report(report_with({item("filelock", "https://example.org/filelock-3.20.0-py3-none-any.whl",
                                                    {{"hash", "sha256=" + upper}})})
                                      .dump());
  REQUIRE(wheels);
  REQUIRE(wheels->size() == 1);
  CHECK((*wheels)[0].sha256 == std::string(64, 'a'));
}

TEST_CASE("parse_install_report: an empty install list is no wheels") {
  const auto wheels = steps::parse_install_report(report_with({}).dump());
  REQUIRE(wheels);
  CHECK(wheels->empty());
}

TEST_CASE("parse_install_report: what the agent cannot fetch itself is said") {
  const auto reason = [](const json& report) {
    const auto parsed = steps::parse_install_report(report.dump());
    REQUIRE_FALSE(parsed);
    return parsed.error();
  };
  CHECK(reason(report_with(
            {item("torch", "https://example.org/torch-2.9.1-cp312-cp312-linux_x86_64.whl", json::object())})) ==
        "the index gives no sha256 for torch-2.9.1-cp312-cp312-linux_x86_64.whl");
  CHECK(reason(report_with({item("torch", "https://example.org/torch-2.9.1-cp312-cp312-linux_x86_64.whl",
                                 {{"hashes", {{"md5", std::string(32, 'c')}}}})}))
            .starts_with("the index gives no sha256"));
  CHECK(reason(report_with(
            {item("jinja2", "https://example.org/jinja2-3.1.6.tar.gz", {{"hashes", {{"sha256", k_torch_sha}}}})})) ==
        "jinja2 is a source archive (jinja2-3.1.6.tar.gz), which pip builds");
  CHECK(reason(report_with({item("torch", "file:///home/ann/torch-2.9.1-cp312-cp312-linux_x86_64.whl",
                                 {{"hashes", {{"sha256", k_torch_sha}}}})}))
            .ends_with("not from an index"));
  // A name that would lead out of the cache folder once decoded.
  CHECK(reason(report_with({item("evil", "https://example.org/..%2F..%2Fetc%2Fcron.d%2Fx-1-py3-none-any.whl",
                                 {{"hashes", {{"sha256", k_torch_sha}}}})}))
            .starts_with("the wheel name ../../etc/cron.d/x-1-py3-none-any.whl is unusual"));
  CHECK(reason(json{{"version", "2"}, {"install", json::array()}}) ==
        "pip's report is not an installation report of version 1");
  CHECK(reason(json::array()) == "pip's report is not an installation report of version 1");
  CHECK(reason(report_with({{{"metadata", {{"name", "torch"}}}}})) == "pip's report has no download URL for torch");
  CHECK(steps::parse_install_report("Looking in indexes: https://download.pytorch.org/whl/cu130\n{").error() ==
        "pip's report is not JSON");
}

TEST_CASE("python_of_explicit_list: the env's Python version from the list's python package") {
  // conda list --explicit --md5's form; python-dateutil and cpython are other packages.
  const std::string list =
      "# This file may be used to create an environment using:\n@EXPLICIT\n"
      "https://conda.anaconda.org/conda-forge/noarch/python-dateutil-2.9.0.post0-pyhff2d567_1.conda#0123\n"
      "https://conda.anaconda.org/conda-forge/noarch/cpython-3.12.8-py312hd8ed1ab_1.conda\n"
      "https://conda.anaconda.org/conda-forge/linux-64/python-3.11.9-hb806964_0_cpython.conda#4567\n";
  CHECK(steps::python_of_explicit_list(list) == "3.11");
  CHECK(steps::python_of_explicit_list("@EXPLICIT\nhttps://repo.anaconda.com/pkgs/main/linux-64/"
                                       "python-3.6.13-h12debd9_1.tar.bz2\n") == "3.6");
  CHECK_FALSE(steps::python_of_explicit_list("@EXPLICIT\nhttps://example.org/linux-64/numpy-2.1.3-py312h0.conda\n"));
  CHECK_FALSE(steps::python_of_explicit_list(""));
}

TEST_CASE("parse_print_uris: URI, package, file name, size and SHA256 of each line apt prints") {
  const std::string sha(64, 'd');
  const auto archives = steps::parse_print_uris(
      "'http://deb.debian.org/debian/pool/main/c/curl/curl_7.74.0-1.3%2bdeb11u13_amd64.deb' "
      "curl_7.74.0-1.3+deb11u13_amd64.deb 270468 SHA256:" +
      sha +
      "\n"
      "'http://deb.debian.org/debian/pool/main/g/git/git_2.30.2-1%2bdeb11u2_amd64.deb' "
      "git_1%3a2.30.2-1+deb11u2_amd64.deb "
      "5519376 MD5Sum:0123456789abcdef0123456789abcdef\n"
      "'https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-nvcc-12-8_12.8.93-1_amd64.deb' "
      "cuda-nvcc-12-8_12.8.93-1_amd64.deb 40000000 \n"
      "'file:/srv/repo/hello_1.0_all.deb' hello_1.0_all.deb 12 SHA256:" +
      std::string(64, 'E') + "\n");
  REQUIRE(archives);
  REQUIRE(archives->size() == 4);
  CHECK((*archives)[0].uri == "http://deb.debian.org/debian/pool/main/c/curl/curl_7.74.0-1.3%2bdeb11u13_amd64.deb");
  CHECK((*archives)[0].file_name == "curl_7.74.0-1.3+deb11u13_amd64.deb");
  CHECK((*archives)[0].package == "curl");
  CHECK((*archives)[0].size == 270468);
  CHECK((*archives)[0].sha256 == sha);
  CHECK((*archives)[1].file_name == "git_1%3a2.30.2-1+deb11u2_amd64.deb");
  CHECK((*archives)[1].sha256.empty());  // not a SHA256: left to apt
  CHECK((*archives)[2].sha256.empty());
  CHECK((*archives)[2].size == 40000000);
  CHECK((*archives)[2].package == "cuda-nvcc-12-8");  // apt installs it by this name
  CHECK((*archives)[3].sha256 == std::string(64, 'e'));
}

TEST_CASE("parse_print_uris: lines that are not apt's files are skipped; a malformed one is an error") {
  const auto none = steps::parse_print_uris("Reading package lists...\nW: something\n");
  REQUIRE(none);
  CHECK(none->empty());
  CHECK(steps::parse_print_uris("'http://x/a.deb' a.deb many SHA256:00\n").error().starts_with("an unexpected line"));
  CHECK(steps::parse_print_uris("'http://x/a.deb' ../a.deb 12 \n").error() == "an unexpected file name: ../a.deb");
  CHECK(steps::parse_print_uris("'http://x/a.deb' a.tar 12 \n").error() == "an unexpected file name: a.tar");
}

TEST_CASE("apt_failure: a file apt could not fetch is the network's exit code, named with the fix") {
  // apt 2.2's last lines when a .deb answers 404 (apt-private/private-download.cc,
  // private-install.cc print these two errors).
  const std::string output =
      "Err:3 http://127.0.0.1:8000/cuda/debian11/x86_64  cuda-standin-missing 1.0\n"
      "  404  Not Found [IP: 127.0.0.1 8000]\n"
      "E: Failed to fetch http://127.0.0.1:8000/cuda/debian11/x86_64/cuda-standin-missing_1.0_amd64.deb  404  Not "
      "Found [IP: 127.0.0.1 8000]\n"
      "E: Unable to fetch some archives, maybe run apt-get update or try with --fix-missing?\n";
  const auto failure = steps::apt_failure({"apt-get install exited with status 100", 0, 0}, output);
  CHECK(failure.exit_code == static_cast<int>(ExitCode::network));
  CHECK(failure.message.find("cuda-standin-missing_1.0_amd64.deb  404  Not Found") != std::string::npos);
  CHECK(failure.message.find("check the VM's network") != std::string::npos);
  CHECK(failure.message.find("E: ") == std::string::npos);
}

TEST_CASE("apt_failure: bytes other than the index's are the checksum's exit code") {
  const auto failure = steps::apt_failure(
      {"apt-get update exited with status 100", 0, 0},
      "E: Failed to fetch http://user:secret@mirror.example/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/"
      "ab12  Hash Sum mismatch\n"
      "E: Some index files failed to download. They have been ignored, or old ones used instead.\n");
  CHECK(failure.exit_code == static_cast<int>(ExitCode::checksum));
  CHECK(failure.message.find("Hash Sum mismatch") != std::string::npos);
  CHECK(failure.message.find("secret") == std::string::npos);
}

TEST_CASE("apt_failure: no room for the .debs is the disk's exit code; anything else is left as it came") {
  const auto full = steps::apt_failure({"apt-get install exited with status 100", 0, 0},
                                       "E: You don't have enough free space in /var/cache/apt/archives/.\n");
  CHECK(full.exit_code == static_cast<int>(ExitCode::no_space));
  CHECK(full.message.find("/var/cache/apt/archives/") != std::string::npos);
  CHECK(full.message.find("free some disk space") != std::string::npos);

  const auto unmet = steps::apt_failure(
      {"apt-get install exited with status 100: E: Unmet dependencies.", 0, 0},
      " cuda-toolkit-12-6 : Depends: cuda-standin-cudart but it is not going to be installed\n"
      "E: Unmet dependencies. Try 'apt --fix-broken install' with no packages (or specify a solution).\n");
  CHECK(unmet.exit_code == 0);
  CHECK(unmet.message == "apt-get install exited with status 100: E: Unmet dependencies.");
}

TEST_CASE("pinned_wheel_in_page: the one Linux x86_64 wheel of the pinned version for the Python, with its sha256") {
  // Links as PyTorch's index writes them (pytorch/test-infra s3_management/manage_v2.py,
  // to_simple_package_html): an absolute path, %2B for '+', the sha256 as the fragment.
  const std::string hex(64, 'c');
  const auto a = [&](const std::string& file) {
    return "<a href=\"/whl/cu128/" + file + "#sha256=" + hex + "\" data-dist-info-metadata=\"sha256=" + hex + "\">" +
           file + "</a><br/>\n";
  };
  const std::string page = a("torch-2.9.1%2Bcu128-cp311-cp311-manylinux_2_28_x86_64.whl") +
                           a("torch-2.9.1%2Bcu128-cp311-cp311-manylinux_2_28_aarch64.whl") +
                           a("torch-2.9.1%2Bcu128-cp311-cp311-win_amd64.whl") +
                           a("torch-2.9.1%2Bcu128-cp312-cp312-manylinux_2_28_x86_64.whl") +
                           a("torch-2.9.1%2Bcu128-cp313-cp313t-manylinux_2_28_x86_64.whl") +
                           a("torch-2.9.0%2Bcu128-cp311-cp311-manylinux_2_28_x86_64.whl");
  const auto wheel =
      steps::pinned_wheel_in_page(page, "https://download.pytorch.org/whl/cu128/torch/", "torch==2.9.1+cu128", "3.11");
  REQUIRE(wheel);
  CHECK(wheel->name == "torch");
  CHECK(wheel->file_name == "torch-2.9.1+cu128-cp311-cp311-manylinux_2_28_x86_64.whl");
  CHECK(wheel->url ==
        "https://download.pytorch.org/whl/cu128/torch-2.9.1%2Bcu128-cp311-cp311-manylinux_2_28_x86_64.whl");
  CHECK(wheel->sha256 == hex);
  CHECK(steps::pinned_wheel_in_page(page, "https://download.pytorch.org/whl/cu128/torch/", "torch==2.9.1+cu128", "3.13")
            .has_value() == false);  // only the free-threaded cp313t build

  // A relative link is taken from the page's folder, an absolute URL as it is.
  const auto relative = steps::pinned_wheel_in_page(
      "<a href=\"../files/torch-2.9.1%2Bcu128-cp312-cp312-manylinux_2_28_x86_64.whl#sha256=" + hex + "\">",
      "http://127.0.0.1:8231/whl/cu128/torch/", "torch==2.9.1+cu128", "3.12");
  REQUIRE(relative);
  CHECK(relative->url ==
        "http://127.0.0.1:8231/whl/cu128/torch/../files/"
        "torch-2.9.1%2Bcu128-cp312-cp312-manylinux_2_28_x86_64.whl");
}

TEST_CASE("pinned_wheel_in_page: nothing when the pin, the sha256 or a single fitting link is missing") {
  const std::string hex(64, 'd');
  const std::string x86 = "torch-2.9.1%2Bcu128-cp311-cp311-manylinux_2_28_x86_64.whl";
  const std::string url = "https://download.pytorch.org/whl/cu128/torch/";
  const std::string page = "<a href=\"/whl/cu128/" + x86 + "#sha256=" + hex + "\">";
  CHECK_FALSE(steps::pinned_wheel_in_page(page, url, "torch", "3.11"));               // no version pinned
  CHECK_FALSE(steps::pinned_wheel_in_page(page, url, "torch>=2.9", "3.11"));          // a range is pip's to resolve
  CHECK_FALSE(steps::pinned_wheel_in_page(page, url, "torch==2.9.1+cu126", "3.11"));  // another build
  CHECK_FALSE(steps::pinned_wheel_in_page("<a href=\"/whl/cu128/" + x86 + "\">", url, "torch==2.9.1+cu128", "3.11"));
  // Two platform tags for the same Python: which one pip takes depends on the VM's glibc.
  const std::string two =
      page + "<a href=\"/whl/cu128/torch-2.9.1%2Bcu128-cp311-cp311-manylinux2014_x86_64.whl#sha256=" + hex + "\">";
  CHECK_FALSE(steps::pinned_wheel_in_page(two, url, "torch==2.9.1+cu128", "3.11"));
}
