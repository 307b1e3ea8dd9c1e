#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/util/result.hpp"

namespace cs231n::os {

// An open file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : m_fd(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : m_fd(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return m_fd; }
  int release();
  explicit operator bool() const { return m_fd >= 0; }

 private:
  int m_fd = -1;
};

enum class FileType { regular, directory, symlink, other };

struct FileInfo {
  FileType type = FileType::other;
  mode_t mode = 0;  // permission bits only
  uid_t uid = 0;
  gid_t gid = 0;
  std::uint64_t size = 0;
  std::chrono::system_clock::time_point accessed;  // atime: for a terminal, its last input (what `w` shows)
  std::chrono::system_clock::time_point modified;
};

struct Ownership {
  uid_t uid;
  gid_t gid;
};

// The target system's files. Every path is a target path ("/etc/os-release") resolved under the
// root the agent was given (--root, default "/"). Under a root other than "/", paths resolve as in
// a chroot: "..", and symlinks both absolute and relative, cannot leave the root (openat2 with
// RESOLVE_IN_ROOT), so a fixture tree never leaks the host's files into what the agent reports.
class Files {
 public:
  explicit Files(std::filesystem::path root = "/");

  const std::filesystem::path& root() const { return m_root; }
  bool is_host_root() const { return m_root == "/"; }
  // The host path of a target path, for messages and for handing to programs.
  std::filesystem::path host_path(std::string_view target_path) const;

  util::Result<std::string> read(std::string_view path, std::size_t max_bytes = 16u << 20) const;
  // Like read() with the trailing white space dropped; nullopt when the file cannot be read.
  std::optional<std::string> read_trimmed(std::string_view path) const;
  // Reads a file a user controls (in a home, an assignments folder, a user-owned conda prefix)
  // without trusting it, as root may: no component of the path may be a symlink (each folder is
  // opened with O_NOFOLLOW, from the root down), the file is opened O_NONBLOCK (a FIFO cannot
  // hang the read) and must be a regular file of at most max_bytes. Fails at once otherwise:
  // ELOOP for a symlink (ENOTDIR for a symlinked folder), EINVAL for a FIFO, device or folder,
  // EFBIG for a larger file, ENOENT when missing. The home itself must not be reached through a
  // symlink either.
  util::Result<std::string> read_user_file(std::string_view path, std::size_t max_bytes = 1u << 20) const;
  // read_user_file with the trailing white space dropped; nullopt when it cannot be read.
  std::optional<std::string> read_user_file_trimmed(std::string_view path, std::size_t max_bytes = 1u << 20) const;
  bool exists(std::string_view path) const;
  // Does not follow a final symlink.
  util::Result<FileInfo> stat(std::string_view path) const;
  // Entry names, sorted, without "." and "..".
  util::Result<std::vector<std::string>> list(std::string_view dir) const;
  // exists, stat and list for a path a user controls, through read_user_file's walk: a symlink on
  // the way (ENOTDIR) is not followed, so nothing of a folder the user linked to (root's own,
  // say) is looked at or revealed. user_path_exists and stat_user_path do not follow the final
  // component either (a symlink there is itself what exists, FileType::symlink); a FIFO never
  // blocks. list_user_folder refuses a final symlink too.
  bool user_path_exists(std::string_view path) const;
  util::Result<FileInfo> stat_user_path(std::string_view path) const;
  util::Result<std::vector<std::string>> list_user_folder(std::string_view dir) const;
  util::Result<std::uint64_t> free_bytes(std::string_view path) const;

  // Writes all of `content` to a temp file in the same folder, fsyncs it, sets mode (and owner
  // when given), renames it over `path` and fsyncs the folder: readers see the old file or the
  // new one, never a part, even across a power loss. The final component must not be a symlink.
  // A write cut short by a kill leaves its temp file (".NAME.tmp.N"); the next write of `path`
  // removes it, and so does remove_stale_temps.
  util::Result<void> write_atomic(std::string_view path, std::string_view content, mode_t mode,
                                  std::optional<Ownership> owner = std::nullopt) const;
  // write_atomic without the syncs: readers still see the old file or the new one, but a power
  // loss may lose both. For what is rewritten every second and worthless after a crash (the
  // running agent's download progress).
  util::Result<void> write_replacing(std::string_view path, std::string_view content, mode_t mode) const;
  // Removes the temp files killed write_atomic calls for `path` left (nobody else writes them:
  // one agent run writes at a time).
  void remove_stale_temps(std::string_view path) const;
  util::Result<void> make_dirs(std::string_view path, mode_t mode) const;
  util::Result<void> symlink(std::string_view link_target, std::string_view link_path) const;
  // Renames within the root (both paths are target paths).
  util::Result<void> rename(std::string_view from, std::string_view to) const;
  // Removes a file or symlink (not a folder); a missing file is not an error.
  util::Result<void> remove(std::string_view path) const;

  // Opens a target path under the root. Exposed for code that needs an fd (O_NOFOLLOW checks).
  util::Result<UniqueFd> open(std::string_view path, int flags, mode_t mode = 0) const;

 private:
  // The walk of the user-path functions: every folder of `path` opened O_PATH|O_NOFOLLOW from the
  // root down, then the last component with `flags` | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY.
  util::Result<UniqueFd> open_user_path(std::string_view path, int flags) const;

  util::Result<void> replace(std::string_view path, std::string_view content, mode_t mode,
                             std::optional<Ownership> owner, bool durable) const;
  std::filesystem::path m_root;
};

// Splits "/a/b/c" into ("/a/b", "c").
std::pair<std::string, std::string> split_parent(std::string_view path);

}  // namespace cs231n::os
