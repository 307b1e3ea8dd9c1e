#include "agent/engine/engine.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include <spdlog/spdlog.h>

#include "agent/core/error.hpp"
#include "agent/engine/reboot.hpp"
#include "agent/net/connection_budget.hpp"
#include "agent/net/transfer_meter.hpp"
#include "agent/util/strings.hpp"
#include "agent/util/time.hpp"

namespace cs231n::engine {

namespace {

using Clock = std::chrono::steady_clock;

enum class NodeState { waiting, running, finished };

struct Node {
  const plan::Step* step = nullptr;
  plan::Decision decision;
  std::optional<std::string> fingerprint;  // computed when the step is ready: inputs may come from its predecessors
  std::vector<std::size_t> predecessors;
  bool selected = true;
  NodeState state = NodeState::waiting;
  StepStatus result = StepStatus::pending;
  std::string blocked_by;  // the failed/refused step that stopped it
  Clock::time_point started_at;
  double duration_s = 0;
  std::string detail;
  std::string error;
  int exit_code = 0;  // a more precise exit code for a failure (network, checksum, space)
  bool reboot = false;
  std::unique_ptr<net::TransferMeter> meter;         // the running step's downloads
  bool on_ready_path = false;                        // the ready step or one it comes after, directly or not
  std::unique_ptr<net::ReadyPathClaim> ready_claim;  // running, and counted by the budget's ready path
};

bool counts_as_done(StepStatus status) { return status == StepStatus::done || status == StepStatus::skipped; }

std::chrono::seconds step_timeout(const config::Config& config, const std::string& step) {
  const auto& timeouts = config.at("timeouts");
  if (timeouts.contains(step)) return std::chrono::seconds(timeouts.at(step).get<long long>());
  if (timeouts.contains("default")) return std::chrono::seconds(timeouts.at("default").get<long long>());
  return std::chrono::hours(1);
}

}  // namespace

class Scheduler {
 public:
  Scheduler(const plan::StepList& steps, const plan::Context& context, const StateStore& store, State& state,
            const RunOptions& options, Progress& progress)
      : m_context(context), m_store(store), m_state(state), m_options(options), m_progress(progress) {
    build_nodes(steps);
  }

  RunOutcome run() {
    m_boot_id = read_boot_id(m_context.system, boot_id_path());
    std::unique_lock lock(m_mutex);
    // A run that was ready before a reboot it asked for afterwards is still ready: say so again.
    if (!m_state.run.ready.empty()) announce_ready();
    auto last_tick = Clock::now();
    while (true) {
      if (m_options.interrupt && m_options.interrupt->load() && !m_interrupted) {
        m_interrupted = true;
        m_stop_starting = true;
        m_cancel = true;
        spdlog::warn("interrupted: starting nothing new and ending the running steps");
      }
      start_ready_steps();
      if (m_running == 0 && !any_startable()) break;
      m_wake.wait_for(lock, std::chrono::milliseconds(100));
      if (Clock::now() - last_tick >= std::chrono::seconds(1)) {
        last_tick = Clock::now();
        m_progress.tick(running_steps());
        write_progress();
      }
    }
    lock.unlock();
    for (auto& worker : m_workers) worker.join();
    return finish();
  }

 private:
  void build_nodes(const plan::StepList& steps) {
    const auto ordered = plan::order_steps(steps);
    std::map<std::string, std::size_t> index;
    for (const auto* step : ordered) {
      index[step->info().name] = m_nodes.size();
      Node node;
      node.step = step;
      m_nodes.push_back(std::move(node));
    }
    for (const auto& name : m_options.only) check_known(name, index, "--only");
    for (const auto& name : m_options.skip) check_known(name, index, "--skip");
    const auto refusal = m_context.facts.unsupported_reason();
    for (auto& node : m_nodes) {
      for (const auto& predecessor : node.step->info().after) node.predecessors.push_back(index.at(predecessor));
      const auto& name = node.step->info().name;
      node.selected = (m_options.only.empty() || std::ranges::find(m_options.only, name) != m_options.only.end()) &&
                      std::ranges::find(m_options.skip, name) == m_options.skip.end();
      node.decision = refusal ? plan::refused(*refusal) : node.step->decide(m_context);
    }
    mark_ready_path();
    m_state.run.order.clear();
    for (const auto& node : m_nodes) m_state.run.order.push_back(node.step->info().name);
    // A selected step whose predecessor is left out must find it done already: recorded done
    // with the same inputs, or its check says the system is in the wanted state.
    for (auto& node : m_nodes) {
      if (node.selected) continue;
      node.state = NodeState::finished;
      node.result = StepStatus::pending;
    }
    for (const auto& node : m_nodes) {
      if (!node.selected) continue;
      for (auto p : node.predecessors) {
        auto& predecessor = m_nodes[p];
        if (predecessor.selected || predecessor.decision.action != plan::Action::run) continue;
        if (predecessor.result != StepStatus::done && already_done(predecessor)) predecessor.result = StepStatus::done;
        if (predecessor.result != StepStatus::done) {
          throw Error(ExitCode::usage, "step " + node.step->info().name + " comes after " +
                                           predecessor.step->info().name +
                                           ", which is not selected and not done: add it to --only, or run it first");
        }
      }
    }
  }

  bool already_done(Node& node) {
    if (recorded_done(node)) return true;
    const auto probe =
        plan::StepRun::unlogged(m_context, node.step->info().name, std::chrono::seconds(60), m_options.interrupt);
    const auto check = node.step->check(probe);
    return check && check->done;
  }

  static void check_known(const std::string& name, const std::map<std::string, std::size_t>& index,
                          const char* option) {
    if (index.contains(name)) return;
    std::vector<std::string> names;
    for (const auto& [known, position] : index) names.push_back(known);
    std::string message = std::string(option) + " names " + name + ", which is not a step";
    if (auto guess = util::closest_match(name, names)) message += "; did you mean " + *guess + "?";
    throw Error(ExitCode::usage, message + " (`cs231n-agent plan` lists them)");
  }

  const std::string& fingerprint_of(Node& node) {
    if (!node.fingerprint) node.fingerprint = plan::fingerprint(*node.step, m_context);
    return *node.fingerprint;
  }

  bool recorded_done(Node& node) {
    const auto found = m_state.steps.find(node.step->info().name);
    return found != m_state.steps.end() && found->second.status == StepStatus::done &&
           found->second.fingerprint == fingerprint_of(node);
  }

  bool awaits_reboot_in_this_boot(const Node& node) const {
    return m_state.run.reboot_requested_by == node.step->info().name && m_state.run.reboot_boot_id == m_boot_id;
  }

  std::string boot_id_path() const {
    return m_options.boot_id_file.empty() ? m_context.config.string("reboot.boot_id_file") : m_options.boot_id_file;
  }

  std::string now() const { return util::iso8601(m_context.system.now()); }

  // Called with the mutex held, from the main thread or a worker. A state file that cannot be
  // written (a full disk) ends the run like a failure, never by an exception in a worker thread:
  // the running steps are interrupted, nothing new starts, the file keeps its last good content
  // (write_atomic replaces it whole or not at all) and finish() reports the first such failure.
  void save() {
    if (m_save_failure) return;
    m_state.run.updated = now();
    m_state.run.boot_id = m_boot_id;
    try {
      m_store.save(m_state);
    } catch (const Error& error) {
      m_save_failure = error;
      m_stop_starting = true;
      m_cancel = true;
      spdlog::error("{}: ending the running steps", error.what());
      m_wake.notify_all();
    }
  }

  // Called with the mutex held.
  void start_ready_steps() {
    for (std::size_t i = 0; i < m_nodes.size(); ++i) {
      auto& node = m_nodes[i];
      if (node.state != NodeState::waiting) continue;
      bool ready = true;
      std::string blocker;
      for (auto p : node.predecessors) {
        const auto& predecessor = m_nodes[p];
        if (predecessor.state != NodeState::finished) {
          ready = false;
        } else if (!predecessor.blocked_by.empty()) {
          blocker = predecessor.blocked_by;
        } else if (!counts_as_done(predecessor.result) && predecessor.selected) {
          blocker = predecessor.step->info().name;
        }
      }
      if (!ready) continue;
      if (!blocker.empty()) {
        finish_without_running(node, StepStatus::skipped, "comes after " + blocker + ", which did not finish");
        node.blocked_by = blocker;
        continue;
      }
      if (node.decision.action == plan::Action::skip) {
        finish_without_running(node, StepStatus::skipped, node.decision.reason);
        continue;
      }
      if (node.decision.action == plan::Action::refuse) {
        finish_without_running(node, StepStatus::refused, node.decision.reason);
        continue;
      }
      if (recorded_done(node) && awaits_reboot_in_this_boot(node)) {
        // It applied in this boot and asked for a reboot, but the agent ended before rebooting:
        // what it changed takes effect only after that reboot, so reboot now without applying again.
        finish_without_running(node, StepStatus::done, "applied; takes effect after the reboot it asked for");
        node.reboot = true;
        m_stop_starting = true;
        if (m_reboot_requested_by.empty()) m_reboot_requested_by = node.step->info().name;
        continue;
      }
      if (recorded_done(node) && !node.step->info().recheck_when_done) {
        node.state = NodeState::finished;
        node.result = StepStatus::done;
        node.detail = "done at " + m_state.steps[node.step->info().name].finished;
        continue;
      }
      if (m_stop_starting || m_running >= m_options.workers || !resources_free(node)) continue;
      start(i);
    }
  }

  bool any_startable() const {
    if (m_stop_starting) return false;
    return std::ranges::any_of(m_nodes, [](const Node& node) { return node.state == NodeState::waiting; });
  }

  bool resources_free(const Node& node) const {
    for (const auto& resource : node.step->info().resources) {
      if (m_held.contains(resource)) return false;
    }
    return true;
  }

  // The step that marks ready and everything it waits for: their downloads come first while any
  // of them runs and the run is not ready yet (net::ConnectionBudget's lanes).
  void mark_ready_path() {
    std::vector<std::size_t> pending;
    for (std::size_t i = 0; i < m_nodes.size(); ++i) {
      if (m_nodes[i].step->info().marks_ready) pending.push_back(i);
    }
    while (!pending.empty()) {
      auto& node = m_nodes[pending.back()];
      pending.pop_back();
      if (node.on_ready_path) continue;
      node.on_ready_path = true;
      pending.insert(pending.end(), node.predecessors.begin(), node.predecessors.end());
    }
  }

  net::ConnectionBudget* budget() const { return m_context.http.connections.get(); }

  static void end_ready_path(Node& node) { node.ready_claim.reset(); }

  void finish_without_running(Node& node, StepStatus status, const std::string& detail) {
    node.state = NodeState::finished;
    node.result = status;
    node.detail = detail;
    auto& record = m_state.steps[node.step->info().name];
    record.status = status;
    record.detail = detail;
    record.error.clear();
    save();
    m_progress.finished(node.step->info().name, status, 0, detail);
  }

  void start(std::size_t index) {
    auto& node = m_nodes[index];
    const auto& name = node.step->info().name;
    node.state = NodeState::running;
    node.started_at = Clock::now();
    for (const auto& resource : node.step->info().resources) m_held.insert(resource);
    ++m_running;
    node.meter = std::make_unique<net::TransferMeter>();
    if (node.on_ready_path && m_state.run.ready.empty() && budget())
      node.ready_claim = std::make_unique<net::ReadyPathClaim>(budget());
    auto& record = m_state.steps[name];
    record.status = StepStatus::running;
    record.started = now();
    record.finished.clear();
    record.error.clear();
    record.detail.clear();
    record.boot_id = m_boot_id;
    record.log = m_store.log_path(name);
    save();
    if (m_save_failure) {
      // The state cannot say this step runs, so it does not start.
      node.state = NodeState::finished;
      node.result = StepStatus::interrupted;
      for (const auto& resource : node.step->info().resources) m_held.erase(resource);
      --m_running;
      end_ready_path(node);
      return;
    }
    m_progress.started(name, record.attempts + 1);
    const bool redo = std::ranges::find(m_state.run.redo, name) != m_state.run.redo.end();
    m_workers.emplace_back(
        [this, index, log = record.log, attempt = record.attempts + 1, redo] { work(index, log, attempt, redo); });
  }

  // A worker thread: everything but the bookkeeping runs without the mutex.
  // `redo`: the step belongs to one VM and this is a new one, so its check (which would pass on
  // the files copied from the other VM) is not asked first.
  void work(std::size_t index, const std::string& log, int attempt, bool redo) {
    auto& node = m_nodes[index];
    const auto& step = *node.step;
    const plan::StepRun run(m_context, step.info().name, m_context.system.files().host_path(log),
                            Clock::now() + step_timeout(m_context.config, step.info().name), &m_cancel,
                            m_state.run.id + "/" + step.info().name, node.meter.get(),
                            node.on_ready_path ? net::Lane::ready_path : net::Lane::after_ready,
                            node.ready_claim.get());
    run.note("=== " + now() + " run " + m_state.run.id + ", attempt " + std::to_string(attempt) + ", boot " +
             m_boot_id);
    StepStatus status = StepStatus::failed;
    std::string detail, error;
    int exit_code = 0;
    bool reboot = false;
    auto first = redo ? util::Result<plan::CheckResult>(plan::CheckResult{false, ""}) : step.check(run);
    if (redo) run.note("this step belongs to one VM and this is a new one: applying without checking first");
    if (!first) {
      error = "check failed: " + first.error().message;
    } else if (first->done) {
      status = StepStatus::done;
      detail = first->detail.empty() ? "already in the wanted state" : first->detail;
    } else {
      count_attempt(step.info().name);
      const auto applied = step.apply(run);
      if (!applied) {
        error = applied.error().message;
        exit_code = applied.error().exit_code;
      } else if (applied->reboot) {
        // What it changed takes effect after the reboot (a driver module that cannot load while
        // nouveau holds the GPU): checking now would only see the old state.
        status = StepStatus::done;
        detail = "applied; takes effect after the reboot it asked for";
        reboot = true;
      } else if (auto second = first->checkable ? step.check(run)
                                                : util::Result<plan::CheckResult>(plan::CheckResult{true, "", false});
                 !second) {
        error = "applied, but the check then failed: " + second.error().message;
      } else if (!second->done) {
        error = "applied, but the system is still not in the wanted state";
      } else {
        status = StepStatus::done;
        detail = second->detail;
        reboot = applied->reboot;
      }
    }
    if (status == StepStatus::failed && run.interrupted()) status = StepStatus::interrupted;
    run.note("=== " + std::string(to_string(status)) + (error.empty() ? "" : ": " + error));

    std::lock_guard lock(m_mutex);
    node.state = NodeState::finished;
    node.result = status;
    node.detail = detail;
    node.error = error;
    node.exit_code = exit_code;
    node.reboot = reboot;
    node.duration_s = std::chrono::duration<double>(Clock::now() - node.started_at).count();
    for (const auto& resource : step.info().resources) m_held.erase(resource);
    --m_running;
    end_ready_path(node);
    auto& record = m_state.steps[step.info().name];
    record.status = status;
    record.finished = now();
    record.duration_s = node.duration_s;
    record.error = error;
    record.detail = detail;
    if (status == StepStatus::done) {
      record.fingerprint = fingerprint_of(node);
      std::erase(m_state.run.redo, step.info().name);
    }
    if (reboot) {
      m_stop_starting = true;
      if (m_reboot_requested_by.empty()) {
        m_reboot_requested_by = step.info().name;
        // Saved with the step's record: a run killed before it reboots still knows, in this boot,
        // that the reboot is owed (see awaits_reboot_in_this_boot).
        m_state.run.reboot_requested_by = m_reboot_requested_by;
        m_state.run.reboot_boot_id = m_boot_id;
      }
    }
    const bool ready = status == StepStatus::done && step.info().marks_ready;
    if (ready) m_state.run.ready = now();
    save();
    m_progress.finished(step.info().name, status, node.duration_s, error.empty() ? detail : error);
    if (ready) announce_ready();
    m_wake.notify_all();
  }

  // Called with the mutex held.
  void announce_ready() {
    ReadyEvent event;
    event.seconds = ready_after_s(m_state.run).value_or(0);
    event.url = m_options.jupyter_url;
    for (const auto& node : m_nodes) {
      if (node.selected && node.state != NodeState::finished) event.still_running.push_back(node.step->info().name);
    }
    m_progress.ready(event);
  }

  // Each running step's downloads so far, for `status` (another process): a small file rewritten
  // only when it changes, without the state file's syncs (it is worthless after a crash). Called
  // with the mutex held.
  void write_progress() {
    nlohmann::json steps = nlohmann::json::object();
    for (const auto& node : m_nodes) {
      if (node.state != NodeState::running || !node.meter) continue;
      const auto reading = node.meter->read();
      if (reading.files == 0) continue;
      steps[node.step->info().name] = {{"bytes", reading.done},
                                       {"total", reading.total},
                                       {"files", reading.files},
                                       {"sizes_unknown", reading.sizes_unknown}};
    }
    const std::string text = nlohmann::json{{"run", m_state.run.id}, {"steps", steps}}.dump() + "\n";
    if (text == m_progress_written) return;
    if (m_context.system.files().write_replacing(m_context.paths.progress_file(), text, 0600))
      m_progress_written = text;
  }

  // Attempts count the times apply() ran (a check that finds the work done is not one); saved at
  // once, so that an apply killed before the next transition still counts.
  void count_attempt(const std::string& step) {
    std::lock_guard lock(m_mutex);
    m_state.steps[step].attempts += 1;
    save();
  }

  std::vector<std::pair<std::string, double>> running_steps() const {
    std::vector<std::pair<std::string, double>> running;
    for (const auto& node : m_nodes) {
      if (node.state == NodeState::running) {
        running.emplace_back(node.step->info().name,
                             std::chrono::duration<double>(Clock::now() - node.started_at).count());
      }
    }
    return running;
  }

  RunOutcome finish() {
    RunOutcome outcome;
    const Node* failed = nullptr;
    const Node* refused = nullptr;
    for (const auto& node : m_nodes) {
      if (!node.selected) continue;
      outcome.steps.push_back({node.step->info().name, node.result, node.duration_s, node.detail, node.error,
                               m_store.log_path(node.step->info().name)});
      if (node.result == StepStatus::failed && !failed) failed = &node;
      if (node.result == StepStatus::refused && !refused) refused = &node;
    }
    const auto refusal = m_context.facts.unsupported_reason();
    if (m_save_failure) {
      outcome.state = RunState::failed;
      outcome.code = m_save_failure->code();
      outcome.message = m_save_failure->what();
    } else if (m_interrupted) {
      outcome.state = RunState::interrupted;
      outcome.code = ExitCode::interrupted;
      outcome.message = "interrupted; run `cs231n-agent run` again to continue where it stopped";
    } else if (!m_reboot_requested_by.empty()) {
      auto steps = std::move(outcome.steps);
      outcome = reboot_for({m_reboot_requested_by, m_boot_id, boot_id_path()}, m_state.run, m_context, m_options,
                           [this] { save(); });
      outcome.steps = std::move(steps);
    } else if (failed) {
      outcome.state = RunState::failed;
      outcome.code = failed->exit_code != 0 ? static_cast<ExitCode>(failed->exit_code) : ExitCode::step_failed;
      outcome.message = "step " + failed->step->info().name + " failed: " + failed->error + " (log: " +
                        m_context.system.files().host_path(m_store.log_path(failed->step->info().name)).string() + ")";
    } else if (refusal || refused) {
      outcome.state = RunState::refused;
      outcome.code = ExitCode::refused;
      outcome.message = refusal ? *refusal : "step " + refused->step->info().name + " refused: " + refused->detail;
    } else {
      outcome.state = RunState::done;
      outcome.code = ExitCode::success;
      outcome.message = "every selected step is done";
    }
    m_state.run.state = outcome.state;
    m_state.run.message = outcome.message;
    m_state.run.pid = 0;
    save();
    std::ignore = m_context.system.files().remove(m_context.paths.progress_file());
    return outcome;
  }

  const plan::Context& m_context;
  const StateStore& m_store;
  State& m_state;
  const RunOptions& m_options;
  Progress& m_progress;
  std::vector<Node> m_nodes;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::vector<std::thread> m_workers;
  std::set<std::string> m_held;
  unsigned m_running = 0;
  bool m_stop_starting = false;
  bool m_interrupted = false;
  // What the running steps see as their interrupt flag: the user's interrupt, or a state file
  // that can no longer be written.
  std::atomic<bool> m_cancel = false;
  std::optional<Error> m_save_failure;
  std::string m_reboot_requested_by;
  std::string m_boot_id;
  std::string m_progress_written;
};

std::string read_boot_id(const os::System& system, const std::string& path) {
  return system.files().read_trimmed(path).value_or("");
}

Engine::Engine(const plan::StepList& steps, const plan::Context& context, const StateStore& store, State& state,
               const RunOptions& options, Progress& progress)
    : m_scheduler(std::make_unique<Scheduler>(steps, context, store, state, options, progress)) {}

Engine::~Engine() = default;

RunOutcome Engine::run() { return m_scheduler->run(); }

}  // namespace cs231n::engine
