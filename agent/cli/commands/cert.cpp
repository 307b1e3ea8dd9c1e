#include <algorithm>
#include <filesystem>
#include <iostream>

#include "agent/cli/commands/commands.hpp"
#include "agent/core/error.hpp"
#include "agent/jupyter/certificate.hpp"
#include "agent/os/real_system.hpp"

namespace cs231n::cli {

namespace {

struct CertOptions {
  std::string out_dir;
  std::vector<std::string> ips;
  std::vector<std::string> dns_names;
  int days = 365;
  std::string key_type = "ec-p256";
};

int make_certificate(const CertOptions& options) {
  os::RealSystem system("/");
  jupyter::CertificateRequest request;
  request.ips = options.ips;
  if (std::ranges::find(request.ips, "127.0.0.1") == request.ips.end()) request.ips.push_back("127.0.0.1");
  request.dns_names = options.dns_names;
  const std::string hostname = system.hostname();
  if (jupyter::is_dns_name(hostname) && std::ranges::find(request.dns_names, hostname) == request.dns_names.end()) {
    request.dns_names.push_back(hostname);
  }
  request.days = options.days;
  request.key_type = options.key_type;
  const auto certificate = jupyter::make_self_signed(request);
  if (!certificate) throw Error(ExitCode::usage, certificate.error().message);
  const auto dir = std::filesystem::absolute(options.out_dir).lexically_normal().string();
  const auto& files = system.files();
  if (auto made = files.make_dirs(dir, 0755); !made) throw Error(ExitCode::step_failed, made.error().message);
  if (auto written = files.write_atomic(dir + "/jupyter.key", certificate->key_pem, 0600); !written) {
    throw Error(ExitCode::step_failed, written.error().message);
  }
  if (auto written = files.write_atomic(dir + "/jupyter.pem", certificate->cert_pem, 0644); !written) {
    throw Error(ExitCode::step_failed, written.error().message);
  }
  std::cout << dir << "/jupyter.pem\n" << dir << "/jupyter.key\n";
  return 0;
}

}  // namespace

CommandRunner add_cert_command(CLI::App& command, const LogOptions&) {
  auto options = std::make_shared<CertOptions>();
  command.add_option("--out", options->out_dir, "Folder for jupyter.pem and jupyter.key (0600)")->required();
  command.add_option("--ip", options->ips, "An IP address for the subjectAltName (127.0.0.1 is always there)");
  command.add_option("--dns", options->dns_names, "A host name for the subjectAltName (the hostname is always there)");
  command.add_option("--days", options->days, "Validity, at most 825 days")->capture_default_str();
  command.add_option("--key", options->key_type, "ec-p256, rsa-2048 or rsa-3072 (smaller RSA keys are refused)")
      ->capture_default_str();
  return [options] { return make_certificate(*options); };
}

}  // namespace cs231n::cli
