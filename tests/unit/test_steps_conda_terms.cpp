#include <doctest/doctest.h>

#include "agent/core/error.hpp"
#include "steps/conda_terms.hpp"
#include "steps/table.hpp"
#include "tests/support/machine.hpp"

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
