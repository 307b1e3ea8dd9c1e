#include <doctest/doctest.h>

#include <fstream>
#include <iterator>

#include "agent/detect/facts.hpp"
#include "agent/jupyter/api_token.hpp"
#include "steps/jupyter_common.hpp"
#include "support/fake_system.hpp"
#include "support/http_test_server.hpp"
#include "support/temp_dir.hpp"

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

TEST_CASE(
    "jupyter_common: the probe under systemd verifies Jupyter's TLS with the certificate's bytes from the home, and a "
    "symlink there is no certificate") {
  testing::TempDir root;
  root.write("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
  root.write("etc/passwd", "root:x:0:0::/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/bash\n");
  root.write("proc/sys/kernel/arch", "x86_64\n");
  std::filesystem::create_directories(root.path() / "run/systemd/system");
  root.write("var/lib/cs231n-agent/jupyter/api-token.env", jupyter::api_token_file_content(jupyter::make_api_token()));
  testing::TempDir tls;
  const auto certificates = testing::make_test_certificates(tls.path() / "certs");
  testing::HttpTestServer::Options options;
  options.cert = certificates.cert;
  options.key = certificates.key;
  testing::HttpTestServer server(tls.path() / "server", options);
  std::ifstream ca(certificates.ca);
  root.write("home/ann/.jupyter/certs/jupyter.pem",
             std::string(std::istreambuf_iterator<char>(ca), std::istreambuf_iterator<char>()));
  testing::FakeSystem system(root.path());
  const auto facts = detect::gather_facts(system, "ann");
  const auto config = config::Config::resolve({config::Layer(json{{"jupyter", {{"port", server.port()}}}})}, facts.os);
  const plan::Context context{system, facts, config};
  const auto run = plan::StepRun::unlogged(context, "ready", std::chrono::minutes(1));
  const std::string base = "https://127.0.0.1:" + std::to_string(server.port());

  // The stand-in server has no /api/kernels: an HTTP answer at all means TLS trusted the home's certificate.
  auto probe = steps::probe_jupyter(run);
  CHECK_FALSE(probe.serves);
  CHECK(probe.problem == "Jupyter at " + base + " answered HTTP 404 to the agent's token");
  const auto requests = server.log_for("/api/kernels");
  REQUIRE(requests.size() == 1);

  std::filesystem::remove(root.path() / "home/ann/.jupyter/certs/jupyter.pem");
  std::filesystem::create_symlink(certificates.ca, root.path() / "home/ann/.jupyter/certs/jupyter.pem");
  probe = steps::probe_jupyter(run);
  CHECK_FALSE(probe.serves);
  CHECK(probe.problem == "no certificate at /home/ann/.jupyter/certs/jupyter.pem");
  CHECK(server.log_for("/api/kernels").size() == 1);
}
