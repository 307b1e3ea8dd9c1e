#include <ctime>

#include "agent/idle/signals.hpp"
#include "agent/jupyter/certificate.hpp"
#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/jupyter_common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

constexpr std::time_t k_renew_before = std::time_t{30} * 86400;

class JupyterCertStep : public plan::Step {
 public:
  JupyterCertStep() : Step({.name = "jupyter-cert", .after = {"user"}, .per_instance = true}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    return plan::will_run(
        "self-signed " + config.string("jupyter.certificate_key") + " certificate for " +
        util::join(certificate_ips(context), ", ") + ", " + util::join(certificate_names(context), ", ") + ", valid " +
        std::to_string(config.integer("jupyter.certificate_days")) + " days, in " + jupyter_dir(context) + "/certs");
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    const auto& config = context.config;
    return {{"key", config.string("jupyter.certificate_key")},
            {"days", config.integer("jupyter.certificate_days")},
            {"ips", certificate_ips(context)},
            {"names", certificate_names(context)},
            {"user", context.facts.user.name}};
  }

  // Done while the certificate names every current address, has the configured key type, and
  // is good for 30 more days; a changed IP or a near expiry makes a new one.
  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    const auto pem = files.read_user_file(certificate_path(run.context()));
    if (!pem || !files.user_path_exists(key_path(run.context()))) return plan::CheckResult{false, ""};
    const auto info = jupyter::inspect_certificate(*pem);
    if (!info) return plan::CheckResult{false, ""};
    for (const auto& ip : certificate_ips(run.context())) {
      if (std::ranges::find(info->ips, ip) == info->ips.end()) return plan::CheckResult{false, ""};
    }
    if (info->key_type != run.config().string("jupyter.certificate_key")) return plan::CheckResult{false, ""};
    if (info->not_after - std::time(nullptr) < k_renew_before) return plan::CheckResult{false, ""};
    return plan::CheckResult{
        true, "the certificate names " + util::join(info->ips, ", ") + " and is valid for 30 days or more"};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    jupyter::CertificateRequest request;
    request.ips = certificate_ips(run.context());
    request.dns_names = certificate_names(run.context());
    request.days = static_cast<int>(run.config().integer("jupyter.certificate_days"));
    request.key_type = run.config().string("jupyter.certificate_key");
    auto certificate = jupyter::make_self_signed(request);
    if (!certificate) return std::unexpected(certificate.error());
    if (auto key = write_as_user(run, key_path(run.context()), certificate->key_pem, "0600"); !key)
      return std::unexpected(key.error());
    if (auto cert = write_as_user(run, certificate_path(run.context()), certificate->cert_pem, "0644"); !cert)
      return std::unexpected(cert.error());
    // Root's record of it: the idle check counts a Jupyter that does not answer just after as
    // restarting (idle::apply_probe_grace), never on the strength of the student's file.
    if (auto recorded = idle::record_jupyter_change(run.system().files(), run.context().paths.jupyter_changed_file(),
                                                    run.system().now());
        !recorded)
      return std::unexpected(recorded.error());
    // A running Jupyter read its certificate when it started: until it starts again it serves
    // the old one, which browsers and the idle check (TLS to 127.0.0.1) no longer accept for the
    // new address. try-restart leaves a stopped server stopped.
    const bool unit_installed = run.system().files().exists(std::string(k_unit_dir) + "/" + k_jupyter_unit);
    if (unit_installed && run.system().services().systemd_running()) {
      if (auto restarted = run.run(os::Command{{"systemctl", "try-restart", k_jupyter_unit}}); !restarted)
        return std::unexpected(restarted.error());
      run.note("restarted a running Jupyter so that it serves the new certificate");
    }
    return plan::ApplyResult{};
  }
};

}  // namespace

std::unique_ptr<plan::Step> make_jupyter_cert_step() { return std::make_unique<JupyterCertStep>(); }

}  // namespace cs231n::steps
