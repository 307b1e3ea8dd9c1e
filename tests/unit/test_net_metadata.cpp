#include <doctest/doctest.h>

#include <chrono>

#include "agent/core/error.hpp"
#include "agent/net/metadata.hpp"
#include "support/fake_system.hpp"
#include "support/http_test_server.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;

namespace {

// A fake metadata server on 127.0.0.1, and a System whose GCE_METADATA_HOST points at it.
struct MetadataBench {
  testing::TempDir dir;
  std::unique_ptr<testing::HttpTestServer> server;
  std::unique_ptr<testing::FakeSystem> system;

  explicit MetadataBench(const std::string& attributes_json, bool flavor_header = true) {
    const auto metadata = dir.write("metadata.json", R"({"instance": {"attributes": )" + attributes_json + R"(,
        "id": "4815162342", "zone": "projects/12/zones/us-west1-b", "machine-type": "projects/12/machineTypes/n1-standard-8",
        "network-interfaces": [{"ip": "10.138.0.7", "access-configs": [{"external-ip": "34.82.1.2"}]}]}})");
    testing::HttpTestServer::Options options;
    options.metadata = metadata;
    options.no_flavor_header = !flavor_header;
    server = std::make_unique<testing::HttpTestServer>(dir.path() / "server", options);
    system = std::make_unique<testing::FakeSystem>(dir.path() / "root");
    system->environment["GCE_METADATA_HOST"] = "127.0.0.1:" + std::to_string(server->port());
  }
  net::MetadataClient client() const { return net::MetadataClient(*system, false); }
};

}  // namespace

TEST_CASE("metadata: GCE_METADATA_HOST points the client at a local server; values, 404") {
  MetadataBench bench(R"({"cs231n-user": "ann"})");
  const auto client = bench.client();
  REQUIRE(client.enabled());
  CHECK(client.get("instance/attributes/cs231n-user").value() == std::optional<std::string>("ann"));
  CHECK(client.get("instance/attributes/missing").value() == std::nullopt);
  const auto instance = net::read_instance(client);
  CHECK(instance.id == "4815162342");
  CHECK(instance.zone == "us-west1-b");
  CHECK(instance.machine_type == "n1-standard-8");
  CHECK(instance.external_ip == "34.82.1.2");
  CHECK(instance.internal_ip == "10.138.0.7");
  // Every request carried the header the real server insists on.
  for (const auto& request : bench.server->log()) CHECK(request.at("status").get<int>() != 403);
}

TEST_CASE("metadata: an answer without Metadata-Flavor: Google is refused") {
  MetadataBench bench(R"({"cs231n-user": "ann"})", false);
  const auto answer = bench.client().get("instance/attributes/cs231n-user");
  REQUIRE_FALSE(answer);
  CHECK(answer.error().message.find("lacks \"Metadata-Flavor: Google\"") != std::string::npos);
}

TEST_CASE("metadata: off GCE nothing is asked, at once") {
  testing::TempDir root;
  testing::FakeSystem system(root.path());
  const auto started = std::chrono::steady_clock::now();
  const net::MetadataClient client(system, false);
  CHECK_FALSE(client.enabled());
  CHECK(net::metadata_layers(client).empty());
  CHECK_FALSE(client.get("instance/id"));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(100));
}

TEST_CASE("metadata: a slow server times out instead of hanging the agent") {
  MetadataBench bench(R"({})");
  const auto started = std::chrono::steady_clock::now();
  const auto answer = bench.client().get("instance/id?slow=30");
  CHECK_FALSE(answer);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
}

TEST_CASE("metadata: guest attributes are PUT") {
  MetadataBench bench(R"({})");
  REQUIRE(bench.client().put("instance/guest-attributes/cs231n-agent/state", "running"));
  CHECK(bench.client().get("instance/guest-attributes/cs231n-agent/state").value() ==
        std::optional<std::string>("running"));
}

TEST_CASE("metadata: config layers from cs231n-config and the single attributes, which win") {
  MetadataBench bench(R"({"cs231n-config": "{\"user\": \"bob\", \"jupyter\": {\"port\": 9443}}",
                          "cs231n-user": "ann", "cs231n-idle-minutes": "90", "cs231n-idle-shutdown": "false",
                          "unrelated": "x"})");
  const auto layers = net::metadata_layers(bench.client());
  REQUIRE(layers.size() == 4);
  CHECK(layers[0].source == "metadata attribute cs231n-config");
  const auto config =
      config::Config::resolve(layers, detect::os_info_from({{"ID", "ubuntu"}, {"VERSION_ID", "22.04"}}));
  CHECK(config.string("user") == "ann");
  CHECK(config.sources().at("user") == "metadata attribute cs231n-user");
  CHECK(config.integer("jupyter.port") == 9443);
  CHECK(config.sources().at("jupyter.port") == "metadata attribute cs231n-config");
  CHECK(config.integer("idle_shutdown.minutes") == 90);
  CHECK_FALSE(config.boolean("idle_shutdown.enabled"));
}

TEST_CASE("metadata: malformed attributes are errors naming the attribute") {
  CHECK_THROWS_WITH_AS(
      net::metadata_layers(MetadataBench(R"({"cs231n-config": "{not json"})").client()),
      "metadata attribute cs231n-config: not valid JSON; fix it with `gcloud compute instances add-metadata`", Error);
  CHECK_THROWS_WITH_AS(
      net::metadata_layers(MetadataBench(R"({"cs231n-config": "{\"jupyter\": {\"prot\": 1}}"})").client()),
      "metadata attribute cs231n-config: jupyter.prot: unknown key; did you mean \"port\"?; fix it with "
      "`gcloud compute instances add-metadata`",
      Error);
  CHECK_THROWS_WITH_AS(net::metadata_layers(MetadataBench(R"({"cs231n-idle-minutes": "soon"})").client()),
                       "metadata attribute cs231n-idle-minutes: \"soon\" is not an integer; fix it with `gcloud "
                       "compute instances add-metadata`",
                       Error);
  CHECK_THROWS_WITH_AS(
      net::metadata_layers(MetadataBench(R"({"cs231n-user": "Robert; rm"})").client()),
      "metadata attribute cs231n-user: user: must be an account name (lowercase letters, digits, _ and -, at most "
      "32), got \"Robert; rm\"; fix it with `gcloud compute instances add-metadata`",
      Error);
}
