#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

// A site's own step from config "steps", the way cloud-init users add runcmd.
class CustomStep : public plan::Step {
 public:
  explicit CustomStep(nlohmann::json definition) : m_definition(std::move(definition)) {}

  std::string name() const override { return m_definition.at("name").get<std::string>(); }

  std::vector<std::string> after() const override {
    return m_definition.value("after", std::vector<std::string>{});
  }

  plan::Decision decide(const plan::Context& context) const override {
    const bool as_target = m_definition.value("user", std::string("root")) == "target";
    std::string summary = "run " + util::join(m_definition.at("run").get<std::vector<std::string>>(), " ") + " as " +
                          (as_target ? context.facts.user.name : std::string("root"));
    if (m_definition.contains("check")) summary += " unless " + util::join(m_definition.at("check").get<std::vector<std::string>>(), " ") + " succeeds";
    if (m_definition.value("reboot", false)) summary += ", then reboot";
    if (as_target && !context.facts.user.error.empty()) return plan::refused(context.facts.user.error, summary);
    return plan::will_run(summary);
  }

 private:
  nlohmann::json m_definition;
};

}  // namespace

std::unique_ptr<plan::Step> make_custom_step(const nlohmann::json& definition) {
  return std::make_unique<CustomStep>(definition);
}

}  // namespace cs231n::steps
