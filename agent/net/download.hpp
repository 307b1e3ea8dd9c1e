#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/exit_codes.hpp"
#include "agent/net/http.hpp"
#include "agent/os/files.hpp"

namespace cs231n::net {

struct DownloadProgress {
  std::uint64_t bytes = 0;  // on disk so far, resumed bytes included
  std::optional<std::uint64_t> total;
  double bytes_per_second = 0;  // over the last few seconds
  unsigned connections = 0;
};

struct DownloadRequest {
  std::string url;
  std::string dest;                   // a target path (under the root of `files`)
  std::string sha256;                 // lowercase hex; or
  std::string md5;                    // lowercase hex; or neither
  std::optional<std::uint64_t> size;  // when known in advance
  bool want_sha256 = false;           // compute the sha256 even when no checksum is given (to pin it)
  unsigned connections = 4;           // 1: a single stream
  unsigned max_attempts = 5;          // per stretch without progress
  std::chrono::seconds max_time{4 * 3600};
  std::function<void(const DownloadProgress&)> on_progress;  // about 5 times a second
  const std::atomic<bool>* cancel = nullptr;
  // How to wait between attempts; tests record the delays instead of sleeping.
  std::function<void(std::chrono::milliseconds)> sleep;
};

enum class DownloadFailure { network, http, checksum, no_space, io, cancelled };

struct DownloadError {
  DownloadFailure kind;
  std::string message;  // one line: what, where, and what to do
};

// The exit code of a failed download (`fetch`, and steps that download).
ExitCode exit_code_of(DownloadFailure kind);

struct DownloadResult {
  std::uint64_t bytes = 0;
  std::uint64_t bytes_transferred = 0;  // this call's network bytes (0 when already there)
  std::string sha256;                   // of the file, when a checksum was given or want_sha256
  bool already_there = false;           // dest existed and matched the given checksum
  unsigned attempts = 0;
  unsigned connections_used = 1;
};

// What a download of `dest` keeps beside it until it is verified: <dest>.part and its sidecar
// <dest>.part.json.
struct PartialFiles {
  std::string part;
  std::string sidecar;
};
PartialFiles partial_files(const std::string& dest);

// Downloads `request.url` to `request.dest`:
//  - into <dest>.part with a sidecar <dest>.part.json (URL, validators, size, segments), so a
//    crash or a dropped connection resumes where it stopped (Range + If-Range); changed
//    validators, or a server that ignores ranges, start it over;
//  - in up to `connections` segments when the size is known and ranges work;
//  - retrying connection errors, timeouts, 5xx, 408 and 429 with exponential backoff and jitter
//    (Retry-After honoured), never other 4xx;
//  - verifying size and checksum (computed while downloading) before <dest>.part becomes <dest>
//    by an atomic rename; a mismatch discards the data and downloads once more from scratch.
// An existing <dest> whose checksum matches is kept without any network access.
std::expected<DownloadResult, DownloadError> download(const os::Files& files, const HttpSettings& settings,
                                                      const DownloadRequest& request);

// What a download queue reports per file.
struct QueuedDownload {
  DownloadRequest request;
  std::expected<DownloadResult, DownloadError> result =
      std::unexpected(DownloadError{DownloadFailure::cancelled, "not run"});
};

// Called as each download ends (from the thread that ran it; calls may overlap).
using DownloadFinished = std::function<void(const QueuedDownload&)>;

// Downloads several files, `parallel` at a time.
void download_all(const os::Files& files, const HttpSettings& settings, std::vector<QueuedDownload>& queue,
                  unsigned parallel, const DownloadFinished& finished = {});

}  // namespace cs231n::net
