#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class IdleShutdownStep : public plan::Step {
 public:
  std::string name() const override { return "idle-shutdown"; }
  std::vector<std::string> after() const override { return {}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    if (!config.boolean("idle_shutdown.enabled")) return plan::skipped("idle_shutdown.enabled is false");
    if (!context.facts.gce) return plan::skipped("not a GCE VM: this machine is never powered off for being idle");
    return plan::will_run("power the VM off after " + std::to_string(config.integer("idle_shutdown.minutes")) +
                          " idle minutes (no busy kernel, no SSH session, idle GPU and CPU)");
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return context.config.at("idle_shutdown");
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& /*run*/) const override {
    return plan::CheckResult{false, "", false};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_idle_shutdown_step() { return std::make_unique<IdleShutdownStep>(); }

}  // namespace cs231n::steps
