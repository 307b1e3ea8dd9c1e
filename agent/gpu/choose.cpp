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
  std::vector<std::string> repo_packages;
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

bool contains(const std::vector<int>& branches, int branch) {
  return std::ranges::find(branches, branch) != branches.end();
}

std::string branch_list(const std::vector<int>& branches) {
  std::vector<std::string> names;
  for (int branch : branches) names.push_back(std::to_string(branch));
  return util::join(names, ", ");
}

// Ubuntu's Canonical-signed modules for this machine: linux-modules-nvidia-<b>-server[-open]-<kernel>
// for the running kernel (they load now), else the flavour's meta linux-modules-nvidia-<b>-server[-open]-gcp,
// which brings the newest GCP kernel's (a reboot starts that kernel). From apt's lists where they
// were read; the table's branches otherwise.
struct SignedModules {
  std::vector<int> running;
  std::vector<int> newer_kernel;
  bool from_archive = false;
  std::vector<std::string> archive_has;  // the archive's packages for this kernel or flavour
};

SignedModules signed_modules(const Request& request, const OsSupport& os, bool open) {
  SignedModules found;
  if (!gcp_kernel(request) || os.signed_gcp_branches.empty()) return found;
  const auto& archive = request.archive_signed_modules;
  if (!archive) {
    found.running = os.signed_gcp_branches;
    return found;
  }
  found.from_archive = true;
  constexpr std::string_view prefix = "linux-modules-nvidia-";
  const std::string flavour = open ? "-server-open-" : "-server-";
  const auto branch_of = [&](std::string_view name, std::string_view suffix) -> int {
    if (!name.starts_with(prefix) || !name.ends_with(std::string(flavour) + std::string(suffix))) return 0;
    const auto digits = name.substr(prefix.size(), name.size() - prefix.size() - flavour.size() - suffix.size());
    return static_cast<int>(util::parse_uint(digits).value_or(0));
  };
  for (const auto& name : *archive) {
    if (const int branch = branch_of(name, request.kernel_release)) found.running.push_back(branch);
    if (name.ends_with("-" + request.kernel_release) || name.ends_with("-gcp")) found.archive_has.push_back(name);
  }
  std::ranges::sort(found.running);
  if (found.running.empty()) {
    for (const auto& name : *archive) {
      // Only the table's branches: the others' metas are transitional packages to another branch.
      if (const int branch = branch_of(name, "gcp"); branch != 0 && contains(os.signed_gcp_branches, branch))
        found.newer_kernel.push_back(branch);
    }
    std::ranges::sort(found.newer_kernel);
  }
  return found;
}

std::string archive_gap(const Request& request, const SignedModules& signed_found, int branch, bool open) {
  const std::string name = "linux-modules-nvidia-" + std::to_string(branch) + (open ? "-server-open-" : "-server-");
  std::vector<std::string> shown(signed_found.archive_has.begin(),
                                 signed_found.archive_has.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(
                                                                        signed_found.archive_has.size(), 8)));
  if (shown.size() < signed_found.archive_has.size()) shown.push_back("...");
  return "Ubuntu's archive (apt's lists, read with apt-cache) has neither " + name + request.kernel_release +
         " for the running kernel nor " + name + "gcp (it has " +
         (shown.empty() ? std::string("no linux-modules-nvidia package for this kernel or its flavour")
                        : util::join(shown, ", ")) +
         "): run `sudo apt-get update` if the lists are old, or set gpu.driver_branch to a branch it has";
}

// NVIDIA's packages that bring the open modules of `branch` from its repo, or none: nvidia-open-<b>
// from R560 on (NVIDIA Driver Installation Guide, "Kernel Modules": `apt-get install nvidia-open-560`
// for Ubuntu and Debian; "All releases beyond driver version 570 will use these packaging
// conventions"), before that nvidia-kernel-open-<b> with cuda-drivers-<b> on Ubuntu (CUDA 12.3's
// installation guide: `apt-get install -y nvidia-kernel-open-545` then `cuda-drivers-545`).
// Read from the repo's Packages index where known, the table's belief otherwise.
constexpr int k_open_meta_from_branch = 560;

std::vector<std::string> repo_open_packages(int branch, const Request& request, const OsSupport& os) {
  const std::string number = std::to_string(branch);
  std::vector<std::string> current{"nvidia-open-" + number};
  std::vector<std::string> older{"nvidia-kernel-open-" + number, "cuda-drivers-" + number};
  if (const auto& contents = request.nvidia_repo_contents) {
    if (contents->has(current[0])) return current;
    if (contents->has(older[0]) && contents->has(older[1])) return older;
    return {};
  }
  if (branch >= k_open_meta_from_branch) return current;
  if (branch >= k_open_modules_from_branch && os.id == "ubuntu") return older;
  return {};
}

PickOr<DriverPick> pick_driver(const CudaRelease& release, const Request& request) {
  const DriverBranches& branches = driver_branches();
  int max_branch = 0;
  int gpu_min_branch = 0;
  std::string limiting_gpu;
  std::string newest_gpu;
  bool open = true;
  bool open_only = false;
  for (const auto& model : known_gpus(request)) {
    if (model.max_driver_branch != 0 && (max_branch == 0 || model.max_driver_branch < max_branch)) {
      max_branch = model.max_driver_branch;
      limiting_gpu = model.name;
    }
    if (model.min_driver_branch > gpu_min_branch) {
      gpu_min_branch = model.min_driver_branch;
      newest_gpu = model.name;
    }
    open = open && wants_open_modules(model);
    open_only = open_only || model.compute_capability >= k_open_modules_only_from;
  }
  if (open_only && !open) {
    return gpu_list(request) + " need different kernel modules (open for Blackwell, proprietary for the older ones)";
  }
  const int min_branch = std::max(release.min_driver_branch, gpu_min_branch);
  const auto fits = [&](int branch) { return branch >= min_branch && (max_branch == 0 || branch <= max_branch); };
  const auto os = *find_os(request.os_id, request.os_version);  // search() refused unknown OSes
  const auto signed_found = signed_modules(request, os, open);
  const bool repo_usable = !repo_rejected_by_apt(request, os);
  const auto& contents = request.nvidia_repo_contents;
  const std::vector<int> cuda_drivers = contents ? contents->driver_branches() : os.repo_driver_branches;
  std::vector<int> known_branches = cuda_drivers;
  if (open) {
    // Branches with only nvidia-open-<b> (no cuda-drivers-<b>) serve the open flavour too.
    for (int branch : contents ? contents->open_branches() : std::vector<int>{})
      if (!contains(known_branches, branch)) known_branches.push_back(branch);
    std::ranges::sort(known_branches);
  }
  const std::vector<int> repo_branches = repo_usable ? known_branches : std::vector<int>{};
  const int latest_branch = !contents                             ? os.repo_latest_branch
                            : contents->driver_branches().empty() ? contents->unsuffixed_driver_branch()
                                                                  : 0;
  std::string limits =
      "CUDA " + std::string(release.version) + " needs >= " + std::to_string(release.min_driver_branch);
  if (gpu_min_branch > release.min_driver_branch)
    limits += ", the " + newest_gpu + " >= " + std::to_string(gpu_min_branch);
  if (max_branch) limits += ", the " + limiting_gpu + " <= " + std::to_string(max_branch);
  const std::string flavour = open ? "open" : "proprietary";

  DriverPick pick;
  pick.open_modules = open;
  const auto best_of = [&](const std::vector<int>& candidates, int preferred) {
    if (contains(candidates, preferred) && fits(preferred)) return preferred;
    int best = 0;
    for (int branch : candidates) {
      if (fits(branch)) best = std::max(best, branch);
    }
    return best;
  };
  const int preferred = release.version == "10.0" ? branches.cuda10 : branches.long_term;
  if (request.driver_branch != "auto") {
    const int branch = static_cast<int>(util::parse_uint(request.driver_branch).value_or(0));
    if (max_branch != 0 && branch > max_branch) {
      return "driver branch " + request.driver_branch + " does not work on the " + limiting_gpu +
             " (newest: " + std::to_string(max_branch) + ")";
    }
    if (branch < release.min_driver_branch) {
      return "CUDA " + std::string(release.version) + " needs driver " + std::to_string(release.min_driver_branch) +
             " or newer, not " + request.driver_branch;
    }
    if (branch < gpu_min_branch) {
      return "the " + newest_gpu + " needs driver " + std::to_string(gpu_min_branch) + " or newer, not " +
             request.driver_branch;
    }
    if (signed_found.from_archive && contains(os.signed_gcp_branches, branch) &&
        !contains(signed_found.running, branch) && !contains(signed_found.newer_kernel, branch))
      return archive_gap(request, signed_found, branch, open);
    pick.branch = branch;
    pick.reason = "driver " + request.driver_branch + " as configured (" + limits + ")";
  } else {
    pick.branch = best_of(signed_found.running, preferred);
    if (pick.branch == 0) pick.branch = best_of(signed_found.newer_kernel, preferred);
    // The table expects signed modules here and apt's lists have none: say so before anything is
    // installed, rather than build unsigned ones or fail in nvidia-driver.
    if (pick.branch == 0 && signed_found.from_archive) {
      if (const int expected = best_of(os.signed_gcp_branches, preferred))
        return archive_gap(request, signed_found, expected, open);
    }
    if (pick.branch == 0) pick.branch = best_of(repo_branches, preferred);
    if (pick.branch == 0 && repo_usable && latest_branch != 0 && fits(latest_branch)) pick.branch = latest_branch;
    if (pick.branch == 0) {
      std::string why = "no driver branch fits CUDA " + std::string(release.version) + " and " + gpu_list(request) +
                        " on " + request.os_label + " (" + limits;
      if (!repo_usable) why += "; " + repo_rejection(request, os);
      if (repo_usable && latest_branch != 0 && repo_branches.empty())
        why += "; NVIDIA's " + std::string(os.nvidia_repo) + " repository starts at driver " +
               std::to_string(latest_branch);
      return why + ")";
    }
    const std::string long_term = "; " + std::to_string(branches.long_term) + " is the long-term branch";
    pick.reason = "driver " + std::to_string(pick.branch) + " (" + limits +
                  (pick.branch == branches.long_term ? long_term : "") + ")";
  }
  const std::string signed_name =
      "linux-modules-nvidia-" + std::to_string(pick.branch) + "-server" + (open ? "-open" : "");
  if (contains(signed_found.running, pick.branch)) {
    pick.source = DriverSource::ubuntu_signed;
    pick.reason +=
        ", Ubuntu's signed " + signed_name + " for kernel " + request.kernel_release + " (" + flavour + " modules)";
    return pick;
  }
  if (contains(signed_found.newer_kernel, pick.branch)) {
    pick.source = DriverSource::ubuntu_signed;
    pick.reason += ", Ubuntu's signed " + signed_name + "-gcp: the archive has none for the running kernel " +
                   request.kernel_release + ", so the newest GCP kernel and its modules, which a reboot starts (" +
                   flavour + " modules)";
    return pick;
  }
  if (!repo_usable) {
    return "driver " + std::to_string(pick.branch) + " would come from NVIDIA's repository, but " +
           repo_rejection(request, os);
  }
  const std::string repo_name = "NVIDIA's " + std::string(os.nvidia_repo) + " repository";
  if (contains(repo_branches, pick.branch)) {
    pick.source = DriverSource::nvidia_repo;
    const auto open_packages = open ? repo_open_packages(pick.branch, request, os) : std::vector<std::string>{};
    if (!open_packages.empty()) {
      pick.repo_packages = open_packages;
      pick.reason += ", " + util::join(open_packages, " and ") + " from " + repo_name + " (DKMS, open modules)";
    } else if (open_only) {
      return gpu_list(request) + " need NVIDIA's open kernel modules, and " + repo_name +
             " has no open package for driver " + std::to_string(pick.branch) + " (nvidia-open-" +
             std::to_string(pick.branch) + ", or nvidia-kernel-open-" + std::to_string(pick.branch) +
             " with cuda-drivers-" + std::to_string(pick.branch) + ")";
    } else {
      pick.open_modules = false;
      pick.repo_packages = {"cuda-drivers-" + std::to_string(pick.branch)};
      pick.reason += ", cuda-drivers-" + std::to_string(pick.branch) + " from " + repo_name +
                     " (DKMS, proprietary modules" +
                     (open ? ": the repository has no open package for this branch" : "") + ")";
    }
  } else if (pick.branch == latest_branch) {
    pick.source = DriverSource::nvidia_repo_latest;
    pick.open_modules = open && pick.branch >= k_open_modules_from_branch;
    pick.repo_packages = {pick.open_modules ? "nvidia-open" : "cuda-drivers"};
    pick.reason += ", " + pick.repo_packages.front() + " from " + repo_name + " (DKMS, " +
                   (pick.open_modules ? "open" : "proprietary") + " modules; the repository has no branch packages)";
  } else {
    return "driver branch " + std::to_string(pick.branch) + " has no cuda-drivers-" + std::to_string(pick.branch) +
           " package in " + repo_name + " (it has " +
           (known_branches.empty() ? std::string("no branch packages") : branch_list(known_branches)) + ")";
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
  std::string wheel;
  bool plain = false;
};

// A torch wheel that may be installed: from an index (python fits by construction), or from the
// table (its Python range says).
struct TorchCandidate {
  std::string version;
  std::string_view variant;
  std::optional<TorchBuild> build;  // the table's row, when the table knows the version
  bool from_index = false;
  std::string wheel;  // the index's href
  bool plain = false;
};

// torch_stable.html is read only for a Python some find-links build of the table has wheels for:
// the page is large and has nothing for newer Pythons.
bool find_links_python(std::string_view python) {
  return std::ranges::any_of(torch_builds(), [&](const TorchBuild& build) {
    return build.index == TorchIndex::find_links && compare_versions(python, build.python_max) <= 0;
  });
}

// The first torch of the per-variant (PEP 503) indexes; older ones are found through torch_stable.html.
constexpr std::string_view k_first_index_url_torch = "1.11";

// The candidates for `variants` (preferred first), newest version first, then by preference. Each
// index form answers for its own era; where it cannot be read, the table's rows of that form stay.
std::vector<TorchCandidate> torch_candidates(const std::vector<std::string_view>& variants, const Request& request) {
  std::vector<TorchCandidate> candidates;
  const auto lookup = [&](TorchIndex index, std::string_view variant) -> std::optional<std::vector<TorchWheel>> {
    if (!request.torch_wheels) return std::nullopt;
    if (index == TorchIndex::find_links && !find_links_python(request.python)) return std::vector<TorchWheel>{};
    return request.torch_wheels(index, variant, request.python);
  };
  for (auto variant : variants) {
    for (const auto index : {TorchIndex::index_url, TorchIndex::find_links}) {
      if (const auto listed = lookup(index, variant)) {
        for (const auto& wheel : *listed) {
          const bool index_url_era = compare_versions(wheel.version, k_first_index_url_torch) >= 0;
          if (index_url_era != (index == TorchIndex::index_url)) continue;
          candidates.push_back(
              {wheel.version, variant, find_torch(wheel.version), true, wheel.href, !wheel.local_version});
        }
        continue;
      }
      for (const auto& build : torch_builds()) {
        if (build.index == index && has_variant(build, variant))
          candidates.push_back({std::string(build.version), variant, build, false, "", build.plain_variant == variant});
      }
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
  const auto pick_of = [](const TorchCandidate& candidate) {
    return TorchPick{candidate.version, std::string(candidate.variant), candidate.wheel, candidate.plain};
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
      if (!gap) return pick_of(candidate);
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
    if (!gap) return pick_of(candidate);
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
    choice.torch_wheel = torch->wheel;
    choice.torch_plain = torch->plain;
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
    choice.repo_packages = driver->repo_packages;
    choice.nvidia_repo = os->nvidia_repo;
    if (repo_rejected_by_apt(request, *os)) choice.repo_warning = repo_rejection(request, *os);
    choice.torch_version = torch->version;
    choice.torch_variant = torch->variant;
    choice.torch_wheel = torch->wheel;
    choice.torch_plain = torch->plain;
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

// `href` of the page at `page_url` as an absolute URL (RFC 3986 reference resolution, for the forms
// PyTorch's pages use: absolute, host-absolute, or relative to the page's folder).
std::string resolved_url(const std::string& page_url, const std::string& href) {
  if (href.find("://") != std::string::npos) return href;
  const auto host_end = page_url.find('/', page_url.find("://") + 3);
  if (href.starts_with('/')) return page_url.substr(0, host_end) + href;
  return page_url.substr(0, page_url.rfind('/') + 1) + href;
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

std::expected<TorchInstall, std::string> torch_install(const Choice& choice, std::string_view base_url,
                                                       bool torchvision) {
  const std::string base(base_url);
  TorchInstall install;
  const bool per_variant_index = compare_versions(choice.torch_version, k_first_index_url_torch) >= 0;
  if (per_variant_index) {
    install.requirements = {"torch==" + choice.torch_version + "+" + choice.torch_variant};
    install.index_args = {"--index-url", base + "/" + choice.torch_variant};
  } else if (!choice.torch_plain) {
    install.requirements = {"torch==" + choice.torch_version + "+" + choice.torch_variant};
    install.index_args = {"-f", base + "/torch_stable.html"};
  } else if (!choice.torch_wheel.empty()) {
    install.requirements = {resolved_url(base + "/torch_stable.html", choice.torch_wheel)};
  } else {
    install.requirements = {"torch==" + choice.torch_version};
  }
  if (!torchvision) return install;
  if (!per_variant_index) {
    return std::unexpected("pytorch.torchvision needs torch 1.11 or newer (PyTorch's per-variant indexes): torch " +
                           choice.torch_version + " comes from " +
                           (install.index_args.empty() ? std::string("PyPI") : base + "/torch_stable.html") +
                           ", where pip would take a torchvision built for another torch or CUDA variant; set "
                           "pytorch.torchvision to false");
  }
  install.requirements.emplace_back("torchvision");
  return install;
}

}  // namespace cs231n::gpu
