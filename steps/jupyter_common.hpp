#pragma once

#include <string>
#include <vector>

#include "agent/plan/step.hpp"

namespace cs231n::steps {

// Where the Jupyter steps keep what they share. The hash is not the password, but it is kept
// root-only all the same; a generated password is only ever in its own root-only file.
inline constexpr const char* k_generated_password_file = "/root/cs231n-jupyter-password";
inline constexpr const char* k_jupyter_unit = "cs231n-jupyter.service";
inline constexpr const char* k_unit_dir = "/etc/systemd/system";

std::string jupyter_dir(const plan::Context& context);
std::string certificate_path(const plan::Context& context);
std::string key_path(const plan::Context& context);

// The addresses the certificate must name: 127.0.0.1, the VM's internal and external IPs (from
// the metadata server on GCE).
std::vector<std::string> certificate_ips(const plan::Context& context);
std::vector<std::string> certificate_names(const plan::Context& context);

// "https://34.1.2.3:8888", the address a student opens: the last of certificate_ips.
std::string jupyter_url(const plan::Context& context);

// "https://34.1.2.3:8888/", the address a finished run reports (the closing lines, the guest
// attribute jupyter-url): the VM's external IP; "" when it has none (off GCE).
std::string external_jupyter_url(const config::Config& config, const detect::Facts& facts);

// Whether Jupyter serves: GET /api/kernels on 127.0.0.1 with the agent's token, trusting only the
// certificate in the user's home, read as read_user_file reads it and handed to TLS as bytes (a
// path would be opened again by libcurl as root). `problem` is empty when it answers 200, or when
// there is nothing to ask (no service, or systemd is not running here: it starts at boot).
struct JupyterProbe {
  bool serves = false;
  std::string problem;
  std::string detail;
};
JupyterProbe probe_jupyter(const plan::StepRun& run);

}  // namespace cs231n::steps
