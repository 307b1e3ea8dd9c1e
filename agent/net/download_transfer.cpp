#include "agent/net/download_transfer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "agent/util/strings.hpp"

namespace cs231n::net {

// One segment's transfer.
struct Stream {
  // In this order, so that the stream leaves the multi handle first and the header list goes last.
  CurlList header_list;
  CurlEasy handle;
  std::optional<MultiMembership> membership;
  Segment* segment = nullptr;
  int fd = -1;
  bool ranged = false;
  ResponseHeaders headers;
  bool restart = false;  // the server no longer serves the same file: start over
  int write_errno = 0;
  std::uint64_t transferred = 0;
  std::string range_problem;
};

namespace {

size_t on_header(char* data, size_t size, size_t count, void* user) {
  static_cast<Stream*>(user)->headers.add_line(std::string_view(data, size * count));
  return size * count;
}

// False (with the stream marked for a restart) when a ranged answer does not continue the segment.
bool answer_continues_segment(Stream& stream) {
  if (stream.headers.status == 200) {  // ranges ignored, or If-Range saw a changed file
    stream.restart = true;
    return false;
  }
  // "bytes 100-199/1000": the first number must be where this segment resumes.
  const auto range = stream.headers.get("content-range");
  const auto after_space = range.find(' ');
  const auto dash = range.find('-');
  const auto first = after_space != std::string::npos && dash != std::string::npos
                         ? util::parse_uint(range.substr(after_space + 1, dash - after_space - 1))
                         : std::nullopt;
  if (!first || *first != stream.segment->start + stream.segment->done) {
    stream.restart = true;
    stream.range_problem = "unexpected Content-Range \"" + range + "\"";
    return false;
  }
  return true;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* stream = static_cast<Stream*>(user);
  const std::size_t bytes = size * count;
  auto& segment = *stream->segment;
  if (stream->transferred == 0 && stream->ranged && !answer_continues_segment(*stream)) return 0;
  std::size_t usable = bytes;
  if (segment.end != UINT64_MAX)
    usable = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, segment.end - segment.start - segment.done));
  std::size_t written = 0;
  while (written < usable) {
    const ssize_t count_written = ::pwrite(stream->fd, data + written, usable - written,
                                           static_cast<off_t>(segment.start + segment.done + written));
    if (count_written < 0) {
      if (errno == EINTR) continue;
      stream->write_errno = errno;
      return 0;
    }
    written += static_cast<std::size_t>(count_written);
  }
  segment.done += usable;
  stream->transferred += usable;
  if (usable < bytes) {  // more than the range asked for
    stream->restart = true;
    stream->range_problem = "the server sent more than the requested range";
    return 0;
  }
  return bytes;
}

}  // namespace

std::expected<ProbeAnswer, AttemptError> probe(const HttpSettings& settings, const std::string& url) {
  ensure_curl();
  Stream stream;
  stream.handle = make_curl_easy();
  CURL* handle = stream.handle.get();
  apply_settings(handle, settings);
  set_url(handle, url);
  curl_easy_setopt(handle, CURLOPT_RANGE, "0-0");
  curl_easy_setopt(handle, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &stream);
  curl_easy_setopt(
      handle, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t count, void*) -> size_t {
        return size * count >= 1 ? 0 : size * count;  // headers are all we want
      });
  const CURLcode code = curl_easy_perform(handle);
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  // 416 "bytes */0": an empty file has no byte 0 to send.
  const bool empty_file =
      code == CURLE_HTTP_RETURNED_ERROR && status == 416 && stream.headers.get("content-range") == "bytes */0";
  if (code != CURLE_OK && code != CURLE_WRITE_ERROR && !empty_file) {
    return std::unexpected(classify_failure(code, status, stream.headers, std::chrono::system_clock::now()));
  }
  return ProbeAnswer{status, stream.headers};
}

RemoteFile describe(const ProbeAnswer& answer) {
  RemoteFile file;
  const auto& headers = answer.headers;
  if (answer.status == 416) {
    file.size = 0;
  } else if (answer.status == 206) {
    const auto range = headers.get("content-range");
    const auto slash = range.rfind('/');
    if (slash != std::string::npos) file.size = util::parse_uint(range.substr(slash + 1));
    file.ranges = file.size.has_value();
  } else if (auto length = headers.get("content-length"); !length.empty()) {
    file.size = util::parse_uint(length);
  }
  // A weak ETag never matches If-Range (RFC 9110): it cannot tell that a resumed file is the same.
  file.etag = headers.get("etag");
  if (file.etag.starts_with("W/")) file.etag.clear();
  file.last_modified = headers.get("last-modified");
  return file;
}

TransferRound::TransferRound(const HttpSettings& settings, const std::string& url, Sidecar& sidecar, int fd,
                             std::string part_name, const std::function<void()>& restarted, ConnectionSlots& slots)
    : m_sidecar(sidecar), m_part_name(std::move(part_name)), m_slots(slots), m_multi(make_curl_multi()) {
  const std::string validator = sidecar.etag.empty() ? sidecar.last_modified : sidecar.etag;
  for (auto& segment : sidecar.segments) {
    if (segment.end != UINT64_MAX && segment.start + segment.done >= segment.end) segment.complete = true;
    if (segment.complete) continue;
    auto stream = std::make_unique<Stream>();
    stream->segment = &segment;
    stream->fd = fd;
    stream->handle = make_curl_easy();
    CURL* handle = stream->handle.get();
    apply_settings(handle, settings);
    set_url(handle, url);
    curl_easy_setopt(handle, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(handle, CURLOPT_BUFFERSIZE, 256L * 1024);
    // Closed when the segment ends: its slot may go to another file's connection.
    curl_easy_setopt(handle, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, stream.get());
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, stream.get());
    if (sidecar.ranges) {
      stream->ranged = true;
      char range[64];
      std::snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, segment.start + segment.done, segment.end - 1);
      curl_easy_setopt(handle, CURLOPT_RANGE, range);
      if (!validator.empty()) append_header(stream->header_list, "If-Range: " + validator);
      curl_easy_setopt(handle, CURLOPT_HTTPHEADER, stream->header_list.get());
    } else {
      segment.done = 0;  // no ranges: a stream can only start at the beginning
      if (restarted) restarted();
    }
    m_streams.push_back(std::move(stream));
  }
  start_waiting(false);
}

TransferRound::~TransferRound() = default;

void TransferRound::start_waiting(bool failed) {
  while (!failed && m_next < m_streams.size() && (m_active < m_slots.held() || m_slots.take_free())) {
    auto& stream = *m_streams[m_next++];
    stream.membership.emplace(m_multi.get(), stream.handle.get());
    ++m_active;
  }
  m_most_active = std::max(m_most_active, m_active);
  // Slots nothing waits for go back to the run's budget; the file keeps one until it ends.
  while (m_slots.held() > std::max(1u, m_active)) m_slots.release_one(1);
}

std::expected<void, AttemptError> TransferRound::run(const std::function<void()>& tick,
                                                     const std::atomic<bool>* cancel) {
  std::optional<AttemptError> failure;
  int running = 1;
  while (running > 0 || m_active > 0) {
    curl_multi_perform(m_multi.get(), &running);
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(m_multi.get(), &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      auto found = std::ranges::find_if(
          m_streams, [&](const auto& stream) { return stream->handle.get() == message->easy_handle; });
      finished(**found, message->data.result, failure);
      --m_active;
    }
    start_waiting(failure.has_value());
    if (m_active > 0) curl_multi_poll(m_multi.get(), nullptr, 0, 100, nullptr);
    if (tick) tick();
    if (cancel && cancel->load()) {
      failure = AttemptError{false, DownloadFailure::cancelled, "interrupted"};
      break;
    }
  }
  if (failure) return std::unexpected(*failure);
  return {};
}

// Records how one stream ended; `failure` keeps the one that decides what happens next.
void TransferRound::finished(Stream& stream, CURLcode code, std::optional<AttemptError>& failure) {
  long status = 0;
  curl_easy_getinfo(stream.handle.get(), CURLINFO_RESPONSE_CODE, &status);
  auto& segment = *stream.segment;
  if (code == CURLE_OK) {
    if (segment.end == UINT64_MAX) {  // unknown size: the end of the body is the end
      segment.end = segment.done;
      m_sidecar.size = segment.done;
    }
    if (segment.start + segment.done == segment.end) {
      segment.complete = true;
    } else if (!failure) {
      failure = AttemptError{true, DownloadFailure::network, "the connection closed early", std::nullopt, false};
    }
  } else if (stream.write_errno != 0) {
    failure = AttemptError{false, stream.write_errno == ENOSPC ? DownloadFailure::no_space : DownloadFailure::io,
                           "cannot write " + m_part_name + ": " + std::strerror(stream.write_errno)};
  } else if (stream.restart) {
    if (!failure || failure->retryable) {
      failure = AttemptError{true, DownloadFailure::network,
                             stream.range_problem.empty() ? "the file on the server changed" : stream.range_problem,
                             std::nullopt, true};
    }
  } else if (!failure || (failure->retryable && !failure->restart)) {
    failure = classify_failure(code, status, stream.headers, std::chrono::system_clock::now());
  }
}

std::uint64_t TransferRound::transferred() const {
  std::uint64_t total = 0;
  for (const auto& stream : m_streams) total += stream->transferred;
  return total;
}

}  // namespace cs231n::net
