#include "agent/os/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>

#include "agent/util/redact.hpp"
#include "agent/util/strings.hpp"

// close_range(2) is system call 436 on every architecture (Linux's
// include/uapi/asm-generic/unistd.h and arch/x86/entry/syscalls/syscall_64.tbl, since 5.9);
// older C libraries do not define the number.
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

namespace cs231n::os {

namespace {

constexpr const char* k_default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr std::size_t k_tail_lines = 20;
constexpr std::size_t k_tail_bytes = 16384;
constexpr std::size_t k_max_captured = 64u << 20;
constexpr auto k_kill_grace = std::chrono::seconds(5);
// Command::low_priority. ioprio_set(2): IOPRIO_WHO_PROCESS is 1, the value is the class shifted
// by IOPRIO_CLASS_SHIFT (13) ORed with the level; IOPRIO_CLASS_BE is 2, level 7 its lowest. Spelled
// out because glibc has no wrapper and older kernel headers no <linux/ioprio.h>.
constexpr int k_low_priority_nice = 19;
constexpr int k_ioprio_who_process = 1;
constexpr int k_low_priority_ioprio = (2 << 13) | 7;
// After the main child exits, output still held open by a daemon it left behind is read only
// this long, so a stray background process cannot hang the agent.
constexpr auto k_drain_after_exit = std::chrono::milliseconds(500);

const char* const k_passed_through[] = {"http_proxy",  "https_proxy", "no_proxy",  "HTTP_PROXY",
                                        "HTTPS_PROXY", "NO_PROXY",    "all_proxy", "ALL_PROXY"};

std::optional<std::string> find_program(const std::string& name, const std::string& path_variable) {
  if (name.find('/') != std::string::npos) return name;
  for (const auto& dir : util::split(path_variable, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

// Output kept for the error message: the last few KiB, cut to whole lines at the end.
class Tail {
 public:
  void add(std::string_view chunk) {
    m_text.append(chunk);
    if (m_text.size() > 2 * k_tail_bytes) m_text.erase(0, m_text.size() - k_tail_bytes);
  }
  std::string lines() const {
    auto all = util::lines(m_text);
    if (all.size() > k_tail_lines) all.erase(all.begin(), all.end() - static_cast<long>(k_tail_lines));
    return util::join(all, "\n");
  }

 private:
  std::string m_text;
};

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t count = ::write(fd, data.data(), data.size());
    if (count < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data.remove_prefix(static_cast<std::size_t>(count));
  }
}

bool make_pipe(int fds[2]) { return ::pipe2(fds, O_CLOEXEC) == 0; }

// Closes every descriptor from 3 up except `keep` (the close-on-exec pipe that reports a failed
// exec): the agent's log, libcurl's sockets and whatever the caller of the agent left open must
// not reach a child that may run as the student. Runs between fork and exec, so only raw system
// calls (no opendir: it allocates).
bool close_inherited_descriptors(int keep) {
  const auto close_from_to = [](unsigned first, unsigned last) -> long {
    if (first > last) return 0;
    return ::syscall(SYS_close_range, first, last, 0u);
  };
  const unsigned kept = keep > 2 ? static_cast<unsigned>(keep) : 2u;
  if (close_from_to(3, kept - 1) == 0 && close_from_to(kept + 1, UINT_MAX) == 0) return true;
  if (errno != ENOSYS) return false;
  // close_range came with Linux 5.9 (Ubuntu 16.04 runs 4.4): list /proc/self/fd with getdents64
  // instead, closing what it names, until a pass finds nothing left.
  while (true) {
    const int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return false;
    bool closed_any = false;
    alignas(8) char entries[4096];
    long size = 0;
    while ((size = ::syscall(SYS_getdents64, dir, entries, sizeof entries)) > 0) {
      for (long offset = 0; offset < size;) {
        // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
        unsigned short record_length = 0;
        std::memcpy(&record_length, entries + offset + 16, sizeof record_length);
        const char* name = entries + offset + 19;
        offset += record_length;
        if (name[0] < '0' || name[0] > '9') continue;
        int fd = 0;
        for (const char* c = name; *c >= '0' && *c <= '9'; ++c) fd = fd * 10 + (*c - '0');
        if (fd > 2 && fd != keep && fd != dir) {
          ::close(fd);
          closed_any = true;
        }
      }
    }
    ::close(dir);
    if (size < 0) return false;
    if (!closed_any) return true;
  }
}

[[noreturn]] void child_fail(int error_pipe, int error_number) {
  ssize_t ignored = ::write(error_pipe, &error_number, sizeof error_number);
  (void)ignored;
  ::_exit(127);
}

}  // namespace

void set_process_defaults() {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, nullptr);
  ::umask(022);
}

void lower_this_thread_priority() {
  const auto thread = static_cast<id_t>(::gettid());
  ::setpriority(PRIO_PROCESS, thread, k_low_priority_nice);
  ::syscall(SYS_ioprio_set, k_ioprio_who_process, thread, k_low_priority_ioprio);
}

std::map<std::string, std::string> base_environment(const Account* account,
                                                    const std::map<std::string, std::string>& inherited_env) {
  std::map<std::string, std::string> env{
      {"PATH", k_default_path},
      {"LANG", "C.UTF-8"},
      {"HOME", account ? account->home : "/root"},
      {"USER", account ? account->name : "root"},
      {"LOGNAME", account ? account->name : "root"},
      {"SHELL", account && !account->shell.empty() ? account->shell : "/bin/sh"},
  };
  for (const char* name : k_passed_through) {
    if (auto found = inherited_env.find(name); found != inherited_env.end()) env[name] = found->second;
  }
  return env;
}

util::Result<CommandResult> run_process(const Command& command, const Accounts& accounts,
                                        const std::map<std::string, std::string>& inherited_env) {
  if (command.argv.empty()) return util::fail("empty command");
  // What error messages show of the command: never a URL's credentials.
  const std::string shown = util::redact_credentials(util::join(command.argv, " "));

  std::optional<Account> account;
  std::vector<gid_t> groups;
  if (!command.user.empty()) {
    account = accounts.find_user(command.user);
    if (!account) return util::fail("cannot run " + shown + " as " + command.user + ": no such account in /etc/passwd");
    groups = accounts.groups_of(*account);
  }

  auto env = base_environment(account ? &*account : nullptr, inherited_env);
  for (const auto& [key, value] : command.env) env[key] = value;
  const auto program = find_program(command.argv[0], env["PATH"]);
  if (!program) return util::fail("program not found: " + command.argv[0] + " (PATH=" + env["PATH"] + ")", ENOENT);

  std::string cwd = command.cwd;
  if (cwd.empty()) cwd = account ? account->home : "/";

  // Everything the child needs is prepared before fork(): after it only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = command.argv;
  std::vector<char*> argv;
  for (auto& arg : argv_copy) argv.push_back(arg.data());
  argv.push_back(nullptr);

  UniqueFd log_fd;
  if (!command.log_path.empty()) {
    const int fd = ::open(command.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return util::fail("cannot open log " + command.log_path.string() + ": " + std::strerror(errno), errno);
    log_fd = UniqueFd(fd);
  }

  int output_pipe[2], stdout_pipe[2] = {-1, -1}, input_pipe[2] = {-1, -1}, error_pipe[2];
  if (!make_pipe(output_pipe) || !make_pipe(error_pipe) || (command.capture_stdout && !make_pipe(stdout_pipe)) ||
      (!command.input.empty() && !make_pipe(input_pipe))) {
    return util::fail(std::string("cannot create pipe: ") + std::strerror(errno), errno);
  }
  UniqueFd output_read(output_pipe[0]), output_write(output_pipe[1]);
  UniqueFd stdout_read(stdout_pipe[0]), stdout_write(stdout_pipe[1]);
  UniqueFd input_read(input_pipe[0]), input_write(input_pipe[1]);
  UniqueFd error_read(error_pipe[0]), error_write(error_pipe[1]);
  const int dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  UniqueFd null_holder(dev_null);

  const pid_t pid = ::fork();
  if (pid < 0) return util::fail(std::string("fork failed: ") + std::strerror(errno), errno);
  if (pid == 0) {
    // A session of its own, so no controlling terminal: a child on root's terminal could push
    // keystrokes into root's shell (TIOCSTI). It is also the process group the timeout ends.
    if (::setsid() < 0) child_fail(error_write.get(), errno);
    // Best effort, before setuid (raising niceness needs no privilege either way): a kernel that
    // refuses an I/O class still runs the command.
    if (command.low_priority) {
      ::setpriority(PRIO_PROCESS, 0, k_low_priority_nice);
      ::syscall(SYS_ioprio_set, k_ioprio_who_process, 0, k_low_priority_ioprio);
    }
    const int stdin_fd = input_read ? input_read.get() : dev_null;
    if (stdin_fd < 0 || ::dup2(stdin_fd, STDIN_FILENO) < 0) child_fail(error_write.get(), errno);
    if (::dup2(stdout_write ? stdout_write.get() : output_write.get(), STDOUT_FILENO) < 0)
      child_fail(error_write.get(), errno);
    if (::dup2(output_write.get(), STDERR_FILENO) < 0) child_fail(error_write.get(), errno);
    // Before setuid: a process that changed its credentials may no longer read /proc/self/fd.
    if (!close_inherited_descriptors(error_write.get())) child_fail(error_write.get(), errno);
    if (account) {
      // Our pipes belong to root: hand them over, so that the program may also open them by name
      // (`install /dev/stdin FILE` opens /proc/self/fd/0).
      if (input_read) ::fchown(STDIN_FILENO, account->uid, account->gid);
      ::fchown(STDOUT_FILENO, account->uid, account->gid);
      ::fchown(STDERR_FILENO, account->uid, account->gid);
      if (::setgroups(groups.size(), groups.data()) != 0) child_fail(error_write.get(), errno);
      if (::setgid(account->gid) != 0) child_fail(error_write.get(), errno);
      if (::setuid(account->uid) != 0) child_fail(error_write.get(), errno);
      if (account->uid != 0 && ::setuid(0) == 0) child_fail(error_write.get(), EPERM);  // root must be gone for good
    }
    if (::chdir(cwd.c_str()) != 0) child_fail(error_write.get(), errno);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGCHLD}) ::sigaction(sig, &default_action, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(program->c_str(), argv.data(), envp.data());
    child_fail(error_write.get(), errno);
  }
  output_write = UniqueFd();
  stdout_write = UniqueFd();
  input_read = UniqueFd();
  error_write = UniqueFd();

  int exec_errno = 0;
  const ssize_t error_bytes = ::read(error_read.get(), &exec_errno, sizeof exec_errno);

  CommandResult result;
  Tail tail;
  std::size_t input_written = 0;
  if (error_bytes == static_cast<ssize_t>(sizeof exec_errno)) {
    input_write = UniqueFd();
  }

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  std::optional<Clock::time_point> kill_sent_at;
  std::optional<Clock::time_point> exited_at;
  int status = 0;
  bool reaped = false;
  char buffer[65536];

  // The child's setsid() made it the leader of a group with its own pid. The exec wait above
  // means it ran already; the kill of the pid itself covers a child that has not got that far.
  const auto terminate_group = [&](int sig) {
    if (::kill(-pid, sig) != 0) ::kill(pid, sig);
  };

  while (true) {
    if (!reaped) {
      const pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) {
        reaped = true;
        exited_at = Clock::now();
        input_write = UniqueFd();
      }
    }
    const bool streams_open = output_read || stdout_read;
    if (reaped && (!streams_open || Clock::now() - *exited_at > k_drain_after_exit)) break;

    const auto now = Clock::now();
    const bool cancel_requested = command.cancel && command.cancel->load();
    if (!reaped && !kill_sent_at &&
        ((command.timeout.count() > 0 && now - start > command.timeout) || cancel_requested)) {
      result.timed_out = !cancel_requested;
      result.cancelled = cancel_requested;
      terminate_group(SIGTERM);
      kill_sent_at = now;
    }
    if (!reaped && kill_sent_at && now - *kill_sent_at > k_kill_grace) terminate_group(SIGKILL);

    pollfd fds[3];
    nfds_t count = 0;
    if (output_read) fds[count++] = {output_read.get(), POLLIN, 0};
    if (stdout_read) fds[count++] = {stdout_read.get(), POLLIN, 0};
    const bool want_input = input_write && input_written < command.input.size();
    if (want_input) fds[count++] = {input_write.get(), POLLOUT, 0};
    if (input_write && !want_input) input_write = UniqueFd();  // all written: close, the child sees EOF
    // With nothing left to read, only the exit is awaited: look again soon.
    ::poll(fds, count, count == 0 ? 5 : 100);

    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (want_input && fds[i].fd == input_write.get()) {
        const ssize_t n =
            ::write(input_write.get(), command.input.data() + input_written, command.input.size() - input_written);
        if (n > 0) {
          input_written += static_cast<std::size_t>(n);
        } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
          // EPIPE (SIGPIPE is ignored: os::set_process_defaults): the program closed its stdin.
          result.input_error = "writing its stdin: " + std::string(std::strerror(errno));
          input_write = UniqueFd();
        }
        continue;
      }
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      const bool is_stdout = stdout_read && fds[i].fd == stdout_read.get();
      if (n <= 0) {
        (is_stdout ? stdout_read : output_read) = UniqueFd();
        continue;
      }
      const std::string_view chunk(buffer, static_cast<std::size_t>(n));
      if (is_stdout) {
        // Captured output is data for the agent (a config file, JSON), not for the log.
        if (result.stdout_text.size() + chunk.size() <= k_max_captured) result.stdout_text.append(chunk);
        continue;
      }
      tail.add(chunk);
      if (log_fd) write_all(log_fd.get(), chunk);
    }
  }

  if (exec_errno != 0) {
    return util::fail("cannot start " + shown + ": " + std::strerror(exec_errno), exec_errno);
  }
  if (result.input_error.empty() && input_written < command.input.size()) {
    result.input_error = "it ended with " + std::to_string(command.input.size() - input_written) + " bytes unread";
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.output_tail = tail.lines();
  return result;
}

}  // namespace cs231n::os
