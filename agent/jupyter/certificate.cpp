#include "agent/jupyter/certificate.hpp"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <memory>
#include <regex>

namespace cs231n::jupyter {

namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* pointer) const { Free(pointer); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Extension = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  if (code == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  return buffer;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

bool add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  Extension extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
  return extension && X509_add_ext(cert, extension.get(), -1) == 1;
}

}  // namespace

bool is_ip_address(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 || inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

bool is_dns_name(const std::string& text) {
  static const std::regex name(
      R"(([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)");
  return text.size() <= 253 && std::regex_match(text, name);
}

util::Result<Certificate> make_self_signed(const CertificateRequest& request) {
  if (request.days < 1 || request.days > k_max_certificate_days) {
    return util::fail("a certificate must be valid for 1 to " + std::to_string(k_max_certificate_days) +
                      " days (browsers refuse longer ones), not " + std::to_string(request.days));
  }
  if (request.ips.empty() && request.dns_names.empty())
    return util::fail("a certificate needs at least one IP address or name");
  std::string alt_names;
  for (const auto& ip : request.ips) {
    if (!is_ip_address(ip)) return util::fail("\"" + ip + "\" is not an IP address");
    alt_names += (alt_names.empty() ? "" : ",") + std::string("IP:") + ip;
  }
  for (const auto& name : request.dns_names) {
    if (!is_dns_name(name)) return util::fail("\"" + name + "\" is not a host name");
    alt_names += (alt_names.empty() ? "" : ",") + std::string("DNS:") + name;
  }

  Key key;
  if (request.key_type == "ec-p256") {
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  } else if (request.key_type == "rsa-2048" || request.key_type == "rsa-3072") {
    key.reset(
        EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(request.key_type == "rsa-2048" ? 2048 : 3072)));
  } else if (request.key_type.starts_with("rsa-")) {
    return util::fail(
        "RSA keys under 2048 bits are refused: Python >= 3.10 (OpenSSL security level 2) fails every TLS "
        "handshake with them; use ec-p256, rsa-2048 or rsa-3072");
  } else {
    return util::fail("unknown key type \"" + request.key_type + "\"; use ec-p256, rsa-2048 or rsa-3072");
  }
  if (!key) return util::fail("cannot make a key: " + openssl_error());

  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial_bytes[16];
  RAND_bytes(serial_bytes, sizeof serial_bytes);
  serial_bytes[0] &= 0x7f;  // positive
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate a client clock a little behind
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(request.days) * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string common_name = !request.dns_names.empty() ? request.dns_names.front() : request.ips.front();
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("cs231n-agent"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  const std::string key_usage =
      request.key_type == "ec-p256" ? "critical,digitalSignature" : "critical,digitalSignature,keyEncipherment";
  if (!add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !add_extension(cert.get(), NID_key_usage, key_usage) ||
      !add_extension(cert.get(), NID_ext_key_usage, "serverAuth") ||
      !add_extension(cert.get(), NID_subject_key_identifier, "hash") ||
      !add_extension(cert.get(), NID_subject_alt_name, alt_names)) {
    return util::fail("cannot add the certificate's extensions: " + openssl_error());
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return util::fail("cannot sign the certificate: " + openssl_error());

  Bio key_bio(BIO_new(BIO_s_mem()));
  Bio cert_bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) {
    return util::fail("cannot write PEM: " + openssl_error());
  }
  return Certificate{bio_text(key_bio.get()), bio_text(cert_bio.get())};
}

util::Result<CertificateInfo> inspect_certificate(const std::string& cert_pem) {
  Bio bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return util::fail("not a PEM certificate");
  CertificateInfo info;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* entry = sk_GENERAL_NAME_value(names, i);
    if (entry->type == GEN_DNS) {
      info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(entry->d.dNSName)),
                                  static_cast<std::size_t>(ASN1_STRING_length(entry->d.dNSName)));
    } else if (entry->type == GEN_IPADD) {
      const auto* bytes = ASN1_STRING_get0_data(entry->d.iPAddress);
      const int length = ASN1_STRING_length(entry->d.iPAddress);
      char text[INET6_ADDRSTRLEN] = {};
      if (length == 4) inet_ntop(AF_INET, bytes, text, sizeof text);
      if (length == 16) inet_ntop(AF_INET6, bytes, text, sizeof text);
      info.ips.emplace_back(text);
    }
  }
  GENERAL_NAMES_free(names);
  std::tm not_after{};
  ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &not_after);
  info.not_after = timegm(&not_after);
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    info.key_type = "ec-p" + std::to_string(EVP_PKEY_get_bits(key));
  } else {
    info.key_type = "rsa-" + std::to_string(EVP_PKEY_get_bits(key));
  }
  return info;
}

}  // namespace cs231n::jupyter
