#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/net/backoff.hpp"
#include "agent/net/connection_budget.hpp"
#include "agent/net/curl_handle.hpp"
#include "agent/net/download_sidecar.hpp"
#include "agent/net/http.hpp"

// The HTTP side of a download: the probe that asks about the file, and the transfers that fill
// the segments of the part file.
namespace cs231n::net {

// The answer to a one-byte range request (status and headers; the byte itself is dropped).
struct ProbeAnswer {
  long status = 0;
  ResponseHeaders headers;
};

// Asks for byte 0 of `url`: the answer tells the size, whether ranges work, and the validators.
std::expected<ProbeAnswer, AttemptError> probe(const HttpSettings& settings, const std::string& url);

// What a probe's answer says about the file on the server.
struct RemoteFile {
  std::optional<std::uint64_t> size;
  bool ranges = false;
  std::string etag;  // empty when the server gave none or a weak one (which If-Range cannot use)
  std::string last_modified;
};
RemoteFile describe(const ProbeAnswer& answer);

struct Stream;

// One round of transfers: every unfinished segment of `sidecar` on a connection of its own,
// writing into `fd` and advancing the segments as bytes arrive, until each ends. There are as
// many connections at once as `slots` holds: the one the caller holds, and those free in the
// run's budget; a segment without a slot waits for one, and the slot of a finished segment goes
// to the next (or back to the budget). A connection closes when its segment ends, so that the
// connections open are the slots held.
class TransferRound {
 public:
  // `restarted` is called when a segment starts over at byte 0 (a server without ranges);
  // `part_name` names the part file in messages. `slots` holds one slot already.
  TransferRound(const HttpSettings& settings, const std::string& url, Sidecar& sidecar, int fd, std::string part_name,
                const std::function<void()>& restarted, ConnectionSlots& slots);
  ~TransferRound();
  TransferRound(const TransferRound&) = delete;
  TransferRound& operator=(const TransferRound&) = delete;

  // The most connections this round had open at once.
  unsigned connections() const { return m_most_active; }
  // Runs the transfers to their end, calling `tick` between polls (about every 100 ms). The first
  // failure that matters is returned; `cancel` stops early.
  std::expected<void, AttemptError> run(const std::function<void()>& tick, const std::atomic<bool>* cancel);
  // Bytes received in this round.
  std::uint64_t transferred() const;

 private:
  void finished(Stream& stream, CURLcode code, std::optional<AttemptError>& failure);
  // Starts waiting segments on the slots held and on free ones; none after a failure.
  void start_waiting(bool failed);

  Sidecar& m_sidecar;
  std::string m_part_name;
  ConnectionSlots& m_slots;
  CurlMulti m_multi;
  std::vector<std::unique_ptr<Stream>> m_streams;
  std::size_t m_next = 0;  // m_streams[m_next...] wait for a slot
  unsigned m_active = 0;
  unsigned m_most_active = 0;
};

}  // namespace cs231n::net
