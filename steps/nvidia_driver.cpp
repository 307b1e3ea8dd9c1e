#include "agent/util/strings.hpp"
#include "steps/apt.hpp"
#include "steps/common.hpp"
#include "steps/gpu_common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

constexpr const char* k_nouveau_blacklist = "/etc/modprobe.d/blacklist-nouveau-cs231n-agent.conf";
constexpr const char* k_boot_marker = "# boot ";

// nvidia.ko for `kernel_release`: DKMS puts it under updates/, Ubuntu's signed packages under kernel/.
bool module_built_for(const os::Files& files, const std::string& kernel_release) {
  const std::string base = "/lib/modules/" + kernel_release;
  if (files.exists(base + "/updates/dkms/nvidia.ko") || files.exists(base + "/updates/dkms/nvidia.ko.zst")) return true;
  for (const auto& entry : files.list(base + "/kernel").value_or(std::vector<std::string>{})) {
    if (entry.starts_with("nvidia") && files.exists(base + "/kernel/" + entry + "/nvidia.ko")) return true;
  }
  return false;
}

class NvidiaDriverStep : public plan::Step {
 public:
  // A kernel update (unattended-upgrades) leaves the driver without a module for the new kernel:
  // every run checks that the module is loaded and repairs it otherwise.
  NvidiaDriverStep()
      : Step({.name = "nvidia-driver", .after = {"nvidia-repo"}, .resources = {"apt"}, .recheck_when_done = true}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    if (auto gate = gpu_gate(gpu_plan)) return *gate;
    const auto& choice = gpu_plan.choice;
    const auto held = held_driver_packages(choice);
    std::string summary = "install " + util::join(driver_packages(choice, context.facts.kernel_release), " ") +
                          " for " + gpu_plan.gpu_names + (held.empty() ? "" : ", hold " + util::join(held, " ")) +
                          "; " + choice.reasons.at(1);
    if (context.facts.nouveau_loaded) summary += "; blacklist nouveau and reboot once";
    if (context.facts.secure_boot == detect::SecureBoot::on)
      summary += "; Secure Boot is on: the module must be signed";
    return plan::will_run(summary);
  }

  nlohmann::json inputs(const plan::Context& context) const override { return gpu_inputs(context); }

  std::vector<plan::ExpectedDownload> expected_downloads(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    return expected_from_nvidia_repo(context, gpu_plan, driver_packages(gpu_plan.choice, context.facts.kernel_release),
                                     "driver " + std::to_string(gpu_plan.choice.driver_branch));
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    const auto choice = plan_gpu(run.context()).choice;
    if (!module_loaded(files, "nvidia")) return plan::CheckResult{false, ""};
    if (missing_packages(files, installed_driver_packages(choice)).empty()) {
      return plan::CheckResult{true,
                               "driver " + std::to_string(choice.driver_branch) + " installed and its module loaded"};
    }
    // A working driver installed some other way (an image with Google's installer, a hand install):
    // installing another branch over it would break it; verify still checks it is new enough.
    if (files.exists("/usr/bin/nvidia-smi"))
      return plan::CheckResult{true, "an NVIDIA driver installed otherwise is loaded: kept"};
    return plan::CheckResult{false, ""};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    const auto& facts = run.facts();
    const auto choice = plan_gpu(run.context()).choice;
    if (facts.kernel_release.empty())
      return util::fail("cannot tell the running kernel's release (/proc/sys/kernel/osrelease)");

    const bool driver_was_installed = missing_packages(files, installed_driver_packages(choice)).empty();
    if (driver_was_installed && !module_built_for(files, facts.kernel_release)) {
      run.note("self-repair: driver " + std::to_string(choice.driver_branch) +
               " is installed but has no module for kernel " + facts.kernel_release +
               " (a kernel update?); installing what rebuilds it");
    }
    if (choice.driver_source == gpu::DriverSource::ubuntu_signed) {
      auto newer_kernel = signed_modules_for_newer_kernel(run, choice);
      if (!newer_kernel) return std::unexpected(newer_kernel.error());
      if (*newer_kernel) return plan::ApplyResult{.reboot = true};
    }
    const auto missing = missing_packages(files, driver_packages(choice, facts.kernel_release));
    if (!missing.empty()) {
      if (auto installed = apt_install(run, missing); !installed) return std::unexpected(installed.error());
    }
    if (const auto held_packages = held_driver_packages(choice); !held_packages.empty()) {
      if (auto held = apt_mark_hold(run, held_packages); !held) return std::unexpected(held.error());
    }
    if (!module_built_for(files, facts.kernel_release)) {
      return util::fail("driver " + std::to_string(choice.driver_branch) +
                        " installed, but no nvidia module was built for kernel " + facts.kernel_release +
                        " (see the DKMS lines in the log: `cs231n-agent logs nvidia-driver`)");
    }
    if (module_loaded(files, "nvidia")) return plan::ApplyResult{};

    if (module_loaded(files, "nouveau")) return replace_nouveau(run);
    auto loaded = run.probe(os::Command{.argv = {"modprobe", "nvidia"}});
    if (!loaded) return std::unexpected(loaded.error());
    if (!loaded->ok()) {
      if (loaded->output_tail.find("Key was rejected") != std::string::npos) {
        return util::fail(
            "the nvidia module is not signed with a key this VM trusts and Secure Boot is on: turn Secure Boot "
            "off (gcloud compute instances update NAME --no-shielded-secure-boot, VM stopped) or enroll the "
            "MOK key DKMS signs with (/var/lib/dkms/mok.pub: mokutil --import)");
      }
      return util::fail("modprobe nvidia " + loaded->describe() + ": " + std::string(util::trim(loaded->output_tail)));
    }
    run.note("nvidia module loaded for kernel " + facts.kernel_release);
    return plan::ApplyResult{};
  }

 private:
  static util::Result<void> apt_mark_hold(const plan::StepRun& run, const std::vector<std::string>& packages) {
    os::Command hold{.argv = {"apt-mark", "hold"}};
    hold.argv.insert(hold.argv.end(), packages.begin(), packages.end());
    auto held = run.run(hold);
    if (!held) return std::unexpected(held.error());
    return {};
  }

  // Ubuntu builds signed modules for the kernels in its archive; a VM made from an older image runs
  // a kernel the archive may have none for any more. Then the flavour's meta package brings the
  // modules of the archive's newest GCP kernel, linux-gcp that kernel, and the reboot starts it
  // (true: a reboot is needed). Nothing is installed when the archive has neither.
  static util::Result<bool> signed_modules_for_newer_kernel(const plan::StepRun& run, const gpu::Choice& choice) {
    const auto& kernel = run.facts().kernel_release;
    const std::string running = signed_modules_package(choice, kernel);
    if (missing_packages(run.system().files(), {running}).empty()) return false;
    if (auto updated = apt_get(run, {"update"}); !updated) return std::unexpected(updated.error());
    auto has_running = apt_has(run, running);
    if (!has_running) return std::unexpected(has_running.error());
    if (*has_running) return false;
    const std::string meta = signed_modules_package(choice, "gcp");
    auto has_meta = apt_has(run, meta);
    if (!has_meta) return std::unexpected(has_meta.error());
    if (!*has_meta) {
      return util::fail("Ubuntu's archive has neither " + running + " (the running kernel's signed modules) nor " +
                        meta + ": set gpu.driver_branch to another branch, or use an image with a GCP kernel");
    }
    run.note("Ubuntu's archive has no " + running + " for the running kernel " + kernel + ": installing " + meta +
             " and linux-gcp (the newest GCP kernel and its modules), which the reboot starts");
    const auto utils = "nvidia-utils-" + std::to_string(choice.driver_branch) + "-server";
    if (auto installed = apt_get_install(run, {meta, utils, "linux-gcp"}); !installed)
      return std::unexpected(installed.error());
    return true;
  }

  // nouveau drives the GPU and cannot be swapped for nvidia while the machine runs: blacklist it,
  // rebuild the initramfs (which may load it early) and ask for the GPU path's one reboot. The
  // blacklist records the boot it was written in, so a second boot that still has nouveau is
  // an error, not another reboot.
  static util::Result<plan::ApplyResult> replace_nouveau(const plan::StepRun& run) {
    const auto& files = run.system().files();
    const std::string boot_id = run.facts().boot_id;
    if (auto existing = files.read(k_nouveau_blacklist)) {
      std::string written_at;
      for (const auto& line : util::lines(*existing)) {
        if (line.starts_with(k_boot_marker)) written_at = line.substr(std::string_view(k_boot_marker).size());
      }
      if (!written_at.empty() && written_at != boot_id) {
        return util::fail(std::string("nouveau is still loaded after a reboot although ") + k_nouveau_blacklist +
                          " blacklists it; the initramfs may load it: run `update-initramfs -u` and reboot");
      }
    }
    const std::string content = std::string("# Written by cs231n-agent: the nvidia driver replaces nouveau.\n") +
                                k_boot_marker + boot_id + "\nblacklist nouveau\noptions nouveau modeset=0\n";
    if (auto made = files.make_dirs("/etc/modprobe.d", 0755); !made) return std::unexpected(made.error());
    if (auto written = files.write_atomic(k_nouveau_blacklist, content, 0644); !written)
      return std::unexpected(written.error());
    run.note("nouveau is loaded: blacklisted in " + std::string(k_nouveau_blacklist));
    auto initramfs = run.probe(os::Command{.argv = {"update-initramfs", "-u"}});
    if (!initramfs) {
      run.note("no update-initramfs here (" + initramfs.error().message + "): the blacklist alone keeps nouveau out");
    } else if (!initramfs->ok()) {
      return util::fail("update-initramfs -u " + initramfs->describe() + ": " +
                        std::string(util::trim(initramfs->output_tail)));
    }
    run.note("the nvidia module can load only after a reboot: asking for one");
    return plan::ApplyResult{.reboot = true};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_nvidia_driver_step() { return std::make_unique<NvidiaDriverStep>(); }

}  // namespace cs231n::steps
