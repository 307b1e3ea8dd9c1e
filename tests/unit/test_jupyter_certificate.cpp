#include <doctest/doctest.h>

#include <ctime>
#include <regex>

#include "agent/jupyter/certificate.hpp"

using namespace cs231n;

TEST_CASE("certificate: SANs, key types, validity") {
  jupyter::CertificateRequest request;
  request.ips = {"34.1.2.3", "127.0.0.1", "::1"};
  request.dns_names = {"cs231n-vm", "localhost"};
  request.days = 30;
  for (const auto* key : {"ec-p256", "rsa-2048"}) {
    request.key_type = key;
    const auto certificate = jupyter::make_self_signed(request);
    REQUIRE_MESSAGE(certificate, certificate.error().message);
    CHECK(certificate->key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    const auto info = jupyter::inspect_certificate(certificate->cert_pem);
    REQUIRE(info);
    CHECK(info->ips == std::vector<std::string>{"34.1.2.3", "127.0.0.1", "::1"});
    CHECK(info->dns_names == std::vector<std::string>{"cs231n-vm", "localhost"});
    CHECK(info->key_type == key);
    const auto days_left = (info->not_after - std::time(nullptr)) / 86400;
    CHECK(days_left >= 29);
    CHECK(days_left <= 30);
  }
}

TEST_CASE("certificate: refusals say why") {
  jupyter::CertificateRequest request;
  request.ips = {"127.0.0.1"};
  request.key_type = "rsa-1024";
  CHECK(jupyter::make_self_signed(request).error().message.starts_with(
      "RSA keys under 2048 bits are refused: Python >= 3.10"));
  request.key_type = "ec-p256";
  request.days = 826;
  CHECK(jupyter::make_self_signed(request).error().message.find("1 to 825 days") != std::string::npos);
  request.days = 365;
  request.ips = {"34.1.2"};
  CHECK(jupyter::make_self_signed(request).error().message == "\"34.1.2\" is not an IP address");
  request.ips = {};
  request.dns_names = {"bad name,IP:1.2.3.4"};
  CHECK(jupyter::make_self_signed(request).error().message == "\"bad name,IP:1.2.3.4\" is not a host name");
}
