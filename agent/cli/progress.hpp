#pragma once

#include <mutex>

#include "agent/engine/engine.hpp"

namespace cs231n::cli {

// Run progress on stderr. On a terminal: transition lines plus a live block, one line per running
// step with its elapsed time. Otherwise (journald, the GCE serial console): plain timestamped
// lines at every transition (the log pattern adds the time).
class ConsoleProgress : public engine::Progress {
 public:
  ConsoleProgress();
  void started(const std::string& step, int attempt) override;
  void finished(const std::string& step, engine::StepStatus status, double duration_s, const std::string& detail) override;
  void tick(const std::vector<std::pair<std::string, double>>& running) override;

 private:
  void erase_block();
  void draw_block();

  std::mutex m_mutex;
  bool m_terminal;
  std::vector<std::pair<std::string, double>> m_running;
  std::size_t m_drawn = 0;
};

}  // namespace cs231n::cli
