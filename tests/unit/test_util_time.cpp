#include <doctest/doctest.h>

#include "agent/util/time.hpp"

using namespace cs231n;

namespace {

std::chrono::system_clock::time_point at(const char* iso) {
  const auto time = util::parse_iso8601(iso);
  REQUIRE(time);
  return *time;
}

}  // namespace

TEST_CASE("iso8601 and parse_iso8601: Jupyter's microseconds, the agent's seconds, offsets; nonsense refused") {
  CHECK(util::iso8601(at("2026-11-29T22:15:52Z")) == "2026-11-29T22:15:52Z");
  CHECK(at("2026-11-29T22:15:52.354252Z") - at("2026-11-29T22:15:52Z") == std::chrono::microseconds(354252));
  CHECK(at("2026-11-29T22:15:52.5Z") - at("2026-11-29T22:15:52Z") == std::chrono::milliseconds(500));
  CHECK(at("2026-11-29T22:15:52+00:00") == at("2026-11-29T22:15:52Z"));
  CHECK(at("2026-11-29T23:15:52+01:00") == at("2026-11-29T22:15:52Z"));
  for (const char* bad :
       {"", "yesterday", "2026-11-29", "2026-11-29T22:15:52", "2026-11-29T22:15:52.Z", "2026-11-29T22:15:52Zjunk"}) {
    CHECK_MESSAGE(!util::parse_iso8601(bad), bad);
  }
}
