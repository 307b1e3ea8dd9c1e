#include "agent/os/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "agent/util/strings.hpp"

namespace cs231n::os {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (m_fd >= 0) ::close(m_fd);
}

int UniqueFd::release() {
  const int fd = m_fd;
  m_fd = -1;
  return fd;
}

std::pair<std::string, std::string> split_parent(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return {".", std::string(path)};
  std::string parent(path.substr(0, slash));
  if (parent.empty()) parent = "/";
  return {parent, std::string(path.substr(slash + 1))};
}

namespace {

std::string describe_errno(int error_number) { return std::strerror(error_number); }

util::Result<void> errno_failure(std::string_view what, std::string_view path) {
  const int saved = errno;
  return util::fail(std::string(what) + " " + std::string(path) + ": " + describe_errno(saved), saved);
}

std::string relative_to_root(std::string_view target_path) {
  std::string relative(target_path);
  while (relative.starts_with('/')) relative.erase(0, 1);
  return relative.empty() ? "." : relative;
}

}  // namespace

Files::Files(std::filesystem::path root) : m_root(std::move(root)) {
  if (m_root.empty()) m_root = "/";
  if (m_root != "/") m_root = std::filesystem::absolute(m_root).lexically_normal();
  if (m_root.string().size() > 1 && m_root.string().ends_with('/')) m_root = m_root.parent_path();
}

std::filesystem::path Files::host_path(std::string_view target_path) const {
  if (is_host_root()) return std::filesystem::path("/") / relative_to_root(target_path);
  return m_root / relative_to_root(target_path);
}

util::Result<UniqueFd> Files::open(std::string_view path, int flags, mode_t mode) const {
  flags |= O_CLOEXEC;
  if (is_host_root()) {
    const std::string host = host_path(path).string();
    const int fd = ::open(host.c_str(), flags, mode);
    if (fd < 0) {
      const int saved = errno;
      return util::fail(host + ": " + describe_errno(saved), saved);
    }
    return UniqueFd(fd);
  }
  const int root_fd = ::open(m_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    const int saved = errno;
    return util::fail("root " + m_root.string() + ": " + describe_errno(saved), saved);
  }
  UniqueFd root_holder(root_fd);
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const std::string relative = relative_to_root(path);
  const long fd = ::syscall(SYS_openat2, root_fd, relative.c_str(), &how, sizeof how);
  if (fd < 0) {
    const int saved = errno;
    if (saved == ENOSYS) {
      return util::fail(
          "--root needs Linux 5.6 or newer (openat2), which this kernel is not; inspect the root on a newer "
          "machine, or run the agent inside it",
          saved);
    }
    return util::fail(host_path(path).string() + ": " + describe_errno(saved), saved);
  }
  return UniqueFd(static_cast<int>(fd));
}

util::Result<std::string> Files::read(std::string_view path, std::size_t max_bytes) const {
  auto fd = open(path, O_RDONLY);
  if (!fd) return std::unexpected(fd.error());
  std::string content;
  char buffer[65536];
  while (true) {
    const ssize_t count = ::read(fd->get(), buffer, sizeof buffer);
    if (count < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      return util::fail("reading " + host_path(path).string() + ": " + describe_errno(saved), saved);
    }
    if (count == 0) break;
    content.append(buffer, static_cast<std::size_t>(count));
    if (content.size() > max_bytes) {
      return util::fail(
          host_path(path).string() + " is larger than expected (over " + std::to_string(max_bytes) + " bytes)", EFBIG);
    }
  }
  return content;
}

std::optional<std::string> Files::read_trimmed(std::string_view path) const {
  auto content = read(path);
  if (!content) return std::nullopt;
  return std::string(util::trim(*content));
}

util::Result<UniqueFd> Files::open_user_path(std::string_view path, int flags) const {
  const std::string shown = host_path(path).string();
  const auto refuse = [&](const std::string& why, int error_number) -> util::Result<UniqueFd> {
    return util::fail(shown + ": " + why, error_number);
  };
  std::vector<std::string> parts;
  for (auto& part : util::split(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") return refuse("the path has a \"..\"", EINVAL);
    parts.push_back(std::move(part));
  }
  if (parts.empty()) return refuse("not a file", EINVAL);
  const int root_fd = ::open(m_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return util::fail("root " + m_root.string() + ": " + describe_errno(errno), errno);
  UniqueFd dir(root_fd);
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    // O_NOFOLLOW with O_PATH opens a symlink itself, which O_DIRECTORY then refuses (ENOTDIR).
    const int next = ::openat(dir.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      const int saved = errno;
      return refuse(saved == ENOTDIR ? "a folder on its path is a symlink or not a folder" : describe_errno(saved),
                    saved);
    }
    dir = UniqueFd(next);
  }
  const int fd = ::openat(dir.get(), parts.back().c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    const int saved = errno;
    if (saved == ELOOP) return refuse("it is a symlink", saved);
    if (saved == ENOTDIR && (flags & O_DIRECTORY)) return refuse("not a folder (or a symlink)", saved);
    return refuse(describe_errno(saved), saved);
  }
  return UniqueFd(fd);
}

util::Result<std::string> Files::read_user_file(std::string_view path, std::size_t max_bytes) const {
  const auto refuse = [&](const std::string& why, int error_number) -> util::Result<std::string> {
    return util::fail("not reading " + why, error_number);
  };
  auto file = open_user_path(path, O_RDONLY);
  if (!file) return refuse(file.error().message, file.error().error_number);
  const std::string shown = host_path(path).string() + ": ";
  struct stat st {};
  if (::fstat(file->get(), &st) != 0) return refuse(shown + describe_errno(errno), errno);
  if (!S_ISREG(st.st_mode)) return refuse(shown + "not a regular file", EINVAL);
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return refuse(shown + "larger than " + std::to_string(max_bytes) + " bytes", EFBIG);
  }
  std::string content;
  char buffer[65536];
  while (true) {
    const ssize_t count = ::read(file->get(), buffer, sizeof buffer);
    if (count < 0) {
      if (errno == EINTR) continue;
      return refuse(shown + describe_errno(errno), errno);
    }
    if (count == 0) break;
    content.append(buffer, static_cast<std::size_t>(count));
    // The file may grow while it is read.
    if (content.size() > max_bytes) return refuse(shown + "larger than " + std::to_string(max_bytes) + " bytes", EFBIG);
  }
  return content;
}

std::optional<std::string> Files::read_user_file_trimmed(std::string_view path, std::size_t max_bytes) const {
  auto content = read_user_file(path, max_bytes);
  if (!content) return std::nullopt;
  return std::string(util::trim(*content));
}

bool Files::exists(std::string_view path) const { return open(path, O_PATH).has_value(); }

bool Files::user_path_exists(std::string_view path) const { return open_user_path(path, O_PATH).has_value(); }

namespace {

util::Result<FileInfo> info_of(const UniqueFd& fd, const std::string& shown) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    const int saved = errno;
    return util::fail("stat " + shown + ": " + describe_errno(saved), saved);
  }
  FileInfo info;
  if (S_ISREG(st.st_mode))
    info.type = FileType::regular;
  else if (S_ISDIR(st.st_mode))
    info.type = FileType::directory;
  else if (S_ISLNK(st.st_mode))
    info.type = FileType::symlink;
  info.mode = st.st_mode & 07777;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.size = static_cast<std::uint64_t>(st.st_size);
  const auto time_of = [](const timespec& time) {
    return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::seconds(time.tv_sec) + std::chrono::nanoseconds(time.tv_nsec)));
  };
  info.accessed = time_of(st.st_atim);
  info.modified = time_of(st.st_mtim);
  return info;
}

// Entry names of an open folder, sorted, without "." and ".."; takes the descriptor over.
util::Result<std::vector<std::string>> names_in(UniqueFd fd, const std::string& shown) {
  DIR* stream = ::fdopendir(fd.get());
  if (!stream) {
    const int saved = errno;
    return util::fail("listing " + shown + ": " + describe_errno(saved), saved);
  }
  fd.release();
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(stream)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(stream);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

util::Result<FileInfo> Files::stat(std::string_view path) const {
  auto fd = open(path, O_PATH | O_NOFOLLOW);
  if (!fd) return std::unexpected(fd.error());
  return info_of(*fd, host_path(path).string());
}

util::Result<FileInfo> Files::stat_user_path(std::string_view path) const {
  auto fd = open_user_path(path, O_PATH);
  if (!fd) return std::unexpected(fd.error());
  return info_of(*fd, host_path(path).string());
}

util::Result<std::vector<std::string>> Files::list(std::string_view dir) const {
  auto fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (!fd) return std::unexpected(fd.error());
  return names_in(std::move(*fd), host_path(dir).string());
}

util::Result<std::vector<std::string>> Files::list_user_folder(std::string_view dir) const {
  auto fd = open_user_path(dir, O_RDONLY | O_DIRECTORY);
  if (!fd) return std::unexpected(fd.error());
  return names_in(std::move(*fd), host_path(dir).string());
}

util::Result<std::uint64_t> Files::free_bytes(std::string_view path) const {
  auto fd = open(path, O_PATH);
  if (!fd) return std::unexpected(fd.error());
  struct statvfs vfs {};
  if (::fstatvfs(fd->get(), &vfs) != 0) {
    const int saved = errno;
    return util::fail("statvfs " + host_path(path).string() + ": " + describe_errno(saved), saved);
  }
  return static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

namespace {

std::string temp_prefix(const std::string& name) { return "." + name + ".tmp."; }

void remove_stale_temps_in(int dir_fd, const std::string& name) {
  const int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  DIR* entries = ::fdopendir(fd);
  if (!entries) {
    ::close(fd);
    return;
  }
  const std::string prefix = temp_prefix(name);
  std::vector<std::string> stale;
  while (const dirent* entry = ::readdir(entries)) {
    if (std::string_view(entry->d_name).starts_with(prefix)) stale.emplace_back(entry->d_name);
  }
  ::closedir(entries);
  for (const auto& temp : stale) ::unlinkat(dir_fd, temp.c_str(), 0);
}

}  // namespace

void Files::remove_stale_temps(std::string_view path) const {
  const auto [parent, name] = split_parent(path);
  if (auto dir = open(parent, O_RDONLY | O_DIRECTORY)) remove_stale_temps_in(dir->get(), name);
}

util::Result<void> Files::write_atomic(std::string_view path, std::string_view content, mode_t mode,
                                       std::optional<Ownership> owner) const {
  return replace(path, content, mode, owner, true);
}

util::Result<void> Files::write_replacing(std::string_view path, std::string_view content, mode_t mode) const {
  return replace(path, content, mode, std::nullopt, false);
}

util::Result<void> Files::replace(std::string_view path, std::string_view content, mode_t mode,
                                  std::optional<Ownership> owner, bool durable) const {
  const auto [parent, name] = split_parent(path);
  auto dir = open(parent, O_RDONLY | O_DIRECTORY);
  if (!dir) return std::unexpected(dir.error());
  struct stat existing {};
  if (::fstatat(dir->get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(existing.st_mode)) {
    return util::fail("refusing to replace symlink " + host_path(path).string(), ELOOP);
  }
  std::random_device random;
  const std::string temp_name = temp_prefix(name) + std::to_string(random());
  const int fd = ::openat(dir->get(), temp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno_failure("creating temp file for", host_path(path).string());
  UniqueFd temp(fd);
  bool committed = false;
  struct TempRemover {
    int dir_fd;
    const std::string& name;
    bool& committed;
    ~TempRemover() {
      if (!committed) ::unlinkat(dir_fd, name.c_str(), 0);
    }
  } remover{dir->get(), temp_name, committed};

  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t count = ::write(temp.get(), content.data() + written, content.size() - written);
    if (count < 0) {
      if (errno == EINTR) continue;
      return errno_failure("writing", host_path(path).string());
    }
    written += static_cast<std::size_t>(count);
  }
  if (owner && ::fchown(temp.get(), owner->uid, owner->gid) != 0) {
    return errno_failure("setting owner of", host_path(path).string());
  }
  if (::fchmod(temp.get(), mode) != 0) return errno_failure("setting mode of", host_path(path).string());
  if (durable && ::fsync(temp.get()) != 0) return errno_failure("syncing", host_path(path).string());
  if (::renameat(dir->get(), temp_name.c_str(), dir->get(), name.c_str()) != 0) {
    return errno_failure("renaming into place", host_path(path).string());
  }
  committed = true;
  remove_stale_temps_in(dir->get(), name);
  if (durable && ::fsync(dir->get()) != 0) return errno_failure("syncing folder of", host_path(path).string());
  return {};
}

util::Result<void> Files::make_dirs(std::string_view path, mode_t mode) const {
  std::string current;
  for (const auto& part : util::split(path, '/')) {
    if (part.empty()) continue;
    current += "/" + part;
    if (exists(current)) continue;
    const auto [parent, name] = split_parent(current);
    auto dir = open(parent, O_RDONLY | O_DIRECTORY);
    if (!dir) return std::unexpected(dir.error());
    if (::mkdirat(dir->get(), name.c_str(), mode) != 0 && errno != EEXIST) {
      return errno_failure("creating folder", host_path(current).string());
    }
  }
  return {};
}

util::Result<void> Files::symlink(std::string_view link_target, std::string_view link_path) const {
  const auto [parent, name] = split_parent(link_path);
  auto dir = open(parent, O_RDONLY | O_DIRECTORY);
  if (!dir) return std::unexpected(dir.error());
  if (::symlinkat(std::string(link_target).c_str(), dir->get(), name.c_str()) != 0) {
    return errno_failure("creating symlink", host_path(link_path).string());
  }
  return {};
}

util::Result<void> Files::rename(std::string_view from, std::string_view to) const {
  const auto [from_parent, from_name] = split_parent(from);
  const auto [to_parent, to_name] = split_parent(to);
  auto from_dir = open(from_parent, O_RDONLY | O_DIRECTORY);
  if (!from_dir) return std::unexpected(from_dir.error());
  auto to_dir = open(to_parent, O_RDONLY | O_DIRECTORY);
  if (!to_dir) return std::unexpected(to_dir.error());
  if (::renameat(from_dir->get(), from_name.c_str(), to_dir->get(), to_name.c_str()) != 0) {
    return errno_failure("renaming", host_path(from).string());
  }
  return {};
}

util::Result<void> Files::remove(std::string_view path) const {
  const auto [parent, name] = split_parent(path);
  auto dir = open(parent, O_RDONLY | O_DIRECTORY);
  if (!dir) {
    if (dir.error().error_number == ENOENT) return {};
    return std::unexpected(dir.error());
  }
  if (::unlinkat(dir->get(), name.c_str(), 0) != 0 && errno != ENOENT) {
    return errno_failure("removing", host_path(path).string());
  }
  return {};
}

}  // namespace cs231n::os
