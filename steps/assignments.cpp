#include "agent/util/hash.hpp"
#include "agent/util/redact.hpp"
#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

// An archive of starter code (assignments.archives), for an empty assignments.repo.
struct Archive {
  std::string name;
  std::string url;
  std::string sha256;  // from the config; else the pin of its first download
  std::string into;    // inside the assignments folder; empty: the folder itself
};

std::vector<Archive> archives_of(const config::Config& config) {
  std::vector<Archive> archives;
  for (const auto& entry : config.at("assignments.archives")) {
    archives.push_back({entry.at("name").get<std::string>(), entry.at("url").get<std::string>(),
                        entry.value("sha256", ""), entry.value("into", "")});
  }
  return archives;
}

class AssignmentsStep : public plan::Step {
 public:
  // A clone left alone for the student's changes catches up on a later run once they are gone.
  AssignmentsStep() : Step({.name = "assignments", .after = {"user", "apt-packages"}, .recheck_when_done = true}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    const std::string folder = expand_home(context, config.string("assignments.folder"));
    if (config.string("assignments.repo").empty()) {
      std::vector<std::string> urls;
      for (const auto& archive : archives_of(config)) urls.push_back(util::redact_credentials(archive.url));
      return plan::will_run("unpack " + util::join(urls, ", ") + " into " + folder +
                            " (no file that is there is overwritten; each sha256 pinned at its first download unless "
                            "given)");
    }
    const std::string ref = config.string("assignments.ref");
    return plan::will_run("clone " + config.string("assignments.repo") + (ref.empty() ? "" : " at " + ref) + " into " +
                          folder);
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    // archives came later: it counts only when set, so that a clone made before is not redone.
    auto assignments = context.config.at("assignments");
    if (assignments.at("archives").empty()) assignments.erase("archives");
    return {{"assignments", assignments}, {"user", context.facts.user.name}};
  }

  std::vector<plan::ExpectedDownload> expected_downloads(const plan::Context& context) const override {
    const std::string repo = context.config.string("assignments.repo");
    if (!repo.empty()) {
      return {{"git clone of " + util::redact_credentials(repo), std::nullopt,
               "not known here (git says only while it fetches)"}};
    }
    std::vector<plan::ExpectedDownload> downloads;
    for (const auto& archive : archives_of(context.config))
      downloads.push_back(expected_file(context, archive.url, std::nullopt));
    return downloads;
  }

  // Done when the folder is a clone of the configured repository, on the configured branch or tag.
  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    const std::string folder = expand_home(run.context(), run.config().string("assignments.folder"));
    if (run.config().string("assignments.repo").empty()) {
      const auto pins = read_download_pins(files, run.context().paths);
      for (const auto& archive : archives_of(run.config())) {
        const auto wanted = marker_text(archive, pins);
        if (!wanted || files.read_user_file(marker_path(folder, archive)).value_or("") != *wanted)
          return plan::CheckResult{false, ""};
      }
      return plan::CheckResult{true, "the course's archives are unpacked in " + folder};
    }
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
    if (files.user_path_exists(folder + "/.git")) {
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
    if (repo.empty()) return unpack_archives(run, folder);
    if (files.user_path_exists(folder)) {
      // Looked at as root, so never through a symlink (which git, as the user, would follow).
      const auto entries = files.list_user_folder(folder);
      if (!entries) {
        return util::fail(entries.error().message + ": make " + folder +
                          " a folder (not a symlink), move it away, or set assignments.folder");
      }
      if (!entries->empty())
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
  static std::string marker_path(const std::string& folder, const Archive& archive) {
    return folder + (archive.into.empty() ? "" : "/" + archive.into) + "/.cs231n-agent-" + archive.name;
  }

  // What the marker beside unpacked files says: the URL (without credentials) and the sha256 the
  // archive was verified with; nullopt while it has none (not downloaded yet).
  static std::optional<std::string> marker_text(const Archive& archive, const nlohmann::json& pins) {
    const std::string sha256 = !archive.sha256.empty() ? archive.sha256 : pinned_sha256(pins, archive.url).value_or("");
    if (sha256.empty()) return std::nullopt;
    return util::redact_credentials(archive.url) + " sha256:" + sha256 + "\n";
  }

  // The course's zips, each held to its sha256 or the pin of its first download, unpacked by the
  // user's own unzip with -n: a file that is there already (the student's work, an earlier term's
  // copy) is never overwritten.
  static util::Result<plan::ApplyResult> unpack_archives(const plan::StepRun& run, const std::string& folder) {
    const auto& files = run.system().files();
    const auto& paths = run.context().paths;
    if (auto made = run.run(as_user(run, {"mkdir", "-p", "--", folder})); !made) return std::unexpected(made.error());
    for (const auto& archive : archives_of(run.config())) {
      if (const auto wanted = marker_text(archive, read_download_pins(files, paths));
          wanted && files.read_user_file(marker_path(folder, archive)).value_or("") == *wanted) {
        continue;
      }
      // Two URLs may end in the same name: the cache name carries a hash of the URL.
      auto cached = download_pinned(run, archive.url,
                                    util::sha256_hex(archive.url).substr(0, 12) + "-" + file_name_of(archive.url),
                                    archive.sha256);
      if (!cached) return std::unexpected(cached.error());
      const std::string destination = folder + (archive.into.empty() ? "" : "/" + archive.into);
      if (auto made = run.run(as_user(run, {"mkdir", "-p", "--", destination})); !made)
        return std::unexpected(made.error());
      if (auto unpacked =
              run.run(as_user(run, {"unzip", "-n", "-q", files.host_path(*cached).string(), "-d", destination}));
          !unpacked) {
        return util::fail("unpacking " + archive.name + " failed: " + unpacked.error().message);
      }
      // As the user, crash-safe, and never blocking on a FIFO the student put there (tee would).
      if (auto written = write_as_user(run, marker_path(folder, archive),
                                       marker_text(archive, read_download_pins(files, paths)).value_or(""), "0644");
          !written)
        return std::unexpected(written.error());
    }
    return plan::ApplyResult{};
  }

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
