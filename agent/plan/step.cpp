#include "agent/plan/step.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <tuple>

#include "agent/util/hash.hpp"
#include "agent/util/redact.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::plan {

StepRun::StepRun(const Context& context, std::string step_name, std::filesystem::path log_path,
                 std::chrono::steady_clock::time_point deadline, const std::atomic<bool>* interrupt,
                 std::string process_marker, net::TransferMeter* meter, net::Lane lane,
                 net::ReadyPathClaim* ready_claim)
    : m_context(context),
      m_step_name(std::move(step_name)),
      m_log_path(std::move(log_path)),
      m_deadline(deadline),
      m_interrupt(interrupt),
      m_process_marker(std::move(process_marker)),
      m_meter(meter),
      m_lane(lane),
      m_ready_claim(ready_claim) {}

net::HttpSettings StepRun::http() const {
  net::HttpSettings settings = m_context.http;
  settings.meter = m_meter;
  settings.lane = m_lane;
  return settings;
}

void StepRun::done_downloading() const {
  if (m_ready_claim) m_ready_claim->let_go();
}

void StepRun::downloading_again() const {
  if (m_ready_claim) m_ready_claim->hold();
}

StepRun StepRun::unlogged(const Context& context, std::string step_name, std::chrono::steady_clock::duration timeout,
                          const std::atomic<bool>* interrupt) {
  return StepRun(context, std::move(step_name), "", std::chrono::steady_clock::now() + timeout, interrupt, "");
}

util::Result<os::CommandResult> StepRun::probe(os::Command command) const {
  using namespace std::chrono;
  const auto remaining = duration_cast<milliseconds>(m_deadline - steady_clock::now());
  if (remaining <= milliseconds(0)) return util::fail("step " + m_step_name + " ran out of time (see \"timeouts\")");
  if (command.timeout.count() == 0 || command.timeout > remaining) command.timeout = remaining;
  if (command.log_path.empty()) command.log_path = m_log_path;
  if (!command.cancel) command.cancel = m_interrupt;
  // On 2 vCPUs the toolkit's dpkg and the env's pip install would share the CPUs evenly.
  if (m_lane == net::Lane::after_ready) command.low_priority = true;
  if (!m_process_marker.empty()) command.env.emplace(os::k_process_marker_variable, m_process_marker);
  note("$ " + util::join(command.argv, " ") + (command.user.empty() ? "" : "   (as " + command.user + ")"));
  return system().run(command);
}

util::Result<os::CommandResult> StepRun::run(os::Command command) const {
  const std::string shown = util::join(command.argv, " ");
  auto result = probe(std::move(command));
  if (!result) return result;
  if (result->ok()) return result;
  return std::unexpected(failure_of(shown, *result));
}

util::Failure StepRun::failure_of(const std::string& shown, const os::CommandResult& result) const {
  std::string message = shown + " " + result.describe();
  if (result.timed_out) message += " (the step's time limit; see \"timeouts\")";
  // The line that says what went wrong is often not the last (conda ends with advice, apt
  // with a summary): prefer the last line that looks like an error.
  const auto tail = util::lines(result.output_tail);
  std::string reason;
  for (const auto& line : tail) {
    const auto text = util::trim(line);
    if (text.find("Error") != std::string_view::npos || text.find("error") != std::string_view::npos ||
        text.starts_with("E:") || text.starts_with("fatal:")) {
      reason = std::string(text);
    }
  }
  if (reason.empty() && !tail.empty()) reason = std::string(util::trim(tail.back()));
  if (!reason.empty()) message += ": " + reason;
  return util::Failure{util::redact_credentials(message), 0, 0};
}

void StepRun::note(const std::string& line) const {
  if (m_log_path.empty()) return;
  const int fd = ::open(m_log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  // Command lines and messages carry URLs; their credentials never reach the log.
  const std::string text = util::redact_credentials(line) + "\n";
  std::ignore = ::write(fd, text.data(), text.size());
  ::close(fd);
}

std::string fingerprint(const Step& step, const Context& context) {
  const auto& info = step.info();
  const nlohmann::json material = {{"step", info.name}, {"version", info.version}, {"inputs", step.inputs(context)}};
  return util::sha256_hex(material.dump());
}

}  // namespace cs231n::plan
