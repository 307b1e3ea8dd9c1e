#include "steps/jupyter_common.hpp"

#include "agent/idle/signals.hpp"
#include "agent/jupyter/api_token.hpp"
#include "agent/jupyter/certificate.hpp"
#include "steps/common.hpp"

namespace cs231n::steps {

namespace {

// The one place that knows how Jupyter's address is spelled and which port it listens on.
std::string url_at(const std::string& host, const config::Config& config) {
  return "https://" + host + ":" + std::to_string(config.integer("jupyter.port"));
}

}  // namespace

std::string jupyter_dir(const plan::Context& context) { return home_of(context) + "/.jupyter"; }
// idle-check finds the certificate by the same constant.
std::string certificate_path(const plan::Context& context) { return home_of(context) + jupyter::k_certificate_in_home; }
std::string key_path(const plan::Context& context) { return jupyter_dir(context) + "/certs/jupyter.key"; }

std::vector<std::string> certificate_ips(const plan::Context& context) {
  std::vector<std::string> ips{"127.0.0.1"};
  if (const auto& instance = context.facts.instance) {
    for (const auto& ip : {instance->internal_ip, instance->external_ip}) {
      if (jupyter::is_ip_address(ip) && std::ranges::find(ips, ip) == ips.end()) ips.push_back(ip);
    }
  }
  return ips;
}

std::vector<std::string> certificate_names(const plan::Context& context) {
  std::vector<std::string> names{"localhost"};
  if (jupyter::is_dns_name(context.facts.hostname) && context.facts.hostname != "localhost")
    names.push_back(context.facts.hostname);
  return names;
}

std::string jupyter_url(const plan::Context& context) {
  return url_at(certificate_ips(context).back(), context.config);
}

std::string external_jupyter_url(const config::Config& config, const detect::Facts& facts) {
  if (!facts.instance || facts.instance->external_ip.empty()) return "";
  return url_at(facts.instance->external_ip, config) + "/";
}

JupyterProbe probe_jupyter(const plan::StepRun& run) {
  const auto& context = run.context();
  const auto& files = run.system().files();
  if (!context.config.boolean("jupyter.service")) return {true, "", "no Jupyter service (jupyter.service is false)"};
  if (!run.system().services().systemd_running())
    return {true, "", std::string(k_jupyter_unit) + " is enabled; systemd is not running here, so it starts at boot"};
  const std::string base = url_at("127.0.0.1", context.config);
  const auto token = jupyter::parse_api_token_file(files.read(context.paths.api_token_file()).value_or(""));
  if (!token) return {false, "no API token in " + context.paths.api_token_file(), ""};
  const std::string certificate = certificate_path(context);
  const auto pem = files.read_user_file(certificate);
  if (!pem) return {false, "no certificate at " + certificate, ""};
  const auto answer = idle::fetch_kernels({base + "/api/kernels", *pem, *token});
  if (!answer) return {false, "Jupyter does not answer at " + base + ": " + answer.error().message, ""};
  if (answer->status != 200) {
    return {false, "Jupyter at " + base + " answered HTTP " + std::to_string(answer->status) + " to the agent's token",
            ""};
  }
  return {true, "", "Jupyter answers at " + base};
}

}  // namespace cs231n::steps
