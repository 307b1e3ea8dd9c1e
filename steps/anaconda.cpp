#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

class AnacondaStep : public plan::Step {
 public:
  std::string name() const override { return "anaconda"; }
  std::vector<std::string> after() const override { return {"user", "apt-packages"}; }
  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    const std::string prefix = expand_home(context, config.string("anaconda.prefix"));
    const std::string installer = file_name_of(config.string("anaconda.installer_url"));
    const std::string summary = "install " + installer + " (sha256 " + config.string("anaconda.installer_sha256").substr(0, 12) +
                                "...) as " + context.facts.user.name + " into " + prefix;
    if (context.system.files().exists(prefix + "/bin/conda")) return plan::already_done("conda found in " + prefix, summary);
    return plan::will_run(summary);
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_anaconda_step() { return std::make_unique<AnacondaStep>(); }

}  // namespace cs231n::steps
