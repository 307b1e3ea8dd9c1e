#include "agent/net/metadata.hpp"

#include <spdlog/spdlog.h>

#include "agent/config/schema.hpp"
#include "agent/core/error.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::net {

namespace {

constexpr const char* k_default_host = "169.254.169.254";
constexpr const char* k_config_attribute = "cs231n-config";

}  // namespace

MetadataClient::MetadataClient(const os::System& system, bool on_gce) : m_settings(default_http_settings()) {
  m_settings.use_proxy = false;
  const auto host = system.env("GCE_METADATA_HOST");
  if (host && !host->empty()) {
    m_base = "http://" + *host + "/computeMetadata/v1/";
  } else if (on_gce) {
    m_base = std::string("http://") + k_default_host + "/computeMetadata/v1/";
  }
}

util::Result<std::optional<std::string>> MetadataClient::get(const std::string& path) const {
  if (m_base.empty()) return util::fail("not on GCE: there is no metadata server to ask");
  SimpleRequest request;
  request.url = m_base + path;
  request.headers = {{"Metadata-Flavor", "Google"}};
  request.connect_timeout = std::chrono::milliseconds(1000);
  request.timeout = std::chrono::milliseconds(5000);
  auto response = http_request(m_settings, request);
  if (!response) return util::fail("the metadata server did not answer: " + response.error().message);
  if (response->headers.get("metadata-flavor") != "Google") {
    return util::fail("the answer from " + request.url +
                      " lacks \"Metadata-Flavor: Google\"; it is not the metadata server");
  }
  if (response->status == 404) return std::optional<std::string>();
  if (response->status != 200)
    return util::fail("the metadata server answered HTTP " + std::to_string(response->status) + " for " + path);
  return std::optional<std::string>(response->body);
}

util::Result<void> MetadataClient::put(const std::string& path, const std::string& value) const {
  if (m_base.empty()) return util::fail("not on GCE: there is no metadata server to ask");
  SimpleRequest request;
  request.url = m_base + path;
  request.method = "PUT";
  request.body = value;
  request.headers = {{"Metadata-Flavor", "Google"}};
  request.connect_timeout = std::chrono::milliseconds(1000);
  request.timeout = std::chrono::milliseconds(5000);
  auto response = http_request(m_settings, request);
  if (!response) return util::fail("the metadata server did not answer: " + response.error().message);
  if (response->status != 200)
    return util::fail("the metadata server answered HTTP " + std::to_string(response->status) + " to PUT " + path);
  return {};
}

detect::GceInstance read_instance(const MetadataClient& client) {
  detect::GceInstance instance;
  const auto value = [&](const std::string& path) { return client.get(path).value_or(std::nullopt).value_or(""); };
  instance.id = value("instance/id");
  instance.zone = value("instance/zone");
  instance.machine_type = value("instance/machine-type");
  instance.external_ip = value("instance/network-interfaces/0/access-configs/0/external-ip");
  instance.internal_ip = value("instance/network-interfaces/0/ip");
  // The instance's own attribute wins over the project's.
  auto os_login = value("instance/attributes/enable-oslogin");
  if (os_login.empty()) os_login = value("project/attributes/enable-oslogin");
  instance.os_login = os_login == "TRUE" || os_login == "true" || os_login == "1";
  // "projects/123/zones/us-west1-b" -> "us-west1-b"
  for (auto* field : {&instance.zone, &instance.machine_type}) {
    if (const auto slash = field->rfind('/'); slash != std::string::npos) *field = field->substr(slash + 1);
  }
  return instance;
}

namespace {

std::optional<nlohmann::json> typed_value(const config::Field& field, const std::string& text) {
  switch (field.kind) {
    case config::Kind::string: return nlohmann::json(text);
    case config::Kind::integer:
      if (auto number = util::parse_uint(util::trim(text))) return nlohmann::json(*number);
      return std::nullopt;
    case config::Kind::boolean: {
      const auto word = std::string(util::trim(text));
      if (word == "true" || word == "TRUE" || word == "1") return nlohmann::json(true);
      if (word == "false" || word == "FALSE" || word == "0") return nlohmann::json(false);
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

nlohmann::json nested(const std::string& path, nlohmann::json value) {
  const auto parts = util::split(path, '.');
  for (auto part = parts.rbegin(); part != parts.rend(); ++part) value = nlohmann::json{{*part, value}};
  return value;
}

}  // namespace

std::vector<config::Layer> metadata_layers(const MetadataClient& client) {
  std::vector<config::Layer> layers;
  if (!client.enabled()) return layers;
  auto all = client.get("instance/attributes/?recursive=true");
  if (!all) throw Error(ExitCode::network, "cannot read the instance metadata: " + all.error().message);
  nlohmann::json attributes = nlohmann::json::object();
  if (*all) {
    try {
      attributes = nlohmann::json::parse(**all);
    } catch (const nlohmann::json::exception&) {
      throw Error(ExitCode::network, "the metadata server's list of attributes is not JSON");
    }
  }
  const auto fail = [](const std::string& attribute, const std::string& problem) {
    throw Error(ExitCode::usage, "metadata attribute " + attribute + ": " + problem +
                                     "; fix it with `gcloud compute instances add-metadata`");
  };
  if (attributes.contains(k_config_attribute)) {
    nlohmann::json document;
    try {
      document = nlohmann::json::parse(attributes.at(k_config_attribute).get<std::string>());
    } catch (const nlohmann::json::exception&) {
      fail(k_config_attribute, "not valid JSON");
    }
    if (const auto problems = config::validate(document); !problems.empty()) fail(k_config_attribute, problems.front());
    layers.emplace_back(document, std::string("metadata attribute ") + k_config_attribute);
  }
  for (const auto& field : config::schema()) {
    if (field.metadata_attribute.empty() || !attributes.contains(field.metadata_attribute)) continue;
    const auto text = attributes.at(field.metadata_attribute).get<std::string>();
    const auto value = typed_value(field, text);
    if (!value) fail(field.metadata_attribute, "\"" + text + "\" is not " + std::string(config::describe(field.kind)));
    const auto layer = nested(field.path, *value);
    if (const auto problems = config::validate(layer); !problems.empty())
      fail(field.metadata_attribute, problems.front());
    layers.emplace_back(layer, "metadata attribute " + field.metadata_attribute);
  }
  return layers;
}

}  // namespace cs231n::net
