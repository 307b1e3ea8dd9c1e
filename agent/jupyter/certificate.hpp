#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "agent/util/result.hpp"

namespace cs231n::jupyter {

inline constexpr int k_max_certificate_days = 825;

struct CertificateRequest {
  std::vector<std::string> ips;        // each becomes an IP: subjectAltName entry
  std::vector<std::string> dns_names;  // each a DNS: entry; the first is the subject's CN
  int days = 365;                      // 1..825 (what browsers still accept)
  std::string key_type = "ec-p256";    // "ec-p256", "rsa-2048" or "rsa-3072"
};

struct Certificate {
  std::string key_pem;  // PKCS#8, unencrypted
  std::string cert_pem;
};

// A self-signed server certificate made with OpenSSL's API: SHA-256 signature, subjectAltName
// with every IP and name, extendedKeyUsage serverAuth. Fails for a bad IP or name, a validity
// outside 1..825 days, or a key type not listed (RSA under 2048 bits is refused: Python >= 3.10
// rejects every TLS handshake with such a key).
util::Result<Certificate> make_self_signed(const CertificateRequest& request);

struct CertificateInfo {
  std::vector<std::string> ips;
  std::vector<std::string> dns_names;
  std::time_t not_after = 0;
  std::string key_type;  // "ec-p256", "rsa-2048", ...
};

// What a PEM certificate says of itself (to decide whether to make a new one).
util::Result<CertificateInfo> inspect_certificate(const std::string& cert_pem);

bool is_ip_address(const std::string& text);
bool is_dns_name(const std::string& text);

}  // namespace cs231n::jupyter
