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

// One round of transfers: every unfinished segment of `sidecar` on its own connection, writing
// into `fd` and advancing the segments as bytes arrive, until each ends.
class TransferRound {
 public:
  // `restarted` is called when a segment starts over at byte 0 (a server without ranges);
  // `part_name` names the part file in messages.
  TransferRound(const HttpSettings& settings, const std::string& url, Sidecar& sidecar, int fd, std::string part_name,
                const std::function<void()>& restarted);
  ~TransferRound();
  TransferRound(const TransferRound&) = delete;
  TransferRound& operator=(const TransferRound&) = delete;

  // The number of connections this round opens.
  unsigned connections() const { return static_cast<unsigned>(m_streams.size()); }
  // Runs the transfers to their end, calling `tick` between polls (about every 100 ms). The first
  // failure that matters is returned; `cancel` stops early.
  std::expected<void, AttemptError> run(const std::function<void()>& tick, const std::atomic<bool>* cancel);
  // Bytes received in this round.
  std::uint64_t transferred() const;

 private:
  void finished(Stream& stream, CURLcode code, std::optional<AttemptError>& failure);

  Sidecar& m_sidecar;
  std::string m_part_name;
  CurlMulti m_multi;
  std::vector<std::unique_ptr<Stream>> m_streams;
};

}  // namespace cs231n::net
