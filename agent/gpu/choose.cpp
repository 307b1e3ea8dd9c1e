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

// Why `release` cannot be used on this OS and these GPUs.
std::optional<std::string> cuda_refusal(const CudaRelease& release, const Request& request) {
  const std::string repo = nvidia_repo_name(request.os_id, request.os_version);
  if (std::ranges::find(release.repos, repo) == release.repos.end()) {
    std::vector<std::string> where;
    for (auto name : release.repos) where.push_back(os_label_of_repo(name));
    return "CUDA " + std::string(release.version) + " has no repository for " + request.os_label +
           " (NVIDIA publishes it for " + util::join(where, ", ") + ")";
  }
  for (const auto& model : known_gpus(request)) {
    if (compare_versions(release.version, model.min_cuda) < 0) {
      return "the " + std::string(model.name) + " needs CUDA " + std::string(model.min_cuda) + " or newer, not " +
             std::string(release.version);
    }
    if (model.max_driver_branch != 0 && release.min_driver_branch > model.max_driver_branch) {
      return "CUDA " + std::string(release.version) + " needs driver " + std::to_string(release.min_driver_branch) +
             " or newer, but the " + std::string(model.name) + " works only up to driver " +
             std::to_string(model.max_driver_branch);
    }
  }
  return std::nullopt;
}

struct DriverPick {
  int branch = 0;
  DriverSource source = DriverSource::nvidia_repo;
  std::string reason;
};

bool gcp_kernel(const Request& request) { return request.kernel_release.ends_with("-gcp"); }

PickOr<DriverPick> pick_driver(const CudaRelease& release, const Request& request) {
  const DriverBranches& branches = driver_branches();
  const int min_branch = release.min_driver_branch;
  int max_branch = 0;
  std::string limiting_gpu;
  for (const auto& model : known_gpus(request)) {
    if (model.max_driver_branch != 0 && (max_branch == 0 || model.max_driver_branch < max_branch)) {
      max_branch = model.max_driver_branch;
      limiting_gpu = model.name;
    }
  }
  const auto fits = [&](int branch) { return branch >= min_branch && (max_branch == 0 || branch <= max_branch); };
  const auto os = find_os(request.os_id, request.os_version);
  const std::vector<int> signed_branches = os && gcp_kernel(request) ? os->signed_gcp_branches : std::vector<int>{};
  const std::string limits = "CUDA " + std::string(release.version) + " needs >= " + std::to_string(min_branch) +
                             (max_branch ? ", the " + limiting_gpu + " <= " + std::to_string(max_branch) : "");

  DriverPick pick;
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
    const auto best_of = [&](const auto& candidates, int preferred) {
      if (std::ranges::find(candidates, preferred) != candidates.end() && fits(preferred)) return preferred;
      int best = 0;
      for (int branch : candidates) {
        if (fits(branch)) best = std::max(best, branch);
      }
      return best;
    };
    const int preferred = release.version == "10.0" ? branches.cuda10 : branches.long_term;
    pick.branch = best_of(signed_branches, preferred);
    if (pick.branch == 0) pick.branch = best_of(branches.nvidia_repo, preferred);
    if (pick.branch == 0) {
      return "no driver branch fits CUDA " + std::string(release.version) + " and " + gpu_list(request) + " (" +
             limits + ")";
    }
    const std::string long_term = "; " + std::to_string(branches.long_term) + " is the long-term branch";
    pick.reason = "driver " + std::to_string(pick.branch) + " (" + limits +
                  (pick.branch == branches.long_term ? long_term : "") + ")";
  }
  if (std::ranges::find(signed_branches, pick.branch) != signed_branches.end()) {
    pick.source = DriverSource::ubuntu_signed;
    pick.reason += ", Ubuntu's signed linux-modules-nvidia-" + std::to_string(pick.branch) + "-server-gcp";
    return pick;
  }
  pick.source = DriverSource::nvidia_repo;
  if (pick.branch >= branches.first_unbranched) {
    return "driver branch " + std::to_string(pick.branch) + " has no cuda-drivers-" + std::to_string(pick.branch) +
           " package in NVIDIA's repo (from " + std::to_string(branches.first_unbranched) +
           " it pins branches with version-locking packages, which cs231n-agent does not handle yet)";
  }
  pick.reason += ", cuda-drivers-" + std::to_string(pick.branch) + " from NVIDIA's repo (DKMS)";
  if (request.secure_boot && !request.module_signing_key) {
    return "Secure Boot is on and driver " + std::to_string(pick.branch) +
           " from NVIDIA's repo builds an unsigned module that will not load: stop the VM and turn Secure Boot off "
           "(gcloud compute instances update NAME --no-shielded-secure-boot), or enroll a MOK key and put it in "
           "/var/lib/dkms/mok.key and /var/lib/dkms/mok.pub so DKMS signs the module";
  }
  return pick;
}

struct TorchPick {
  TorchBuild build;
  std::string variant;
};

// The torch build for `variant` ("cu126", "cpu") that fits the request's Python and GPUs.
PickOr<TorchPick> pick_torch(std::string_view variant, const Request& request) {
  const auto models = known_gpus(request);
  const auto supports_gpus = [&](const TorchBuild& build) -> std::optional<std::string> {
    if (variant == "cpu") return std::nullopt;
    const int min_cc = torch_min_compute_capability(build.version, variant);
    const int max_cc = torch_max_compute_capability(variant);
    for (const auto& model : models) {
      if (model.compute_capability < min_cc || model.compute_capability > max_cc) {
        return "torch " + std::string(build.version) + "+" + std::string(variant) + " does not support the " +
               std::string(model.name) + " (sm_" + std::to_string(model.compute_capability) + ")";
      }
    }
    return std::nullopt;
  };
  const std::string for_variant = variant == "cpu" ? std::string("CPU-only") : "CUDA " + cuda_of_variant(variant);

  if (request.torch != "auto") {
    const auto build = find_torch(request.torch);
    if (!build) {
      std::vector<std::string> known;
      for (const auto& each : torch_builds()) known.emplace_back(each.version);
      return "torch " + request.torch + " is not in cs231n-agent's table (" + util::join(known, ", ") + ")";
    }
    if (!has_variant(*build, variant)) {
      std::vector<std::string> variants(build->variants.begin(), build->variants.end());
      return "torch " + request.torch + " has no " + for_variant + " build (its builds: " + util::join(variants, ", ") +
             ")";
    }
    if (!python_in_range(request.python, *build)) {
      return "torch " + request.torch + " has no wheel for Python " + request.python + " (it has " +
             std::string(build->python_min) + "–" + std::string(build->python_max) + ")";
    }
    if (auto gap = supports_gpus(*build)) return std::string(*gap);
    return TorchPick{*build, std::string(variant)};
  }
  std::optional<std::string> first_gap;
  bool any_for_python = false;
  for (const auto& build : torch_builds()) {
    if (!has_variant(build, variant)) continue;
    if (!python_in_range(request.python, build)) continue;
    any_for_python = true;
    if (auto gap = supports_gpus(build)) {
      if (!first_gap) first_gap = gap;
      continue;
    }
    return TorchPick{build, std::string(variant)};
  }
  if (!any_for_python) return "no " + for_variant + " torch build has a wheel for Python " + request.python;
  return "no " + for_variant + " torch build supports " + gpu_list(request) + " (" + *first_gap + ")";
}

// The search itself: the first combination that fits, newest CUDA and torch first.
std::expected<Choice, std::string> search(const Request& request) {
  Choice choice;
  if (!request.gpu_path) {
    auto torch = pick_torch("cpu", request);
    if (!torch) return std::unexpected(torch.error());
    choice.torch_version = torch->build.version;
    choice.torch_variant = "cpu";
    choice.reasons.push_back(request.torch == "auto"
                                 ? "no NVIDIA GPU: the newest CPU-only torch for Python " + request.python
                                 : "no NVIDIA GPU: the CPU-only build of torch " + request.torch);
    return choice;
  }
  std::vector<CudaRelease> candidates;
  if (request.cuda == "auto") {
    candidates = cuda_releases();
  } else if (auto release = find_cuda(request.cuda)) {
    candidates.push_back(*release);
  } else {
    std::vector<std::string> known;
    for (const auto& release : cuda_releases()) known.emplace_back(release.version);
    return std::unexpected("CUDA " + request.cuda + " is not a version cs231n-agent knows (" + util::join(known, ", ") +
                           ")");
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
      note(0, *refusal);
      continue;
    }
    const auto driver = pick_driver(release, request);
    if (!driver) {
      note(1, driver.error());
      continue;
    }
    const auto torch = pick_torch(release.torch_variant, request);
    if (!torch) {
      note(2, torch.error());
      continue;
    }
    const auto os = find_os(request.os_id, request.os_version);
    choice.cuda = release.version;
    choice.driver_branch = driver->branch;
    choice.driver_source = driver->source;
    choice.nvidia_repo = os->nvidia_repo;
    choice.repo_warning = os->repo_warning;
    choice.torch_version = torch->build.version;
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
  relaxed(
      [](Request& r) {
        r.os_id = "ubuntu";
        r.os_version = "22.04";
        r.os_label = "Ubuntu 22.04";
        r.kernel_release = "6.8.0-1015-gcp";  // any GCP kernel
        r.cuda = r.torch = r.driver_branch = "auto";
        r.python = "3.12";
      },
      "use an Ubuntu 22.04 image and profile `current`");
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
