#include "agent/cli/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include <spdlog/spdlog.h>

#include "agent/util/strings.hpp"

namespace cs231n::cli {

ConsoleProgress::ConsoleProgress(std::function<std::string()> jupyter_note)
    : m_jupyter_note(std::move(jupyter_note)), m_terminal(::isatty(STDERR_FILENO) == 1) {}

void ConsoleProgress::erase_block() {
  for (; m_drawn > 0; --m_drawn) std::fputs("\x1b[1A\x1b[2K", stderr);
}

void ConsoleProgress::draw_block() {
  for (const auto& [step, seconds] : m_running) {
    std::fprintf(stderr, "  ... %-20s %6.0f s\n", step.c_str(), seconds);
    ++m_drawn;
  }
  std::fflush(stderr);
}

void ConsoleProgress::started(const std::string& step, int attempt) {
  std::lock_guard lock(m_mutex);
  if (m_terminal) erase_block();
  if (attempt > 1) {
    spdlog::info("{}: started (attempt {})", step, attempt);
  } else {
    spdlog::info("{}: started", step);
  }
  m_running.emplace_back(step, 0);
  if (m_terminal) draw_block();
}

void ConsoleProgress::finished(const std::string& step, engine::StepStatus status, double duration_s,
                               const std::string& detail) {
  std::lock_guard lock(m_mutex);
  if (m_terminal) erase_block();
  std::erase_if(m_running, [&](const auto& entry) { return entry.first == step; });
  const std::string suffix = detail.empty() ? "" : " (" + detail + ")";
  if (status == engine::StepStatus::failed) {
    spdlog::error("{}: failed after {:.1f} s{}", step, duration_s, suffix);
  } else if (duration_s > 0) {
    spdlog::info("{}: {} in {:.1f} s{}", step, engine::to_string(status), duration_s, suffix);
  } else {
    spdlog::info("{}: {}{}", step, engine::to_string(status), suffix);
  }
  if (m_terminal) draw_block();
}

void ConsoleProgress::tick(const std::vector<std::pair<std::string, double>>& running) {
  std::lock_guard lock(m_mutex);
  if (!m_terminal) return;
  erase_block();
  m_running = running;
  draw_block();
}

void ConsoleProgress::ready(const engine::ReadyEvent& event) {
  std::lock_guard lock(m_mutex);
  if (m_terminal) erase_block();
  std::string text = "\nready after " + std::to_string(event.seconds) + " s";
  text += event.still_running.empty() ? "\n" : "; still running: " + util::join(event.still_running, ", ") + "\n";
  if (!event.url.empty()) text += "Jupyter: " + event.url + "\n";
  if (m_jupyter_note) text += m_jupyter_note();
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
  if (m_terminal) draw_block();
}

namespace {

std::string eta_text(double seconds) {
  if (seconds < 0 || seconds > 360000) return "--:--";
  const auto total = static_cast<long>(seconds);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%ld:%02ld:%02ld", total / 3600, (total / 60) % 60, total % 60);
  return buffer;
}

}  // namespace

DownloadProgressPrinter::DownloadProgressPrinter(std::string label)
    : m_label(std::move(label)),
      m_terminal(::isatty(STDERR_FILENO) == 1),
      m_last_line(std::chrono::steady_clock::now()) {}

void DownloadProgressPrinter::update(const net::DownloadProgress& progress) {
  const std::string rate = util::human_bytes(static_cast<std::uint64_t>(progress.bytes_per_second)) + "/s";
  const std::string done = util::human_bytes(progress.bytes);
  if (m_terminal) {
    std::string line = m_label + " ";
    if (progress.total && *progress.total > 0) {
      const double fraction = static_cast<double>(progress.bytes) / static_cast<double>(*progress.total);
      const int filled = static_cast<int>(fraction * 30);
      line +=
          "[" + std::string(filled, '=') + (filled < 30 ? ">" : "") + std::string(std::max(0, 29 - filled), ' ') + "] ";
      char percent[16];
      std::snprintf(percent, sizeof percent, "%3.0f%% ", fraction * 100);
      const double eta = progress.bytes_per_second > 0
                             ? static_cast<double>(*progress.total - progress.bytes) / progress.bytes_per_second
                             : -1;
      line += percent + done + " / " + util::human_bytes(*progress.total) + "  " + rate + "  ETA " + eta_text(eta);
    } else {
      line += done + "  " + rate;
    }
    std::fprintf(stderr, "\r\x1b[2K%s", line.c_str());
    std::fflush(stderr);
    m_drawn = true;
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const int decile =
      progress.total && *progress.total > 0 ? static_cast<int>(progress.bytes * 10 / *progress.total) : -1;
  if (decile > m_last_decile || now - m_last_line >= std::chrono::seconds(10)) {
    m_last_decile = std::max(m_last_decile, decile);
    m_last_line = now;
    if (progress.total) {
      spdlog::info("{}: {} of {} ({}%), {}", m_label, done, util::human_bytes(*progress.total),
                   progress.total ? progress.bytes * 100 / std::max<std::uint64_t>(1, *progress.total) : 0, rate);
    } else {
      spdlog::info("{}: {}, {}", m_label, done, rate);
    }
  }
}

void DownloadProgressPrinter::finish() {
  if (m_terminal && m_drawn) std::fputs("\n", stderr);
}

void PublishingProgress::started(const std::string& step, int attempt) {
  m_inner.started(step, attempt);
  if (!m_announced) {
    m_announced = true;
    m_guest.publish_state(RunState::running);
    if (!m_ready) m_guest.publish("ready", "");
  }
  m_guest.publish("step", step);
}

void PublishingProgress::ready(const engine::ReadyEvent& event) {
  m_inner.ready(event);
  m_ready = true;
  if (!event.url.empty()) m_guest.publish("jupyter-url", event.url);
  m_guest.publish("ready", std::to_string(event.seconds));
}

void PublishingProgress::finished(const std::string& step, engine::StepStatus status, double duration_s,
                                  const std::string& detail) {
  m_inner.finished(step, status, duration_s, detail);
}

}  // namespace cs231n::cli
