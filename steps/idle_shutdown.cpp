#include "agent/idle/check.hpp"
#include "agent/idle/units.hpp"
#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

constexpr const char* k_unit_dir = "/etc/systemd/system";

std::string unit_path(const std::string& name) { return std::string(k_unit_dir) + "/" + name; }

// Either unit file, or the timer's enable link, is there.
bool installed(const os::Files& files) {
  return files.stat(unit_path(idle::k_idle_service)) || files.stat(unit_path(idle::k_idle_timer)) ||
         files.stat(std::string(k_unit_dir) + "/timers.target.wants/" + idle::k_idle_timer);
}

class IdleShutdownStep : public plan::Step {
 public:
  IdleShutdownStep() : Step({.name = "idle-shutdown", .version = 2}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    if (!context.facts.gce) return plan::skipped("not a GCE VM: this machine is never powered off for being idle");
    if (!config.boolean("idle_shutdown.enabled")) {
      if (installed(context.system.files())) {
        return plan::will_run("idle_shutdown.enabled is false: stop and remove " + std::string(idle::k_idle_timer));
      }
      return plan::skipped("idle_shutdown.enabled is false");
    }
    return plan::will_run("install " + std::string(idle::k_idle_timer) + ": every " +
                          std::to_string(idle::k_check_interval.count()) +
                          " minutes `cs231n-agent idle-check` powers the VM off after " +
                          std::to_string(config.integer("idle_shutdown.minutes")) +
                          " idle minutes (no busy or recently active Jupyter kernel, no terminal input, GPU below " +
                          std::to_string(config.integer("idle_shutdown.gpu_percent")) + "%, 5-minute load below " +
                          std::to_string(config.integer("idle_shutdown.cpu_load_percent")) + "% of a CPU), warning " +
                          std::to_string(idle::k_warning_lead.count()) + " minutes ahead");
  }

  // The thresholds and minutes are read by each check from the run's config, so they are not
  // inputs: changing them needs no new units.
  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"enabled", context.config.boolean("idle_shutdown.enabled")},
            {"service", idle::idle_service_unit(context.paths)},
            {"timer", idle::idle_timer_unit()}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    if (!run.config().boolean("idle_shutdown.enabled")) {
      if (installed(files)) return plan::CheckResult{false, ""};
      return plan::CheckResult{true, "idle shutdown is off: no " + std::string(idle::k_idle_timer)};
    }
    const auto service = files.read(unit_path(idle::k_idle_service));
    const auto timer = files.read(unit_path(idle::k_idle_timer));
    if (!service || *service != idle::idle_service_unit(run.context().paths) || !timer ||
        *timer != idle::idle_timer_unit()) {
      return plan::CheckResult{false, ""};
    }
    if (run.system().services().systemd_running()) {
      for (const char* verb : {"is-enabled", "is-active"}) {
        auto answer = run.probe(os::Command{{"systemctl", verb, "--quiet", idle::k_idle_timer}});
        if (!answer || !answer->ok()) return plan::CheckResult{false, ""};
      }
    } else if (!files.stat(std::string(k_unit_dir) + "/timers.target.wants/" + idle::k_idle_timer)) {
      return plan::CheckResult{false, ""};
    }
    return plan::CheckResult{true, "idle shutdown after " +
                                       std::to_string(run.config().integer("idle_shutdown.minutes")) +
                                       " idle minutes (" + idle::k_idle_timer + ")"};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    auto& services = run.system().services();
    if (!run.config().boolean("idle_shutdown.enabled")) {
      if (auto removed = services.remove(idle::k_idle_timer, "timers.target"); !removed)
        return std::unexpected(removed.error());
      if (auto removed = services.remove(idle::k_idle_service, ""); !removed) return std::unexpected(removed.error());
      run.note("removed " + std::string(idle::k_idle_timer) + " and " + idle::k_idle_service);
      return plan::ApplyResult{};
    }
    if (auto installed = services.install_unit(idle::k_idle_service, idle::idle_service_unit(run.context().paths));
        !installed) {
      return std::unexpected(installed.error());
    }
    if (auto installed = services.install_unit(idle::k_idle_timer, idle::idle_timer_unit()); !installed) {
      return std::unexpected(installed.error());
    }
    if (auto enabled = services.enable(idle::k_idle_timer, "timers.target", true); !enabled)
      return std::unexpected(enabled.error());
    return plan::ApplyResult{};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_idle_shutdown_step() { return std::make_unique<IdleShutdownStep>(); }

}  // namespace cs231n::steps
