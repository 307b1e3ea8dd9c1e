#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class AssignmentsStep : public plan::Step {
 public:
  std::string name() const override { return "assignments"; }
  std::vector<std::string> after() const override { return {"user", "apt-packages"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    const std::string ref = config.string("assignments.ref");
    return plan::will_run("clone " + config.string("assignments.repo") + (ref.empty() ? "" : " at " + ref) + " into " +
                          expand_home(context, config.string("assignments.folder")));
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"assignments", context.config.at("assignments")}, {"user", context.facts.user.name}};
  }

  // Done when the folder is a clone of the configured repository.
  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const std::string folder = expand_home(run.context(), run.config().string("assignments.folder"));
    const auto git_config = run.system().files().read(folder + "/.git/config");
    if (!git_config || git_config->find("url = " + run.config().string("assignments.repo") + "\n") == std::string::npos) {
      return plan::CheckResult{false, ""};
    }
    return plan::CheckResult{true, "cloned into " + folder};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto& config = run.config();
    const std::string folder = expand_home(run.context(), config.string("assignments.folder"));
    const std::string repo = config.string("assignments.repo");
    const std::string ref = config.string("assignments.ref");
    const auto& files = run.system().files();
    if (files.exists(folder + "/.git")) {
      auto status = as_user(run, {"git", "-C", folder, "status", "--porcelain"});
      status.capture_stdout = true;
      auto changes = run.run(status);
      if (!changes) return std::unexpected(changes.error());
      if (!changes->stdout_text.empty()) {
        // Never destroy a student's work.
        run.note("warning: " + folder + " has local changes; leaving it as it is");
        return plan::ApplyResult{};
      }
      if (auto remote = run.run(as_user(run, {"git", "-C", folder, "remote", "set-url", "origin", repo})); !remote) {
        return std::unexpected(remote.error());
      }
      std::vector<std::string> pull{"git", "-C", folder, "pull", "--ff-only", "origin"};
      if (!ref.empty()) pull.push_back(ref);
      if (auto pulled = run.run(as_user(run, pull)); !pulled) return std::unexpected(pulled.error());
      return plan::ApplyResult{};
    }
    if (files.exists(folder) && !files.list(folder).value_or(std::vector<std::string>{}).empty()) {
      return util::fail(folder + " exists and is not a git clone; move it away or set assignments.folder");
    }
    std::vector<std::string> clone{"git", "clone"};
    if (!ref.empty()) clone.insert(clone.end(), {"--branch", ref});
    clone.insert(clone.end(), {"--", repo, folder});
    auto command = as_user(run, clone);
    command.env = {{"GIT_TERMINAL_PROMPT", "0"}};  // a private repo must fail, not wait for a password
    if (auto cloned = run.run(command); !cloned) {
      return util::fail("cannot clone " + repo + ": " + cloned.error().message + "; check assignments.repo");
    }
    return plan::ApplyResult{};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_assignments_step() { return std::make_unique<AssignmentsStep>(); }

}  // namespace cs231n::steps
