#include <doctest/doctest.h>

#include "agent/core/error.hpp"
#include "steps/conda_terms.hpp"
#include "steps/table.hpp"
#include "tests/support/machine.hpp"
#include "tests/support/temp_dir.hpp"

using namespace cs231n;
using nlohmann::json;

namespace {

config::Config config_with(const json& layer) {
  const auto os = detect::os_info_from(detect::parse_os_release(testing::k_jammy));
  return config::Config::resolve({config::Layer(layer)}, os);
}

json installer(const std::string& file_name) {
  return {{"anaconda", {{"installer_url", "https://example.org/" + file_name}}}};
}

}  // namespace

TEST_CASE("installer_has_tos_plugin: Miniconda from 25.5, Anaconda from 2025.06, never Miniforge") {
  CHECK(steps::installer_has_tos_plugin("Miniconda3-py313_25.5.1-1-Linux-x86_64.sh"));
  CHECK(steps::installer_has_tos_plugin("Miniconda3-py312_25.7.0-2-Linux-x86_64.sh"));
  CHECK(steps::installer_has_tos_plugin("Miniconda3-latest-Linux-x86_64.sh"));
  CHECK(steps::installer_has_tos_plugin("Anaconda3-2025.06-0-Linux-x86_64.sh"));
  CHECK_FALSE(steps::installer_has_tos_plugin("Miniconda3-py312_24.3.0-0-Linux-x86_64.sh"));
  CHECK_FALSE(steps::installer_has_tos_plugin("Miniconda3-py313_25.3.1-1-Linux-x86_64.sh"));
  CHECK_FALSE(steps::installer_has_tos_plugin("Anaconda3-2018.12-Linux-x86_64.sh"));
  CHECK_FALSE(steps::installer_has_tos_plugin("Anaconda3-2024.10-1-Linux-x86_64.sh"));
  CHECK_FALSE(steps::installer_has_tos_plugin("Miniforge3-26.7.2-0-Linux-x86_64.sh"));
}

TEST_CASE("terms_refusal: the defaults of both profiles need no terms") {
  CHECK_FALSE(steps::terms_refusal(config_with(json::object())));
  CHECK_FALSE(steps::terms_refusal(config_with({{"profile", "seed"}})));
}

TEST_CASE("terms_refusal: a Miniconda with the plugin, or Anaconda's channels, without accept_tos") {
  const auto refusal = steps::terms_refusal(config_with(installer("Miniconda3-py313_25.5.1-1-Linux-x86_64.sh")));
  REQUIRE(refusal);
  CHECK(refusal->starts_with("config: anaconda.accept_tos: Miniconda3-py313_25.5.1-1-Linux-x86_64.sh stops at"));
  CHECK(refusal->find("use Miniforge") != std::string::npos);
  CHECK(refusal->find('\n') == std::string::npos);
  const auto channels = steps::terms_refusal(config_with({{"conda_env", {{"channels", {"conda-forge", "defaults"}}}}}));
  REQUIRE(channels);
  CHECK(channels->find("(https://repo.anaconda.com/pkgs/main, https://repo.anaconda.com/pkgs/r)") != std::string::npos);
  // accept_tos lifts both.
  auto accepted = installer("Miniconda3-py313_25.5.1-1-Linux-x86_64.sh");
  accepted["anaconda"]["accept_tos"] = true;
  CHECK_FALSE(steps::terms_refusal(config_with(accepted)));
}

TEST_CASE("anaconda_terms: exactly the Anaconda channels the env reads") {
  auto layer = installer("Miniconda3-py313_25.5.1-1-Linux-x86_64.sh");
  layer["conda_env"]["channels"] = json::array();
  auto terms = steps::anaconda_terms(config_with(layer));
  CHECK(terms.anaconda_channels ==
        std::vector<std::string>{"https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r"});
  CHECK(terms.runs_accept());
  layer["conda_env"]["channels"] = {"conda-forge", "https://repo.anaconda.com/pkgs/main/linux-64/", "pkgs/main"};
  terms = steps::anaconda_terms(config_with(layer));
  CHECK(terms.anaconda_channels == std::vector<std::string>{"https://repo.anaconda.com/pkgs/main"});
  layer["conda_env"]["channels"] = {"conda-forge"};
  terms = steps::anaconda_terms(config_with(layer));
  CHECK(terms.anaconda_channels.empty());
  CHECK(terms.required());
  CHECK_FALSE(terms.runs_accept());
  CHECK(steps::channel_arguments(config_with(layer)) ==
        std::vector<std::string>{"--override-channels", "-c", "conda-forge"});
}

TEST_CASE("all_steps: a config that needs Anaconda's terms, or names two env lists, is a usage error") {
  CHECK_THROWS_WITH_AS(steps::all_steps(config_with(installer("Miniconda3-py313_25.5.1-1-Linux-x86_64.sh"))),
                       doctest::Contains("config: anaconda.accept_tos: "), Error);
  CHECK_THROWS_WITH_AS(
      steps::all_steps(config_with(
          {{"conda_env", {{"explicit_file", "/srv/explicit.txt"}, {"environment_file", "/srv/environment.yml"}}}})),
      doctest::Contains("config: conda_env.explicit_file: "), Error);
  CHECK_NOTHROW(steps::all_steps(config_with({{"conda_env", {{"explicit_file", "https://example.org/seed.txt"}}}})));
}

TEST_CASE("environment_file_channels: the channels: list, block or inline, and CHANNEL:: dependencies") {
  CHECK(steps::environment_file_channels(
            "name: cs231n  # the env\nchannels:\n  - conda-forge\n  - \"defaults\"  # Anaconda's\n"
            "dependencies:\n  - python=3.12\n  - pkgs/main::numpy\n  - pip\n  - pip:\n"
            "    - other::thing\n") == std::vector<std::string>{"conda-forge", "defaults", "pkgs/main"});
  CHECK(steps::environment_file_channels("channels: [conda-forge, 'nodefaults']\ndependencies: [python]\n") ==
        std::vector<std::string>{"conda-forge", "nodefaults"});
  // Lists of other keys, and none at all.
  CHECK(steps::environment_file_channels("name: x\nvariables:\n  - defaults\ndependencies:\n- numpy\n").empty());
  CHECK(steps::environment_file_channels("").empty());
}

TEST_CASE("anaconda_terms: an environment file's channels are the ones conda env create reads") {
  testing::TempDir root;
  const os::Files files(root.path());
  const auto with_file = [&](const std::string& installer_name, const std::string& yml) {
    root.write("srv/environment.yml", yml);
    auto layer = installer(installer_name);
    layer["conda_env"]["environment_file"] = "/srv/environment.yml";
    return config_with(layer);
  };
  const std::string miniforge = "Miniforge3-26.7.2-0-Linux-x86_64.sh";
  const std::string miniconda_tos = "Miniconda3-py313_25.5.1-1-Linux-x86_64.sh";
  // A file naming `defaults` is refused up front, as conda_env.channels naming it is.
  auto config = with_file(miniforge, "channels:\n  - defaults\ndependencies:\n  - numpy\n");
  const auto refusal = steps::terms_refusal(config, &files);
  REQUIRE(refusal);
  CHECK(refusal->find("(https://repo.anaconda.com/pkgs/main, https://repo.anaconda.com/pkgs/r) through "
                      "/srv/environment.yml's channels") != std::string::npos);
  CHECK_THROWS_WITH_AS(steps::all_steps(config, &files), doctest::Contains("config: anaconda.accept_tos: "), Error);
  // conda-forge and nodefaults on Miniforge: no Anaconda channel at all.
  config = with_file(miniforge, "channels: [conda-forge, nodefaults]\n");
  CHECK(steps::anaconda_terms(config, &files).anaconda_channels.empty());
  CHECK_FALSE(steps::terms_refusal(config, &files));
  // With the plugin and accept_tos: the terms accepted are those of the file's channels and of
  // the installer's own `defaults` (the plugin checks those before the file is read), even with
  // nodefaults in the file.
  config = with_file(miniconda_tos, "channels:\n  - conda-forge\n  - nodefaults\n");
  auto terms = steps::anaconda_terms(config, &files);
  CHECK(terms.anaconda_channels ==
        std::vector<std::string>{std::string(steps::k_anaconda_main), std::string(steps::k_anaconda_r)});
  CHECK(terms.runs_accept());
  config = with_file(miniconda_tos, "channels:\n  - https://repo.anaconda.com/pkgs/r\n");
  CHECK(steps::anaconda_terms(config, &files).anaconda_channels ==
        std::vector<std::string>{std::string(steps::k_anaconda_r), std::string(steps::k_anaconda_main)});
  // Not readable (not there yet): only the installer's own channels count.
  std::filesystem::remove(root.path() / "srv/environment.yml");
  CHECK(steps::anaconda_terms(config, &files).channels_from == miniconda_tos + "'s own channels (defaults)");
}

TEST_CASE("anaconda_terms: the same channels, named or the installer's own, give the same answer") {
  // A Miniconda with the plugin on its own `defaults` and the same one naming `defaults`.
  auto implicit = installer("Miniconda3-py313_25.5.1-1-Linux-x86_64.sh");
  implicit["conda_env"]["channels"] = json::array();
  auto named = implicit;
  named["conda_env"]["channels"] = {"defaults"};
  const auto implicit_terms = steps::anaconda_terms(config_with(implicit));
  const auto named_terms = steps::anaconda_terms(config_with(named));
  CHECK(implicit_terms.anaconda_channels == named_terms.anaconda_channels);
  CHECK(implicit_terms.required());
  CHECK(named_terms.required());
  CHECK(steps::terms_refusal(config_with(implicit)));
  CHECK(steps::terms_refusal(config_with(named)));
  // An installer whose name says nothing (a mirror's copy): once installed, the conda that
  // answers `conda tos --version` decides, whatever the spelling of its channels.
  auto mirror = installer("conda-installer.sh");
  mirror["conda_env"]["channels"] = json::array();
  CHECK_FALSE(steps::terms_refusal(config_with(mirror)));
  const auto detected = steps::anaconda_terms(config_with(mirror), nullptr, true);
  CHECK(detected.runs_accept());
  const auto refusal = steps::terms_refusal(config_with(mirror), detected);
  REQUIRE(refusal);
  CHECK(refusal->starts_with("config: anaconda.accept_tos: conda-installer.sh stops at Anaconda's Terms of Service"));
  mirror["conda_env"]["channels"] = {"defaults"};
  CHECK(steps::terms_refusal(config_with(mirror), steps::anaconda_terms(config_with(mirror), nullptr, true)));
  // And a conda that says it has no plugin is not held to the name's guess.
  CHECK_FALSE(steps::anaconda_terms(config_with(implicit), nullptr, false).installer_has_plugin);
}
