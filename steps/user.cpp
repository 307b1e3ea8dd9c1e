#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class UserStep : public plan::Step {
 public:
  UserStep() : Step({.name = "user"}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto& user = context.facts.user;
    if (context.facts.instance && context.facts.instance->os_login && user.source != "config") {
      return plan::refused(
          "OS Login is enabled on this VM (metadata enable-oslogin), so accounts come from Google and not "
          "/etc/passwd; set \"user\" in the config or the cs231n-user metadata attribute to the account to set up");
    }
    if (!user.error.empty()) return plan::refused(user.error);
    if (user.account)
      return plan::will_run("use account " + user.name + " (uid " + std::to_string(user.account->uid) + ")");
    return plan::will_run("create account " + user.name + " (home /home/" + user.name + ", bash)");
  }

  nlohmann::json inputs(const plan::Context& context) const override { return {{"user", context.facts.user.name}}; }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& name = run.facts().user.name;
    if (os::Accounts::load(run.system().files()).find_user(name))
      return plan::CheckResult{true, "account " + name + " exists"};
    return plan::CheckResult{false, ""};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto& name = run.facts().user.name;
    os::Command command;
    command.argv = {"useradd", "--create-home", "--shell", "/bin/bash", "--", name};
    auto result = run.run(command);
    // The GCE guest agent creates accounts at the first SSH login; if it won the race, the account
    // now exists and that is success. An existing account is never modified.
    if (!result && !os::Accounts::load(run.system().files()).find_user(name)) return std::unexpected(result.error());
    return plan::ApplyResult{};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_user_step() { return std::make_unique<UserStep>(); }

}  // namespace cs231n::steps
