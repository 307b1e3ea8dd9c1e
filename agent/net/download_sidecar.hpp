#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/util/json_optional.hpp"

namespace cs231n::net {

// A stretch of the file that one connection downloads.
struct Segment {
  std::uint64_t start = 0;
  std::uint64_t end = 0;  // exclusive; UINT64_MAX while the size is unknown
  std::uint64_t done = 0;
  bool complete = false;
};

// <dest>.part.json: what the part file holds, so a later run resumes it. The format is on disk
// (tests/fixtures/sidecar/ keeps samples): a change that old files cannot load needs a new
// k_sidecar_format, which makes old sidecars start their download over.
struct Sidecar {
  static constexpr int k_format = 1;

  int format = k_format;
  std::string url;
  std::string etag;
  std::string last_modified;
  std::optional<std::uint64_t> size;
  bool ranges = false;
  std::vector<Segment> segments;

  // Bytes written so far, over all segments.
  std::uint64_t bytes_done() const;
  // Where the data written so far stops being contiguous from byte 0.
  std::uint64_t contiguous_end() const;
  bool all_complete() const;
  // Whether this sidecar describes the file the server now reports (same URL, size and
  // validators, ranges on both sides), so its part file can be resumed.
  bool describes(const std::string& url, std::optional<std::uint64_t> size, bool ranges, const std::string& etag,
                 const std::string& last_modified) const;
};

// The sidecar of a new download: `connections` segments of at least `min_segment` bytes when the
// size is known and ranges work, else one segment (complete already for an empty file).
Sidecar plan_sidecar(const std::string& url, const std::string& etag, const std::string& last_modified,
                     std::optional<std::uint64_t> size, bool ranges, unsigned connections, std::uint64_t min_segment);

// The file's text (one line of JSON); nullopt for a sidecar of another format or a damaged one.
std::string sidecar_text(const Sidecar& sidecar);
std::optional<Sidecar> parse_sidecar(const std::string& text);

// Loading is strict: a missing or mistyped field makes the whole sidecar unreadable.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Segment, start, end, done, complete)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Sidecar, format, url, etag, last_modified, size, ranges, segments)

}  // namespace cs231n::net
