#include "agent/net/download.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <memory>
#include <random>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "agent/util/hash.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::net {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr std::uint64_t k_min_segment = 1u << 20;
constexpr std::uint64_t k_hash_step = 8u << 20;
constexpr int k_sidecar_format = 1;
constexpr auto k_sidecar_interval = std::chrono::seconds(1);
constexpr auto k_progress_interval = std::chrono::milliseconds(200);
constexpr auto k_max_backoff = std::chrono::seconds(60);

struct Segment {
  std::uint64_t start = 0;
  std::uint64_t end = 0;  // exclusive; UINT64_MAX while the size is unknown
  std::uint64_t done = 0;
  bool complete = false;
};

struct Sidecar {
  std::string url;
  std::string etag;
  std::string last_modified;
  std::optional<std::uint64_t> size;
  bool ranges = false;
  std::vector<Segment> segments;
};

json to_json(const Sidecar& sidecar) {
  json segments = json::array();
  for (const auto& segment : sidecar.segments) {
    segments.push_back({{"start", segment.start}, {"end", segment.end}, {"done", segment.done}, {"complete", segment.complete}});
  }
  return {{"format", k_sidecar_format}, {"url", sidecar.url},   {"etag", sidecar.etag}, {"last_modified", sidecar.last_modified},
          {"size", sidecar.size ? json(*sidecar.size) : json(nullptr)}, {"ranges", sidecar.ranges}, {"segments", segments}};
}

std::optional<Sidecar> sidecar_from(const std::string& text) {
  try {
    const auto document = json::parse(text);
    if (document.at("format").get<int>() != k_sidecar_format) return std::nullopt;
    Sidecar sidecar;
    sidecar.url = document.at("url").get<std::string>();
    sidecar.etag = document.at("etag").get<std::string>();
    sidecar.last_modified = document.at("last_modified").get<std::string>();
    if (!document.at("size").is_null()) sidecar.size = document.at("size").get<std::uint64_t>();
    sidecar.ranges = document.at("ranges").get<bool>();
    for (const auto& item : document.at("segments")) {
      sidecar.segments.push_back({item.at("start").get<std::uint64_t>(), item.at("end").get<std::uint64_t>(),
                                  item.at("done").get<std::uint64_t>(), item.at("complete").get<bool>()});
    }
    return sidecar;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

class Digest {
 public:
  explicit Digest(const EVP_MD* type) : m_context(EVP_MD_CTX_new(), EVP_MD_CTX_free) { EVP_DigestInit_ex(m_context.get(), type, nullptr); }
  void update(const void* data, std::size_t size) { EVP_DigestUpdate(m_context.get(), data, size); }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(m_context.get(), digest, &size);
    return util::to_hex(digest, size);
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> m_context;
};

// Hashes the file front to back as its contiguous prefix arrives, reading back from the page
// cache, so verification overlaps the download whatever order the segments come in.
class PrefixHasher {
 public:
  explicit PrefixHasher(bool md5) : m_sha256(EVP_sha256()) {
    if (md5) m_md5.emplace(EVP_md5());
  }
  // Hashes [hashed, upto). False on a read error.
  bool advance(int fd, std::uint64_t upto) {
    static thread_local std::vector<char> buffer(1u << 20);
    while (m_hashed < upto) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), upto - m_hashed));
      const ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(m_hashed));
      if (got <= 0) return false;
      m_sha256.update(buffer.data(), static_cast<std::size_t>(got));
      if (m_md5) m_md5->update(buffer.data(), static_cast<std::size_t>(got));
      m_hashed += static_cast<std::uint64_t>(got);
    }
    return true;
  }
  std::uint64_t hashed() const { return m_hashed; }
  std::string sha256() { return m_sha256.hex(); }
  std::string md5() { return m_md5 ? m_md5->hex() : ""; }

 private:
  Digest m_sha256;
  std::optional<Digest> m_md5;
  std::uint64_t m_hashed = 0;
};

bool retryable_status(long status) { return status >= 500 || status == 408 || status == 429; }

bool retryable_curl(CURLcode code) {
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_REMOTE_ACCESS_DENIED:
      return false;
    default:
      return true;
  }
}

std::string human(std::uint64_t bytes) { return util::human_bytes(bytes); }

// One segment's transfer.
struct Stream {
  CURL* handle = nullptr;
  Segment* segment = nullptr;
  int fd = -1;
  bool ranged = false;
  ResponseHeaders headers;
  curl_slist* header_list = nullptr;
  bool restart = false;      // the server no longer serves the same file: start over
  int write_errno = 0;
  std::uint64_t transferred = 0;
  std::string range_problem;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  static_cast<Stream*>(user)->headers.add_line(std::string_view(data, size * count));
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* stream = static_cast<Stream*>(user);
  const std::size_t bytes = size * count;
  auto& segment = *stream->segment;
  if (stream->transferred == 0 && stream->ranged) {
    if (stream->headers.status == 200) {  // ranges ignored, or If-Range saw a changed file
      stream->restart = true;
      return 0;
    }
    // "bytes 100-199/1000": the first number must be where this segment resumes.
    const auto range = stream->headers.get("content-range");
    const auto after_space = range.find(' ');
    const auto dash = range.find('-');
    const auto first = after_space != std::string::npos && dash != std::string::npos
                           ? util::parse_uint(range.substr(after_space + 1, dash - after_space - 1))
                           : std::nullopt;
    if (!first || *first != segment.start + segment.done) {
      stream->restart = true;
      stream->range_problem = "unexpected Content-Range \"" + range + "\"";
      return 0;
    }
  }
  std::size_t usable = bytes;
  if (segment.end != UINT64_MAX) usable = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, segment.end - segment.start - segment.done));
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

struct AttemptError {
  bool retryable = true;
  DownloadFailure kind = DownloadFailure::network;
  std::string message;
  std::optional<std::chrono::seconds> retry_after;
  bool restart = false;
};

class FileDownload {
 public:
  FileDownload(const os::Files& files, const HttpSettings& settings, const DownloadRequest& request)
      : m_files(files),
        m_settings(settings),
        m_request(request),
        m_part(request.dest + ".part"),
        m_sidecar_path(request.dest + ".part.json") {}

  std::expected<DownloadResult, DownloadError> run() {
    if (auto kept = existing_matches()) return *kept;
    for (int round = 0; round < 2; ++round) {
      if (auto fetched = fetch_into_part(); !fetched) return std::unexpected(fetched.error());
      const auto verdict = verify();
      if (!verdict) {
        discard();
        if (round == 0) {
          spdlog::warn("{}: {}; downloading it once more from scratch", m_request.url, verdict.error());
          continue;
        }
        return std::unexpected(DownloadError{DownloadFailure::checksum, m_request.url + ": " + verdict.error() +
                                                                            " (downloaded twice); check the URL and the checksum"});
      }
      if (auto promoted = promote(); !promoted) return std::unexpected(promoted.error());
      return m_result;
    }
    return std::unexpected(DownloadError{DownloadFailure::checksum, m_request.url + ": checksum mismatch"});
  }

 private:
  std::optional<DownloadResult> existing_matches() {
    if (m_request.sha256.empty() && m_request.md5.empty()) return std::nullopt;
    auto fd = m_files.open(m_request.dest, O_RDONLY);
    if (!fd) return std::nullopt;
    PrefixHasher hasher(!m_request.md5.empty());
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0 || !hasher.advance(fd->get(), static_cast<std::uint64_t>(st.st_size))) return std::nullopt;
    const std::string sha = hasher.sha256();
    const std::string md5 = hasher.md5();
    if ((!m_request.sha256.empty() && sha != m_request.sha256) || (!m_request.md5.empty() && md5 != m_request.md5)) return std::nullopt;
    DownloadResult result;
    result.bytes = static_cast<std::uint64_t>(st.st_size);
    result.sha256 = sha;
    result.already_there = true;
    return result;
  }

  // The probe: a one-byte range request tells the size, whether ranges work, and the validators.
  std::expected<void, AttemptError> probe() {
    ensure_curl();
    Stream stream;
    Segment dummy{0, 1, 0, false};
    stream.segment = &dummy;
    stream.handle = curl_easy_init();
    apply_settings(stream.handle, m_settings);
    curl_easy_setopt(stream.handle, CURLOPT_URL, m_request.url.c_str());
    curl_easy_setopt(stream.handle, CURLOPT_RANGE, "0-0");
    curl_easy_setopt(stream.handle, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(stream.handle, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(stream.handle, CURLOPT_HEADERDATA, &stream);
    curl_easy_setopt(stream.handle, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t count, void*) -> size_t {
      return size * count >= 1 ? 0 : size * count;  // headers are all we want
    });
    const CURLcode code = curl_easy_perform(stream.handle);
    long status = 0;
    curl_easy_getinfo(stream.handle, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(stream.handle);
    // 416 "bytes */0": an empty file has no byte 0 to send.
    const bool empty_file = code == CURLE_HTTP_RETURNED_ERROR && status == 416 && stream.headers.get("content-range") == "bytes */0";
    if (code != CURLE_OK && code != CURLE_WRITE_ERROR && !empty_file) return std::unexpected(classify(code, status, stream.headers));
    m_probe_status = status;
    m_probe_headers = stream.headers;
    return {};
  }

  AttemptError classify(CURLcode code, long status, const ResponseHeaders& headers) const {
    AttemptError error;
    if (code == CURLE_HTTP_RETURNED_ERROR) {
      error.retryable = retryable_status(status);
      error.kind = DownloadFailure::http;
      error.message = "HTTP " + std::to_string(status);
      if (auto after = headers.get("retry-after"); !after.empty()) error.retry_after = parse_retry_after(after, std::chrono::system_clock::now());
      if (!error.retryable) error.message += " (not retried)";
      return error;
    }
    error.retryable = retryable_curl(code);
    error.message = curl_easy_strerror(code);
    if (code == CURLE_PEER_FAILED_VERIFICATION) error.message += " (the server's certificate is not trusted)";
    return error;
  }

  // Decides the layout: resume what the sidecar describes, or start over.
  std::expected<void, AttemptError> prepare_layout() {
    const auto& headers = m_probe_headers;
    std::optional<std::uint64_t> size;
    bool ranges = false;
    if (m_probe_status == 416) {
      size = 0;
    } else if (m_probe_status == 206) {
      const auto range = headers.get("content-range");
      const auto slash = range.rfind('/');
      if (slash != std::string::npos) size = util::parse_uint(range.substr(slash + 1));
      ranges = size.has_value();
    } else if (auto length = headers.get("content-length"); !length.empty()) {
      size = util::parse_uint(length);
    }
    if (m_request.size && size && *m_request.size != *size) {
      return std::unexpected(AttemptError{false, DownloadFailure::checksum,
                                          "the server says " + std::to_string(*size) + " bytes, expected " + std::to_string(*m_request.size)});
    }
    if (!size) size = m_request.size;
    // A weak ETag never matches If-Range (RFC 9110): it cannot tell that a resumed file is the same.
    std::string etag = headers.get("etag");
    if (etag.starts_with("W/")) etag.clear();
    const std::string last_modified = headers.get("last-modified");

    if (auto text = m_files.read(m_sidecar_path)) {
      if (auto previous = sidecar_from(*text)) {
        const bool same_file = previous->url == m_request.url && previous->size == size && ranges && previous->ranges &&
                               (previous->etag.empty() ? previous->last_modified == last_modified : previous->etag == etag);
        auto fd = m_files.open(m_part, O_RDWR);
        if (same_file && fd) {
          m_sidecar = *previous;
          m_fd = std::move(*fd);
          std::uint64_t have = 0;
          for (const auto& segment : m_sidecar.segments) have += segment.done;
          if (have > 0) spdlog::info("{}: resuming at {} of {}", m_request.url, human(have), human(size.value_or(0)));
          return {};
        }
        spdlog::info("{}: the file on the server changed or cannot be resumed; starting over", m_request.url);
      }
    }
    m_sidecar = Sidecar{m_request.url, etag, last_modified, size, ranges, {}};
    const unsigned wanted = std::max(1u, m_request.connections);
    if (ranges && size && *size > 0) {
      const auto count = static_cast<unsigned>(std::clamp<std::uint64_t>(*size / k_min_segment, 1, wanted));
      const std::uint64_t length = *size / count;
      for (unsigned i = 0; i < count; ++i) {
        m_sidecar.segments.push_back({i * length, i + 1 == count ? *size : (i + 1) * length, 0, false});
      }
    } else {
      m_sidecar.segments.push_back({0, size.value_or(UINT64_MAX), 0, size && *size == 0});
    }
    const auto [parent, name] = os::split_parent(m_request.dest);
    if (size) {
      if (auto free = m_files.free_bytes(parent); free && *free < *size + (16u << 20)) {
        return std::unexpected(AttemptError{false, DownloadFailure::no_space,
                                            "needs " + human(*size) + ", but only " + human(*free) + " is free in " +
                                                m_files.host_path(parent).string() + "; free some space and run again"});
      }
    }
    auto fd = m_files.open(m_part, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
    if (!fd) return std::unexpected(AttemptError{false, DownloadFailure::io, "cannot create " + fd.error().message});
    m_fd = std::move(*fd);
    if (size && *size > 0) {
      if (const int error = ::posix_fallocate(m_fd.get(), 0, static_cast<off_t>(*size)); error == ENOSPC) {
        return std::unexpected(AttemptError{false, DownloadFailure::no_space,
                                            "needs " + human(*size) + " in " + m_files.host_path(parent).string() +
                                                ", which is full; free some space and run again"});
      }
    }
    restart_hash();
    save_sidecar();
    return {};
  }

  // Hashing costs CPU a loopback transfer competes for: only when something will look at it.
  bool hashing() const { return !m_request.sha256.empty() || !m_request.md5.empty() || m_request.want_sha256; }
  void restart_hash() {
    if (hashing()) m_hasher.emplace(!m_request.md5.empty());
  }

  // The sidecar records how far each segment got, for a resume after the process dies (the page
  // cache keeps what it wrote). The data is not synced for it: after a power loss a resume may
  // splice in lost bytes, which the checksum catches (the download then starts over); every
  // cached download is verified again before it is used. Waiting for the disk would make a
  // download as slow as the disk, which curl and wget do not wait for either.
  void save_sidecar() {
    write_sidecar(m_sidecar);
    m_last_sidecar = Clock::now();
  }

  void write_sidecar(const Sidecar& sidecar) {
    std::ignore = m_files.write_atomic(m_sidecar_path, to_json(sidecar).dump() + "\n", 0644);
  }

  std::uint64_t bytes_on_disk() const {
    std::uint64_t total = 0;
    for (const auto& segment : m_sidecar.segments) total += segment.done;
    return total;
  }

  std::uint64_t contiguous_end() const {
    std::uint64_t end = 0;
    for (const auto& segment : m_sidecar.segments) {
      if (segment.start != end) break;
      end = segment.start + segment.done;
      if (!segment.complete) break;
    }
    return end;
  }

  bool all_complete() const {
    return std::ranges::all_of(m_sidecar.segments, [](const Segment& segment) { return segment.complete; });
  }

  // One round: every unfinished segment on its own connection, until each ends.
  std::expected<void, AttemptError> transfer_round() {
    CURLM* multi = curl_multi_init();
    std::vector<std::unique_ptr<Stream>> streams;
    std::string validator = m_sidecar.etag.empty() ? m_sidecar.last_modified : m_sidecar.etag;
    for (auto& segment : m_sidecar.segments) {
      if (segment.end != UINT64_MAX && segment.start + segment.done >= segment.end) segment.complete = true;
      if (segment.complete) continue;
      auto stream = std::make_unique<Stream>();
      stream->segment = &segment;
      stream->fd = m_fd.get();
      stream->handle = curl_easy_init();
      apply_settings(stream->handle, m_settings);
      curl_easy_setopt(stream->handle, CURLOPT_URL, m_request.url.c_str());
      curl_easy_setopt(stream->handle, CURLOPT_FAILONERROR, 1L);
      curl_easy_setopt(stream->handle, CURLOPT_BUFFERSIZE, 256L * 1024);
      curl_easy_setopt(stream->handle, CURLOPT_HEADERFUNCTION, on_header);
      curl_easy_setopt(stream->handle, CURLOPT_HEADERDATA, stream.get());
      curl_easy_setopt(stream->handle, CURLOPT_WRITEFUNCTION, on_body);
      curl_easy_setopt(stream->handle, CURLOPT_WRITEDATA, stream.get());
      if (m_sidecar.ranges) {
        stream->ranged = true;
        char range[64];
        std::snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, segment.start + segment.done, segment.end - 1);
        curl_easy_setopt(stream->handle, CURLOPT_RANGE, range);
        if (!validator.empty()) stream->header_list = curl_slist_append(nullptr, ("If-Range: " + validator).c_str());
        curl_easy_setopt(stream->handle, CURLOPT_HTTPHEADER, stream->header_list);
      } else {
        segment.done = 0;  // no ranges: a stream can only start at the beginning
        restart_hash();
      }
      curl_multi_add_handle(multi, stream->handle);
      streams.push_back(std::move(stream));
    }
    m_connections = std::max<unsigned>(m_connections, static_cast<unsigned>(streams.size()));

    std::optional<AttemptError> failure;
    int running = 1;
    while (running > 0) {
      curl_multi_perform(multi, &running);
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
        if (message->msg != CURLMSG_DONE) continue;
        auto found = std::ranges::find_if(streams, [&](const auto& stream) { return stream->handle == message->easy_handle; });
        auto& stream = **found;
        const CURLcode code = message->data.result;
        long status = 0;
        curl_easy_getinfo(stream.handle, CURLINFO_RESPONSE_CODE, &status);
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
                                 std::string("cannot write ") + m_files.host_path(m_part).string() + ": " + std::strerror(stream.write_errno)};
        } else if (stream.restart) {
          if (!failure || failure->retryable) {
            failure = AttemptError{true, DownloadFailure::network,
                                   stream.range_problem.empty() ? "the file on the server changed" : stream.range_problem, std::nullopt, true};
          }
        } else if (!failure || (failure->retryable && !failure->restart)) {
          failure = classify(code, status, stream.headers);
        }
      }
      if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
      housekeeping(false);
      if (m_request.cancel && m_request.cancel->load()) {
        failure = AttemptError{false, DownloadFailure::cancelled, "interrupted"};
        break;
      }
    }
    for (auto& stream : streams) {
      m_result.bytes_transferred += stream->transferred;
      curl_multi_remove_handle(multi, stream->handle);
      curl_easy_cleanup(stream->handle);
      curl_slist_free_all(stream->header_list);
    }
    curl_multi_cleanup(multi);
    housekeeping(true);
    if (failure) return std::unexpected(*failure);
    return {};
  }

  void housekeeping(bool force) {
    const auto now = Clock::now();
    const auto upto = contiguous_end();
    if (m_hasher && (force || upto - m_hasher->hashed() >= k_hash_step)) m_hasher->advance(m_fd.get(), upto);
    if (force || now - m_last_sidecar >= k_sidecar_interval) save_sidecar();
    if (m_request.on_progress && (force || now - m_last_progress >= k_progress_interval)) {
      const auto bytes = bytes_on_disk();
      const double seconds = std::chrono::duration<double>(now - m_rate_since).count();
      if (seconds >= 2.0) {
        m_rate = static_cast<double>(bytes - m_rate_bytes) / seconds;
        m_rate_since = now;
        m_rate_bytes = bytes;
      } else if (m_rate == 0 && seconds > 0.2) {
        m_rate = static_cast<double>(bytes - m_rate_bytes) / seconds;
      }
      m_request.on_progress({bytes, m_sidecar.size, m_rate, m_connections});
      m_last_progress = now;
    }
  }

  // Downloads into the part file, retrying, until every segment is complete.
  std::expected<void, DownloadError> fetch_into_part() {
    const auto started = Clock::now();
    unsigned failures_in_a_row = 0;
    bool need_layout = true;
    std::mt19937 random(std::random_device{}());
    std::string last_error;
    while (true) {
      ++m_result.attempts;
      std::expected<void, AttemptError> attempt;
      if (need_layout) {
        attempt = probe();
        if (attempt) {
          restart_hash();
          m_rate_since = Clock::now();
          attempt = prepare_layout();
          if (attempt) m_rate_bytes = bytes_on_disk();
        }
      }
      const auto before = bytes_on_disk();
      if (attempt) {
        need_layout = false;
        attempt = transfer_round();
      }
      if (attempt && all_complete()) return {};
      AttemptError error = attempt ? AttemptError{true, DownloadFailure::network, "incomplete"} : attempt.error();
      if (error.kind == DownloadFailure::cancelled) {
        return std::unexpected(DownloadError{DownloadFailure::cancelled, m_request.url + ": interrupted; run again to resume"});
      }
      if (!error.retryable) {
        return std::unexpected(DownloadError{error.kind, m_request.url + ": " + error.message});
      }
      if (error.restart) {
        discard();
        need_layout = true;
      }
      failures_in_a_row = bytes_on_disk() > before ? 1 : failures_in_a_row + 1;
      last_error = error.message;
      if (failures_in_a_row >= m_request.max_attempts || Clock::now() - started > m_request.max_time) {
        return std::unexpected(DownloadError{DownloadFailure::network, m_request.url + ": " + last_error + " (gave up after " +
                                                                           std::to_string(m_result.attempts) +
                                                                           " attempts; check the network and run again to resume)"});
      }
      auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::seconds(1) * (1u << std::min(failures_in_a_row - 1, 6u)));
      delay = std::min<std::chrono::milliseconds>(delay, k_max_backoff);
      delay += std::chrono::milliseconds(std::uniform_int_distribution<int>(0, static_cast<int>(delay.count() / 4))(random));
      if (error.retry_after) delay = std::min<std::chrono::milliseconds>(*error.retry_after, std::chrono::minutes(10));
      spdlog::info("{}: {}; trying again in {:.1f} s", m_request.url, error.message, static_cast<double>(delay.count()) / 1000);
      if (m_request.sleep) {
        m_request.sleep(delay);
      } else {
        std::this_thread::sleep_for(delay);
      }
    }
  }

  std::expected<void, std::string> verify() {
    const std::uint64_t size = m_sidecar.size.value_or(bytes_on_disk());
    if (!hashing()) {
      if (m_request.size && *m_request.size != size) {
        return std::unexpected("size mismatch: expected " + std::to_string(*m_request.size) + " bytes, got " + std::to_string(size));
      }
      m_result.bytes = size;
      m_result.connections_used = std::max(1u, m_connections);
      return {};
    }
    if (!m_hasher) restart_hash();
    if (!m_hasher->advance(m_fd.get(), size)) return std::unexpected(std::string("cannot read the downloaded data back"));
    if (m_request.size && *m_request.size != size) {
      return std::unexpected("size mismatch: expected " + std::to_string(*m_request.size) + " bytes, got " + std::to_string(size));
    }
    m_result.bytes = size;
    m_result.sha256 = m_hasher->sha256();
    m_result.connections_used = std::max(1u, m_connections);
    if (!m_request.sha256.empty() && m_result.sha256 != m_request.sha256) {
      return std::unexpected("sha256 mismatch: expected " + m_request.sha256 + ", got " + m_result.sha256);
    }
    if (!m_request.md5.empty()) {
      const auto md5 = m_hasher->md5();
      if (md5 != m_request.md5) return std::unexpected("md5 mismatch: expected " + m_request.md5 + ", got " + md5);
    }
    return {};
  }

  std::expected<void, DownloadError> promote() {
    if (::ftruncate(m_fd.get(), static_cast<off_t>(m_result.bytes)) != 0) {
      return std::unexpected(DownloadError{DownloadFailure::io, "cannot finish " + m_files.host_path(m_part).string()});
    }
    if (auto renamed = m_files.rename(m_part, m_request.dest); !renamed) {
      return std::unexpected(DownloadError{DownloadFailure::io, renamed.error().message});
    }
    const auto [parent, name] = os::split_parent(m_request.dest);
    if (auto dir = m_files.open(parent, O_RDONLY | O_DIRECTORY)) ::fsync(dir->get());
    std::ignore = m_files.remove(m_sidecar_path);
    return {};
  }

  void discard() {
    m_fd = os::UniqueFd();
    std::ignore = m_files.remove(m_part);
    std::ignore = m_files.remove(m_sidecar_path);
    m_sidecar = Sidecar{};
    m_hasher.reset();
  }

  const os::Files& m_files;
  const HttpSettings& m_settings;
  const DownloadRequest& m_request;
  std::string m_part;
  std::string m_sidecar_path;
  Sidecar m_sidecar;
  os::UniqueFd m_fd;
  std::optional<PrefixHasher> m_hasher;
  long m_probe_status = 0;
  ResponseHeaders m_probe_headers;
  DownloadResult m_result;
  unsigned m_connections = 0;
  Clock::time_point m_last_sidecar{};
  Clock::time_point m_last_progress{};
  Clock::time_point m_rate_since{};
  std::uint64_t m_rate_bytes = 0;
  double m_rate = 0;
};

}  // namespace

ExitCode exit_code_of(DownloadFailure kind) {
  switch (kind) {
    case DownloadFailure::network:
    case DownloadFailure::http: return ExitCode::network;
    case DownloadFailure::checksum: return ExitCode::checksum;
    case DownloadFailure::no_space: return ExitCode::no_space;
    case DownloadFailure::io: return ExitCode::step_failed;
    case DownloadFailure::cancelled: return ExitCode::interrupted;
  }
  return ExitCode::step_failed;
}

std::expected<DownloadResult, DownloadError> download(const os::Files& files, const HttpSettings& settings,
                                                      const DownloadRequest& request) {
  FileDownload transfer(files, settings, request);
  return transfer.run();
}

void download_all(const os::Files& files, const HttpSettings& settings, std::vector<QueuedDownload>& queue, unsigned parallel,
                  const DownloadFinished& finished) {
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (std::size_t i = next++; i < queue.size(); i = next++) {
      queue[i].result = download(files, settings, queue[i].request);
      if (finished) finished(queue[i]);
    }
  };
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < std::max(1u, std::min<unsigned>(parallel, static_cast<unsigned>(queue.size()))); ++i) workers.emplace_back(worker);
  for (auto& thread : workers) thread.join();
}

}  // namespace cs231n::net
