#include <doctest/doctest.h>

#include "agent/config/config.hpp"
#include "agent/config/schema.hpp"
#include "agent/core/error.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;
using nlohmann::json;

TEST_CASE("config: both profiles' defaults pass their own schema") {
  CHECK(config::validate(config::profile_defaults("seed")).empty());
  CHECK(config::validate(config::profile_defaults("current")).empty());
}

TEST_CASE("config: every schema key has a default in both profiles") {
  for (const auto* profile : {"seed", "current"}) {
    const auto defaults = config::profile_defaults(profile);
    for (const auto& field : config::schema()) {
      std::string pointer = "/" + field.path;
      for (auto& c : pointer) c = c == '.' ? '/' : c;
      CHECK_MESSAGE(defaults.contains(json::json_pointer(pointer)), field.path);
    }
  }
}

TEST_CASE("config: the README table lists every key") {
  const auto table = config::schema_markdown();
  for (const auto& field : config::schema()) CHECK(table.find("| `" + field.path + "` |") != std::string::npos);
}
