#include <array>

#include "agent/util/strings.hpp"
#include "steps/apt.hpp"
#include "steps/common.hpp"
#include "steps/gpu_common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

constexpr const char* k_keyring_package = "cuda-keyring";
// The current keyring package first; repos NVIDIA stopped updating may carry only the first one
// (unverified for ubuntu1604/ubuntu1804).
constexpr std::array<const char*, 2> k_keyring_debs{"cuda-keyring_1.1-1_all.deb", "cuda-keyring_1.0-1_all.deb"};
// The tutorial's list (added with apt-key and the key NVIDIA rotated in 2022): apt fails on it
// with NO_PUBKEY A4B469963BF863CC, which would break every apt-get update after ours.
constexpr const char* k_tutorial_list = "/etc/apt/sources.list.d/cuda.list";

std::string repo_url(const plan::Context& context, const std::string& repo) {
  return context.config.string("gpu.repo_url") + "/" + repo + "/x86_64/";
}

// What cuda-keyring installed, read from dpkg rather than assumed: NVIDIA has renamed these before.
struct KeyringFiles {
  std::vector<std::string> lists;
  std::vector<std::string> keyrings;
};

KeyringFiles keyring_files(const os::Files& files) {
  KeyringFiles found;
  const auto listed = files.read(std::string("/var/lib/dpkg/info/") + k_keyring_package + ".list").value_or("");
  for (const auto& path : util::lines(listed)) {
    if (path.starts_with("/etc/apt/sources.list.d/") && (path.ends_with(".list") || path.ends_with(".sources"))) {
      found.lists.push_back(path);
    }
    if (path.ends_with(".gpg") && path.find("keyring") != std::string::npos) found.keyrings.push_back(path);
  }
  return found;
}

class NvidiaRepoStep : public plan::Step {
 public:
  NvidiaRepoStep() : Step({.name = "nvidia-repo", .after = {"apt-packages"}, .resources = {"apt"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    if (auto gate = gpu_gate(gpu_plan)) return *gate;
    std::string summary =
        "add NVIDIA's " + gpu_plan.choice.nvidia_repo + " repository through its cuda-keyring package";
    if (!gpu_plan.choice.repo_warning.empty()) {
      summary += " (" + gpu_plan.choice.repo_warning + "; if apt rejects it, Ubuntu's own packages are used)";
    }
    return plan::will_run(summary);
  }

  nlohmann::json inputs(const plan::Context& context) const override { return gpu_inputs(context); }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    if (files.exists(run.context().paths.nvidia_repo_unusable_file())) {
      return plan::CheckResult{true,
                               "NVIDIA's repository is unusable here: " +
                                   files.read_trimmed(run.context().paths.nvidia_repo_unusable_file()).value_or("")};
    }
    if (!missing_packages(files, {k_keyring_package}).empty()) return plan::CheckResult{false, ""};
    const auto installed = keyring_files(files);
    if (installed.lists.empty() || installed.keyrings.empty()) return plan::CheckResult{false, ""};
    const std::string url = repo_url(run.context(), plan_gpu(run.context()).choice.nvidia_repo);
    for (const auto& list : installed.lists) {
      if (files.read(list).value_or("").find(url) != std::string::npos) {
        return plan::CheckResult{true, "cuda-keyring installed " + list};
      }
    }
    return plan::CheckResult{false, ""};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto gpu_plan = plan_gpu(run.context());
    const std::string url = repo_url(run.context(), gpu_plan.choice.nvidia_repo);
    auto& system = run.system();
    const auto& files = system.files();

    auto deb = download_keyring(run, url, gpu_plan.choice.nvidia_repo);
    if (!deb) return std::unexpected(deb.error());
    if (auto disabled = disable_tutorial_list(run); !disabled) return std::unexpected(disabled.error());
    if (auto waited = wait_for_dpkg(run, std::chrono::minutes(15)); !waited) return std::unexpected(waited.error());
    os::Command install;
    install.argv = {"dpkg", "--force-confdef", "--force-confold", "-i", *deb};
    install.env = {{"DEBIAN_FRONTEND", "noninteractive"}};
    if (auto installed = run.run(install); !installed) return std::unexpected(installed.error());

    const auto installed = keyring_files(files);
    if (installed.lists.empty() || installed.keyrings.empty()) {
      return util::fail("cuda-keyring from " + url +
                        " installed no apt list or keyring; is gpu.repo_url NVIDIA's repository?");
    }
    run.note("cuda-keyring installed " + util::join(installed.lists, ", ") + " and " +
             util::join(installed.keyrings, ", "));

    // apt-get update exits 0 even when one source fails to verify; its messages tell.
    os::Command update;
    update.argv = {"apt-get", "-q", "update"};
    update.env = {{"DEBIAN_FRONTEND", "noninteractive"}};
    update.capture_stdout = true;
    auto updated = run.probe(update);
    if (!updated) return std::unexpected(updated.error());
    const std::string said = updated->stdout_text + "\n" + updated->output_tail;
    run.note(std::string(util::trim(said)));
    const auto problem = repo_problem(said, url);
    if (!problem && updated->ok()) return plan::ApplyResult{};
    if (!problem)
      return util::fail("apt-get update " + updated->describe() + ": " + std::string(util::trim(updated->output_tail)));

    // The repository cannot be used. Take it out again so that apt keeps working for everything else.
    os::Command purge;
    purge.argv = {"dpkg", "--purge", k_keyring_package};
    if (auto purged = run.run(purge); !purged) return std::unexpected(purged.error());
    const std::string reason = "apt rejects NVIDIA's " + gpu_plan.choice.nvidia_repo + " repository (" + *problem +
                               ")" +
                               (gpu_plan.choice.repo_warning.empty() ? "" : "; known: " + gpu_plan.choice.repo_warning);
    if (gpu_plan.choice.driver_source != gpu::DriverSource::ubuntu_signed) {
      return util::fail(
          reason +
          ". The driver for this GPU and OS comes only from that repository; try again later, "
          "or use an Ubuntu 22.04/24.04 image with the GCP kernel, whose own signed drivers need no NVIDIA repo");
    }
    run.note(reason +
             ": falling back to Ubuntu's signed driver packages; PyTorch's wheels bring their own CUDA runtime, "
             "so the CUDA toolkit (nvcc) is left out");
    const auto& paths = run.context().paths;
    if (auto made = files.make_dirs(paths.state_dir, 0700); !made) return std::unexpected(made.error());
    if (auto written = files.write_atomic(paths.nvidia_repo_unusable_file(), reason + "\n", 0644); !written) {
      return std::unexpected(written.error());
    }
    return plan::ApplyResult{};
  }

 private:
  static util::Result<std::string> download_keyring(const plan::StepRun& run, const std::string& url,
                                                    const std::string& repo) {
    util::Result<std::string> first = util::fail("no keyring package name to try");
    for (std::size_t i = 0; i < k_keyring_debs.size(); ++i) {
      auto deb = download_to_cache(run, url + k_keyring_debs[i], repo + "-" + k_keyring_debs[i], "", "");
      if (deb) return deb;
      if (i == 0) first = deb;
      if (deb.error().message.find("HTTP 404") == std::string::npos) break;
      run.note(std::string(k_keyring_debs[i]) + " is not in " + url + ": trying the next keyring package");
    }
    return first;
  }

  // The line of apt-get update's output that says the repository at `url` cannot be used.
  static std::optional<std::string> repo_problem(const std::string& output, const std::string& url) {
    // apt names the repository without its last "/" ("URL  InRelease").
    std::string host_path = url.substr(url.find("://") + 3);
    while (host_path.ends_with('/')) host_path.pop_back();
    for (const auto& line : util::lines(output)) {
      const bool about_repo = line.find(host_path) != std::string::npos;
      const bool failing = line.starts_with("E:") || line.starts_with("W:") || line.starts_with("Err:");
      if (about_repo && failing) return std::string(util::trim(line));
    }
    return std::nullopt;
  }

  static util::Result<void> disable_tutorial_list(const plan::StepRun& run) {
    const auto& files = run.system().files();
    const auto content = files.read(k_tutorial_list);
    if (!content || content->find("developer.download.nvidia.com") == std::string::npos ||
        content->find("signed-by") != std::string::npos) {
      return {};
    }
    run.note(std::string(k_tutorial_list) +
             " is the tutorial's apt-key era list (NVIDIA rotated that key in 2022): renamed to " + k_tutorial_list +
             ".disabled-by-cs231n-agent");
    return files.rename(k_tutorial_list, std::string(k_tutorial_list) + ".disabled-by-cs231n-agent");
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_nvidia_repo_step() { return std::make_unique<NvidiaRepoStep>(); }

}  // namespace cs231n::steps
