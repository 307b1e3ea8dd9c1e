#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace cs231n::testing {

// The text of tests/fixtures/<relative>, found from this header's own place (the build may run
// the tests from anywhere).
inline std::string read_fixture(std::string_view relative) {
  const auto path = std::filesystem::path(__FILE__).parent_path().parent_path() / "fixtures" / relative;
  std::ifstream stream(path);
  std::stringstream text;
  text << stream.rdbuf();
  return text.str();
}

}  // namespace cs231n::testing
