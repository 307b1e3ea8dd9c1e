#include <doctest/doctest.h>

#include "agent/engine/self_install.hpp"

using namespace cs231n;

TEST_CASE("self-install: the resume unit runs the installed agent's resume at boot, with the state dir") {
  Paths paths;
  paths.state_dir = "/srv/state";
  const auto unit = engine::resume_unit(paths);
  CHECK(unit.find("ExecStart=/usr/local/bin/cs231n-agent resume --wait --state-dir /srv/state\n") != std::string::npos);
  CHECK(unit.find("ConditionPathExists=/usr/local/bin/cs231n-agent\n") != std::string::npos);
  CHECK(unit.find("Type=oneshot\n") != std::string::npos);
  CHECK(unit.ends_with("[Install]\nWantedBy=multi-user.target\n"));
}

TEST_CASE("self-install: a moved cache folder reaches the resume at boot too; the default is not spelled out") {
  Paths paths;
  paths.cache_dir = "/srv/cache";
  CHECK(engine::resume_unit(paths).find(" resume --wait --state-dir /var/lib/cs231n-agent --cache-dir /srv/cache\n") !=
        std::string::npos);
  CHECK(engine::resume_unit(Paths::defaults()).find(" resume --wait --state-dir /var/lib/cs231n-agent\n") !=
        std::string::npos);
}
