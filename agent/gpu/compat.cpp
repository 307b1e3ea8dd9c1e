#include "agent/gpu/compat.hpp"

#include <algorithm>
#include <array>

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

// GCE's GPUs (FACTS.md "GCE" for the ids, "GPU, driver, CUDA and PyTorch compatibility" for the rest).
constexpr std::array<GpuModel, 8> k_gpus{{
    {"102d", "Tesla K80", "Kepler", 37, 470, "10.0"},
    {"1bb3", "Tesla P4", "Pascal", 61, 580, "10.0"},
    {"15f8", "Tesla P100", "Pascal", 60, 580, "10.0"},
    {"1db1", "Tesla V100", "Volta", 70, 580, "10.0"},
    {"1eb8", "Tesla T4", "Turing", 75, 0, "10.0"},
    {"20b0", "A100 40GB", "Ampere", 80, 0, "11.0"},
    {"27b8", "L4", "Ada Lovelace", 89, 0, "11.8"},
    {"2330", "H100 80GB", "Hopper", 90, 0, "11.8"},
}};

// Driver branches NVIDIA's repos carry as cuda-drivers-<branch> (410 only in the old repos that
// also carry CUDA 10.0). From 590 NVIDIA drops the branch from the package names and pins
// branches with separate version-locking packages (FACTS.md), which this table does not model.
constexpr std::array<int, 4> k_nvidia_repo_branches{410, 470, 535, 580};
constexpr int k_first_unbranched = 590;
// The long-term data-center branch (R580, EOL 2028-06): preferred where it fits.
constexpr int k_preferred_branch = 580;
// CUDA 10.0's own branch, as in the tutorial.
constexpr int k_cuda10_branch = 410;

const std::vector<OsSupport>& os_table() {
  static const std::vector<OsSupport> table{
      {"ubuntu", "16.04", "ubuntu1604", {}, ""},
      {"ubuntu", "18.04", "ubuntu1804", {}, ""},
      // 20.04 ships signed modules only under per-kernel names, which change with every kernel.
      {"ubuntu", "20.04", "ubuntu2004", {}, ""},
      {"ubuntu", "22.04", "ubuntu2204", {535, 550, 570, 580, 595}, ""},
      {"ubuntu", "24.04", "ubuntu2404", {535, 550, 570, 580, 595},
       "since 2026-02-01 apt rejects the ubuntu2404 repo's SHA1 signature (NVIDIA/cuda-repo-management#39)"},
      {"debian", "11", "debian11", {}, ""},
      {"debian", "12", "debian12", {}, ""},
  };
  return table;
}

std::string os_label_of_repo(std::string_view repo) {
  if (repo.starts_with("ubuntu") && repo.size() == 10) {
    return "Ubuntu " + std::string(repo.substr(6, 2)) + "." + std::string(repo.substr(8, 2));
  }
  if (repo.starts_with("debian")) return "Debian " + std::string(repo.substr(6));
  return std::string(repo);
}

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
  const std::vector<int> signed_branches =
      os && gcp_kernel(request) ? os->signed_gcp_branches : std::vector<int>{};
  const std::string limits = "CUDA " + std::string(release.version) + " needs >= " + std::to_string(min_branch) +
                             (max_branch ? ", the " + limiting_gpu + " <= " + std::to_string(max_branch) : "");

  DriverPick pick;
  if (request.driver_branch != "auto") {
    const int branch = static_cast<int>(util::parse_uint(request.driver_branch).value_or(0));
    if (max_branch != 0 && branch > max_branch) {
      return "driver branch " + request.driver_branch + " does not work on the " + limiting_gpu + " (newest: " +
             std::to_string(max_branch) + ")";
    }
    if (branch < min_branch) {
      return "CUDA " + std::string(release.version) + " needs driver " + std::to_string(min_branch) + " or newer, not " +
             request.driver_branch;
    }
    pick.branch = branch;
    pick.reason = "driver " + request.driver_branch + " as configured (" + limits + ")";
  } else {
    const auto best_of = [&](const auto& branches, int preferred) {
      if (std::ranges::find(branches, preferred) != branches.end() && fits(preferred)) return preferred;
      int best = 0;
      for (int branch : branches) {
        if (fits(branch)) best = std::max(best, branch);
      }
      return best;
    };
    const int preferred = release.version == "10.0" ? k_cuda10_branch : k_preferred_branch;
    pick.branch = best_of(signed_branches, preferred);
    if (pick.branch == 0) pick.branch = best_of(k_nvidia_repo_branches, preferred);
    if (pick.branch == 0) {
      return "no driver branch fits CUDA " + std::string(release.version) + " and " + gpu_list(request) + " (" + limits + ")";
    }
    pick.reason = "driver " + std::to_string(pick.branch) + " (" + limits +
                  (pick.branch == k_preferred_branch ? "; 580 is the long-term branch)" : ")");
  }
  if (std::ranges::find(signed_branches, pick.branch) != signed_branches.end()) {
    pick.source = DriverSource::ubuntu_signed;
    pick.reason += ", Ubuntu's signed linux-modules-nvidia-" + std::to_string(pick.branch) + "-server-gcp";
    return pick;
  }
  pick.source = DriverSource::nvidia_repo;
  if (pick.branch >= k_first_unbranched) {
    return "driver branch " + std::to_string(pick.branch) + " has no cuda-drivers-" + std::to_string(pick.branch) +
           " package in NVIDIA's repo (from 590 it pins branches with version-locking packages, which cs231n-agent "
           "does not handle yet)";
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
      return "torch " + request.torch + " has no " + for_variant + " build (its builds: " + util::join(variants, ", ") + ")";
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
    choice.reasons.push_back(request.torch == "auto" ? "no NVIDIA GPU: the newest CPU-only torch for Python " + request.python
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
    return std::unexpected("CUDA " + request.cuda + " is not a version cs231n-agent knows (" + util::join(known, ", ") + ")");
  }
  if (nvidia_repo_name(request.os_id, request.os_version).empty()) {
    return std::unexpected("cs231n-agent knows no NVIDIA repository for " + request.os_label +
                           " (it knows Ubuntu 16.04, 18.04, 20.04, 22.04, 24.04 and Debian 11, 12)");
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
    choice.reasons.push_back(request.torch == "auto" ? "the newest torch for CUDA " + choice.cuda + " that supports " +
                                                           gpu_list(request) + " and Python " + request.python
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
  if (request.driver_branch != "auto") relaxed([](Request& r) { r.driver_branch = "auto"; }, "set gpu.driver_branch to \"auto\"");
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
        std::string("set gpu.cuda, gpu.driver_branch and pytorch.version to \"auto\" and conda_env.python to ") + quoted(python));
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
    if (auto choice = search(relaxation.request)) return relaxation.advice + " (here: " + describe_choice(*choice) + ")";
  }
  return "";
}

}  // namespace

std::optional<GpuModel> find_gpu(std::string_view device_id) {
  for (const auto& model : k_gpus) {
    if (model.device_id == device_id) return model;
  }
  return std::nullopt;
}

std::string gpu_display_name(std::string_view device_id) {
  if (auto model = find_gpu(device_id)) return std::string(model->name);
  return "NVIDIA " + std::string(k_nvidia_vendor) + ":" + std::string(device_id);
}

const std::vector<CudaRelease>& cuda_releases() {
  // Repos beyond 10.0 are from NVIDIA's repo listings as FACTS.md reports them (unverified).
  static const std::vector<CudaRelease> releases{
      {"13.0", "cu130", 580, "580.65.06", {"ubuntu2204", "ubuntu2404", "debian12"}},
      {"12.8", "cu128", 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "ubuntu2404", "debian12"}},
      {"12.6", "cu126", 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "ubuntu2404", "debian11", "debian12"}},
      {"12.4", "cu124", 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "debian11", "debian12"}},
      {"12.1", "cu121", 525, "525.60.13", {"ubuntu2004", "ubuntu2204", "debian11"}},
      {"11.8", "cu118", 450, "450.80.02", {"ubuntu1804", "ubuntu2004", "ubuntu2204", "debian11"}},
      {"10.0", "cu100", 410, "410.48", {"ubuntu1404", "ubuntu1604", "ubuntu1804"}},
  };
  return releases;
}

std::optional<CudaRelease> find_cuda(std::string_view version) {
  for (const auto& release : cuda_releases()) {
    if (release.version == version) return release;
  }
  return std::nullopt;
}

std::optional<OsSupport> find_os(std::string_view os_id, std::string_view version_id) {
  for (const auto& os : os_table()) {
    if (os.id == os_id && os.version_id == version_id) return os;
  }
  return std::nullopt;
}

std::string nvidia_repo_name(std::string_view os_id, std::string_view version_id) {
  if (auto os = find_os(os_id, version_id)) return std::string(os->nvidia_repo);
  return "";
}

const std::vector<TorchBuild>& torch_builds() {
  // FACTS.md's torch table. Patch releases (2.9.1, 2.10.0, 2.11.0) are the newest believed to
  // exist for each minor release.
  static const std::vector<TorchBuild> builds{
      {"2.11.0", {"cu126", "cu128", "cu130", "cpu"}, "3.10", "3.14", TorchIndex::index_url},
      {"2.10.0", {"cu126", "cu128", "cu130", "cpu"}, "3.10", "3.14", TorchIndex::index_url},
      {"2.9.1", {"cu126", "cu128", "cu130", "cpu"}, "3.10", "3.14", TorchIndex::index_url},
      {"2.8.0", {"cu126", "cu128", "cu129", "cpu"}, "3.9", "3.13", TorchIndex::index_url},
      {"2.7.1", {"cu118", "cu126", "cu128", "cpu"}, "3.9", "3.13", TorchIndex::index_url},
      {"2.6.0", {"cu118", "cu124", "cu126", "cpu"}, "3.9", "3.13", TorchIndex::index_url},
      {"2.5.1", {"cu118", "cu121", "cu124", "cpu"}, "3.9", "3.12", TorchIndex::index_url},
      {"2.4.1", {"cu118", "cu121", "cu124", "cpu"}, "3.8", "3.12", TorchIndex::index_url},
      {"2.3.1", {"cu118", "cu121", "cpu"}, "3.8", "3.11", TorchIndex::index_url},
      // The last torch for Python 3.6.
      {"1.10.2", {"cpu"}, "3.6", "3.9", TorchIndex::find_links, "cu102"},
      // Unverified: 1.4.0+cu100 is widely used but not on the official list.
      {"1.4.0", {"cu100", "cpu"}, "3.5", "3.7", TorchIndex::find_links, "cu101"},
      // The tutorial era: PyPI's plain 1.2.0 wheel was built with CUDA 10.0.
      {"1.2.0", {"cu100", "cpu"}, "3.5", "3.7", TorchIndex::find_links, "cu100"},
  };
  return builds;
}

std::optional<TorchBuild> find_torch(std::string_view version) {
  for (const auto& build : torch_builds()) {
    if (build.version == version) return build;
  }
  return std::nullopt;
}

int torch_min_compute_capability(std::string_view torch_version, std::string_view variant) {
  if (variant == "cu100") return 35;
  if (variant.starts_with("cu11")) return 37;  // the K80's sm_37 lives on in cu11x builds up to 2.7
  if (variant.starts_with("cu13")) return 75;
  if (variant == "cu128" || variant == "cu129") {
    if (compare_versions(torch_version, "2.11") >= 0) return 75;  // V100 dropped
    if (compare_versions(torch_version, "2.8") >= 0) return 70;   // Maxwell and Pascal dropped
  }
  return 50;
}

int torch_max_compute_capability(std::string_view variant) { return variant == "cu100" ? 75 : 90; }

std::string cuda_of_variant(std::string_view variant) {
  if (!variant.starts_with("cu") || variant.size() < 4) return "";
  const auto digits = variant.substr(2);
  return std::string(digits.substr(0, digits.size() - 1)) + "." + std::string(digits.substr(digits.size() - 1));
}

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
