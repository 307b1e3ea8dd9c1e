#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class UserStep : public plan::Step {
 public:
  std::string name() const override { return "user"; }
  std::vector<std::string> after() const override { return {}; }
  plan::Decision decide(const plan::Context& context) const override {
    const auto& user = context.facts.user;
    if (!user.error.empty()) return plan::refused(user.error);
    if (user.account) {
      return plan::already_done("account " + user.name + " exists (uid " + std::to_string(user.account->uid) + ")",
                                "use account " + user.name);
    }
    return plan::will_run("create account " + user.name + " (home /home/" + user.name + ", bash)");
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_user_step() { return std::make_unique<UserStep>(); }

}  // namespace cs231n::steps
