#include "steps/verify.hpp"

#include <algorithm>

#include "agent/gpu/compat.hpp"
#include "agent/util/strings.hpp"
#include "agent/util/text_table.hpp"
#include "steps/common.hpp"
#include "steps/gpu_common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

bool VerifyReport::ok() const {
  return std::ranges::all_of(checks, [](const VerifyCheck& check) { return check.ok; });
}

nlohmann::json VerifyReport::to_json() const {
  nlohmann::json document{{"ok", ok()}, {"checks", nlohmann::json::array()}};
  for (const auto& check : checks)
    document["checks"].push_back({{"name", check.name}, {"ok", check.ok}, {"detail", check.detail}});
  return document;
}

std::string VerifyReport::to_table() const {
  constexpr std::string_view k_ok = "ok", k_fail = "FAIL";
  // As wide as FAIL even when every check is ok.
  util::TextTable table({{util::TextTable::Align::left, std::max(k_ok.size(), k_fail.size())}});
  for (const auto& check : checks) table.add_row({std::string(check.ok ? k_ok : k_fail), check.name, check.detail});
  return table.render();
}

util::Result<VerifyReport> verify_machine(const plan::StepRun& run) {
  VerifyReport report;
  const auto gpu_plan = plan_gpu(run.context());
  auto torch = query_torch(run);
  if (!torch) return std::unexpected(torch.error());
  if (torch->imported) {
    report.checks.push_back({"torch", true,
                             "torch " + torch->version +
                                 (torch->cuda.empty() ? " (CPU build)" : " built for CUDA " + torch->cuda) +
                                 " in env " + run.config().string("conda_env.name")});
  } else {
    report.checks.push_back({"torch", false, torch->error});
  }
  if (torch->imported && run.config().boolean("pytorch.torchvision")) {
    report.checks.push_back(torch->torchvision.empty()
                                ? VerifyCheck{"torchvision", false, "import torchvision: " + torch->torchvision_error}
                                : VerifyCheck{"torchvision", true, "torchvision " + torch->torchvision});
  }
  if (!gpu_plan.active) return report;
  if (gpu_plan.refusal) {
    report.checks.push_back({"gpu", false, "the GPU path was refused: " + gpu_plan.refusal->message()});
    return report;
  }

  auto smi = query_nvidia_smi(run);
  if (!smi) return std::unexpected(smi.error());
  if (!smi->ok) {
    report.checks.push_back({"nvidia-smi", false, smi->error});
    return report;
  }
  report.checks.push_back({"nvidia-smi", true, util::join(smi->names, ", ") + ", driver " + smi->driver_version});

  // The CUDA that must run: torch's own runtime when torch was built with one, else the toolkit's.
  const std::string cuda = torch->imported && !torch->cuda.empty() ? torch->cuda : gpu_plan.choice.cuda;
  const auto release = gpu::find_cuda(cuda);
  const std::string minimum = release ? std::string(release->min_driver_version) : "";
  const bool new_enough = minimum.empty() || util::compare_versions(smi->driver_version, minimum) >= 0;
  report.checks.push_back(
      {"driver", new_enough,
       "driver " + smi->driver_version +
           (minimum.empty() ? "" : (new_enough ? " >= " : " < ") + minimum + ", the minimum for CUDA " + cuda)});

  if (torch->imported) {
    if (torch->cuda_available) {
      report.checks.push_back(
          {"torch.cuda", true, "torch.cuda.is_available() is True: " + util::join(torch->devices, ", ")});
    } else {
      report.checks.push_back({"torch.cuda", false,
                               torch->cuda.empty()
                                   ? "torch " + torch->version + " is a CPU build: torch.cuda.is_available() is False"
                                   : "torch.cuda.is_available() is False although nvidia-smi works"});
    }
  }
  return report;
}

namespace {

class VerifyStep : public plan::Step {
 public:
  // After ready too: a run is done only after it was ready.
  VerifyStep()
      : Step({.name = "verify", .after = {"ready", "pytorch", "cuda", "gpu-persistence", "jupyter-service"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    if (gpu_plan.refusal) return plan::refused(gpu_plan.refusal->message());
    std::string summary =
        std::string(context.config.boolean("pytorch.torchvision") ? "import torch and torchvision" : "import torch") +
        " in env " + context.config.string("conda_env.name");
    if (gpu_plan.active && !gpu_plan.refusal)
      summary += ", check nvidia-smi, the driver version and torch.cuda.is_available()";
    return plan::will_run(summary);
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    const auto gpu_plan = plan_gpu(context);
    nlohmann::json inputs{{"env", env_dir(context)}, {"gpu", gpu_plan.active && !gpu_plan.refusal}};
    // Only when set: the seed's fingerprint stays the one of before the key.
    if (context.config.boolean("pytorch.torchvision")) inputs["torchvision"] = true;
    return inputs;
  }

  // Verifying is the point of the step, and apply() does it: there is nothing cheaper to check.
  util::Result<plan::CheckResult> check(const plan::StepRun& /*run*/) const override {
    return plan::CheckResult{false, "", false};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    auto report = verify_machine(run);
    if (!report) return std::unexpected(report.error());
    for (const auto& check : report->checks)
      run.note(std::string(check.ok ? "ok " : "FAIL ") + check.name + ": " + check.detail);
    for (const auto& check : report->checks) {
      if (!check.ok) return util::fail("verify: " + check.name + ": " + check.detail);
    }
    return plan::ApplyResult{};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_verify_step() { return std::make_unique<VerifyStep>(); }

}  // namespace cs231n::steps
