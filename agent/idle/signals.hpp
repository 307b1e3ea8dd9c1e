#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/net/http.hpp"
#include "agent/os/system.hpp"
#include "agent/util/result.hpp"

namespace cs231n::idle {

using TimePoint = std::chrono::system_clock::time_point;

// One source of activity as one check saw it. A signal is `active` while something is busy right
// now; `last_seen` is the latest activity it can date (a kernel's last message, a terminal's last
// input), which may lie inside the idle window. A signal that could not be read is `unknown`: it
// counts as quiet (a broken probe must not keep a forgotten VM running) and is reported.
struct Signal {
  std::string name;  // "jupyter", "ssh", "gpu", "cpu", "agent-run"
  bool active = false;
  std::optional<TimePoint> last_seen;
  bool unknown = false;
  std::string detail;  // one line: "1 kernel (python3 busy)", "5-minute load 0.02, below 0.50"
  // Jupyter only: the newest last_activity of a busy kernel (its last message), for the busy limit.
  std::optional<TimePoint> busy_last_seen;
  // Jupyter only: no HTTP answer at all (refused, timed out, TLS failed), as while it restarts.
  bool no_answer = false;
  // Jupyter only: what apply_busy_limit counted as idle, for the warning's words ("" if nothing).
  std::string discounted;
};

// --- Jupyter: GET /api/kernels with the agent's token ----------------------------------------
// Only /api/kernels: /api/status has a server-wide last_activity, but every authenticated API
// request moves it, this check's own included, so it would never look idle.

struct Kernel {
  std::string id;
  std::string name;             // "python3"
  std::string execution_state;  // "idle", "busy", "starting", ...
  std::optional<TimePoint> last_activity;
};

// The body of GET /api/kernels. Fails on anything that is not a list of kernel objects.
util::Result<std::vector<Kernel>> parse_kernels(std::string_view body);

// Where the check finds Jupyter (target paths, read under the root).
struct JupyterSource {
  int port = 8888;
  std::string certificate;   // the agent's certificate, the only CA trusted; empty: no target user
  std::string token_file;    // Paths::api_token_file
  std::string changed_file;  // Paths::jupyter_changed_file (record_jupyter_change)
};

// What the HTTP request needs: the URL, the certificate's PEM (the only CA), and the token. The
// certificate lies in the student's home: it is read once, by jupyter_signal without following a
// symlink, and handed over as bytes, never as a path that libcurl would open again as root.
struct KernelsRequest {
  std::string url;
  std::string ca_pem;
  std::string token;
};

// Asks Jupyter for its kernels; the real one is fetch_kernels(). Injected so that unit tests can
// answer instead of a server (the e2e test uses a real one).
using KernelsFetcher = std::function<util::Result<net::SimpleResponse>(const KernelsRequest&)>;

// HTTPS to 127.0.0.1, no proxy, no redirects, `Authorization: token ...` (never in the URL, so no
// server log or error message shows it), the certificate as the only CA.
util::Result<net::SimpleResponse> fetch_kernels(const KernelsRequest& request);

// A busy kernel is active; the newest last_activity is last_seen. Jupyter learns a kernel's state
// from the status messages it happens to see, so a kernel may read "starting" for ever when it
// missed the first ones: that state counts only through its last_activity, or a kernel nobody
// used would keep the VM running (a kernel really computing also shows as CPU or GPU load).
Signal jupyter_signal(const os::Files& files, const JupyterSource& source, const KernelsFetcher& fetch);

// A new certificate or API token restarts Jupyter (jupyter-cert, jupyter-service): for a while
// after, the probe gets no answer (the server is starting, or still serves the old certificate).
// Those steps record when they did it, as root in root's state dir (JupyterSource::changed_file).
// Within k_probe_grace after that time, a probe that got no answer at all counts as active (and
// is still reported as unknown, so the check warns): a VM in use must not be powered off because
// its Jupyter restarted. Nothing a student can touch moves that time (a file's mtime in the home
// would: touching the certificate every 14 minutes would keep a VM with a broken Jupyter up for
// ever), an answer that is wrong (401, 500, not JSON) is no restart, and the grace is bounded.
inline constexpr std::chrono::minutes k_probe_grace{15};
util::Result<void> record_jupyter_change(const os::Files& files, const std::string& changed_file, TimePoint when);
// The time record_jupyter_change wrote; nullopt when there is none or it does not parse.
std::optional<TimePoint> jupyter_changed_at(const os::Files& files, const std::string& changed_file);
void apply_probe_grace(Signal& jupyter, std::optional<TimePoint> changed_at, TimePoint now);

// A kernel stuck `busy` (a deadlocked DataLoader, an unanswered input()) says nothing and uses
// nothing. A busy kernel is activity while the CPU or the GPU signal shows work, or for at most
// busy_max after its last message; after that, with both quiet, it counts as idle (and says so
// in Signal::discounted).
void apply_busy_limit(std::vector<Signal>& signals, TimePoint now, std::chrono::minutes busy_max);

// --- Login sessions: utmp ---------------------------------------------------------------------
// A USER_PROCESS record of <root>/run/utmp (else /var/run/utmp) whose process is alive
// (<root>/proc/PID exists) is a login; its terminal's atime (/dev/<line>) is its last input, as
// `w` shows it. An open but unused session is therefore not activity: a browser SSH window left
// open must not keep the VM running, and its user is the one `wall` warns. SSH without a
// terminal (port forwarding, scp) leaves no utmp record and does not count either.

struct Login {
  std::string user;
  std::string line;  // "pts/0"
  std::string host;
  int pid = 0;
};

// USER_PROCESS records of a utmp file (glibc's x86_64 layout, 384 bytes each).
std::vector<Login> parse_utmp(std::string_view bytes);

Signal ssh_signal(const os::Files& files);

// --- GPU: nvidia-smi --------------------------------------------------------------------------

// Any GPU at or above `threshold_percent` utilisation is active. Without nvidia-smi (in /usr/bin
// or /usr/local/bin under the root) the signal is quiet; a failing nvidia-smi is unknown.
Signal gpu_signal(os::System& system, int threshold_percent);

// --- CPU: /proc/loadavg -----------------------------------------------------------------------

// The 5-minute load average (one check every 5 minutes sees everything since the last one) at
// or above threshold_percent / 100 is active.
Signal cpu_signal(const os::Files& files, int threshold_percent);

// --- An agent run: the run lock ----------------------------------------------------------------

Signal run_signal(const os::Files& files, const std::string& state_dir);

}  // namespace cs231n::idle
