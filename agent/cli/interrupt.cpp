#include "agent/cli/interrupt.hpp"

#include <signal.h>

namespace cs231n::cli {

namespace {

std::atomic<bool> g_interrupt{false};

void on_interrupt(int) { g_interrupt = true; }

}  // namespace

const std::atomic<bool>* interrupt_flag() { return &g_interrupt; }

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  // A closed browser-SSH window must not kill a half-done install.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGHUP, &ignore, nullptr);
}

}  // namespace cs231n::cli
