#pragma once

#include <mutex>
#include <string>

#include "agent/core/exit_codes.hpp"
#include "agent/net/metadata.hpp"

namespace cs231n::net {

// The run's progress as GCE guest attributes in namespace `cs231n-agent`, readable from a laptop
// (`gcloud compute instances get-guest-attributes VM --query-path=cs231n-agent/`):
//   state        the run state, spelled as in `status` (running, reboot-pending, done, ...)
//   step         the step that started last
//   ready        whole seconds from the run's start (its first boot) to the moment a student can
//                work (the `ready` step); empty until then, while state stays running
//   jupyter-url  https://<external ip>:<port>/ from the ready moment on
//   error        one line, when the run failed or was refused
// Guest attributes exist only when the VM has `enable-guest-attributes=TRUE`; publishing is best
// effort: the first failure is logged once and publishing stops, the run goes on.
class GuestAttributes {
 public:
  explicit GuestAttributes(const MetadataClient& client);

  void publish(const std::string& key, const std::string& value);
  void publish_state(RunState state) { publish("state", std::string(to_string(state))); }
  bool working() const;

 private:
  const MetadataClient& m_client;
  mutable std::mutex m_mutex;
  bool m_working;
};

inline constexpr const char* k_guest_namespace = "cs231n-agent";

}  // namespace cs231n::net
