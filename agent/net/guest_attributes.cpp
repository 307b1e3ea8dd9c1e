#include "agent/net/guest_attributes.hpp"

#include <spdlog/spdlog.h>

namespace cs231n::net {

GuestAttributes::GuestAttributes(const MetadataClient& client) : m_client(client), m_working(client.enabled()) {}

bool GuestAttributes::working() const {
  std::lock_guard lock(m_mutex);
  return m_working;
}

void GuestAttributes::publish(const std::string& key, const std::string& value) {
  std::lock_guard lock(m_mutex);
  if (!m_working) return;
  const std::string path = std::string("instance/guest-attributes/") + k_guest_namespace + "/" + key;
  if (auto put = m_client.put(path, value); !put) {
    m_working = false;
    spdlog::info(
        "progress is not published as guest attributes ({}); set the VM's metadata enable-guest-attributes=TRUE "
        "to follow it from gcloud",
        put.error().message);
    return;
  }
  spdlog::debug("guest attribute {}/{} = {}", k_guest_namespace, key, value);
}

}  // namespace cs231n::net
