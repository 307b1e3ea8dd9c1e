#include "agent/util/redact.hpp"
#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class AssignmentsStep : public plan::Step {
 public:
  // A clone left alone for the student's changes catches up on a later run once they are gone.
  AssignmentsStep() : Step({.name = "assignments", .after = {"user", "apt-packages"}, .recheck_when_done = true}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    const std::string ref = config.string("assignments.ref");
    return plan::will_run("clone " + config.string("assignments.repo") + (ref.empty() ? "" : " at " + ref) + " into " +
                          expand_home(context, config.string("assignments.folder")));
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"assignments", context.config.at("assignments")}, {"user", context.facts.user.name}};
  }

  std::vector<plan::ExpectedDownload> expected_downloads(const plan::Context& context) const override {
    return {{"git clone of " + util::redact_credentials(context.config.string("assignments.repo")), std::nullopt,
             "not known here (git says only while it fetches)"}};
  }

  // Done when the folder is a clone of the configured repository, on the configured branch or tag.
  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    const std::string folder = expand_home(run.context(), run.config().string("assignments.folder"));
    const std::string ref = run.config().string("assignments.ref");
    const auto git_config = files.read_user_file(folder + "/.git/config");
    if (!git_config) return plan::CheckResult{false, ""};
    if (git_config->find("url = " + run.config().string("assignments.repo") + "\n") != std::string::npos &&
        (ref.empty() || on_ref(files, folder, ref))) {
      return plan::CheckResult{true, "cloned into " + folder + (ref.empty() ? "" : " at " + ref)};
    }
    // A clone that should follow another repository or ref, but holds the student's changes, is
    // left alone: their work matters more than the update.
    auto changes = local_changes(run, folder);
    if (!changes) return std::unexpected(changes.error());
    if (*changes) {
      run.note("warning: " + folder + " has local changes; leaving it as it is");
      return plan::CheckResult{true, "warning: " + folder +
                                         " has local changes, so it was not updated; commit or stash them "
                                         "and run again"};
    }
    return plan::CheckResult{false, ""};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto& config = run.config();
    const std::string folder = expand_home(run.context(), config.string("assignments.folder"));
    const std::string repo = config.string("assignments.repo");
    const std::string ref = config.string("assignments.ref");
    const auto& files = run.system().files();
    const auto git = [&](std::vector<std::string> arguments) {
      arguments.insert(arguments.begin(), {"git", "-C", folder});
      auto command = as_user(run, arguments);
      command.env = {{"GIT_TERMINAL_PROMPT", "0"}};  // a private repo must fail, not wait for a password
      return command;
    };
    if (files.exists(folder + "/.git")) {
      auto changes = local_changes(run, folder);
      if (!changes) return std::unexpected(changes.error());
      if (*changes) {
        return util::fail(folder + " has local changes, so it was not brought to " + repo +
                          (ref.empty() ? "" : " at " + ref) + "; commit or stash them (git -C " + folder +
                          " stash), then run again");
      }
      for (const auto& arguments : std::vector<std::vector<std::string>>{{"remote", "set-url", "origin", repo},
                                                                         {"fetch", "--tags", "origin"}}) {
        if (auto done = run.run(git(arguments)); !done) return std::unexpected(done.error());
      }
      if (!ref.empty()) {
        if (auto switched = run.run(git({"checkout", ref})); !switched) return std::unexpected(switched.error());
      }
      // Only fast-forwards: local commits are never thrown away. A tag (detached HEAD) stays put.
      if (files.read_user_file_trimmed(folder + "/.git/HEAD").value_or("").starts_with("ref: ")) {
        if (auto merged = run.run(git({"merge", "--ff-only", "@{upstream}"})); !merged)
          return std::unexpected(merged.error());
      }
      return plan::ApplyResult{};
    }
    if (files.exists(folder) && !files.list(folder).value_or(std::vector<std::string>{}).empty()) {
      return util::fail(folder + " exists and is not a git clone; move it away or set assignments.folder");
    }
    std::vector<std::string> clone{"git", "clone"};
    if (!ref.empty()) clone.insert(clone.end(), {"--branch", ref});
    clone.insert(clone.end(), {"--", repo, folder});
    auto command = as_user(run, clone);
    command.env = {{"GIT_TERMINAL_PROMPT", "0"}};
    if (auto cloned = run.run(command); !cloned) {
      return util::fail("cannot clone " + repo + ": " + cloned.error().message + "; check assignments.repo");
    }
    return plan::ApplyResult{};
  }

 private:
  // Changes to tracked files; untracked ones (the datasets, the agent's markers) do not count.
  static util::Result<bool> local_changes(const plan::StepRun& run, const std::string& folder) {
    auto status = as_user(run, {"git", "-C", folder, "status", "--porcelain", "--untracked-files=no"});
    status.capture_stdout = true;
    auto result = run.run(status);
    if (!result) return std::unexpected(result.error());
    return !result->stdout_text.empty();
  }

  // HEAD is the branch `ref`, or a detached HEAD at the tag `ref`.
  static bool on_ref(const os::Files& files, const std::string& folder, const std::string& ref) {
    const auto head = files.read_user_file_trimmed(folder + "/.git/HEAD").value_or("");
    if (head == "ref: refs/heads/" + ref) return true;
    if (head.starts_with("ref: ")) return false;
    if (auto tag = files.read_user_file_trimmed(folder + "/.git/refs/tags/" + ref)) return *tag == head;
    for (const auto& line : util::lines(files.read_user_file(folder + "/.git/packed-refs", 64u << 20).value_or(""))) {
      if (line == head + " refs/tags/" + ref) return true;
    }
    return false;
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_assignments_step() { return std::make_unique<AssignmentsStep>(); }

}  // namespace cs231n::steps
