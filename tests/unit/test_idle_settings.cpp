#include <doctest/doctest.h>

#include "agent/idle/settings.hpp"
#include "agent/jupyter/api_token.hpp"

using namespace cs231n;
using nlohmann::json;

namespace {

detect::OsInfo jammy() {
  detect::OsInfo os;
  os.id = "ubuntu";
  os.version_id = "22.04";
  os.supported = true;
  return os;
}

}  // namespace

TEST_CASE("idle settings: taken from idle_shutdown.*, jupyter.port and the target user's home") {
  const auto config = config::Config::resolve({config::Layer(json{{"idle_shutdown",
                                                                   {{"enabled", false},
                                                                    {"minutes", 90},
                                                                    {"cpu_load_percent", 75},
                                                                    {"gpu_percent", 20},
                                                                    {"command", {"/sbin/poweroff", "--now"}}}},
                                                                  {"jupyter", {{"port", 9443}}}})},
                                              jammy());
  detect::Facts facts;
  facts.gce = true;
  facts.user.account = os::Account{"ann", 1001, 1001, "", "/home/ann", "/bin/bash"};
  const auto settings = idle::settings_from(config, facts, Paths{.state_dir = "/var/lib/elsewhere"});
  CHECK_FALSE(settings.enabled);
  CHECK(settings.gce);
  CHECK(settings.minutes == std::chrono::minutes(90));
  CHECK(settings.power_off_command == std::vector<std::string>{"/sbin/poweroff", "--now"});
  CHECK(settings.cpu_load_percent == 75);
  CHECK(settings.gpu_percent == 20);
  CHECK(settings.state_dir == "/var/lib/elsewhere");
  CHECK(settings.jupyter.port == 9443);
  CHECK(settings.jupyter.certificate == "/home/ann/.jupyter/certs/jupyter.pem");
  CHECK(settings.jupyter.token_file == "/var/lib/elsewhere/jupyter/api-token.env");
}

TEST_CASE("idle settings: the defaults; off GCE and without an account yet, no certificate") {
  const auto config = config::Config::resolve({}, jammy());
  const auto settings = idle::settings_from(config, detect::Facts{}, Paths::defaults());
  CHECK(settings.enabled);
  CHECK_FALSE(settings.gce);
  CHECK(settings.minutes == std::chrono::minutes(60));
  CHECK(settings.cpu_load_percent == 50);
  CHECK(settings.gpu_percent == 10);
  CHECK(settings.jupyter.port == 8888);
  CHECK(settings.jupyter.certificate.empty());
}
