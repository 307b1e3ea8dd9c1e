#include "agent/gpu/choose.hpp"

#include <algorithm>

#include "agent/util/strings.hpp"

namespace cs231n::gpu {

namespace {

using util::compare_versions;

// A pick, or why there is none: `return "reason";` reads better than std::unexpected(...) in
// the table's many refusals.
template <typename T>
class PickOr {
 public:
  PickOr(T value) : m_value(std::move(value)) {}
  PickOr(std::string why) : m_why(std::move(why)) {}
  explicit operator bool() const { return m_value.has_value(); }
  const T* operator->() const { return &*m_value; }
  const std::string& error() const { return m_why; }

 private:
  std::optional<T> m_value;
  std::string m_why;
};

bool python_in_range(std::string_view python, const TorchBuild& build) {
  return compare_versions(python, build.python_min) >= 0 && compare_versions(python, build.python_max) <= 0;
}

bool has_variant(const TorchBuild& build, std::string_view variant) {
  return std::ranges::find(build.variants, variant) != build.variants.end();
}

std::string quoted(std::string_view value) { return "\"" + std::string(value) + "\""; }

std::vector<GpuModel> known_gpus(const Request& request) {
  std::vector<GpuModel> models;
  for (const auto& id : request.gpu_ids) {
    if (auto model = find_gpu(id)) models.push_back(*model);
  }
  return models;
}

std::string gpu_list(const Request& request) {
  std::vector<std::string> names;
  for (const auto& id : request.gpu_ids) {
    auto name = gpu_display_name(id);
    if (std::ranges::find(names, name) == names.end()) names.push_back(name);
  }
  return names.empty() ? "the GPU" : "the " + util::join(names, ", ");
}

// Why `release` cannot be used here, and how far it got: 1 for the GPUs, 2 for the OS (a release
// the GPUs could use but NVIDIA does not publish here); the furthest reason says the most.
std::optional<std::pair<int, std::string>> cuda_refusal(const CudaRelease& release, const Request& request) {
  for (const auto& model : known_gpus(request)) {
    if (compare_versions(release.version, model.min_cuda) < 0) {
      return std::pair{1, "the " + std::string(model.name) + " needs CUDA " + std::string(model.min_cuda) +
                              " or newer, not " + std::string(release.version)};
    }
    const int major =
        static_cast<int>(util::parse_uint(release.version.substr(0, release.version.find('.'))).value_or(0));
    if (model.max_cuda_major != 0 && major > model.max_cuda_major) {
      return std::pair{1, "CUDA " + std::string(release.version) + " has no kernels for the " +
                              std::string(model.name) + " (" + std::string(model.architecture) + ": CUDA " +
                              std::to_string(model.max_cuda_major) + ".x at the newest)"};
    }
    if (model.max_driver_branch != 0 && release.min_driver_branch > model.max_driver_branch) {
      return std::pair{1, "CUDA " + std::string(release.version) + " needs driver " +
                              std::to_string(release.min_driver_branch) + " or newer, but the " +
                              std::string(model.name) + " works only up to driver " +
                              std::to_string(model.max_driver_branch)};
    }
  }
  const std::string repo = nvidia_repo_name(request.os_id, request.os_version);
  if (const auto& contents = request.nvidia_repo_contents) {
    if (contents->has(cuda_toolkit_package(release.version))) return std::nullopt;
    return std::pair{2, "NVIDIA's " + repo + " repository has no " + cuda_toolkit_package(release.version) +
                            " (its CUDA toolkits: " + util::join(contents->cuda_toolkits(), ", ") + ")"};
  }
  if (std::ranges::find(release.repos, repo) == release.repos.end()) {
    std::vector<std::string> where;
    for (auto name : release.repos) where.push_back(os_label_of_repo(name));
    return std::pair{2, "CUDA " + std::string(release.version) + " has no repository for " + request.os_label +
                            " (NVIDIA publishes it for " + util::join(where, ", ") + ")"};
  }
  return std::nullopt;
}

struct DriverPick {
  int branch = 0;
  DriverSource source = DriverSource::nvidia_repo;
  bool open_modules = false;
  std::string reason;
};

bool gcp_kernel(const Request& request) { return request.kernel_release.ends_with("-gcp"); }

// APT 3 verifies with sqv, which rejects the SHA1 binding signature of NVIDIA's older key.
bool repo_rejected_by_apt(const Request& request, const OsSupport& os) {
  return os.repo_key_sha1 && !request.apt_version.empty() && compare_versions(request.apt_version, k_apt_with_sqv) >= 0;
}

std::string repo_rejection(const Request& request, const OsSupport& os) {
  return "APT " + request.apt_version + " verifies signatures with sqv, which rejects the SHA1 binding signature of " +
         "NVIDIA's key 3bf863cc that signs the " + std::string(os.nvidia_repo) +
         " repository (NVIDIA/cuda-repo-management#39)";
}

PickOr<DriverPick> pick_driver(const CudaRelease& release, const Request& request) {
  const DriverBranches& branches = driver_branches();
  const int min_branch = release.min_driver_branch;
  int max_branch = 0;
  std::string limiting_gpu;
  bool open = true;
  bool open_only = false;
  for (const auto& model : known_gpus(request)) {
    if (model.max_driver_branch != 0 && (max_branch == 0 || model.max_driver_branch < max_branch)) {
      max_branch = model.max_driver_branch;
      limiting_gpu = model.name;
    }
    open = open && wants_open_modules(model);
    open_only = open_only || model.compute_capability >= k_open_modules_only_from;
  }
  if (open_only && !open) {
    return gpu_list(request) + " need different kernel modules (open for Blackwell, proprietary for the older ones)";
  }
  const auto fits = [&](int branch) { return branch >= min_branch && (max_branch == 0 || branch <= max_branch); };
  const auto os = find_os(request.os_id, request.os_version);
  const std::vector<int> signed_branches = os && gcp_kernel(request) ? os->signed_gcp_branches : std::vector<int>{};
  const bool repo_usable = os && !repo_rejected_by_apt(request, *os);
  const auto& contents = request.nvidia_repo_contents;
  const std::vector<int> known_branches = contents ? contents->driver_branches() : os->repo_driver_branches;
  const std::vector<int> repo_branches = repo_usable ? known_branches : std::vector<int>{};
  const int latest_branch = !contents                             ? os->repo_latest_branch
                            : contents->driver_branches().empty() ? contents->unsuffixed_driver_branch()
                                                                  : 0;
  const std::string limits = "CUDA " + std::string(release.version) + " needs >= " + std::to_string(min_branch) +
                             (max_branch ? ", the " + limiting_gpu + " <= " + std::to_string(max_branch) : "");
  const std::string flavour = open ? "open" : "proprietary";

  DriverPick pick;
  pick.open_modules = open;
  const auto best_of = [&](const std::vector<int>& candidates, int preferred) {
    if (std::ranges::find(candidates, preferred) != candidates.end() && fits(preferred)) return preferred;
    int best = 0;
    for (int branch : candidates) {
      if (fits(branch)) best = std::max(best, branch);
    }
    return best;
  };
  if (request.driver_branch != "auto") {
    const int branch = static_cast<int>(util::parse_uint(request.driver_branch).value_or(0));
    if (max_branch != 0 && branch > max_branch) {
      return "driver branch " + request.driver_branch + " does not work on the " + limiting_gpu +
             " (newest: " + std::to_string(max_branch) + ")";
    }
    if (branch < min_branch) {
      return "CUDA " + std::string(release.version) + " needs driver " + std::to_string(min_branch) +
             " or newer, not " + request.driver_branch;
    }
    pick.branch = branch;
    pick.reason = "driver " + request.driver_branch + " as configured (" + limits + ")";
  } else {
    const int preferred = release.version == "10.0" ? branches.cuda10 : branches.long_term;
    pick.branch = best_of(signed_branches, preferred);
    if (pick.branch == 0) pick.branch = best_of(repo_branches, preferred);
    if (pick.branch == 0 && repo_usable && latest_branch != 0 && fits(latest_branch)) pick.branch = latest_branch;
    if (pick.branch == 0) {
      std::string why = "no driver branch fits CUDA " + std::string(release.version) + " and " + gpu_list(request) +
                        " on " + request.os_label + " (" + limits;
      if (os && !repo_usable) why += "; " + repo_rejection(request, *os);
      if (os && repo_usable && latest_branch != 0 && repo_branches.empty())
        why += "; NVIDIA's " + std::string(os->nvidia_repo) + " repository starts at driver " +
               std::to_string(latest_branch);
      return why + ")";
    }
    const std::string long_term = "; " + std::to_string(branches.long_term) + " is the long-term branch";
    pick.reason = "driver " + std::to_string(pick.branch) + " (" + limits +
                  (pick.branch == branches.long_term ? long_term : "") + ")";
  }
  if (std::ranges::find(signed_branches, pick.branch) != signed_branches.end()) {
    pick.source = DriverSource::ubuntu_signed;
    pick.reason += ", Ubuntu's signed linux-modules-nvidia-" + std::to_string(pick.branch) + "-server" +
                   (open ? "-open" : "") + " for kernel " + request.kernel_release + " (" + flavour + " modules)";
    return pick;
  }
  if (!repo_usable) {
    return "driver " + std::to_string(pick.branch) + " would come from NVIDIA's repository, but " +
           (os ? repo_rejection(request, *os) : "there is none for " + request.os_label);
  }
  if (std::ranges::find(repo_branches, pick.branch) != repo_branches.end()) {
    // cuda-drivers-<branch> brings the proprietary modules, which drive everything before Blackwell.
    if (open_only) {
      return gpu_list(request) +
             " need NVIDIA's open kernel modules, which cs231n-agent installs from Ubuntu's signed "
             "packages (Ubuntu 22.04, 24.04, 26.04 with the GCP kernel) or as nvidia-open from a "
             "repository without branch packages (Debian 13), not as cuda-drivers-" +
             std::to_string(pick.branch) + " on " + request.os_label;
    }
    pick.source = DriverSource::nvidia_repo;
    pick.open_modules = false;
    pick.reason += ", cuda-drivers-" + std::to_string(pick.branch) + " from NVIDIA's repo (DKMS, proprietary modules)";
  } else if (pick.branch == latest_branch) {
    pick.source = DriverSource::nvidia_repo_latest;
    pick.open_modules = open && pick.branch >= k_open_modules_from_branch;
    pick.reason += std::string(", ") + (pick.open_modules ? "nvidia-open" : "cuda-drivers") + " from NVIDIA's " +
                   std::string(os->nvidia_repo) + " repo (DKMS, " + (pick.open_modules ? "open" : "proprietary") +
                   " modules; the repo has no branch packages)";
  } else {
    std::vector<std::string> offered;
    for (int branch : known_branches) offered.push_back(std::to_string(branch));
    return "driver branch " + std::to_string(pick.branch) + " has no cuda-drivers-" + std::to_string(pick.branch) +
           " package in NVIDIA's " + std::string(os->nvidia_repo) + " repository (it has " +
           (offered.empty() ? std::string("no branch packages") : util::join(offered, ", ")) + ")";
  }
  if (request.secure_boot && !request.module_signing_key) {
    return "Secure Boot is on and driver " + std::to_string(pick.branch) +
           " from NVIDIA's repo builds an unsigned module that will not load: stop the VM and turn Secure Boot off "
           "(gcloud compute instances update NAME --no-shielded-secure-boot), or enroll a MOK key and put it in "
           "/var/lib/dkms/mok.key and /var/lib/dkms/mok.pub so DKMS signs the module";
  }
  return pick;
}

struct TorchPick {
  std::string version;
  std::string variant;
};

// A torch wheel that may be installed: from the index (python fits by construction), or from the
// table (its Python range says).
struct TorchCandidate {
  std::string version;
  std::string_view variant;
  std::optional<TorchBuild> build;  // the table's row, when the table knows the version
  bool from_index = false;
};

// The candidates for `variants` (preferred first), newest version first, then by preference.
std::vector<TorchCandidate> torch_candidates(const std::vector<std::string_view>& variants, const Request& request) {
  std::vector<TorchCandidate> candidates;
  for (auto variant : variants) {
    const auto listed = request.torch_versions ? request.torch_versions(variant) : std::nullopt;
    if (listed) {
      for (const auto& version : *listed) {
        if (compare_versions(version, "2") >= 0) candidates.push_back({version, variant, find_torch(version), true});
      }
      // torch 1.x is not in the per-variant indexes (torch_stable.html): the table's rows stay.
      for (const auto& build : torch_builds()) {
        if (build.index == TorchIndex::find_links && has_variant(build, variant))
          candidates.push_back({std::string(build.version), variant, build, false});
      }
      continue;
    }
    for (const auto& build : torch_builds()) {
      if (has_variant(build, variant)) candidates.push_back({std::string(build.version), variant, build, false});
    }
  }
  std::ranges::stable_sort(candidates, [](const TorchCandidate& a, const TorchCandidate& b) {
    return compare_versions(a.version, b.version) > 0;
  });
  return candidates;
}

bool python_fits(const TorchCandidate& candidate, std::string_view python) {
  return candidate.from_index || (candidate.build && python_in_range(python, *candidate.build));
}

// The torch build for one of `variants` (preferred first; "cpu" alone without a GPU) that fits
// the request's Python and runs on its GPUs.
PickOr<TorchPick> pick_torch(const std::vector<std::string_view>& variants, const Request& request) {
  const auto models = known_gpus(request);
  const auto gap_for = [&](const TorchCandidate& candidate) -> std::optional<std::string> {
    if (candidate.variant == "cpu") return std::nullopt;
    for (const auto& model : models) {
      if (!torch_runs_on(candidate.version, candidate.variant, model)) {
        return "torch " + candidate.version + "+" + std::string(candidate.variant) + " does not support the " +
               std::string(model.name) + " (sm_" + std::to_string(model.compute_capability) + ")";
      }
    }
    return std::nullopt;
  };
  const std::string_view first = variants.front();
  const std::string for_variant = first == "cpu" ? std::string("CPU-only") : "CUDA " + cuda_of_variant(first);
  auto candidates = torch_candidates(variants, request);

  if (request.torch != "auto") {
    std::vector<std::string> indexed;
    for (const auto& candidate : candidates) {
      if (candidate.from_index && std::ranges::find(indexed, candidate.version) == indexed.end())
        indexed.push_back(candidate.version);
    }
    std::erase_if(candidates, [&](const TorchCandidate& candidate) { return candidate.version != request.torch; });
    const auto build = find_torch(request.torch);
    if (candidates.empty()) {
      if (!indexed.empty()) {
        std::vector<std::string> names(variants.begin(), variants.end());
        return "PyTorch's index has no torch " + request.torch + " wheel for " + util::join(names, " or ") +
               " and Python " + request.python + " (it has " + util::join(indexed, ", ") + ")";
      }
      if (!build) {
        std::vector<std::string> known;
        for (const auto& each : torch_builds()) known.emplace_back(each.version);
        return "torch " + request.torch + " is not in cs231n-agent's table (" + util::join(known, ", ") + ")";
      }
      std::vector<std::string> own(build->variants.begin(), build->variants.end());
      return "torch " + request.torch + " has no " + for_variant + " build (its builds: " + util::join(own, ", ") + ")";
    }
    std::optional<std::string> first_gap;
    for (const auto& candidate : candidates) {
      if (!python_fits(candidate, request.python)) {
        return "torch " + request.torch + " has no wheel for Python " + request.python + " (it has " +
               std::string(candidate.build->python_min) + "–" + std::string(candidate.build->python_max) + ")";
      }
      auto gap = gap_for(candidate);
      if (!gap) return TorchPick{candidate.version, std::string(candidate.variant)};
      if (!first_gap) first_gap = gap;
    }
    return *first_gap;
  }
  std::optional<std::string> first_gap;
  bool any_for_python = false;
  for (const auto& candidate : candidates) {
    if (!python_fits(candidate, request.python)) continue;
    any_for_python = true;
    auto gap = gap_for(candidate);
    if (!gap) return TorchPick{candidate.version, std::string(candidate.variant)};
    if (!first_gap) first_gap = gap;
  }
  if (!any_for_python) return "no " + for_variant + " torch build has a wheel for Python " + request.python;
  return "no " + for_variant + " torch build supports " + gpu_list(request) + " (" + *first_gap + ")";
}

// The search itself: the first combination that fits, newest CUDA and torch first.
std::expected<Choice, std::string> search(const Request& request) {
  Choice choice;
  if (!request.gpu_path) {
    auto torch = pick_torch({"cpu"}, request);
    if (!torch) return std::unexpected(torch.error());
    choice.torch_version = torch->version;
    choice.torch_variant = "cpu";
    choice.reasons.push_back(request.torch == "auto"
                                 ? "no NVIDIA GPU: the newest CPU-only torch for Python " + request.python
                                 : "no NVIDIA GPU: the CPU-only build of torch " + request.torch);
    return choice;
  }
  std::vector<CudaRelease> candidates;
  // Releases NVIDIA's repo has that the table does not know, with the facts of their major.
  std::vector<CudaRelease> known = cuda_releases();
  if (const auto& contents = request.nvidia_repo_contents) {
    for (const auto& version : contents->cuda_toolkits()) {
      if (find_cuda(version)) continue;
      auto release = cuda_release_of_major(version);
      if (!release.torch_variants.empty()) known.push_back(std::move(release));
    }
    std::ranges::stable_sort(
        known, [](const CudaRelease& a, const CudaRelease& b) { return compare_versions(a.version, b.version) > 0; });
  }
  const auto find_known = [&](const std::string& version) -> std::optional<CudaRelease> {
    for (const auto& release : known) {
      if (release.version == version) return release;
    }
    return std::nullopt;
  };
  if (request.cuda == "auto") {
    candidates = known;
  } else if (auto release = find_known(request.cuda)) {
    candidates.push_back(*release);
  } else {
    std::vector<std::string> versions;
    for (const auto& release : known) versions.push_back(release.version);
    return std::unexpected("CUDA " + request.cuda + " is not a version cs231n-agent knows (" +
                           util::join(versions, ", ") + ")");
  }
  if (request.gce) {
    for (const auto& model : known_gpus(request)) {
      if (model.retired_on_gce) {
        return std::unexpected("the " + std::string(model.name) +
                               " is retired from Compute Engine (https://cloud.google.com/compute/docs/eol/k80-eol): "
                               "create the VM with another GPU (T4, L4, ...)");
      }
    }
  }
  if (nvidia_repo_name(request.os_id, request.os_version).empty()) {
    return std::unexpected("cs231n-agent knows no NVIDIA repository for " + request.os_label + " (it knows " +
                           supported_os_list() + ")");
  }
  // The reason of the candidate that got furthest (CUDA, then driver, then torch) says the most.
  std::string best_reason;
  int best_stage = -1;
  const auto note = [&](int stage, const std::string& reason) {
    if (stage > best_stage) {
      best_stage = stage;
      best_reason = reason;
    }
  };
  for (const auto& release : candidates) {
    if (auto refusal = cuda_refusal(release, request)) {
      note(refusal->first, refusal->second);
      continue;
    }
    const auto driver = pick_driver(release, request);
    if (!driver) {
      note(3, driver.error());
      continue;
    }
    const auto torch = pick_torch(release.torch_variants, request);
    if (!torch) {
      note(4, torch.error());
      continue;
    }
    const auto os = find_os(request.os_id, request.os_version);
    choice.cuda = release.version;
    choice.driver_branch = driver->branch;
    choice.driver_source = driver->source;
    choice.open_modules = driver->open_modules;
    choice.nvidia_repo = os->nvidia_repo;
    if (repo_rejected_by_apt(request, *os)) choice.repo_warning = repo_rejection(request, *os);
    choice.torch_version = torch->version;
    choice.torch_variant = torch->variant;
    const std::string fits = gpu_list(request) + ", " + request.os_label + " and Python " + request.python;
    choice.reasons.push_back(request.cuda == "auto" ? "CUDA " + choice.cuda + ": the newest that " + fits + " allow"
                                                    : "CUDA " + choice.cuda + " as configured; " + fits + " allow it");
    choice.reasons.push_back(driver->reason);
    choice.reasons.push_back(request.torch == "auto"
                                 ? "the newest torch for CUDA " + choice.cuda + " that supports " + gpu_list(request) +
                                       " and Python " + request.python
                                 : "torch " + request.torch + " as configured, its CUDA " + choice.cuda + " build");
    return choice;
  }
  return std::unexpected(best_reason);
}

std::string describe_choice(const Choice& choice) {
  std::string text;
  if (!choice.cuda.empty()) text = "CUDA " + choice.cuda + ", driver " + std::to_string(choice.driver_branch) + ", ";
  return text + "torch " + choice.torch_version + "+" + choice.torch_variant;
}

// The nearest request that works, as advice: relax the explicit settings one at a time, then
// together, then the env's Python.
std::string suggest(const Request& request) {
  struct Relaxation {
    std::string advice;
    Request request;
  };
  std::vector<Relaxation> relaxations;
  const auto relaxed = [&](auto change, std::string advice) {
    Request copy = request;
    change(copy);
    relaxations.push_back({std::move(advice), std::move(copy)});
  };
  if (request.driver_branch != "auto")
    relaxed([](Request& r) { r.driver_branch = "auto"; }, "set gpu.driver_branch to \"auto\"");
  if (request.cuda != "auto") relaxed([](Request& r) { r.cuda = "auto"; }, "set gpu.cuda to \"auto\"");
  if (request.torch != "auto") relaxed([](Request& r) { r.torch = "auto"; }, "set pytorch.version to \"auto\"");
  relaxed([](Request& r) { r.cuda = r.torch = r.driver_branch = "auto"; },
          "set gpu.cuda, gpu.driver_branch and pytorch.version to \"auto\"");
  for (auto python : {"3.12", "3.11", "3.10", "3.9", "3.7"}) {
    if (python == request.python) continue;
    relaxed([python](Request& r) { r.python = python; }, std::string("set conda_env.python to ") + quoted(python));
  }
  for (auto python : {"3.12", "3.7"}) {
    if (python == request.python) continue;
    relaxed(
        [python](Request& r) {
          r.cuda = r.torch = r.driver_branch = "auto";
          r.python = python;
        },
        std::string("set gpu.cuda, gpu.driver_branch and pytorch.version to \"auto\" and conda_env.python to ") +
            quoted(python));
  }
  // Another image: the supported LTS releases, newest first (an older one for GPUs the newer repos
  // have no driver for, like the K80's 470).
  for (auto version : {"24.04", "22.04", "20.04"}) {
    relaxed(
        [version](Request& r) {
          r.os_id = "ubuntu";
          r.os_version = version;
          r.os_label = std::string("Ubuntu ") + version;
          r.kernel_release = "6.8.0-1015-gcp";  // any GCP kernel
          r.apt_version.clear();
          r.cuda = r.torch = r.driver_branch = "auto";
          r.python = "3.12";
        },
        std::string("use an Ubuntu ") + version + " image and profile `current`");
  }
  for (const auto& relaxation : relaxations) {
    if (auto choice = search(relaxation.request))
      return relaxation.advice + " (here: " + describe_choice(*choice) + ")";
  }
  return "";
}

}  // namespace

std::string Refusal::message() const { return suggestion.empty() ? reason : reason + "; " + suggestion; }

std::expected<Choice, Refusal> choose(const Request& request) {
  auto found = search(request);
  if (found) return *found;
  return std::unexpected(Refusal{found.error(), suggest(request)});
}

TorchInstall torch_install(const Choice& choice, std::string_view base_url) {
  const auto build = find_torch(choice.torch_version);
  const std::string base(base_url);
  TorchInstall install;
  const bool plain = build && build->plain_variant == choice.torch_variant;
  install.requirement = "torch==" + choice.torch_version + (plain ? "" : "+" + choice.torch_variant);
  if (build && build->index == TorchIndex::find_links) {
    install.index_args = {"-f", base + "/torch_stable.html"};
  } else {
    install.index_args = {"--index-url", base + "/" + choice.torch_variant};
  }
  return install;
}

}  // namespace cs231n::gpu
