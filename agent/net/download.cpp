#include "agent/net/download.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <tuple>

#include <spdlog/spdlog.h>

#include "agent/net/backoff.hpp"
#include "agent/net/connection_budget.hpp"
#include "agent/net/download_sidecar.hpp"
#include "agent/net/download_transfer.hpp"
#include "agent/net/prefix_hasher.hpp"
#include "agent/net/transfer_meter.hpp"
#include "agent/os/process.hpp"
#include "agent/util/redact.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::net {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t k_min_segment = 1u << 20;
constexpr std::uint64_t k_hash_step = 8u << 20;
constexpr auto k_sidecar_interval = std::chrono::seconds(1);
constexpr auto k_progress_interval = std::chrono::milliseconds(200);

std::string human(std::uint64_t bytes) { return util::human_bytes(bytes); }

// One call of download(): the part file, its sidecar, the hash of what arrived, the attempts,
// the connection slots it holds and its share of the step's meter.
class FileDownload {
 public:
  FileDownload(const os::Files& files, const HttpSettings& settings, const DownloadRequest& request,
               TransferMeter::Share share)
      : m_files(files),
        m_settings(settings),
        m_request(request),
        m_part(partial_files(request.dest).part),
        m_sidecar_path(partial_files(request.dest).sidecar),
        m_slots(settings.connections.get(), settings.lane),
        m_share(std::move(share)) {}

  std::expected<DownloadResult, DownloadError> run() {
    if (auto kept = existing_matches()) {
      m_share.update(kept->bytes, kept->bytes);
      return *kept;
    }
    for (int round = 0; round < 2; ++round) {
      auto fetched = fetch_into_part();
      m_slots.release_all();  // verifying needs no connection
      if (!fetched) return std::unexpected(fetched.error());
      const auto verdict = verify();
      if (!verdict) {
        discard();
        if (round == 0) {
          spdlog::warn("{}: {}; downloading it once more from scratch", util::redact_credentials(m_request.url),
                       verdict.error());
          continue;
        }
        return std::unexpected(
            DownloadError{DownloadFailure::checksum, util::redact_credentials(m_request.url) + ": " + verdict.error() +
                                                         " (downloaded twice); check the URL and the checksum"});
      }
      if (auto promoted = promote(); !promoted) return std::unexpected(promoted.error());
      m_share.update(m_result.bytes, m_result.bytes);
      return m_result;
    }
    return std::unexpected(
        DownloadError{DownloadFailure::checksum, util::redact_credentials(m_request.url) + ": checksum mismatch"});
  }

 private:
  std::optional<DownloadResult> existing_matches() {
    if (m_request.sha256.empty() && m_request.md5.empty()) return std::nullopt;
    auto fd = m_files.open(m_request.dest, O_RDONLY);
    if (!fd) return std::nullopt;
    PrefixHasher hasher(!m_request.md5.empty());
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0 || !hasher.advance(fd->get(), static_cast<std::uint64_t>(st.st_size)))
      return std::nullopt;
    const std::string sha = hasher.sha256();
    const std::string md5 = hasher.md5();
    if ((!m_request.sha256.empty() && sha != m_request.sha256) || (!m_request.md5.empty() && md5 != m_request.md5))
      return std::nullopt;
    DownloadResult result;
    result.bytes = static_cast<std::uint64_t>(st.st_size);
    result.sha256 = sha;
    result.already_there = true;
    return result;
  }

  // Decides the layout from the probe's answer: resume what the sidecar describes, or start over.
  std::expected<void, AttemptError> prepare_layout(const ProbeAnswer& answer) {
    auto remote = describe(answer);
    if (m_request.size && remote.size && *m_request.size != *remote.size) {
      return std::unexpected(AttemptError{
          false, DownloadFailure::checksum,
          "the server says " + std::to_string(*remote.size) + " bytes, expected " + std::to_string(*m_request.size)});
    }
    if (!remote.size) remote.size = m_request.size;
    const auto size = remote.size;

    if (auto text = m_files.read(m_sidecar_path)) {
      if (auto previous = parse_sidecar(*text)) {
        auto fd = m_files.open(m_part, O_RDWR);
        if (previous->describes(m_request.url, size, remote.ranges, remote.etag, remote.last_modified) && fd) {
          m_sidecar = *previous;
          m_fd = std::move(*fd);
          const std::uint64_t have = m_sidecar.bytes_done();
          if (have > 0)
            spdlog::info("{}: resuming at {} of {}", util::redact_credentials(m_request.url), human(have),
                         human(size.value_or(0)));
          return {};
        }
        spdlog::info("{}: the file on the server changed or cannot be resumed; starting over",
                     util::redact_credentials(m_request.url));
      }
    }
    m_sidecar = plan_sidecar(m_request.url, remote.etag, remote.last_modified, size, remote.ranges,
                             m_request.connections, k_min_segment);
    const auto [parent, name] = os::split_parent(m_request.dest);
    if (size) {
      if (auto free = m_files.free_bytes(parent); free && *free < *size + (16u << 20)) {
        return std::unexpected(AttemptError{false, DownloadFailure::no_space,
                                            "needs " + human(*size) + ", but only " + human(*free) + " is free in " +
                                                m_files.host_path(parent).string() +
                                                "; free some space and run again"});
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
    std::ignore = m_files.write_atomic(m_sidecar_path, sidecar_text(m_sidecar), 0644);
    m_last_sidecar = Clock::now();
  }

  // One round: every unfinished segment on its own connection, until each ends.
  std::expected<void, AttemptError> transfer_round() {
    std::expected<void, AttemptError> outcome;
    {
      TransferRound round(
          m_settings, m_request.url, m_sidecar, m_fd.get(), m_files.host_path(m_part).string(),
          [this] { restart_hash(); }, m_slots);
      m_connections = std::max(m_connections, round.connections());
      outcome = round.run([this] { housekeeping(false); }, m_request.cancel);
      m_result.bytes_transferred += round.transferred();
    }
    housekeeping(true);
    return outcome;
  }

  // Between polls: hash what arrived, save the sidecar, report progress, each at its own pace.
  void housekeeping(bool force) {
    const auto now = Clock::now();
    const auto upto = m_sidecar.contiguous_end();
    if (m_hasher && (force || upto - m_hasher->hashed() >= k_hash_step)) m_hasher->advance(m_fd.get(), upto);
    if (force || now - m_last_sidecar >= k_sidecar_interval) save_sidecar();
    m_share.update(m_sidecar.bytes_done(), m_sidecar.size);
    if (m_request.on_progress && (force || now - m_last_progress >= k_progress_interval)) {
      const auto bytes = m_sidecar.bytes_done();
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

  // A probe and the layout it implies, at the start and after every restart.
  std::expected<void, AttemptError> start_layout() {
    auto answer = probe(m_settings, m_request.url);
    if (!answer) return std::unexpected(answer.error());
    restart_hash();
    m_rate_since = Clock::now();
    auto layout = prepare_layout(*answer);
    if (layout) m_rate_bytes = m_sidecar.bytes_done();
    return layout;
  }

  // Downloads into the part file, retrying, until every segment is complete.
  std::expected<void, DownloadError> fetch_into_part() {
    const auto started = Clock::now();
    Backoff backoff(m_request.max_attempts, random_jitter());
    bool need_layout = true;
    while (true) {
      // The probe and the first segment need a connection: wait for the run's budget to have one.
      if (!m_slots.hold_one(m_request.cancel)) {
        return std::unexpected(DownloadError{DownloadFailure::cancelled, util::redact_credentials(m_request.url) +
                                                                             ": interrupted; run again to resume"});
      }
      ++m_result.attempts;
      std::expected<void, AttemptError> attempt;
      if (need_layout) attempt = start_layout();
      const auto before = m_sidecar.bytes_done();
      if (attempt) {
        need_layout = false;
        attempt = transfer_round();
      }
      if (attempt && m_sidecar.all_complete()) return {};
      AttemptError error = attempt ? AttemptError{true, DownloadFailure::network, "incomplete"} : attempt.error();
      if (error.kind == DownloadFailure::cancelled) {
        return std::unexpected(DownloadError{DownloadFailure::cancelled, util::redact_credentials(m_request.url) +
                                                                             ": interrupted; run again to resume"});
      }
      if (!error.retryable)
        return std::unexpected(
            DownloadError{error.kind, util::redact_credentials(m_request.url) + ": " + error.message});
      if (error.restart) {
        discard();
        need_layout = true;
      }
      backoff.failed(m_sidecar.bytes_done() > before);
      if (backoff.exhausted() || Clock::now() - started > m_request.max_time) {
        return std::unexpected(
            DownloadError{DownloadFailure::network, util::redact_credentials(m_request.url) + ": " + error.message +
                                                        " (gave up after " + std::to_string(m_result.attempts) +
                                                        " attempts; check the network and run again to resume)"});
      }
      const auto delay = backoff.delay(error.retry_after);
      m_slots.release_all();  // no connection while waiting: other files may use it
      spdlog::info("{}: {}; trying again in {:.1f} s", util::redact_credentials(m_request.url), error.message,
                   static_cast<double>(delay.count()) / 1000);
      if (m_request.sleep) {
        m_request.sleep(delay);
      } else {
        std::this_thread::sleep_for(delay);
      }
    }
  }

  std::expected<void, std::string> verify() {
    const std::uint64_t size = m_sidecar.size.value_or(m_sidecar.bytes_done());
    if (!hashing()) {
      if (m_request.size && *m_request.size != size) {
        return std::unexpected("size mismatch: expected " + std::to_string(*m_request.size) + " bytes, got " +
                               std::to_string(size));
      }
      m_result.bytes = size;
      m_result.connections_used = std::max(1u, m_connections);
      return {};
    }
    if (!m_hasher) restart_hash();
    if (!m_hasher->advance(m_fd.get(), size))
      return std::unexpected(std::string("cannot read the downloaded data back"));
    if (m_request.size && *m_request.size != size) {
      return std::unexpected("size mismatch: expected " + std::to_string(*m_request.size) + " bytes, got " +
                             std::to_string(size));
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
    m_share.update(0, std::nullopt);
  }

  const os::Files& m_files;
  const HttpSettings& m_settings;
  const DownloadRequest& m_request;
  std::string m_part;
  std::string m_sidecar_path;
  Sidecar m_sidecar;
  os::UniqueFd m_fd;
  std::optional<PrefixHasher> m_hasher;
  DownloadResult m_result;
  ConnectionSlots m_slots;
  TransferMeter::Share m_share;
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

PartialFiles partial_files(const std::string& dest) { return {dest + ".part", dest + ".part.json"}; }

std::expected<DownloadResult, DownloadError> download(const os::Files& files, const HttpSettings& settings,
                                                      const DownloadRequest& request) {
  FileDownload transfer(files, settings, request, TransferMeter::Share(settings.meter, request.size));
  return transfer.run();
}

void download_all(const os::Files& files, const HttpSettings& settings, std::vector<QueuedDownload>& queue,
                  unsigned parallel, const DownloadFinished& finished) {
  // Every file counts in the step's meter from the start, not only once its turn comes.
  std::vector<TransferMeter::Share> shares;
  for (const auto& entry : queue) shares.emplace_back(settings.meter, entry.request.size);
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    // The toolkit's gigabytes get the CPU time (curl, hashing, writing) that the env's pip leaves.
    if (settings.lane == Lane::after_ready) os::lower_this_thread_priority();
    for (std::size_t i = next++; i < queue.size(); i = next++) {
      FileDownload transfer(files, settings, queue[i].request, std::move(shares[i]));
      queue[i].result = transfer.run();
      if (finished) finished(queue[i]);
    }
  };
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < std::max(1u, std::min<unsigned>(parallel, static_cast<unsigned>(queue.size()))); ++i)
    workers.emplace_back(worker);
  for (auto& thread : workers) thread.join();
}

}  // namespace cs231n::net
