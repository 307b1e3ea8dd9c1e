#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "agent/net/http.hpp"
#include "support/download_fixture.hpp"
#include "support/http_test_server.hpp"
#include "support/temp_dir.hpp"

// net::http_request() against the GCE metadata emulation of tests/support/http_server.py.

using namespace cs231n;
using namespace std::chrono_literals;
using nlohmann::json;
using testing::download::Fixture;

TEST_CASE("http_request: metadata GETs and PUTs, status codes, the Metadata-Flavor header, timeouts, size limit") {
  testing::TempDir dir;
  const auto metadata = dir.write("metadata.json", R"({"instance": {
      "attributes": {"cs231n-config": "{\"profile\": \"auto\"}", "user": "alice"},
      "id": "1234567890", "zone": "projects/1/zones/us-west1-b", "machine-type": "projects/1/machineTypes/n1-standard-4",
      "network-interfaces": [{"ip": "10.0.0.2", "access-configs": [{"external-ip": "34.1.2.3"}]}]}})");
  testing::HttpTestServer::Options options;
  options.metadata = metadata;
  testing::HttpTestServer server(dir.path() / "server", options);
  auto settings = Fixture::quiet_settings();
  const auto get = [&](const std::string& path, bool flavor = true) {
    net::SimpleRequest request;
    request.url = server.url("/computeMetadata/v1/" + path);
    if (flavor) request.headers["Metadata-Flavor"] = "Google";
    auto response = net::http_request(settings, request);
    REQUIRE_MESSAGE(response.has_value(), (response ? std::string() : response.error().message));
    return *response;
  };

  auto response = get("instance/attributes/user");
  CHECK(response.status == 200);
  CHECK(response.body == "alice");
  CHECK(response.headers.get("metadata-flavor") == "Google");
  CHECK(get("instance/attributes/cs231n-config").body == R"({"profile": "auto"})");
  CHECK(get("instance/zone").body == "projects/1/zones/us-west1-b");
  CHECK(get("instance/id").body == "1234567890");
  CHECK(get("instance/network-interfaces/0/access-configs/0/external-ip").body == "34.1.2.3");
  response = get("instance/attributes/?recursive=true");
  CHECK(response.status == 200);
  CHECK(json::parse(response.body) == json{{"cs231n-config", R"({"profile": "auto"})"}, {"user", "alice"}});

  response = get("instance/attributes/missing");
  CHECK(response.status == 404);  // a response, not a failure
  CHECK(response.headers.get("metadata-flavor") == "Google");
  response = get("instance/attributes/user", false);
  CHECK(response.status == 403);

  net::SimpleRequest put;
  put.url = server.url("/computeMetadata/v1/instance/guest-attributes/cs231n/state");
  put.method = "PUT";
  put.body = "running";
  put.headers["Metadata-Flavor"] = "Google";
  const auto stored = net::http_request(settings, put);
  REQUIRE(stored);
  CHECK(stored->status == 200);
  CHECK(get("instance/guest-attributes/cs231n/state").body == "running");
  const auto puts = server.log_for("/computeMetadata/v1/instance/guest-attributes/cs231n/state");
  REQUIRE(puts.size() == 2);
  CHECK(puts[0]["method"] == "PUT");
  CHECK(puts[0]["body"] == "running");

  // A slow answer runs into the timeout: no response at all, and the URL is named.
  net::SimpleRequest slow;
  slow.url = server.url("/computeMetadata/v1/instance/id?slow=3");
  slow.headers["Metadata-Flavor"] = "Google";
  slow.timeout = 300ms;
  const auto timed_out = net::http_request(settings, slow);
  REQUIRE_FALSE(timed_out);
  CHECK(timed_out.error().message.find(slow.url) != std::string::npos);

  // An answer larger than max_body is refused.
  testing::write_random_file(server.root() / "big.bin", 64 * 1024, 3);
  net::SimpleRequest big;
  big.url = server.url("/files/big.bin");
  big.max_body = 1000;
  const auto too_big = net::http_request(settings, big);
  REQUIRE_FALSE(too_big);
  CHECK(too_big.error().message.find("larger than 1000 bytes") != std::string::npos);
}

TEST_CASE("http_request: a metadata server started with --no-flavor-header omits the header") {
  testing::TempDir dir;
  const auto metadata = dir.write("metadata.json", R"({"instance": {"id": "42"}})");
  testing::HttpTestServer::Options options;
  options.metadata = metadata;
  options.no_flavor_header = true;
  testing::HttpTestServer server(dir.path() / "server", options);
  net::SimpleRequest request;
  request.url = server.url("/computeMetadata/v1/instance/id");
  request.headers["Metadata-Flavor"] = "Google";
  const auto response = net::http_request(Fixture::quiet_settings(), request);
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body == "42");
  CHECK(response->headers.get("metadata-flavor").empty());
}
