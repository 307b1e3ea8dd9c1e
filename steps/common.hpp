#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/net/download.hpp"
#include "agent/plan/step.hpp"

namespace cs231n::steps {

// The target user's home: from /etc/passwd as it is now (the user step may have just created the
// account), or where useradd will put it.
std::string home_of(const plan::Context& context);
// "~/anaconda3" -> "/home/ann/anaconda3".
std::string expand_home(const plan::Context& context, const std::string& path);
// The installed version of a Debian package (dpkg's status), empty when it is not installed.
std::string installed_version(const os::Files& files, const std::string& name);
// The packages dpkg lists as installed in <root>/var/lib/dpkg/status.
std::set<std::string> installed_packages(const os::Files& files);
// The packages of `names` that dpkg does not list as installed in <root>/var/lib/dpkg/status.
std::vector<std::string> missing_packages(const os::Files& files, const std::vector<std::string>& names);
// The course env's folder: "/home/ann/anaconda3/envs/cs231n".
std::string env_dir(const plan::Context& context);

// Whether a check or `plan` may ask `url` something (an index, a size): on GCE VMs (the product's
// machines) and of a server on this machine (also for a fixture tree given with --root);
// elsewhere (a fixture tree with the real URLs, a workstation, a test) they do not reach out to
// the internet.
bool may_read_remote(const plan::Context& context, const std::string& url);
// The size of the file at `url` (a one-byte range request), where may_read_remote allows it and
// the server says; nullopt otherwise.
std::optional<std::uint64_t> remote_size(const plan::Context& context, const std::string& url);
// A download of `url` for Step::expected_downloads: its size from `size` when known, else asked
// of the server (remote_size).
plan::ExpectedDownload expected_file(const plan::Context& context, const std::string& url,
                                     std::optional<std::uint64_t> size, const std::string& size_source = "the config");

// "Anaconda3-2018.12-Linux-x86_64.sh" from its URL (without a query or fragment).
std::string file_name_of(const std::string& url);

// Whether the agent's downloader can fetch `text` (an http:// or https:// URL).
inline bool is_http_url(std::string_view text) { return text.starts_with("https://") || text.starts_with("http://"); }

// Where downloads are kept (root's; files there are readable by the user's processes).

// Downloads `url` into the cache as `name` (verified with sha256 or md5 when given), logging
// progress to the step's log. Returns the cached file's target path. A failure carries the
// network / checksum / disk-space exit code. With `computed_sha256`, the file's sha256 is
// computed and stored there (to pin it).
util::Result<std::string> download_to_cache(const plan::StepRun& run, const std::string& url, const std::string& name,
                                            const std::string& sha256, const std::string& md5,
                                            std::optional<std::uint64_t> size = std::nullopt,
                                            std::string* computed_sha256 = nullptr);

// Checksums of downloads whose publisher gives none (datasets, an @EXPLICIT list), taken at the
// first download and held to afterwards, so a file that changes on the server is noticed:
// <cache>/datasets/pins.json, {URL: sha256}.
nlohmann::json read_download_pins(const os::Files& files, const Paths& paths);
// The sha256 pinned for `url`. A pin taken when a default URL was still http:// holds for its
// https:// successor: the same file, now fetched over TLS.
std::optional<std::string> pinned_sha256(const nlohmann::json& pins, const std::string& url);
// Records the pin of `url` (read again and written atomically under one lock, so the steps that
// pin at the same time keep each other's pins).
util::Result<void> save_download_pin(const os::Files& files, const Paths& paths, const std::string& url,
                                     const std::string& sha256);
// The sha256 a download of `url` is held to: `sha256` when given, else the one pinned at its first
// download; empty when there is neither.
std::string held_sha256(const plan::StepRun& run, const std::string& url, const std::string& sha256);
// download_to_cache held to held_sha256(url, sha256) (and pinned now, when this is the first download).
util::Result<std::string> download_pinned(const plan::StepRun& run, const std::string& url, const std::string& name,
                                          const std::string& sha256);

// How many files download_files fetches at once (each over several connections).
inline constexpr unsigned k_files_at_once = 4;

// Downloads every request of `queue` with the agent's downloader, k_files_at_once at a time, with
// the step's interrupt flag, noting each file in the step's log as it ends; each entry's result
// says how it went; `finished`, when given, is told of each as it ends (from a download's thread).
void download_files(const plan::StepRun& run, std::vector<net::QueuedDownload>& queue,
                    const net::DownloadFinished& finished = {});

// A command run as the target user.
os::Command as_user(const plan::StepRun& run, std::vector<std::string> argv);

// Appends `block` to a file in the user's home unless `marker` is already there: the file is read
// as read_as_user reads it and written anew with write_as_user (as the user, crash-safe: a kill
// leaves it as it was or with the block), keeping its mode; when it is a symlink, the file it leads
// to (found as the user) is the one written, and the link stays.
util::Result<void> append_as_user(const plan::StepRun& run, const std::string& path, const std::string& marker,
                                  const std::string& block);

// Writes a file in the user's home as the user, creating its folder (0700) first: the content
// (on stdin, never in argv) goes to a temp file beside it (`install -m MODE`), which is synced,
// renamed over `path` and the folder synced. A kill at any moment leaves the old file or the new.
util::Result<void> write_as_user(const plan::StepRun& run, const std::string& path, const std::string& content,
                                 const std::string& mode);

// Reads a file in the user's home: directly with Files::read_user_file (no symlink, no FIFO, 1 MiB
// at most), or, when the path goes through a symlink, as the user (30 s at most): root never
// follows a link the user planted. nullopt when the file does not exist; a FIFO, a folder or a
// larger file is an error naming the path.
util::Result<std::optional<std::string>> read_as_user(const plan::StepRun& run, const std::string& path);

}  // namespace cs231n::steps
