#pragma once

#include <optional>
#include <string>

#include "agent/os/files.hpp"
#include "agent/util/result.hpp"

namespace cs231n::engine {

// One run at a time: an flock on <state-dir>/lock, holding the owner's pid for messages. The
// kernel drops the lock when the process dies, however it dies, so a killed run never leaves a
// stale lock behind. The descriptor is close-on-exec: children never inherit the lock.
class RunLock {
 public:
  // The lock, or nullopt when another process holds it (see holder()).
  static util::Result<std::optional<RunLock>> try_acquire(const os::Files& files, const std::string& state_dir);
  // The pid written by the process holding the lock, or nullopt when nobody holds it. Never
  // blocks and never creates anything.
  static std::optional<int> holder(const os::Files& files, const std::string& state_dir);

 private:
  explicit RunLock(os::UniqueFd fd) : m_fd(std::move(fd)) {}
  os::UniqueFd m_fd;
};

}  // namespace cs231n::engine
