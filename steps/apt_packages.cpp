#include "agent/util/strings.hpp"
#include "steps/apt.hpp"
#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

// What later steps need: bzip2 for old Anaconda installers, git for the assignments, unzip for
// the datasets, ca-certificates for HTTPS.
const std::vector<std::string> k_base_packages{"bzip2", "ca-certificates", "git", "unzip"};

class AptPackagesStep : public plan::Step {
 public:
  AptPackagesStep() : Step({.name = "apt-packages", .resources = {"apt"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto missing = missing_packages(context.system.files(), k_base_packages);
    if (missing.empty()) return plan::will_run("apt-get install " + util::join(k_base_packages, " "));
    return plan::will_run("apt-get update; apt-get install " + util::join(missing, " "));
  }

  nlohmann::json inputs(const plan::Context& /*context*/) const override { return {{"packages", k_base_packages}}; }

  std::vector<plan::ExpectedDownload> expected_downloads(const plan::Context& context) const override {
    const auto missing = missing_packages(context.system.files(), k_base_packages);
    if (missing.empty()) return {};
    return {{util::join(missing, " ") + " and their dependencies", std::nullopt,
             "not known here (the OS archive's index is not read)"}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    if (missing_packages(run.system().files(), k_base_packages).empty())
      return plan::CheckResult{true, "base packages installed"};
    return plan::CheckResult{false, ""};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    if (auto installed = apt_install(run, missing_packages(run.system().files(), k_base_packages)); !installed) {
      return std::unexpected(installed.error());
    }
    return plan::ApplyResult{};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_apt_packages_step() { return std::make_unique<AptPackagesStep>(); }

}  // namespace cs231n::steps
