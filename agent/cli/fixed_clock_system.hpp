#pragma once

#include <chrono>
#include <filesystem>

#include "agent/os/real_system.hpp"

namespace cs231n::cli {

// The real system with a clock that stands still: `idle-check --now` (hidden, for tests) lets a
// test move the real binary's clock by hours. Nothing else uses it.
class FixedClockSystem : public os::RealSystem {
 public:
  FixedClockSystem(std::filesystem::path root, std::chrono::system_clock::time_point now)
      : RealSystem(std::move(root)), m_now(now) {}
  std::chrono::system_clock::time_point now() override { return m_now; }

 private:
  std::chrono::system_clock::time_point m_now;
};

}  // namespace cs231n::cli
