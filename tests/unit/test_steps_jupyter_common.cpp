#include <doctest/doctest.h>

#include "steps/jupyter_common.hpp"

using namespace cs231n;
using nlohmann::json;

TEST_CASE("jupyter_common: a finished run reports Jupyter at the external IP and the configured port") {
  detect::Facts facts;
  facts.os = detect::os_info_from({{"ID", "ubuntu"}, {"VERSION_ID", "22.04"}});
  const auto config = config::Config::resolve({config::Layer(json{{"jupyter", {{"port", 9443}}}})}, facts.os);
  CHECK(steps::external_jupyter_url(config, facts) == "");  // off GCE
  facts.instance = detect::GceInstance{.id = "1", .internal_ip = "10.0.0.2"};
  CHECK(steps::external_jupyter_url(config, facts) == "");  // no external IP
  facts.instance->external_ip = "34.90.1.2";
  CHECK(steps::external_jupyter_url(config, facts) == "https://34.90.1.2:9443/");
  CHECK(steps::external_jupyter_url(config::Config::resolve({}, facts.os), facts) == "https://34.90.1.2:8888/");
}
