#include "agent/engine/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/util/strings.hpp"

namespace cs231n::engine {

namespace {

std::optional<int> read_pid(int fd) {
  char buffer[32] = {};
  const ssize_t count = ::pread(fd, buffer, sizeof buffer - 1, 0);
  if (count <= 0) return std::nullopt;
  const auto pid = util::parse_uint(util::trim(std::string_view(buffer, static_cast<std::size_t>(count))));
  if (!pid) return std::nullopt;
  return static_cast<int>(*pid);
}

}  // namespace

util::Result<std::optional<RunLock>> RunLock::try_acquire(const os::Files& files, const std::string& state_dir) {
  auto fd = files.open(state_dir + "/lock", O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
  if (!fd) return std::unexpected(fd.error());
  if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return std::optional<RunLock>();
    return util::fail(std::string("cannot lock ") + state_dir + "/lock: " + std::strerror(errno), errno);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd->get(), 0) != 0 ||
      ::pwrite(fd->get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return util::fail(std::string("cannot write ") + state_dir + "/lock: " + std::strerror(errno), errno);
  }
  return std::optional<RunLock>(RunLock(std::move(*fd)));
}

std::optional<int> RunLock::holder(const os::Files& files, const std::string& state_dir) {
  auto fd = files.open(state_dir + "/lock", O_RDONLY | O_NOFOLLOW);
  if (!fd) return std::nullopt;
  if (::flock(fd->get(), LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd->get(), LOCK_UN);
    return std::nullopt;
  }
  return read_pid(fd->get()).value_or(0);
}

}  // namespace cs231n::engine
