#include <array>
#include <map>
#include <optional>

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

// sha256 of NVIDIA's cuda-keyring packages, by "<repo>/<file>". The keyring is installed as root
// with dpkg before apt can check anything NVIDIA signs (the key to check with is inside it), so TLS
// alone would decide what root installs: each file is pinned. Source: Google's GPU installer, which
// pins the copies of NVIDIA's cuda-keyring_1.1-1_all.deb it mirrors (presumably byte-identical):
// GoogleCloudPlatform/compute-gpu-installation, linux/cuda_installer/config.py,
// NVIDIA_KEYRING_SHA256_SUMS, at commit e4d32d90993a17795b9f6bc411d2ae6d767052ca (v1.9.1, 2026-08-05);
// debian11's is from an earlier version of that file (the entry was dropped with Debian 11 support).
// No public source gives one for ubuntu1604/ubuntu1804 or for any cuda-keyring_1.0-1: those are
// refused unless gpu.keyring_sha256 names them.
const std::map<std::string, std::string>& published_keyring_sha256s() {
  static const std::map<std::string, std::string> sums{
      {"ubuntu2004/cuda-keyring_1.1-1_all.deb", "cf5ca9853118b9fb2b78dd2708786e1eb5ab14e39d8738539281429428eb4efe"},
      {"ubuntu2204/cuda-keyring_1.1-1_all.deb", "d93190d50b98ad4699ff40f4f7af50f16a76dac3bb8da1eaaf366d47898ff8df"},
      {"ubuntu2404/cuda-keyring_1.1-1_all.deb", "d2a6b11c096396d868758b86dab1823b25e14d70333f1dfa74da5ddaf6a06dba"},
      {"ubuntu2604/cuda-keyring_1.1-1_all.deb", "f7f474b5f6a4adf987aa587920df00e713285958ef6a913dda1945a544a3099e"},
      {"debian11/cuda-keyring_1.1-1_all.deb", "dfc6e5cdbfc9b4cd1ca8bf6b6eda5d8582ca50d51b7e64ba049b935d52325d58"},
      {"debian12/cuda-keyring_1.1-1_all.deb", "e7f219eab6fe4819cdb5c15b98233dc3420302d9c00883219cd3d896857cf48d"},
      {"debian13/cuda-keyring_1.1-1_all.deb", "dd28f1f6ba0038180d6b23f846cefca1e3de4c9327751665241370bacea452a1"},
  };
  return sums;
}

// The sha256 that `repo`'s `deb` must have: gpu.keyring_sha256 first, then the published table.
std::optional<std::string> keyring_sha256(const config::Config& config, const std::string& repo,
                                          const std::string& deb) {
  const std::string key = repo + "/" + deb;
  const auto& configured = config.at("gpu.keyring_sha256");
  if (configured.contains(key)) return configured.at(key).get<std::string>();
  const auto& published = published_keyring_sha256s();
  if (const auto found = published.find(key); found != published.end()) return found->second;
  return std::nullopt;
}

// The refusal when no keyring file of `repo` has a known sha256: names the config key to set.
std::optional<std::string> unpinned_keyring(const config::Config& config, const std::string& repo) {
  for (const char* deb : k_keyring_debs) {
    if (keyring_sha256(config, repo, deb)) return std::nullopt;
  }
  return "no sha256 is known for NVIDIA's cuda-keyring of the " + repo +
         " repository, and it would be installed as root on TLS alone: set gpu.keyring_sha256 to {\"" + repo + "/" +
         k_keyring_debs[0] + "\": \"<its sha256>\"} (or " + repo + "/" + k_keyring_debs[1] +
         " where the repository has only that) from a source you trust";
}

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
    // APT 3 is known to reject this repository's key: adding it would only install cuda-keyring,
    // fail apt-get update and purge it again. The choice then takes nothing from it.
    if (!gpu_plan.choice.repo_warning.empty()) {
      return plan::skipped("NVIDIA's " + gpu_plan.choice.nvidia_repo + " repository is not added: " +
                           gpu_plan.choice.repo_warning + "; the driver comes from Ubuntu's signed packages");
    }
    if (auto unpinned = unpinned_keyring(context.config, gpu_plan.choice.nvidia_repo)) return plan::refused(*unpinned);
    return plan::will_run("add NVIDIA's " + gpu_plan.choice.nvidia_repo +
                          " repository through its cuda-keyring package; its packages known from " +
                          gpu_plan.repo_source);
  }

  nlohmann::json inputs(const plan::Context& context) const override { return gpu_inputs(context); }

  std::vector<plan::ExpectedDownload> expected_downloads(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    // The keyring package; apt-get update then reads the repo's index, which is not counted.
    if (!gpu_plan.repo || !gpu_plan.repo->details.contains("cuda-keyring"))
      return {{"cuda-keyring", std::nullopt, "not known here (NVIDIA's Packages index is read on GCE VMs)"}};
    return {
        {"cuda-keyring", gpu_plan.repo->details.at("cuda-keyring").size, "the Size: field of NVIDIA's Packages index"}};
  }

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
    const std::string reason = "apt rejects NVIDIA's " + gpu_plan.choice.nvidia_repo + " repository (" + *problem + ")";
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
  // The first keyring package the repository has whose sha256 is known, downloaded and verified
  // (a mismatch is exit 7, before dpkg runs).
  static util::Result<std::string> download_keyring(const plan::StepRun& run, const std::string& url,
                                                    const std::string& repo) {
    util::Result<std::string> first =
        util::fail(unpinned_keyring(run.config(), repo).value_or("no cuda-keyring package to try"));
    bool tried = false;
    for (const char* deb : k_keyring_debs) {
      const auto sha256 = keyring_sha256(run.config(), repo, deb);
      if (!sha256) {
        run.note(std::string(deb) + " of " + repo + " has no known sha256 (gpu.keyring_sha256): not tried");
        continue;
      }
      auto downloaded = download_to_cache(run, url + deb, repo + "-" + deb, *sha256, "");
      if (downloaded) {
        run.note(std::string(deb) + ": sha256 " + *sha256 + " as pinned");
        return downloaded;
      }
      if (!tried) first = downloaded;
      tried = true;
      if (downloaded.error().message.find("HTTP 404") == std::string::npos) break;
      run.note(std::string(deb) + " is not in " + url + ": trying the next keyring package");
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
