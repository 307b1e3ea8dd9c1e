#include "agent/cli/cli.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <regex>

#include <CLI/CLI.hpp>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include "agent/cli/logging.hpp"
#include "agent/cli/progress.hpp"
#include "agent/config/config.hpp"
#include "agent/config/schema.hpp"
#include "agent/core/error.hpp"
#include "agent/detect/facts.hpp"
#include "agent/engine/lock.hpp"
#include "agent/engine/session.hpp"
#include "agent/idle/check.hpp"
#include "agent/jupyter/api_token.hpp"
#include "agent/jupyter/certificate.hpp"
#include "agent/jupyter/password.hpp"
#include "agent/net/download.hpp"
#include "agent/net/metadata.hpp"
#include "agent/net/guest_attributes.hpp"
#include "agent/os/real_system.hpp"
#include "agent/plan/planner.hpp"
#include "agent/util/hash.hpp"
#include "agent/util/strings.hpp"
#include "steps/jupyter_common.hpp"
#include "steps/table.hpp"
#include "steps/verify.hpp"
#include "agent/util/time.hpp"

namespace cs231n::cli {

namespace {

constexpr const char* k_default_log_file = "/var/log/cs231n-agent.log";

std::atomic<bool> g_interrupt{false};

// The options of every command, under the same names everywhere.
struct Options {
  std::string root = "/";
  std::string config_file;
  std::string state_dir = Paths::k_default_state_dir;
  std::string cache_dir = Paths::k_default_cache_dir;
  std::string log_file;
  int verbosity = 0;
  bool json = false;
  // run / resume
  std::vector<std::string> only;
  std::vector<std::string> skip;
  bool dry_run = false;
  bool no_reboot = false;
  std::string reboot_command;
  std::string boot_id_file;
  bool wait = false;
  bool yes = false;
  bool force = false;
  unsigned workers = 4;
  // status
  double timeout_s = 0;
  // reset / logs
  std::vector<std::string> step_names;
  bool all = false;
  // fetch
  std::string url;
  std::string output;
  std::string sha256;
  std::string md5;
  unsigned connections = 4;
  unsigned retries = 5;
  std::string ca_file;
  // passwd / cert
  std::string algorithm = "sha1";
  std::string out_dir;
  std::vector<std::string> ips;
  std::vector<std::string> dns_names;
  int days = 365;
  std::string key_type = "ec-p256";
  // idle-check
  std::string now;
};

enum OptionSet : unsigned {
  k_root = 1u << 0,
  k_config = 1u << 1,
  k_state_dir = 1u << 2,
  k_json = 1u << 3,
  k_selection = 1u << 4,  // --only --skip --dry-run --workers --yes --force
  k_reboot = 1u << 5,     // --no-reboot --reboot-command --boot-id-file
  k_wait = 1u << 6,
  k_timeout = 1u << 7,
  k_steps = 1u << 8,      // STEP... --all
  k_one_step = 1u << 9,   // STEP
  k_writes_log = 1u << 10,  // logs to /var/log/cs231n-agent.log unless --log-file says otherwise
  k_fetch = 1u << 11,
  k_passwd = 1u << 12,
  k_cert = 1u << 13,
  k_idle = 1u << 14,  // --dry-run, and the hidden --now of the tests
  k_cache_dir = 1u << 15,
};

Paths paths_of(const Options& options) { return Paths{options.state_dir, options.cache_dir}; }

using Handler = int (*)(Options&);

struct CommandSpec {
  const char* name;
  const char* description;
  unsigned options;
  Handler handler;
};

std::unique_ptr<os::RealSystem> open_system(const Options& options) {
  struct stat st {};
  if (::stat(options.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error(ExitCode::usage, "--root " + options.root + " is not a folder: give the root of the system to inspect");
  }
  check_agent_dir("--state-dir", options.state_dir);
  check_agent_dir("--cache-dir", options.cache_dir);
  spdlog::debug("reading the target system under {}", options.root);
  return std::make_unique<os::RealSystem>(options.root);
}

// The instance metadata server: only for the real root of a GCE VM, or wherever $GCE_METADATA_HOST
// points (a fixture root never makes the agent ask the real one).
net::MetadataClient metadata_client(const os::System& system) {
  return net::MetadataClient(system, system.files().is_host_root() && detect::is_gce(system.files()));
}

// Lowest precedence first: metadata, then the config file.
std::vector<config::Layer> config_layers(const os::System& system, const Options& options) {
  auto layers = net::metadata_layers(metadata_client(system));
  for (const auto& layer : layers) spdlog::debug("config from {}", layer.source);
  if (!options.config_file.empty()) {
    layers.emplace_back(config::load_file(options.config_file), "config file " + options.config_file);
    spdlog::debug("config file {} is valid", options.config_file);
  }
  return layers;
}

std::string configured_user(const std::vector<config::Layer>& layers) {
  std::string user;
  for (const auto& layer : layers) {
    if (layer.document.contains("user")) user = layer.document.at("user").get<std::string>();
  }
  return user;
}

detect::Facts gather(const os::System& system, const std::vector<config::Layer>& layers) {
  auto facts = detect::gather_facts(system, configured_user(layers));
  if (const auto client = metadata_client(system); client.enabled()) facts.instance = net::read_instance(client);
  return facts;
}

// The step table checks what config says of steps ("config: steps[0].after: ..."); name the file.
plan::StepList steps_for(const config::Config& config, const Options& options) {
  try {
    return steps::all_steps(config);
  } catch (const Error& error) {
    const std::string message = error.what();
    if (options.config_file.empty() || !message.starts_with("config: ")) throw;
    throw Error(error.code(), "config file " + options.config_file + ": " + message.substr(8));
  }
}

int command_version(Options& options) {
  std::cout << "cs231n-agent " << CS231N_VERSION << "\n";
  if (options.verbosity > 0) {
    const auto* curl = curl_version_info(CURLVERSION_NOW);
    std::string protocols;
    for (const char* const* protocol = curl->protocols; protocol && *protocol; ++protocol) {
      protocols += (protocols.empty() ? "" : " ") + std::string(*protocol);
    }
    std::cout << "libcurl " << curl->version << " (" << (curl->ssl_version ? curl->ssl_version : "no TLS")
              << "; protocols: " << protocols << ")\n"
              << OpenSSL_version(OPENSSL_VERSION) << "\n";
  }
  return 0;
}

int command_detect(Options& options) {
  const auto system = open_system(options);
  const auto layers = config_layers(*system, options);
  const auto facts = gather(*system, layers);
  std::cout << (options.json ? detect::to_json(facts).dump(2) + "\n" : detect::to_table(facts));
  return 0;
}

// What `plan` and `run --dry-run` print: every step, or the selected ones, with what they would do.
int print_plan(Options& options, bool selection_only) {
  const auto system = open_system(options);
  const auto layers = config_layers(*system, options);
  const auto facts = gather(*system, layers);
  const auto config = config::Config::resolve(layers, facts.os);
  const auto steps = steps_for(config, options);
  plan::RecordedResults recorded;
  if (const auto state = engine::StateStore(system->files(), options.state_dir).peek()) {
    for (const auto& [name, record] : state->steps) {
      if (record.status == engine::StepStatus::done) recorded[name] = {record.fingerprint, record.finished};
    }
  }
  const auto paths = paths_of(options);
  auto plan = plan::make_plan(steps, plan::Context{*system, facts, config, paths}, recorded);
  if (selection_only) {
    std::erase_if(plan.steps, [&](const plan::PlannedStep& step) {
      const bool chosen = options.only.empty() || std::ranges::find(options.only, step.name) != options.only.end();
      return !chosen || std::ranges::find(options.skip, step.name) != options.skip.end();
    });
  }
  if (options.json) {
    auto document = plan::to_json(plan);
    document["config"] = config.json();
    document["config_sources"] = config.sources();
    std::cout << document.dump(2) << "\n";
  } else {
    std::cout << plan::to_table(plan);
    std::string settings;
    for (const auto& [path, source] : config.sources()) {
      if (!source.starts_with("default")) settings += "  " + path + " = " + config.at(path).dump() + "  (" + source + ")\n";
    }
    if (!settings.empty()) std::cout << "\nSettings that differ from the defaults:\n" << settings;
  }
  return plan.has_refusal() ? static_cast<int>(ExitCode::refused) : 0;
}

int command_plan(Options& options) { return print_plan(options, false); }

// Checks the finished machine with the config of the recorded run (or --config / metadata).
int command_verify(Options& options) {
  const auto system = open_system(options);
  auto layers = config_layers(*system, options);
  if (options.config_file.empty()) {
    if (const auto state = engine::StateStore(system->files(), options.state_dir).peek(); state && !state->run.config_layers.empty()) {
      layers = state->run.config_layers;
    }
  }
  const auto facts = gather(*system, layers);
  const auto config = config::Config::resolve(layers, facts.os);
  const auto paths = paths_of(options);
  const plan::Context context{*system, facts, config, paths};
  const auto run = plan::StepRun::unlogged(context, "verify", std::chrono::minutes(10), &g_interrupt);
  auto report = steps::verify_machine(run);
  if (!report) throw Error(ExitCode::step_failed, "verify: " + report.error().message);
  std::cout << (options.json ? report->to_json().dump(2) + "\n" : report->to_table());
  return report->ok() ? 0 : static_cast<int>(ExitCode::step_failed);
}

void on_interrupt(int) { g_interrupt = true; }

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

bool ask_on_terminal(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

void publish_outcome(net::GuestAttributes& guest, const engine::SessionResult& result) {
  const auto& outcome = result.outcome;
  if (outcome.state == RunState::done && !result.jupyter_url.empty()) guest.publish("jupyter-url", result.jupyter_url);
  guest.publish("error", outcome.state == RunState::failed || outcome.state == RunState::refused ? outcome.message : "");
  guest.publish_state(outcome.state);
}

int run_or_resume(Options& options, bool resume) {
  if (!resume && options.dry_run) return print_plan(options, true);
  const auto system = open_system(options);
  install_signal_handlers();
  engine::RunRequest request;
  request.paths = paths_of(options);
  request.resume = resume;
  if (!resume) request.config_layers = config_layers(*system, options);
  const auto client = metadata_client(*system);
  if (client.enabled()) request.instance = net::read_instance(client);
  request.options.only = options.only;
  request.options.skip = options.skip;
  request.options.workers = std::max(1u, options.workers);
  request.options.no_reboot = options.no_reboot;
  request.options.reboot_command = util::split_whitespace(options.reboot_command);
  request.options.boot_id_file = options.boot_id_file;
  request.options.interrupt = &g_interrupt;
  request.wait_for_lock = options.wait;
  request.yes = options.yes;
  request.force = options.force;
  if (::isatty(STDIN_FILENO) == 1) request.confirm = ask_on_terminal;
  request.jupyter_url = steps::external_jupyter_url;
  ConsoleProgress console;
  net::GuestAttributes guest(client);
  PublishingProgress progress(console, guest);
  const auto make_steps = [&](const config::Config& config) { return steps_for(config, options); };
  const auto result = engine::run_session(*system, make_steps, request, progress);
  if (!result.ran) return 0;
  const auto& outcome = result.outcome;
  publish_outcome(guest, result);
  if (!outcome.steps.empty()) std::cout << engine::summary_table(outcome);
  if (outcome.state == RunState::done && !result.jupyter_url.empty()) {
    std::cout << "\nJupyter: " << result.jupyter_url << "\n";
    if (system->files().exists(steps::k_generated_password_file)) {
      std::cout << "Its password: sudo cat " << steps::k_generated_password_file << "\n";
    }
  }
  std::cout << "\n" << to_string(outcome.state) << ": " << outcome.message << "\n";
  return static_cast<int>(outcome.code);
}

int command_run(Options& options) { return run_or_resume(options, false); }
int command_resume(Options& options) { return run_or_resume(options, true); }

// The overall state as `status` reports it: a run whose process died shows as interrupted.
RunState effective_state(const std::optional<engine::State>& state, bool lock_held) {
  if (lock_held) return RunState::running;
  if (!state || state->empty()) return RunState::not_started;
  if (state->run.state == RunState::running) return RunState::interrupted;
  return state->run.state;
}

ExitCode status_exit_code(RunState state) {
  switch (state) {
    case RunState::done: return ExitCode::success;
    case RunState::failed: return ExitCode::step_failed;
    case RunState::not_started: return ExitCode::step_failed;
    case RunState::reboot_pending: return ExitCode::reboot_pending;
    case RunState::refused: return ExitCode::refused;
    case RunState::running: return ExitCode::busy;
    case RunState::interrupted: return ExitCode::interrupted;
  }
  return ExitCode::step_failed;
}

int command_status(Options& options) {
  const auto system = open_system(options);
  const engine::StateStore store(system->files(), options.state_dir);
  const auto started = std::chrono::steady_clock::now();
  auto holder = engine::RunLock::holder(system->files(), options.state_dir);
  while (options.wait && holder &&
         (options.timeout_s <= 0 || std::chrono::steady_clock::now() - started < std::chrono::duration<double>(options.timeout_s))) {
    system->sleep(std::chrono::milliseconds(250));
    holder = engine::RunLock::holder(system->files(), options.state_dir);
  }
  const auto state = store.peek();
  const auto overall = effective_state(state, holder.has_value());
  nlohmann::json steps = nlohmann::json::array();
  if (state) {
    std::vector<std::string> names = state->run.order;
    for (const auto& [name, record] : state->steps) {
      if (std::ranges::find(names, name) == names.end()) names.push_back(name);
    }
    for (const auto& name : names) {
      const auto found = state->steps.find(name);
      const engine::StepRecord record = found == state->steps.end() ? engine::StepRecord{} : found->second;
      std::string status(engine::to_string(record.status));
      if (record.status == engine::StepStatus::running && !holder) status = "interrupted";
      steps.push_back({{"name", name}, {"status", status}, {"duration_s", record.duration_s}, {"error", record.error},
                       {"detail", record.detail}, {"attempts", record.attempts}, {"log", record.log}});
    }
  }
  if (options.json) {
    nlohmann::json document = {{"state", to_string(overall)}, {"steps", steps}};
    if (state && !state->empty()) {
      document["run_id"] = state->run.id;
      document["reboots"] = state->run.reboots;
      document["updated"] = state->run.updated;
      document["message"] = state->run.message;
    }
    if (holder) document["pid"] = *holder;
    std::cout << document.dump(2) << "\n";
  } else {
    std::cout << "State: " << to_string(overall);
    if (state && !state->empty()) std::cout << " (run " << state->run.id << ", updated " << state->run.updated << ")";
    if (holder) std::cout << ", pid " << *holder;
    std::cout << "\n";
    std::size_t width = 4;
    for (const auto& step : steps) width = std::max(width, step["name"].get<std::string>().size());
    for (const auto& step : steps) {
      const auto name = step["name"].get<std::string>();
      const auto status = step["status"].get<std::string>();
      std::string line = "  " + name + std::string(width - name.size() + 2, ' ') + status;
      const auto note = step["error"].get<std::string>().empty() ? step["detail"].get<std::string>() : step["error"].get<std::string>();
      if (!note.empty()) line += std::string(13 - std::min<std::size_t>(12, status.size()), ' ') + note;
      std::cout << line << "\n";
    }
    if (state && !state->run.message.empty() && !holder) std::cout << state->run.message << "\n";
  }
  return static_cast<int>(status_exit_code(overall));
}

void check_step_name(const std::string& name) {
  static const std::regex pattern("[a-z0-9][a-z0-9-]{0,62}");
  if (!std::regex_match(name, pattern)) throw Error(ExitCode::usage, "\"" + name + "\" is not a step name (`cs231n-agent plan` lists them)");
}

int command_reset(Options& options) {
  if (options.all == !options.step_names.empty()) {
    throw Error(ExitCode::usage, "reset takes step names or --all (not both, not neither)");
  }
  const auto system = open_system(options);
  for (const auto& name : options.step_names) check_step_name(name);
  const engine::StateStore store(system->files(), options.state_dir);
  auto lock = engine::RunLock::try_acquire(system->files(), options.state_dir);
  if (!lock || !*lock) {
    if (!lock && lock.error().error_number == ENOENT) {
      std::cout << "nothing recorded in " << options.state_dir << "\n";
      return 0;
    }
    throw Error(ExitCode::busy, "a cs231n-agent run is active; reset after it ends (`cs231n-agent status --wait`)");
  }
  auto state = store.load(util::random_hex(4));
  if (options.all) {
    if (auto removed = system->files().remove(store.state_path()); !removed) {
      throw Error(ExitCode::step_failed, "cannot remove " + store.state_path() + ": " + removed.error().message);
    }
    std::cout << "forgot every recorded result; the next run checks every step again\n";
    return 0;
  }
  for (const auto& name : options.step_names) {
    if (state.steps.erase(name) == 0) throw Error(ExitCode::usage, "step " + name + " has no recorded result; nothing was reset");
  }
  if (state.run.state == RunState::done) state.run.state = RunState::interrupted;
  store.save(state);
  std::cout << "forgot " << util::join(options.step_names, ", ") << "; the next run checks them again\n";
  return 0;
}

int command_logs(Options& options) {
  const auto system = open_system(options);
  check_step_name(options.step_names.front());
  const engine::StateStore store(system->files(), options.state_dir);
  auto text = system->files().read(store.log_path(options.step_names.front()), 1u << 30);
  if (!text) throw Error(ExitCode::usage, "no log for step " + options.step_names.front() + " in " + options.state_dir + "/logs");
  std::cout << *text;
  return 0;
}

int command_fetch(Options& options) {
  static const std::regex hex64("[0-9a-f]{64}"), hex32("[0-9a-f]{32}");
  if (!options.sha256.empty() && !std::regex_match(options.sha256, hex64)) {
    throw Error(ExitCode::usage, "--sha256 takes 64 lowercase hex digits");
  }
  if (!options.md5.empty() && !std::regex_match(options.md5, hex32)) throw Error(ExitCode::usage, "--md5 takes 32 lowercase hex digits");
  if (!options.url.starts_with("http://") && !options.url.starts_with("https://")) {
    throw Error(ExitCode::usage, "fetch downloads http:// and https:// URLs, not " + options.url);
  }
  const auto output = std::filesystem::absolute(options.output).lexically_normal();
  std::error_code ignored;
  if (std::filesystem::is_directory(output, ignored)) {
    throw Error(ExitCode::usage, "-o " + options.output + " is a folder: give the file name to write");
  }
  os::RealSystem system("/");
  auto settings = net::default_http_settings();
  if (!options.ca_file.empty()) settings.ca_file = options.ca_file;
  install_signal_handlers();
  DownloadProgressPrinter printer(output.filename().string());
  net::DownloadRequest request;
  request.url = options.url;
  request.dest = output.string();
  request.sha256 = options.sha256;
  request.md5 = options.md5;
  request.connections = std::max(1u, options.connections);
  request.max_attempts = std::max(1u, options.retries + 1);
  request.cancel = &g_interrupt;
  request.on_progress = [&](const net::DownloadProgress& progress) { printer.update(progress); };
  const auto result = net::download(system.files(), settings, request);
  printer.finish();
  if (!result) throw Error(net::exit_code_of(result.error().kind), result.error().message);
  if (result->already_there) {
    spdlog::info("{} is already there and matches its checksum", output.string());
  } else {
    spdlog::info("{}: {} in {} attempt(s) over {} connection(s){}", output.string(), util::human_bytes(result->bytes),
                 result->attempts, result->connections_used, result->sha256.empty() ? "" : ", sha256 " + result->sha256);
  }
  return 0;
}

// The password from the terminal (asked twice, not echoed) or from standard input.
std::string read_new_password() {
  if (::isatty(STDIN_FILENO) != 1) {
    std::string password((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (password.ends_with('\n')) password.pop_back();
    if (password.ends_with('\r')) password.pop_back();
    return password;
  }
  termios saved{};
  ::tcgetattr(STDIN_FILENO, &saved);
  termios silent = saved;
  silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  const auto ask = [&](const char* prompt) {
    std::cerr << prompt << std::flush;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &silent);
    std::string line;
    std::getline(std::cin, line);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
    return line;
  };
  const std::string first = ask("Password: ");
  const std::string second = ask("Verify password: ");
  if (first != second) throw Error(ExitCode::usage, "the passwords do not match; nothing was made");
  return first;
}

int command_passwd(Options& options) {
  const std::string password = read_new_password();
  if (password.empty()) throw Error(ExitCode::usage, "an empty password is refused: anyone could open the notebook");
  std::cout << (options.algorithm == "argon2" ? jupyter::make_argon2_hash(password) : jupyter::make_sha1_hash(password)) << "\n";
  return 0;
}

int command_cert(Options& options) {
  os::RealSystem system("/");
  jupyter::CertificateRequest request;
  request.ips = options.ips;
  if (std::ranges::find(request.ips, "127.0.0.1") == request.ips.end()) request.ips.push_back("127.0.0.1");
  request.dns_names = options.dns_names;
  const std::string hostname = system.hostname();
  if (jupyter::is_dns_name(hostname) && std::ranges::find(request.dns_names, hostname) == request.dns_names.end()) {
    request.dns_names.push_back(hostname);
  }
  request.days = options.days;
  request.key_type = options.key_type;
  const auto certificate = jupyter::make_self_signed(request);
  if (!certificate) throw Error(ExitCode::usage, certificate.error().message);
  const auto dir = std::filesystem::absolute(options.out_dir).lexically_normal().string();
  const auto& files = system.files();
  if (auto made = files.make_dirs(dir, 0755); !made) throw Error(ExitCode::step_failed, made.error().message);
  if (auto written = files.write_atomic(dir + "/jupyter.key", certificate->key_pem, 0600); !written) {
    throw Error(ExitCode::step_failed, written.error().message);
  }
  if (auto written = files.write_atomic(dir + "/jupyter.pem", certificate->cert_pem, 0644); !written) {
    throw Error(ExitCode::step_failed, written.error().message);
  }
  std::cout << dir << "/jupyter.pem\n" << dir << "/jupyter.key\n";
  return 0;
}

// idle-check --now: the time one check takes as now, so that a test can move the real binary's
// clock by hours. Nothing else reads it.
class FixedClockSystem : public os::RealSystem {
 public:
  FixedClockSystem(std::filesystem::path root, std::chrono::system_clock::time_point now) : RealSystem(std::move(root)), m_now(now) {}
  std::chrono::system_clock::time_point now() override { return m_now; }

 private:
  std::chrono::system_clock::time_point m_now;
};

// The timer's check has no --config: it takes the config of the recorded run, with the metadata
// as it is now (so `cs231n-idle-shutdown=false` set on a running VM is heeded), and --config.
std::vector<config::Layer> idle_check_layers(const os::System& system, const Options& options) {
  const auto recorded = engine::StateStore(system.files(), options.state_dir).peek();
  const auto recorded_layers = recorded ? recorded->run.config_layers : std::vector<config::Layer>{};
  const auto from_metadata = [](const config::Layer& layer) { return layer.source.starts_with("metadata"); };
  std::vector<config::Layer> layers;
  try {
    layers = net::metadata_layers(metadata_client(system));
  } catch (const Error& error) {
    spdlog::warn("{}; using the metadata recorded by the last run", error.what());
    std::ranges::copy_if(recorded_layers, std::back_inserter(layers), from_metadata);
  }
  std::ranges::copy_if(recorded_layers, std::back_inserter(layers), [&](const config::Layer& layer) { return !from_metadata(layer); });
  if (!options.config_file.empty()) layers.emplace_back(config::load_file(options.config_file), "config file " + options.config_file);
  return layers;
}

int command_idle_check(Options& options) {
  check_agent_dir("--state-dir", options.state_dir);
  std::unique_ptr<os::RealSystem> system;
  if (options.now.empty()) {
    system = std::make_unique<os::RealSystem>("/");
  } else {
    const auto now = util::parse_iso8601(options.now);
    if (!now) throw Error(ExitCode::usage, "--now takes a UTC time like 2026-11-29T22:15:00Z, not " + options.now);
    system = std::make_unique<FixedClockSystem>("/", *now);
  }
  const auto layers = idle_check_layers(*system, options);
  const auto facts = detect::gather_facts(*system, configured_user(layers));
  const auto config = config::Config::resolve(layers, facts.os);
  idle::Settings settings;
  settings.enabled = config.boolean("idle_shutdown.enabled");
  settings.gce = facts.gce;
  settings.minutes = std::chrono::minutes(config.integer("idle_shutdown.minutes"));
  settings.power_off_command = config.strings("idle_shutdown.command");
  settings.cpu_load_percent = static_cast<int>(config.integer("idle_shutdown.cpu_load_percent"));
  settings.gpu_percent = static_cast<int>(config.integer("idle_shutdown.gpu_percent"));
  settings.state_dir = options.state_dir;
  settings.jupyter.port = static_cast<int>(config.integer("jupyter.port"));
  settings.jupyter.token_file = paths_of(options).api_token_file();
  if (facts.user.account) settings.jupyter.certificate = facts.user.account->home + jupyter::k_certificate_in_home;
  const auto report = idle::run_check(*system, settings, options.dry_run);
  std::cout << (options.json ? idle::to_json(report).dump(2) + "\n" : idle::to_text(report)) << std::flush;
  return 0;
}

int command_schema(Options&) {
  std::cout << config::schema_markdown();
  return 0;
}

// The one table of commands.
const CommandSpec k_commands[] = {
    {"run", "Set this machine up: run every step that is not done yet, resuming an unfinished run",
     k_config | k_state_dir | k_cache_dir | k_selection | k_reboot | k_wait | k_writes_log, command_run},
    {"resume", "Continue the recorded run with its recorded config and step selection (run at every boot)",
     k_state_dir | k_cache_dir | k_reboot | k_wait | k_writes_log, command_resume},
    {"status", "Show the run's state and each step's result (reads only)", k_root | k_state_dir | k_json | k_wait | k_timeout,
     command_status},
    {"detect", "Report what this machine is: OS, GPUs, Secure Boot, memory, disk, target user (reads only)",
     k_root | k_config | k_json, command_detect},
    {"plan", "List every step with what it would do here: run, done, skip or refuse, and why (reads only)",
     k_root | k_config | k_state_dir | k_cache_dir | k_json, command_plan},
    {"verify", "Check the result: the env imports torch; with a GPU, nvidia-smi, the driver version and torch.cuda.is_available()",
     k_config | k_state_dir | k_cache_dir | k_json, command_verify},
    {"reset", "Forget recorded results so those steps run again", k_state_dir | k_steps, command_reset},
    {"logs", "Print a step's log", k_state_dir | k_one_step, command_logs},
    {"fetch", "Download a file: resumable, verified, over several connections", k_fetch, command_fetch},
    {"passwd", "Print a Jupyter password hash (sha1: or argon2:) for a password read from the terminal or stdin",
     k_passwd, command_passwd},
    {"cert", "Make a self-signed TLS certificate for Jupyter (EC P-256 or RSA >= 2048, SHA-256, subjectAltName)",
     k_cert, command_cert},
    {"idle-check", "Power the VM off when it has been idle for idle_shutdown.minutes (run by cs231n-agent-idle.timer)",
     k_config | k_state_dir | k_json | k_idle, command_idle_check},
    {"schema", "Print the config schema as the Markdown table of the README", 0, command_schema},
    {"version", "Print the version (-v: also libcurl and OpenSSL)", 0, command_version},
};

void add_options(CLI::App& command, Options& options, unsigned which) {
  if (which & k_root) {
    command.add_option("--root", options.root, "Root of the target system; every path is read under it")->capture_default_str();
  }
  if (which & k_config) command.add_option("--config", options.config_file, "Config file (JSON), merged over the profile defaults");
  if (which & k_state_dir) {
    command.add_option("--state-dir", options.state_dir,
                       "Where the run state, the step logs, the run lock and the agent's secrets (the Jupyter password hash, its API "
                       "token) live")
        ->capture_default_str();
  }
  if (which & k_cache_dir) {
    command.add_option("--cache-dir", options.cache_dir,
                       "Where verified downloads are kept for reuse (the installers, NVIDIA's keyring package, the datasets and "
                       "their pins)")
        ->capture_default_str();
  }
  if (which & k_json) command.add_flag("--json", options.json, "Machine-readable output");
  if (which & k_selection) {
    command.add_option("--only", options.only, "Run just these steps (comma-separated)")->delimiter(',');
    command.add_option("--skip", options.skip, "Leave these steps out (comma-separated)")->delimiter(',');
    command.add_flag("--dry-run", options.dry_run, "Print what would run and change nothing");
    command.add_option("--workers", options.workers, "Steps run at once")->capture_default_str()->check(CLI::Range(1, 16));
    command.add_flag("--yes", options.yes, "Agree in advance to change a machine that is not a GCE VM");
    command.add_flag("--force", options.force, "Replace a newer installed agent with this one");
  }
  if (which & k_reboot) {
    command.add_flag("--no-reboot", options.no_reboot, "Stop with exit code 3 instead of rebooting");
    command.add_option("--reboot-command", options.reboot_command, "Command that reboots (default: systemctl reboot)");
    command.add_option("--boot-id-file", options.boot_id_file, "Where the boot id is read (default: /proc/sys/kernel/random/boot_id)");
  }
  if (which & k_wait) command.add_flag("--wait", options.wait, "Wait for another active run to end instead of exiting with 5");
  if (which & k_timeout) command.add_option("--timeout", options.timeout_s, "With --wait: give up after this many seconds");
  if (which & k_steps) {
    command.add_option("steps", options.step_names, "Steps whose results to forget");
    command.add_flag("--all", options.all, "Forget every recorded result");
  }
  if (which & k_one_step) command.add_option("step", options.step_names, "The step")->required()->expected(1);
  if (which & k_passwd) {
    command.add_option("--algorithm", options.algorithm, "sha1 (every notebook version) or argon2 (notebook >= 6.1)")
        ->capture_default_str()
        ->check(CLI::IsMember({"sha1", "argon2"}));
  }
  if (which & k_cert) {
    command.add_option("--out", options.out_dir, "Folder for jupyter.pem and jupyter.key (0600)")->required();
    command.add_option("--ip", options.ips, "An IP address for the subjectAltName (127.0.0.1 is always there)");
    command.add_option("--dns", options.dns_names, "A host name for the subjectAltName (the hostname is always there)");
    command.add_option("--days", options.days, "Validity, at most 825 days")->capture_default_str();
    command.add_option("--key", options.key_type, "ec-p256, rsa-2048 or rsa-3072 (smaller RSA keys are refused)")->capture_default_str();
  }
  if (which & k_idle) {
    command.add_flag("--dry-run", options.dry_run, "Read every signal and say what would happen; record, warn and power off nothing");
    command.add_option("--now", options.now, "For tests: the UTC time this check takes as now")->group("");
  }
  if (which & k_fetch) {
    command.add_option("url", options.url, "http:// or https:// URL")->required();
    command.add_option("-o,--output", options.output, "File to write (via FILE.part and FILE.part.json)")->required();
    auto* sha256 = command.add_option("--sha256", options.sha256, "Expected sha256 (lowercase hex)");
    command.add_option("--md5", options.md5, "Expected md5 (lowercase hex)")->excludes(sha256);
    command.add_option("--connections", options.connections, "Connections for one file")->capture_default_str()->check(CLI::Range(1, 16));
    command.add_option("--retries", options.retries, "Retries after a failure without progress")->capture_default_str()->check(CLI::Range(0, 100));
    command.add_option("--ca-file", options.ca_file, "Trust this CA bundle instead of the system's (tests, private mirrors)");
  }
  command.add_option("--log-file", options.log_file,
                     (which & k_writes_log) ? "Log file, rotated at 5 MiB (default: /var/log/cs231n-agent.log)"
                                            : "Also log to this file (rotated at 5 MiB)");
  command.add_flag("-v,--verbose", options.verbosity, "More detail; twice for even more");
}

}  // namespace

std::string exit_code_table() {
  std::string table = "Exit codes:\n";
  for (int code = 0; code <= static_cast<int>(ExitCode::interrupted); ++code) {
    table += "  " + std::to_string(code) + "  " + std::string(describe(static_cast<ExitCode>(code))) + "\n";
  }
  return table;
}

int run_cli(const std::vector<std::string>& arguments) {
  CLI::App app("cs231n-agent " CS231N_VERSION ": turns a fresh Ubuntu VM into a ready cs231n machine", "cs231n-agent");
  app.require_subcommand(1);
  app.footer(exit_code_table());
  Options options;
  std::vector<std::pair<CLI::App*, const CommandSpec*>> commands;
  for (const auto& spec : k_commands) {
    auto* command = app.add_subcommand(spec.name, spec.description);
    add_options(*command, options, spec.options);
    command->footer(exit_code_table());
    // Reported below, in the order given (CLI11's own message lists them backwards).
    command->allow_extras();
    commands.emplace_back(command, &spec);
  }

  if (!arguments.empty() && !arguments.front().starts_with("-")) {
    const bool known = std::ranges::any_of(k_commands, [&](const CommandSpec& spec) { return arguments.front() == spec.name; });
    if (!known) {
      std::vector<std::string> names;
      for (const auto& spec : k_commands) names.emplace_back(spec.name);
      std::string message = "unknown command \"" + arguments.front() + "\"";
      if (auto guess = util::closest_match(arguments.front(), names)) message += "; did you mean " + *guess + "?";
      throw Error(ExitCode::usage, message + " (commands: " + util::join(names, ", ") + ")");
    }
  }
  std::vector<const char*> argv{"cs231n-agent"};
  for (const auto& argument : arguments) argv.push_back(argument.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) {  // --help, of the program or of a command
      for (const auto& [command, spec] : commands) {
        if (command->parsed()) {
          std::cout << command->help("cs231n-agent");
          return 0;
        }
      }
      std::cout << app.help();
      return 0;
    }
    throw Error(ExitCode::usage, std::string(error.what()) + "; see cs231n-agent --help");
  }

  for (const auto& [command, spec] : commands) {
    if (command->parsed()) {
      if (const auto extra = command->remaining(); !extra.empty()) {
        throw Error(ExitCode::usage, "unexpected argument" + std::string(extra.size() > 1 ? "s" : "") + " " +
                                         util::join(extra, " ") + "; see cs231n-agent " + spec->name + " --help");
      }
      if (options.log_file.empty() && (spec->options & k_writes_log) && !options.dry_run) options.log_file = k_default_log_file;
      setup_logging(options.verbosity, options.log_file);
      return spec->handler(options);
    }
  }
  throw Error(ExitCode::usage, "no command given; see cs231n-agent --help");
}

}  // namespace cs231n::cli
