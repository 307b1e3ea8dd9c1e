#pragma once

#include <atomic>

namespace cs231n::cli {

// Set by SIGINT and SIGTERM once install_signal_handlers() ran: the engine and downloads stop at
// their next check and record why.
const std::atomic<bool>* interrupt_flag();

// SIGINT and SIGTERM set the interrupt flag; SIGHUP is ignored.
void install_signal_handlers();

}  // namespace cs231n::cli
