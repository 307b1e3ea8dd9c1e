#include "steps/gpu_common.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "agent/gpu/repo_index.hpp"
#include "agent/gpu/torch_index.hpp"
#include "agent/net/http.hpp"
#include "agent/util/gzip.hpp"
#include "agent/util/hash.hpp"
#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/pip.hpp"

namespace cs231n::steps {

namespace {

// A MOK key that DKMS signs modules with (Ubuntu's DKMS and shim-signed put it in these places).
bool has_module_signing_key(const os::Files& files) {
  return (files.exists("/var/lib/dkms/mok.key") && files.exists("/var/lib/dkms/mok.pub")) ||
         (files.exists("/var/lib/shim-signed/mok/MOK.priv") && files.exists("/var/lib/shim-signed/mok/MOK.der"));
}

// Prints one JSON line; Python 3.5+ (the seed env is 3.6), torch 1.0+. torchvision is imported
// after torch, as a notebook does; what keeps it from importing (none there, a build for another
// torch or CUDA: torchvision/extension.py raises RuntimeError) is its own field, torch's stay.
constexpr const char* k_torch_probe = R"(import json
import torch
available = bool(torch.cuda.is_available())
devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if available else []
try:
    import torchvision
    vision = {"version": str(torchvision.__version__)}
except Exception as error:
    vision = {"error": type(error).__name__ + ": " + str(error)}
print(json.dumps({"torch": str(torch.__version__), "cuda": torch.version.cuda, "available": available,
                  "devices": devices, "torchvision": vision}))
)";

// What is read once per process, by key: plan_gpu runs for every GPU step's decide, inputs, check
// and apply, in several threads. Each key has its own once_flag, so a slow read (a large Packages
// file, a distant index) holds up only the callers that need the same thing, not unrelated reads.
template <typename T>
class OncePerKey {
 public:
  template <typename Make>
  T get(const std::string& key, Make make) {
    std::shared_ptr<Entry> entry;
    {
      const std::scoped_lock lock(m_mutex);
      auto& slot = m_entries[key];
      if (!slot) slot = std::make_shared<Entry>();
      entry = slot;
    }
    std::call_once(entry->once, [&] { entry->value = make(); });
    return entry->value;
  }

 private:
  struct Entry {
    std::once_flag once;
    T value;
  };
  std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<Entry>> m_entries;
};

// One read of an index page: its text, or why there is none.
struct IndexRead {
  std::optional<std::string> body;
  std::string failure;
  long status = 0;
};

// PyTorch's find-links page has every wheel of every project; NVIDIA's Packages files of the big
// distros are tens of MB uncompressed (ubuntu2204's Packages.gz alone was 2.4 MB in 2026: apt's
// "Get: ... ubuntu2204/x86_64  Packages [2383 kB]" in public build logs).
constexpr std::size_t k_max_index_size = 256u << 20;

IndexRead read_index_page(const std::string& url) {
  static OncePerKey<IndexRead> reads;
  return reads.get(url, [&] {
    net::SimpleRequest request;
    request.url = url;
    request.connect_timeout = std::chrono::seconds(5);
    request.timeout = std::chrono::seconds(120);
    request.max_body = k_max_index_size;
    auto settings = net::default_http_settings();
    settings.max_redirects = 3;
    IndexRead read;
    const auto answer = net::http_request(settings, request);
    if (!answer) {
      read.failure = answer.error().message;
    } else if (answer->status != 200) {
      read.status = answer->status;
      read.failure = url + " answered HTTP " + std::to_string(answer->status);
    } else {
      read.status = 200;
      read.body = answer->body;
    }
    return read;
  });
}

// NVIDIA's package list of a repo, parsed: Packages.gz (what apt fetches; a tenth of the size),
// Packages where a mirror has only that.
struct RepoRead {
  std::optional<gpu::RepoContents> contents;
  std::string url;      // the file read, or tried last
  std::string failure;  // when !contents
};

RepoRead read_repo_index(const std::string& repo_url) {
  static OncePerKey<RepoRead> reads;
  return reads.get(repo_url, [&] {
    RepoRead read;
    read.url = repo_url + "Packages.gz";
    const auto compressed = read_index_page(read.url);
    if (compressed.body) {
      auto text = util::gunzip(*compressed.body, k_max_index_size);
      if (!text) {
        read.failure = read.url + ": " + text.error().message;
        return read;
      }
      read.contents = gpu::parse_packages_index(*text);
      return read;
    }
    if (compressed.status != 404) {
      read.failure = compressed.failure;
      return read;
    }
    read.url = repo_url + "Packages";
    const auto plain = read_index_page(read.url);
    if (plain.body) {
      read.contents = gpu::parse_packages_index(*plain.body);
    } else {
      read.failure = plain.failure;
    }
    return read;
  });
}

// The wheels of one variant and Python in one of PyTorch's pages (parsed once per process), or
// nullopt when the page could not be read; and how the read went, for `plan`.
struct TorchPageRead {
  std::optional<std::vector<gpu::TorchWheel>> wheels;
  std::string said;  // "read", "none there (HTTP 404)", "not read (why)"
  std::string failure;
};

// The env's Python as the torch choice must see it: an @EXPLICIT list served over HTTP(S) installs
// its own python package whatever conda_env.python says (torch-wheels and conda-env read the same
// list), so a torch for that Python's cpXY tag is chosen; conda_env.python otherwise, or when the
// list cannot be read here, does not match conda_env.explicit_sha256, or names no python.
std::string env_python(const plan::Context& context, const std::function<void(const std::string&)>& noted) {
  const auto& config = context.config;
  const auto list = config.string("conda_env.explicit_file");
  if (!is_http_url(list) || !may_read_remote(context, list)) return config.string("conda_env.python");
  const auto read = read_index_page(list);
  const auto expected = config.string("conda_env.explicit_sha256");
  std::optional<std::string> python;
  if (read.body && (expected.empty() || util::sha256_hex(*read.body) == util::lowercase(expected)))
    python = python_of_explicit_list(*read.body);
  noted("the @EXPLICIT list " + list + ": " +
        (python ? "Python " + *python
                : (read.body ? "no python package (or not its explicit_sha256)" : "not read (" + read.failure + ")") +
                      std::string(", so conda_env.python")));
  return python.value_or(config.string("conda_env.python"));
}

TorchPageRead torch_wheels(const std::string& url, gpu::TorchIndex index, std::string_view variant,
                           std::string_view python) {
  static OncePerKey<std::vector<gpu::TorchWheel>> parsed;
  const auto page = read_index_page(url);
  // PEP 503: no project page is no such project there (no cu100 index, say): no wheels.
  if (page.status == 404) return {std::vector<gpu::TorchWheel>{}, "none there (HTTP 404)", ""};
  if (!page.body) return {std::nullopt, "not read (" + page.failure + ")", page.failure};
  return {parsed.get(url + "\n" + std::string(variant) + "\n" + std::string(python),
                     [&] {
                       return index == gpu::TorchIndex::find_links
                                  ? gpu::torch_wheels_in_find_links(*page.body, variant, python)
                                  : gpu::torch_wheels_in_index(*page.body, python);
                     }),
          "read", ""};
}

// The linux-modules-nvidia-* names apt's lists on this machine have (apt-cache reads them; nothing
// is updated), or nullopt where they cannot tell: no lists (a fresh image, a fixture tree), or
// lists that name none of them.
struct ArchiveRead {
  std::optional<std::vector<std::string>> names;
  std::string failure;
};

constexpr const char* k_signed_modules_prefix = "linux-modules-nvidia-";

bool apt_lists_present(const os::Files& files) {
  for (const auto& entry : files.list("/var/lib/apt/lists").value_or(std::vector<std::string>{})) {
    if (entry.find("_Packages") != std::string::npos) return true;
  }
  return false;
}

ArchiveRead read_signed_modules(const plan::Context& context) {
  static OncePerKey<ArchiveRead> reads;
  return reads.get(k_signed_modules_prefix, [&] {
    ArchiveRead read;
    os::Command names{.argv = {"apt-cache", "pkgnames", k_signed_modules_prefix}};
    names.capture_stdout = true;
    const auto run = plan::StepRun::unlogged(context, "nvidia-driver", std::chrono::minutes(1));
    const auto result = run.probe(names);
    if (!result) {
      read.failure = result.error().message;
    } else if (!result->ok()) {
      read.failure = "apt-cache pkgnames " + result->describe();
    } else {
      std::vector<std::string> found;
      for (const auto& line : util::lines(result->stdout_text)) {
        if (const auto name = util::trim(line); !name.empty()) found.emplace_back(name);
      }
      std::ranges::sort(found);
      // Lists without any (another archive's, or Ubuntu's without restricted) cannot tell: the table.
      if (found.empty()) {
        read.failure = "apt's lists name no linux-modules-nvidia package";
      } else {
        read.names = std::move(found);
      }
    }
    return read;
  });
}

}  // namespace

std::string_view driver_source_name(gpu::DriverSource source) {
  switch (source) {
    case gpu::DriverSource::ubuntu_signed: return "ubuntu-signed";
    case gpu::DriverSource::nvidia_repo_latest: return "nvidia-repo-latest";
    case gpu::DriverSource::nvidia_repo: break;
  }
  return "nvidia-repo";
}

GpuPlan plan_gpu(const plan::Context& context) {
  GpuPlan result;
  const auto& facts = context.facts;
  const auto& config = context.config;
  gpu::Request request;
  request.gpu_path = !facts.gpus.empty() || config.boolean("gpu.force");
  for (const auto& each : facts.gpus) request.gpu_ids.push_back(each.device_id);
  request.os_id = facts.os.id;
  request.os_version = facts.os.version_id;
  request.os_label = facts.os.label();
  request.kernel_release = facts.kernel_release;
  request.cuda = config.string("gpu.cuda");
  request.driver_branch = config.string("gpu.driver_branch");
  request.torch = config.string("pytorch.version");
  request.secure_boot = facts.secure_boot == detect::SecureBoot::on;
  request.module_signing_key = has_module_signing_key(context.system.files());
  request.gce = facts.gce;
  request.apt_version = installed_version(context.system.files(), "apt");

  result.active = request.gpu_path;
  if (!result.active) result.skip_reason = "no NVIDIA GPU";
  std::vector<std::string> names;
  for (const auto& each : facts.gpus) {
    if (std::ranges::find(names, each.name) == names.end()) names.push_back(each.name);
  }
  result.gpu_names = names.empty() ? "a GPU (gpu.force)" : util::join(names, ", ");
  const std::string index_url = config.string("pytorch.index_url");
  // Every index the choice reads, once each, in the order read: what `plan` shows.
  std::vector<std::string> torch_failures;
  const auto noted = [&](const std::string& line) {
    if (std::ranges::find(result.index_reads, line) == result.index_reads.end()) result.index_reads.push_back(line);
  };
  request.python = env_python(context, noted);
  if (may_read_remote(context, index_url)) {
    request.torch_wheels = [&](gpu::TorchIndex index, std::string_view variant,
                               std::string_view python) -> std::optional<std::vector<gpu::TorchWheel>> {
      const std::string url = index == gpu::TorchIndex::find_links ? index_url + "/torch_stable.html"
                                                                   : index_url + "/" + std::string(variant) + "/torch/";
      auto read = torch_wheels(url, index, variant, python);
      noted("PyTorch's index " + url + ": " + read.said);
      if (!read.wheels && std::ranges::find(torch_failures, read.failure) == torch_failures.end())
        torch_failures.push_back(read.failure);
      return read.wheels;
    };
  }
  const std::string repo = gpu::nvidia_repo_name(facts.os.id, facts.os.version_id);
  const std::string repo_url = config.string("gpu.repo_url") + "/" + repo + "/x86_64/";
  if (!repo.empty() && request.gpu_path && may_read_remote(context, repo_url)) {
    const auto read = read_repo_index(repo_url);
    if (read.contents) {
      request.nvidia_repo_contents = read.contents;
      result.repo = request.nvidia_repo_contents;
      result.repo_source = "NVIDIA's package list " + read.url;
      noted(result.repo_source + ": read (" + std::to_string(read.contents->packages.size()) + " packages)");
    } else {
      result.repo_source = "cs231n-agent's table (" + read.failure + ")";
      noted("NVIDIA's package list " + read.url + ": not read (" + read.failure + ")");
    }
  } else {
    result.repo_source = "cs231n-agent's table (NVIDIA's package list is read on GCE VMs)";
  }
  // Ubuntu's signed modules: what apt's lists on the machine have, where it has lists.
  const auto os = gpu::find_os(facts.os.id, facts.os.version_id);
  if (request.gpu_path && os && !os->signed_gcp_branches.empty() && facts.kernel_release.ends_with("-gcp") &&
      context.system.files().is_host_root() && apt_lists_present(context.system.files())) {
    const auto read = read_signed_modules(context);
    request.archive_signed_modules = read.names;
    noted(read.names
              ? "apt-cache pkgnames " + std::string(k_signed_modules_prefix) + ": " +
                    std::to_string(read.names->size()) + " packages in apt's lists"
              : "apt-cache pkgnames " + std::string(k_signed_modules_prefix) + ": not read (" + read.failure + ")");
  }
  auto choice = gpu::choose(request);
  if (!may_read_remote(context, index_url)) {
    result.torch_source = "cs231n-agent's table (PyTorch's index is read on GCE VMs)";
  } else if (torch_failures.empty()) {
    result.torch_source = "PyTorch's index " + index_url;
  } else {
    result.torch_source =
        "cs231n-agent's table where PyTorch's index could not be read (" + util::join(torch_failures, "; ") + ")";
  }
  if (choice) {
    result.choice = std::move(*choice);
  } else {
    result.refusal = choice.error();
  }
  return result;
}

nlohmann::json gpu_inputs(const plan::Context& context) {
  const auto gpu_plan = plan_gpu(context);
  const auto& choice = gpu_plan.choice;
  return {{"cuda", choice.cuda},
          {"driver_branch", choice.driver_branch},
          {"driver_source", driver_source_name(choice.driver_source)},
          {"open_modules", choice.open_modules},
          {"os", context.facts.os.label()},
          {"repo_url", context.config.string("gpu.repo_url")}};
}

std::vector<plan::ExpectedDownload> expected_from_nvidia_repo(const plan::Context& context, const GpuPlan& gpu_plan,
                                                              const std::vector<std::string>& packages,
                                                              const std::string& what) {
  if (!gpu_plan.repo) return {{what, std::nullopt, "not known here (NVIDIA's Packages index is read on GCE VMs)"}};
  const auto installed = installed_packages(context.system.files());
  const auto closure =
      gpu_plan.repo->download_closure(packages, [&](const std::string& name) { return installed.contains(name); });
  std::vector<plan::ExpectedDownload> downloads;
  if (closure.packages > 0) {
    downloads.push_back({what + " (" + std::to_string(closure.packages) + " packages from NVIDIA's repo)",
                         closure.bytes, "the Size: fields of NVIDIA's Packages index"});
  }
  if (closure.elsewhere > 0) {
    downloads.push_back({std::to_string(closure.elsewhere) + " more packages from the OS archive", std::nullopt,
                         "not known here (only NVIDIA's index is read)"});
  }
  return downloads;
}

// PyTorch's PEP 503 pages link the wheels with their sha256 but no size, and the nvidia-* wheels
// that a CUDA 12 build depends on are known only once pip resolves them. The estimate: torch's
// own wheel, 887.9 MB (torch-2.8.0-cp313-cp313-manylinux_2_28_x86_64.whl, pip's log in
// github.com/dstackai/dstack/pull/3029), plus the eight nvidia-*-cu12 wheels whose sizes pip
// printed in github.com/pytorch/pytorch/issues/121646 (cublas 410.6, cupti 14.1, nvrtc 23.7,
// runtime 0.8, cudnn 731.7, cufft 121.6, curand 56.5, cusolver 124.2: 1483.2 MB); cusparse,
// nccl, nvjitlink and triton are left out, so it is low. torchvision's wheel is left out too: a
// few MB (6.3 MB for a cu124 build in pip's log in HolyWu/vs-rife#58).
constexpr std::uint64_t k_cuda12_torch_wheels_bytes = 887'900'000ULL + 1'483'200'000ULL;

bool wants_torchvision(const plan::Context& context) { return context.config.boolean("pytorch.torchvision"); }

std::expected<gpu::TorchInstall, std::string> torch_install_of(const plan::Context& context,
                                                               const gpu::Choice& choice) {
  return gpu::torch_install(choice, context.config.string("pytorch.index_url"), wants_torchvision(context));
}

plan::ExpectedDownload expected_torch_wheels(const GpuPlan& gpu_plan, bool torchvision) {
  const auto& choice = gpu_plan.choice;
  const std::string torch = "torch " + choice.torch_version + "+" + choice.torch_variant;
  const std::string what =
      torchvision ? torch + ", torchvision and the wheels they need" : torch + " and the wheels it needs";
  const auto cuda = gpu::cuda_of_variant(choice.torch_variant);
  if (util::compare_versions(cuda.empty() ? "0" : cuda, "12") < 0)
    return {what, std::nullopt, "not known here (PyTorch's index gives no sizes)"};
  return {what, k_cuda12_torch_wheels_bytes,
          "estimate: pip's sizes of torch 2.8's wheel and its nvidia-*-cu12 wheels (dstackai/dstack#3029, "
          "pytorch/pytorch#121646)",
          true};
}

std::optional<plan::Decision> gpu_gate(const GpuPlan& gpu_plan) {
  if (!gpu_plan.active) return plan::skipped(gpu_plan.skip_reason);
  if (gpu_plan.refusal) return plan::refused(gpu_plan.refusal->message());
  return std::nullopt;
}

bool module_loaded(const os::Files& files, std::string_view module) {
  const auto modules = files.read("/proc/modules").value_or("");
  for (const auto& line : util::lines(modules)) {
    if (line.starts_with(module) && line.size() > module.size() && line[module.size()] == ' ') return true;
  }
  return false;
}

std::string signed_modules_package(const gpu::Choice& choice, const std::string& suffix) {
  return "linux-modules-nvidia-" + std::to_string(choice.driver_branch) + "-server" +
         (choice.open_modules ? "-open" : "") + "-" + suffix;
}

std::vector<std::string> driver_packages(const gpu::Choice& choice, const std::string& kernel_release) {
  // The modules for the running kernel load now; the flavour's meta package (whose dependency is
  // the newest GCP kernel's) makes kernel upgrades bring theirs (ubuntu-drivers-common's
  // get_linux_modules_metapackage names them so).
  if (choice.driver_source == gpu::DriverSource::ubuntu_signed) {
    return {signed_modules_package(choice, kernel_release), signed_modules_package(choice, "gcp"),
            "nvidia-utils-" + std::to_string(choice.driver_branch) + "-server"};
  }
  // DKMS builds the module against the running kernel's headers.
  std::vector<std::string> packages{"linux-headers-" + kernel_release};
  packages.insert(packages.end(), choice.repo_packages.begin(), choice.repo_packages.end());
  return packages;
}

std::vector<std::string> installed_driver_packages(const gpu::Choice& choice) {
  if (choice.driver_source == gpu::DriverSource::ubuntu_signed)
    return {signed_modules_package(choice, "gcp"), "nvidia-utils-" + std::to_string(choice.driver_branch) + "-server"};
  return choice.repo_packages;
}

std::vector<std::string> held_driver_packages(const gpu::Choice& choice) {
  // Ubuntu's names carry the branch, so upgrades stay in it and keep modules and userspace in step.
  if (choice.driver_source == gpu::DriverSource::ubuntu_signed) return {};
  return installed_driver_packages(choice);
}

util::Result<NvidiaSmiReport> query_nvidia_smi(const plan::StepRun& run) {
  os::Command command;
  command.argv = {"nvidia-smi", "--query-gpu=name,driver_version,persistence_mode", "--format=csv,noheader"};
  command.capture_stdout = true;
  command.timeout = std::chrono::seconds(60);
  auto result = run.probe(command);
  NvidiaSmiReport report;
  if (!result) {
    report.error = result.error().message;
    return report;
  }
  if (!result->ok()) {
    const auto said = util::trim(result->stdout_text + "\n" + result->output_tail);
    report.error = "nvidia-smi " + result->describe() + (said.empty() ? "" : ": " + std::string(said));
    return report;
  }
  for (const auto& line : util::lines(result->stdout_text)) {
    const auto fields = util::split(line, ',');
    if (fields.size() < 3) continue;
    report.names.emplace_back(util::trim(fields[0]));
    if (report.driver_version.empty()) report.driver_version = util::trim(fields[1]);
    report.persistence.emplace_back(util::trim(fields[2]));
  }
  report.ok = !report.names.empty();
  if (!report.ok) report.error = "nvidia-smi lists no GPU";
  return report;
}

bool torch_files_present(const os::Files& files, const std::string& env) {
  for (const auto& entry : files.list_user_folder(env + "/lib").value_or(std::vector<std::string>{})) {
    if (entry.starts_with("python") && files.user_path_exists(env + "/lib/" + entry + "/site-packages/torch"))
      return true;
  }
  return false;
}

util::Result<TorchReport> query_torch(const plan::StepRun& run) {
  TorchReport report;
  if (!torch_files_present(run.system().files(), env_dir(run.context()))) {
    report.error = "no torch in env " + run.config().string("conda_env.name") + " (" + env_dir(run.context()) + ")";
    return report;
  }
  auto command = as_user(run, {env_dir(run.context()) + "/bin/python", "-c", k_torch_probe});
  command.capture_stdout = true;
  command.timeout = std::chrono::minutes(5);
  auto result = run.probe(command);
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) {
    report.error = "import torch in env " + run.config().string("conda_env.name") + " " + result->describe() + ": " +
                   std::string(util::trim(result->output_tail));
    return report;
  }
  const auto lines = util::lines(result->stdout_text);
  try {
    const auto said = nlohmann::json::parse(lines.empty() ? std::string("null") : lines.back());
    report.version = said.at("torch").get<std::string>();
    report.cuda = said.at("cuda").is_string() ? said.at("cuda").get<std::string>() : "";
    report.cuda_available = said.at("available").get<bool>();
    report.devices = said.at("devices").get<std::vector<std::string>>();
    const auto vision = said.value("torchvision", nlohmann::json::object());
    report.torchvision = vision.value("version", std::string());
    report.torchvision_error = vision.value("error", std::string("the probe said nothing of torchvision"));
    if (!report.torchvision.empty()) report.torchvision_error.clear();
    report.imported = true;
  } catch (const nlohmann::json::exception&) {
    report.error =
        "the env's Python printed something unexpected about torch: " + (lines.empty() ? std::string() : lines.back());
  }
  return report;
}

}  // namespace cs231n::steps
