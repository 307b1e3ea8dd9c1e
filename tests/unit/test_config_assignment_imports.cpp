#include <doctest/doctest.h>

#include <set>

#include "agent/config/schema.hpp"
#include "agent/util/strings.hpp"
#include "support/fixture_file.hpp"

using namespace cs231n;

namespace {

struct Import {
  std::string module;
  std::string provider;
};

// tests/fixtures/assignment-imports/<name>: "module provider where...", # comments.
std::vector<Import> imports_of(const std::string& name) {
  std::vector<Import> imports;
  for (const auto& line : util::lines(testing::read_fixture("assignment-imports/" + name))) {
    const auto words = util::split_whitespace(line);
    if (words.empty() || words.front().starts_with("#")) continue;
    REQUIRE_MESSAGE(words.size() >= 2, line);
    imports.push_back({words[0], words[1]});
  }
  return imports;
}

std::set<std::string> package_names(const nlohmann::json& specs) {
  std::set<std::string> names;
  for (const auto& spec : specs) {
    const auto text = spec.get<std::string>();
    names.insert(text.substr(0, text.find_first_of("=<>!")));
  }
  return names;
}

}  // namespace

// A student of the current profile must not meet ModuleNotFoundError in the course's notebooks:
// every module the default assignments import comes with the env (or the pytorch step).
TEST_CASE("current profile: conda_env.packages cover every module the default assignments import") {
  const auto defaults = config::profile_defaults("current");
  // The fixture is the import list of these archives: a change of the defaults needs a new one.
  std::vector<std::string> urls;
  for (const auto& archive : defaults.at("assignments").at("archives")) urls.push_back(archive.at("url"));
  REQUIRE(urls == std::vector<std::string>{"https://cs231n.github.io/assignments/2026/assignment1.zip",
                                           "https://cs231n.github.io/assignments/2026/assignment2.zip"});
  CHECK(defaults.at("assignments").at("repo") == "");

  const auto packages = package_names(defaults.at("conda_env").at("packages"));
  const auto imports = imports_of("cs231n-2026.txt");
  REQUIRE(imports.size() >= 10);
  std::set<std::string> gaps;
  std::set<std::string> pytorch_step;
  for (const auto& [module, provider] : imports) {
    if (provider.starts_with("conda:")) {
      CHECK_MESSAGE(packages.contains(provider.substr(6)), module << " needs the conda package " << provider.substr(6));
    } else if (provider == "gap") {
      gaps.insert(module);
    } else if (provider == "pytorch-step") {
      pytorch_step.insert(module);
    } else {
      CHECK_MESSAGE(provider == "colab", module << ": unknown provider " << provider);
    }
  }
  // Nothing is left to a student's own pip.
  CHECK(gaps.empty());
  // What the pytorch step installs: torch, and torchvision (assignment 2's PyTorch.ipynb) by
  // pytorch.torchvision, which the current profile sets.
  CHECK(pytorch_step == std::set<std::string>{"torch", "torchvision"});
  CHECK(defaults.at("pytorch").at("torchvision") == true);
  // What runs the notebooks, though no notebook imports it.
  CHECK(packages.contains("notebook"));
  CHECK(packages.contains("ipykernel"));
}
