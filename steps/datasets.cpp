#include "steps/common.hpp"
#include "steps/table.hpp"
#include <set>

#include "agent/util/strings.hpp"

namespace cs231n::steps {

namespace {

class DatasetsStep : public plan::Step {
 public:
  std::string name() const override { return "datasets"; }
  std::vector<std::string> after() const override { return {"assignments"}; }

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    if (!config.boolean("datasets.enabled")) return plan::skipped("datasets.enabled is false");
    std::set<std::string> urls;
    std::uint64_t bytes = 0;
    bool all_sizes_known = true;
    std::size_t count = 0;
    for (const char* list : {"datasets.items", "datasets.extra"}) {
      for (const auto& item : config.at(list)) {
        ++count;
        if (!urls.insert(item.at("url").get<std::string>()).second) continue;
        if (item.contains("size")) bytes += item.at("size").get<std::uint64_t>();
        else all_sizes_known = false;
      }
    }
    if (count == 0) return plan::skipped("the dataset manifest is empty");
    return plan::will_run("download " + std::to_string(urls.size()) + " files (" + (all_sizes_known ? "" : "over ") +
                          util::human_bytes(bytes) + "), verify and unpack them into " + std::to_string(count) +
                          " assignment folders");
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"datasets", context.config.at("datasets")}, {"folder", context.config.string("assignments.folder")}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& /*run*/) const override {
    return plan::CheckResult{false, "", false};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& /*run*/) const override {
    return not_yet_implemented(name());
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_datasets_step() { return std::make_unique<DatasetsStep>(); }

}  // namespace cs231n::steps
