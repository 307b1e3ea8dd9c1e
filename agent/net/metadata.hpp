#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/config/config.hpp"
#include "agent/detect/facts.hpp"
#include "agent/net/http.hpp"
#include "agent/os/system.hpp"

namespace cs231n::net {

// The GCE metadata server. Every request carries `Metadata-Flavor: Google`, goes around any proxy,
// and an answer without that header is refused (it is not the metadata server). The address is
// $GCE_METADATA_HOST (host[:port], the convention of Google's client libraries; tests point it at a
// local fake), else 169.254.169.254, asked only when the DMI product name says GCE: off GCE the
// client says "not on GCE" at once, without touching the network.
class MetadataClient {
 public:
  MetadataClient(const os::System& system, bool on_gce);

  // Whether there is a metadata server to ask.
  bool enabled() const { return !m_base.empty(); }
  const std::string& base() const { return m_base; }

  // The value at `path` (relative to computeMetadata/v1/), nullopt on 404. Fails on no answer,
  // on another status, or on an answer without the Metadata-Flavor header.
  util::Result<std::optional<std::string>> get(const std::string& path) const;
  util::Result<void> put(const std::string& path, const std::string& value) const;

 private:
  std::string m_base;  // "http://host:port/computeMetadata/v1/", empty when disabled
  HttpSettings m_settings;
};

// Instance facts for `detect` on GCE (each empty when the server does not say).
detect::GceInstance read_instance(const MetadataClient& client);

// The config that instance metadata gives: the `cs231n-config` attribute (JSON, the config
// schema), then the single attributes named in the schema table (cs231n-user, ...), which win
// over it. Each layer is validated on its own, so an error names the attribute. Throws
// Error(usage) for malformed metadata, Error(network) when the server cannot be read.
std::vector<config::Layer> metadata_layers(const MetadataClient& client);

}  // namespace cs231n::net
