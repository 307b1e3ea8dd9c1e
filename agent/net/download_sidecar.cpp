#include "agent/net/download_sidecar.hpp"

#include <algorithm>

namespace cs231n::net {

std::uint64_t Sidecar::bytes_done() const {
  std::uint64_t total = 0;
  for (const auto& segment : segments) total += segment.done;
  return total;
}

std::uint64_t Sidecar::contiguous_end() const {
  std::uint64_t end = 0;
  for (const auto& segment : segments) {
    if (segment.start != end) break;
    end = segment.start + segment.done;
    if (!segment.complete) break;
  }
  return end;
}

bool Sidecar::all_complete() const {
  return std::ranges::all_of(segments, [](const Segment& segment) { return segment.complete; });
}

bool Sidecar::describes(const std::string& other_url, std::optional<std::uint64_t> other_size, bool other_ranges,
                        const std::string& other_etag, const std::string& other_last_modified) const {
  return url == other_url && size == other_size && other_ranges && ranges &&
         (etag.empty() ? last_modified == other_last_modified : etag == other_etag);
}

Sidecar plan_sidecar(const std::string& url, const std::string& etag, const std::string& last_modified,
                     std::optional<std::uint64_t> size, bool ranges, unsigned connections, std::uint64_t min_segment) {
  Sidecar sidecar;
  sidecar.url = url;
  sidecar.etag = etag;
  sidecar.last_modified = last_modified;
  sidecar.size = size;
  sidecar.ranges = ranges;
  const unsigned wanted = std::max(1u, connections);
  if (ranges && size && *size > 0) {
    const auto count = static_cast<unsigned>(std::clamp<std::uint64_t>(*size / min_segment, 1, wanted));
    const std::uint64_t length = *size / count;
    for (unsigned i = 0; i < count; ++i) {
      sidecar.segments.push_back({i * length, i + 1 == count ? *size : (i + 1) * length, 0, false});
    }
  } else {
    sidecar.segments.push_back({0, size.value_or(UINT64_MAX), 0, size && *size == 0});
  }
  return sidecar;
}

std::string sidecar_text(const Sidecar& sidecar) { return nlohmann::json(sidecar).dump() + "\n"; }

std::optional<Sidecar> parse_sidecar(const std::string& text) {
  try {
    const auto document = nlohmann::json::parse(text);
    if (document.at("format").get<int>() != Sidecar::k_format) return std::nullopt;
    return document.get<Sidecar>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace cs231n::net
