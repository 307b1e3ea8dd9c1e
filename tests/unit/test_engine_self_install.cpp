#include <doctest/doctest.h>

#include "agent/engine/self_install.hpp"

using namespace cs231n;

TEST_CASE("self-install: the resume unit runs the installed agent's resume at boot, with the state dir") {
  const auto unit = engine::resume_unit("/srv/state");
  CHECK(unit.find("ExecStart=/usr/local/bin/cs231n-agent resume --wait --state-dir /srv/state\n") != std::string::npos);
  CHECK(unit.find("ConditionPathExists=/usr/local/bin/cs231n-agent\n") != std::string::npos);
  CHECK(unit.find("Type=oneshot\n") != std::string::npos);
  CHECK(unit.ends_with("[Install]\nWantedBy=multi-user.target\n"));
}
