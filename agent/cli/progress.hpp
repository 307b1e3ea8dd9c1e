#pragma once

#include <chrono>
#include <functional>
#include <mutex>

#include "agent/engine/engine.hpp"
#include "agent/net/download.hpp"
#include "agent/net/guest_attributes.hpp"

namespace cs231n::cli {

// Run progress on stderr. On a terminal: transition lines plus a live block, one line per running
// step with its elapsed time. Otherwise (journald, the GCE serial console): plain timestamped
// lines at every transition (the log pattern adds the time). The ready moment goes to stdout, as
// the closing summary does: "ready after N s; still running: ...", the Jupyter URL and then what
// `jupyter_note` says (where the password is).
class ConsoleProgress : public engine::Progress {
 public:
  explicit ConsoleProgress(std::function<std::string()> jupyter_note = {});
  void started(const std::string& step, int attempt) override;
  void finished(const std::string& step, engine::StepStatus status, double duration_s,
                const std::string& detail) override;
  void tick(const std::vector<std::pair<std::string, double>>& running) override;
  void ready(const engine::ReadyEvent& event) override;

 private:
  void erase_block();
  void draw_block();

  std::mutex m_mutex;
  std::function<std::string()> m_jupyter_note;
  bool m_terminal;
  std::vector<std::pair<std::string, double>> m_running;
  std::size_t m_drawn = 0;
};

// Passes every event on and publishes which step runs as a guest attribute, so that the VM's
// progress can be followed from a laptop; at the ready moment `ready` (seconds since the run
// started) and `jupyter-url`, while `state` stays running. A new run clears a `ready` left by the
// last one.
class PublishingProgress : public engine::Progress {
 public:
  PublishingProgress(engine::Progress& inner, net::GuestAttributes& guest) : m_inner(inner), m_guest(guest) {}
  void started(const std::string& step, int attempt) override;
  void finished(const std::string& step, engine::StepStatus status, double duration_s,
                const std::string& detail) override;
  void tick(const std::vector<std::pair<std::string, double>>& running) override { m_inner.tick(running); }
  void ready(const engine::ReadyEvent& event) override;

 private:
  engine::Progress& m_inner;
  net::GuestAttributes& m_guest;
  bool m_announced = false;
  bool m_ready = false;
};

// One file's download progress on stderr: a bar on a terminal (bytes, percent, rate, ETA),
// otherwise a line at every 10% or every 10 s.
class DownloadProgressPrinter {
 public:
  explicit DownloadProgressPrinter(std::string label);
  void update(const net::DownloadProgress& progress);
  void finish();

 private:
  std::string m_label;
  bool m_terminal;
  int m_last_decile = -1;
  std::chrono::steady_clock::time_point m_last_line;
  bool m_drawn = false;
};

}  // namespace cs231n::cli
