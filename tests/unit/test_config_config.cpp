#include <doctest/doctest.h>

#include "agent/config/config.hpp"
#include "agent/config/schema.hpp"
#include "agent/core/error.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;
using nlohmann::json;

namespace {

std::string first_problem(const json& document) {
  const auto problems = config::validate(document);
  return problems.empty() ? std::string() : problems.front();
}

detect::OsInfo os_of(const std::string& id, const std::string& version) {
  return detect::os_info_from({{"ID", id}, {"VERSION_ID", version}});
}

}  // namespace

TEST_CASE("config: unknown keys are named with a suggestion") {
  CHECK(first_problem({{"jupyter", {{"prot", 8888}}}}) == "jupyter.prot: unknown key; did you mean \"port\"?");
  CHECK(first_problem({{"profil", "seed"}}) == "profil: unknown key; did you mean \"profile\"?");
  CHECK(first_problem({{"zzzzzz", 1}}) == "zzzzzz: unknown key");
}

TEST_CASE("config: what root installs comes over https: gpu.repo_url and pytorch.index_url") {
  CHECK(first_problem({{"gpu", {{"repo_url", "http://developer.download.nvidia.com/compute/cuda/repos"}}}})
            .starts_with("gpu.repo_url: must be an https:// URL (http:// only on 127.0.0.1)"));
  CHECK(first_problem({{"pytorch", {{"index_url", "http://download.pytorch.org/whl"}}}})
            .starts_with("pytorch.index_url: must be an https:// URL"));
  CHECK(first_problem({{"pytorch", {{"index_url", "http://127.0.0.1.evil.example/whl"}}}})
            .starts_with("pytorch.index_url: must be an https:// URL"));
  CHECK(config::validate({{"gpu", {{"repo_url", "https://mirror.example/cuda/repos"}}},
                          {"pytorch", {{"index_url", "http://127.0.0.1:8080/whl"}}}})
            .empty());
  CHECK(first_problem({{"gpu", {{"keyring_sha256", {{"ubuntu1804/cuda-keyring_1.1-1_all.deb", "ABC"}}}}}})
            .starts_with("gpu.keyring_sha256: has ubuntu1804/cuda-keyring_1.1-1_all.deb = \"ABC\""));
  CHECK(first_problem({{"gpu", {{"keyring_sha256", {{"../x.deb", std::string(64, 'a')}}}}}})
            .starts_with("gpu.keyring_sha256: has \"../x.deb\""));
}

TEST_CASE("config: a refused value is shown without the credentials of a URL in it") {
  const auto repo = first_problem({{"gpu", {{"repo_url", "http://student:hunter2@mirror.example/cuda/repos"}}}});
  CHECK(repo.starts_with("gpu.repo_url: must be an https:// URL"));
  CHECK(repo.find("http://***@mirror.ex") != std::string::npos);
  const auto channel = first_problem({{"conda_env", {{"channels", {"https://conda.example/main?token=s3cr3t x"}}}}});
  CHECK(channel.starts_with("conda_env.channels: has \""));
  for (const auto& problem : {repo, channel}) {
    CAPTURE(problem);
    CHECK(problem.find("hunter2") == std::string::npos);
    CHECK(problem.find("s3cr3t") == std::string::npos);
  }
}

TEST_CASE("config: the course's own datasets come over https") {
  for (const char* os : {"16.04", "22.04"}) {
    const auto config = config::Config::resolve({}, os_of("ubuntu", os));
    for (const auto& item : config.at("datasets.items")) {
      const auto url = item.at("url").get<std::string>();
      // cifar-10 has the publisher's md5; the others are unpickled on the strength of TLS and a pin.
      if (!item.contains("md5")) CHECK_MESSAGE(url.starts_with("https://"), url);
    }
  }
}

TEST_CASE("config: wrong types and bad values name the path and what was expected") {
  CHECK(first_problem({{"jupyter", {{"port", "8888"}}}}) == "jupyter.port: expected an integer, got a string \"8888\"");
  CHECK(first_problem({{"jupyter", {{"port", 70000}}}}) == "jupyter.port: must be from 1 to 65535, got 70000");
  CHECK(first_problem({{"jupyter", 5}}) == "jupyter: expected an object, got an integer 5");
  CHECK(first_problem({{"profile", "newest"}}).starts_with("profile: must be one of \"auto\", \"seed\", \"current\""));
  CHECK(first_problem({{"user", "Robert'); DROP"}}).starts_with("user: must be an account name"));
  CHECK(first_problem({{"anaconda", {{"prefix", "~/my anaconda"}}}})
            .starts_with("anaconda.prefix: must be an absolute path"));
  CHECK(first_problem({{"anaconda", {{"installer_sha256", "ABC"}}}})
            .starts_with("anaconda.installer_sha256: must be 64 lowercase hex"));
  CHECK(first_problem({{"gpu", {{"cuda", "latest"}}}}).starts_with("gpu.cuda: must be \"auto\" or a CUDA version"));
  CHECK(first_problem({{"jupyter", {{"password_hash", "sha1:abc:not-hex"}}}})
            .starts_with("jupyter.password_hash: must be a Jupyter hash"));
  CHECK(first_problem({{"conda_env", {{"packages", {"numpy", "x; rm -rf /"}}}}})
            .starts_with("conda_env.packages: has \"x; rm -rf /\""));
  CHECK(first_problem({{"timeouts", {{"conda-env", 0}}}}).starts_with("timeouts: has conda-env = 0"));
  CHECK(first_problem(json::array()) == "the config must be a JSON object, got a list");
}

TEST_CASE("config: values that become a program's arguments may not start with -, which reads as an option") {
  CHECK(first_problem({{"conda_env", {{"packages", {"numpy", "--override-channels"}}}}})
            .starts_with(
                "conda_env.packages: has \"--override-channels\", which starts with \"-\" and would be read as an "
                "option"));
  CHECK(first_problem({{"conda_env", {{"name", "-p/tmp/x"}}}}) ==
        "conda_env.name: must not start with \"-\" (it would be read as an option), got \"-p/tmp/x\"");
  CHECK(first_problem({{"assignments", {{"ref", "--upload-pack=touch /x"}}}}).starts_with("assignments.ref: must not"));
  CHECK(first_problem({{"assignments", {{"ref", "-b"}}}}) ==
        "assignments.ref: must not start with \"-\" (it would be read as an option), got \"-b\"");
  CHECK(first_problem({{"datasets", {{"extra", {{{"name", "x"}, {"url", "https://h/x"}, {"into", "-x"}}}}}}})
            .starts_with("datasets.extra[0].into: must not start with \"-\""));
  CHECK(first_problem({{"user", "-oProxyCommand"}}).starts_with("user: must not start with \"-\""));
  // A "-" inside a value is no option.
  CHECK(config::validate({{"conda_env", {{"name", "cs231n-2"}, {"packages", {"scikit-learn"}}}},
                          {"assignments", {{"ref", "release-2024"}}}})
            .empty());
}

TEST_CASE("config: list items are checked field by field") {
  CHECK(first_problem({{"steps", {{{"name", "hello"}}}}}) == "steps[0].run: required (argv to run)");
  CHECK(first_problem({{"steps", {{{"name", "hello"}, {"run", json::array()}}}}})
            .starts_with("steps[0].run: must name a program"));
  CHECK(first_problem({{"steps", {{{"name", "hello"}, {"run", {"true"}}, {"usr", "root"}}}}}) ==
        "steps[0].usr: unknown key; did you mean \"user\"?");
  CHECK(first_problem({{"datasets", {{"extra", {{{"name", "x"}, {"url", "ftp://host/x"}, {"into", "a"}}}}}}})
            .starts_with("datasets.extra[0].url: must be an http:// or https:// URL"));
  CHECK(config::validate({{"steps", {{{"name", "hello"}, {"run", {"echo", "hi"}}, {"env", {{"A", "b"}}}}}}}).empty());
}

TEST_CASE("config: objects merge key by key, lists replace") {
  json base = {{"a", {{"x", 1}, {"y", 2}}}, {"list", {1, 2, 3}}};
  config::merge_into(base, {{"a", {{"y", 5}}}, {"list", {9}}});
  CHECK(base == json{{"a", {{"x", 1}, {"y", 5}}}, {"list", {9}}});
}

TEST_CASE("config: auto picks seed on Ubuntu 16.04/18.04 and current elsewhere") {
  const auto xenial = config::Config::resolve({}, os_of("ubuntu", "16.04"));
  CHECK(xenial.profile().name == "seed");
  CHECK(xenial.profile().requested == "auto");
  CHECK(xenial.string("conda_env.python") == "3.6");
  CHECK(xenial.string("gpu.cuda") == "10.0");
  CHECK(xenial.string("anaconda.installer_url").ends_with("Anaconda3-2018.12-Linux-x86_64.sh"));

  const auto jammy = config::Config::resolve({}, os_of("ubuntu", "22.04"));
  CHECK(jammy.profile().name == "current");
  CHECK(jammy.profile().reason.find("CUDA 10.0") != std::string::npos);
  CHECK(jammy.string("gpu.cuda") == "auto");

  const auto forced = config::Config::resolve({config::Layer(json{{"profile", "seed"}})}, os_of("ubuntu", "22.04"));
  CHECK(forced.profile().name == "seed");
}

TEST_CASE("config: each key's source is the last layer that sets it") {
  const auto config = config::Config::resolve(
      {config::Layer(json{{"user", "ann"}, {"jupyter", {{"port", 9000}}}}, "metadata attribute cs231n-config"),
       config::Layer(json{{"jupyter", {{"port", 9443}}}}, "config file /etc/x.json")},
      os_of("debian", "12"));
  CHECK(config.sources().at("user") == "metadata attribute cs231n-config");
  CHECK(config.sources().at("jupyter.port") == "config file /etc/x.json");
  CHECK(config.sources().at("gpu.cuda") == "default (current profile)");
}

TEST_CASE("config: later layers win over earlier ones and over the defaults") {
  const auto config = config::Config::resolve(
      {json{{"jupyter", {{"port", 9000}}}, {"user", "ann"}}, json{{"jupyter", {{"port", 9443}}}}},
      os_of("debian", "12"));
  CHECK(config.integer("jupyter.port") == 9443);
  CHECK(config.string("user") == "ann");
  CHECK(config.string("jupyter.hash_algorithm") == "argon2");  // untouched default kept
}

TEST_CASE("config: load_file errors are one line with the file and the place") {
  testing::TempDir dir;
  const auto bad_json = dir.write("bad.json", "{\n  \"user\": \"ann\",\n  oops\n}\n");
  try {
    config::load_file(bad_json);
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::usage);
    CHECK(std::string(error.what()) ==
          "config file " + bad_json.string() + " is not valid JSON (line 3, column 3): fix the syntax there");
  }
  const auto wrong = dir.write("wrong.json", R"({"jupyter": {"port": "x"}, "gpu": {"cuda": "9"}})");
  try {
    config::load_file(wrong);
    FAIL("no error");
  } catch (const Error& error) {
    const std::string message = error.what();
    CHECK(message.find(wrong.string() + ": gpu.cuda: must be \"auto\" or a CUDA version") != std::string::npos);
    CHECK(message.ends_with("(and 1 more problems)"));
    CHECK(message.find('\n') == std::string::npos);
  }
  CHECK_THROWS_AS(config::load_file(dir.path() / "missing.json"), Error);
}
