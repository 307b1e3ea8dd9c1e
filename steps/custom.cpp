#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

// A custom step's definition carries only its name and predecessors: no shared resource, no
// per-instance state, version 1 (a changed definition changes the fingerprint by itself).
plan::StepInfo info_of(const nlohmann::json& definition) {
  return {.name = definition.at("name").get<std::string>(),
          .after = definition.value("after", std::vector<std::string>{})};
}

// A site's own step from config "steps", the way cloud-init users add runcmd.
class CustomStep : public plan::Step {
 public:
  explicit CustomStep(nlohmann::json definition) : Step(info_of(definition)), m_definition(std::move(definition)) {}

  plan::Decision decide(const plan::Context& context) const override {
    std::string summary =
        "run " + util::join(argv("run"), " ") + " as " + (as_target() ? context.facts.user.name : std::string("root"));
    if (m_definition.contains("check")) summary += " unless " + util::join(argv("check"), " ") + " succeeds";
    if (m_definition.value("reboot", false)) summary += ", then reboot";
    if (as_target() && !context.facts.user.error.empty()) return plan::refused(context.facts.user.error, summary);
    return plan::will_run(summary);
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"definition", m_definition}, {"user", as_target() ? context.facts.user.name : "root"}};
  }

  // Without a "check" the step is never "already done": it runs once and is then recorded done.
  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    if (!m_definition.contains("check")) return plan::CheckResult{false, "", false};
    auto result = run.probe(command("check", run));
    if (!result) return std::unexpected(result.error());
    if (result->ok()) return plan::CheckResult{true, util::join(argv("check"), " ") + " succeeded"};
    if (result->cancelled || result->timed_out) return util::fail("check " + result->describe());
    return plan::CheckResult{false, ""};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    auto result = run.run(command("run", run));
    if (!result) return std::unexpected(result.error());
    return plan::ApplyResult{m_definition.value("reboot", false)};
  }

 private:
  bool as_target() const { return m_definition.value("user", std::string("root")) == "target"; }
  std::vector<std::string> argv(const char* key) const { return m_definition.at(key).get<std::vector<std::string>>(); }

  os::Command command(const char* key, const plan::StepRun& run) const {
    os::Command command;
    command.argv = argv(key);
    if (as_target()) command.user = run.facts().user.name;
    if (m_definition.contains("env")) command.env = m_definition.at("env").get<std::map<std::string, std::string>>();
    return command;
  }

  nlohmann::json m_definition;
};

}  // namespace

std::unique_ptr<plan::Step> make_custom_step(const nlohmann::json& definition) {
  return std::make_unique<CustomStep>(definition);
}

}  // namespace cs231n::steps
