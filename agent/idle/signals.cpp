#include "agent/idle/signals.hpp"

#include <utmp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <nlohmann/json.hpp>

#include "agent/engine/lock.hpp"
#include "agent/engine/state.hpp"
#include "agent/jupyter/api_token.hpp"
#include "agent/util/strings.hpp"
#include "agent/util/time.hpp"

namespace cs231n::idle {

namespace {

std::string plural(std::size_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

void keep_latest(std::optional<TimePoint>& latest, TimePoint candidate) {
  if (!latest || candidate > *latest) latest = candidate;
}

std::string two_decimals(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  return text;
}

// Whether something listens on TCP `port` (/proc/net/tcp and tcp6: local address "ADDR:PORT" in
// hex, state 0A). nullopt when neither table can be read.
std::optional<bool> something_listens(const os::Files& files, int port) {
  bool readable = false;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    const auto text = files.read(table);
    if (!text) continue;
    readable = true;
    for (const auto& line : util::lines(*text)) {
      const auto fields = util::split_whitespace(line);
      if (fields.size() < 4 || fields[3] != "0A") continue;
      const auto colon = fields[1].rfind(':');
      if (colon != std::string::npos &&
          util::parse_uint(fields[1].substr(colon + 1), 16) == static_cast<std::uint64_t>(port))
        return true;
    }
  }
  if (!readable) return std::nullopt;
  return false;
}

}  // namespace

util::Result<std::vector<Kernel>> parse_kernels(std::string_view body) {
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception&) {
    return util::fail("the answer to /api/kernels is not JSON");
  }
  if (!document.is_array()) return util::fail("the answer to /api/kernels is not a list");
  std::vector<Kernel> kernels;
  for (const auto& item : document) {
    if (!item.is_object()) return util::fail("the answer to /api/kernels holds something that is not a kernel");
    const auto text = [&](const char* key) {
      const auto found = item.find(key);
      return found != item.end() && found->is_string() ? found->get<std::string>() : std::string();
    };
    kernels.push_back({text("id"), text("name"), text("execution_state"), util::parse_iso8601(text("last_activity"))});
  }
  return kernels;
}

util::Result<net::SimpleResponse> fetch_kernels(const KernelsRequest& request) {
  auto settings = net::default_http_settings();
  settings.ca_pem = request.ca_pem;
  settings.use_proxy = false;
  settings.max_redirects = 0;
  net::SimpleRequest http;
  http.url = request.url;
  http.headers = {{"Authorization", "token " + request.token}};
  http.connect_timeout = std::chrono::milliseconds(3000);
  http.timeout = std::chrono::milliseconds(15000);
  return net::http_request(settings, http);
}

Signal jupyter_signal(const os::Files& files, const JupyterSource& source, const KernelsFetcher& fetch) {
  Signal signal{"jupyter"};
  const auto unknown = [&](std::string detail) {
    signal.unknown = true;
    signal.detail = std::move(detail);
    return signal;
  };
  if (source.certificate.empty()) {
    signal.detail = "no target user, so no Jupyter of the agent's to ask";
    return signal;
  }
  const auto token_text = files.read(source.token_file);
  if (!token_text) return unknown("no API token in " + source.token_file + " (the jupyter-service step writes it)");
  const auto token = jupyter::parse_api_token_file(*token_text);
  if (!token)
    return unknown(source.token_file + " is not one line " + jupyter::k_api_token_variable + "=<64 hex digits>");
  // In the student's home: a regular file reached without a symlink (a FIFO would hang the check).
  const auto certificate = files.read_user_file(source.certificate);
  if (!certificate) return unknown("no certificate at " + source.certificate + " (the jupyter-cert step makes it)");
  const std::string base = "https://127.0.0.1:" + std::to_string(source.port);
  // Not running (jupyter.service false, or stopped) is no activity, and nothing to warn about.
  if (something_listens(files, source.port) == false) {
    signal.detail = "Jupyter is not running (nothing listens on port " + std::to_string(source.port) + ")";
    return signal;
  }
  const auto answer = fetch({base + "/api/kernels", *certificate, *token});
  if (!answer) {
    signal.no_answer = true;
    return unknown("Jupyter does not answer: " + answer.error().message);
  }
  if (answer->status == 401 || answer->status == 403) {
    return unknown("Jupyter at " + base + " refused the agent's token (HTTP " + std::to_string(answer->status) +
                   "): restart it (systemctl restart cs231n-jupyter) so that it reads " + source.token_file);
  }
  if (answer->status != 200)
    return unknown("Jupyter at " + base + " answered HTTP " + std::to_string(answer->status) + " for /api/kernels");
  const auto kernels = parse_kernels(answer->body);
  if (!kernels) return unknown(kernels.error().message);
  if (kernels->empty()) {
    signal.detail = "no kernel running";
    return signal;
  }
  std::vector<std::string> busy;
  for (const auto& kernel : *kernels) {
    if (kernel.execution_state == "busy") {
      busy.push_back(kernel.name + " busy");
      if (kernel.last_activity) keep_latest(signal.busy_last_seen, *kernel.last_activity);
    }
    if (kernel.last_activity) keep_latest(signal.last_seen, *kernel.last_activity);
  }
  signal.active = !busy.empty();
  signal.detail = plural(kernels->size(), "kernel") + (busy.empty() ? ", none busy" : ": " + util::join(busy, ", "));
  if (signal.last_seen) signal.detail += "; last activity " + util::iso8601(*signal.last_seen);
  return signal;
}

util::Result<void> record_jupyter_change(const os::Files& files, const std::string& changed_file, TimePoint when) {
  if (auto made = files.make_dirs(os::split_parent(changed_file).first, 0700); !made) return made;
  return files.write_atomic(changed_file, util::iso8601(when) + "\n", 0600);
}

std::optional<TimePoint> jupyter_changed_at(const os::Files& files, const std::string& changed_file) {
  if (changed_file.empty()) return std::nullopt;
  const auto text = files.read_trimmed(changed_file);
  return text ? util::parse_iso8601(*text) : std::nullopt;
}

void apply_probe_grace(Signal& jupyter, std::optional<TimePoint> changed_at, TimePoint now) {
  if (!jupyter.no_answer || jupyter.active) return;
  if (!changed_at || *changed_at > now || now - *changed_at >= k_probe_grace) return;
  jupyter.active = true;
  jupyter.detail += "; counted as active until " + util::iso8601(*changed_at + k_probe_grace) + ", " +
                    std::to_string(k_probe_grace.count()) + " min after the agent gave Jupyter a new certificate or " +
                    "token at " + util::iso8601(*changed_at) + " (Jupyter restarts)";
}

void apply_busy_limit(std::vector<Signal>& signals, TimePoint now, std::chrono::minutes busy_max) {
  const auto named = [&](std::string_view name) {
    const auto found = std::ranges::find(signals, name, &Signal::name);
    return found == signals.end() ? nullptr : &*found;
  };
  Signal* jupyter = named("jupyter");
  if (jupyter == nullptr || !jupyter->active || jupyter->unknown) return;
  for (const char* work : {"cpu", "gpu"}) {
    if (const Signal* signal = named(work); signal != nullptr && signal->active) return;
  }
  const std::string limit = "idle_shutdown.busy_max_minutes (" + std::to_string(busy_max.count()) + ")";
  if (jupyter->busy_last_seen && *jupyter->busy_last_seen + busy_max > now) {
    jupyter->detail += "; busy with quiet CPU and GPU counts until " +
                       util::iso8601(*jupyter->busy_last_seen + busy_max) + ", " + limit + " after its last message";
    return;
  }
  jupyter->active = false;
  jupyter->detail += "; busy without a message for " + limit + " or more, with quiet CPU and GPU: counted as idle";
  jupyter->discounted = "a Jupyter kernel busy without a message for " + std::to_string(busy_max.count()) +
                        " minutes or more, counted as idle after idle_shutdown.busy_max_minutes";
}

std::vector<Login> parse_utmp(std::string_view bytes) {
  std::vector<Login> logins;
  for (std::size_t offset = 0; offset + sizeof(utmp) <= bytes.size(); offset += sizeof(utmp)) {
    utmp record{};
    std::memcpy(&record, bytes.data() + offset, sizeof record);
    if (record.ut_type != USER_PROCESS || record.ut_pid <= 0) continue;
    const auto field = [](const char* data, std::size_t size) { return std::string(data, ::strnlen(data, size)); };
    logins.push_back({field(record.ut_user, sizeof record.ut_user), field(record.ut_line, sizeof record.ut_line),
                      field(record.ut_host, sizeof record.ut_host), record.ut_pid});
  }
  return logins;
}

Signal ssh_signal(const os::Files& files) {
  Signal signal{"ssh"};
  auto bytes = files.read("/run/utmp");
  if (!bytes) bytes = files.read("/var/run/utmp");
  if (!bytes) {
    signal.detail = "no login session (no utmp)";
    return signal;
  }
  std::vector<std::string> sessions;
  for (const auto& login : parse_utmp(*bytes)) {
    if (!files.exists("/proc/" + std::to_string(login.pid))) continue;  // a stale record of a dead session
    std::string session = login.user + " on " + login.line;
    const auto terminal =
        login.line.empty() ? util::Result<os::FileInfo>(util::fail("no terminal")) : files.stat("/dev/" + login.line);
    if (terminal) {
      keep_latest(signal.last_seen, terminal->accessed);
      session += ", last input " + util::iso8601(terminal->accessed);
    } else {
      session += ", terminal unreadable";
    }
    sessions.push_back(session);
  }
  signal.detail = sessions.empty() ? "no login session"
                                   : plural(sessions.size(), "login session") + ": " + util::join(sessions, "; ");
  return signal;
}

Signal gpu_signal(os::System& system, int threshold_percent) {
  Signal signal{"gpu"};
  const auto& files = system.files();
  if (!files.exists("/usr/bin/nvidia-smi") && !files.exists("/usr/local/bin/nvidia-smi")) {
    signal.detail = "no nvidia-smi";
    return signal;
  }
  os::Command command;
  command.argv = {"nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"};
  command.capture_stdout = true;
  command.timeout = std::chrono::seconds(30);
  const auto result = system.run(command);
  if (!result || !result->ok()) {
    signal.unknown = true;
    signal.detail = "nvidia-smi " + (result ? result->describe() + ": " + std::string(util::trim(result->output_tail))
                                            : result.error().message);
    return signal;
  }
  std::vector<std::string> shown;
  std::uint64_t highest = 0;
  for (const auto& line : util::lines(result->stdout_text)) {
    const auto percent = util::parse_uint(util::trim(line));
    if (!percent) continue;  // "[N/A]", "[Not Supported]"
    highest = std::max(highest, *percent);
    shown.push_back(std::to_string(*percent) + "%");
  }
  if (shown.empty()) {
    signal.unknown = true;
    signal.detail = "nvidia-smi reported no GPU utilisation";
    return signal;
  }
  signal.active = highest >= static_cast<std::uint64_t>(threshold_percent);
  signal.detail = "GPU utilisation " + util::join(shown, ", ") + (signal.active ? ", at or above " : ", below ") +
                  std::to_string(threshold_percent) + "%";
  return signal;
}

Signal cpu_signal(const os::Files& files, int threshold_percent) {
  Signal signal{"cpu"};
  const auto text = files.read_trimmed("/proc/loadavg");
  const auto fields = text ? util::split_whitespace(*text) : std::vector<std::string>{};
  char* end = nullptr;
  const double load = fields.size() >= 2 ? std::strtod(fields[1].c_str(), &end) : 0.0;
  if (fields.size() < 2 || end == fields[1].c_str()) {
    signal.unknown = true;
    signal.detail = "cannot read /proc/loadavg";
    return signal;
  }
  const double threshold = threshold_percent / 100.0;
  signal.active = load >= threshold;
  signal.detail =
      "5-minute load " + two_decimals(load) + (signal.active ? ", at or above " : ", below ") + two_decimals(threshold);
  return signal;
}

Signal run_signal(const os::Files& files, const std::string& state_dir) {
  Signal signal{"agent-run"};
  if (const auto pid = engine::RunLock::holder(files, state_dir)) {
    signal.active = true;
    signal.detail = "a cs231n-agent run is in progress (pid " + std::to_string(*pid) + ")";
  } else {
    signal.detail = "no cs231n-agent run in progress";
  }
  return signal;
}

}  // namespace cs231n::idle
