#include "agent/cli/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include <spdlog/spdlog.h>

namespace cs231n::cli {

ConsoleProgress::ConsoleProgress() : m_terminal(::isatty(STDERR_FILENO) == 1) {}

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

void ConsoleProgress::finished(const std::string& step, engine::StepStatus status, double duration_s, const std::string& detail) {
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

}  // namespace cs231n::cli
