#include <doctest/doctest.h>

#include <ctime>
#include <regex>

#include "agent/jupyter/certificate.hpp"
#include "agent/jupyter/config_file.hpp"
#include "agent/jupyter/password.hpp"

using namespace cs231n;

TEST_CASE("jupyter password: sha1 form is IPython's, byte for byte") {
  // hashlib.sha1(("pässword" + "0123456789ab").encode()).hexdigest()
  CHECK(jupyter::sha1_hash("pässword", "0123456789ab") == "sha1:0123456789ab:8e1b04744c08f7f5d405615f25fe8f4d76422cb1");
  const auto made = jupyter::make_sha1_hash("hunter2");
  CHECK(std::regex_match(made, std::regex("sha1:[0-9a-f]{12}:[0-9a-f]{40}")));
  CHECK(made != jupyter::make_sha1_hash("hunter2"));  // a fresh salt each time
  CHECK(jupyter::check_hash(made, "hunter2"));
  CHECK_FALSE(jupyter::check_hash(made, "hunter3"));
  CHECK_FALSE(jupyter::check_hash("sha1:nocolon", "x"));
  CHECK_FALSE(jupyter::check_hash("nosuchalgo:ab:cd", "x"));
}

TEST_CASE("jupyter password: argon2 form is jupyter_server's") {
  const auto made = jupyter::make_argon2_hash("hunter2");
  CHECK(std::regex_match(made, std::regex(R"(argon2:\$argon2id\$v=19\$m=10240,t=10,p=8\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{22})")));
  CHECK(jupyter::check_hash(made, "hunter2"));
  CHECK_FALSE(jupyter::check_hash(made, "Hunter2"));
}

TEST_CASE("jupyter password: random passwords are long and unambiguous") {
  const auto password = jupyter::random_password();
  CHECK(password.size() == 20);
  CHECK(password.find_first_of("0O1lI") == std::string::npos);
  CHECK(password != jupyter::random_password());
}

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
  CHECK(jupyter::make_self_signed(request).error().message.starts_with("RSA keys under 2048 bits are refused: Python >= 3.10"));
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

TEST_CASE("managed block: user lines kept, block replaced, idempotent") {
  const std::string user_config = "# my settings\nc.NotebookApp.iopub_data_rate_limit = 1e10\n";
  const auto first = jupyter::with_managed_block(user_config, "c.NotebookApp.port = 8888\n");
  CHECK(first.starts_with(user_config));
  CHECK(first.find("c.NotebookApp.port = 8888") != std::string::npos);
  CHECK(jupyter::with_managed_block(first, "c.NotebookApp.port = 8888\n") == first);
  const auto second = jupyter::with_managed_block(first + "c.after = 1\n", "c.NotebookApp.port = 9999\n");
  CHECK(second.find("8888") == std::string::npos);
  CHECK(second.find("c.NotebookApp.port = 9999") != std::string::npos);
  CHECK(second.starts_with(user_config));
  CHECK(second.ends_with(std::string(jupyter::k_block_end) + "\nc.after = 1\n"));
  CHECK(jupyter::with_managed_block("", "x = 1\n") ==
        std::string(jupyter::k_block_begin) + "\nx = 1\n" + std::string(jupyter::k_block_end) + "\n");
}

TEST_CASE("escaping: Python literals and systemd values cannot be broken out of") {
  CHECK(jupyter::python_string("/home/ann/cs231n") == "\"/home/ann/cs231n\"");
  CHECK(jupyter::python_string("a\"; import os; os.system('x') #") == "\"a\\\"; import os; os.system('x') #\"");
  CHECK(jupyter::python_string("back\\slash\nnew") == "\"back\\\\slash\\x0anew\"");
  CHECK(jupyter::systemd_quote("/opt/conda/bin/jupyter") == "/opt/conda/bin/jupyter");
  CHECK(jupyter::systemd_quote("100%") == "100%%");
  CHECK(jupyter::systemd_quote("a b\"c") == "\"a b\\\"c\"");
}

TEST_CASE("jupyter config blocks: both servers, port_retries off") {
  jupyter::ServerSettings settings{"/home/ann/.jupyter/certs/jupyter.pem", "/home/ann/.jupyter/certs/jupyter.key", 8888,
                                   "/home/ann/cs231n-setup", "sha1:0123456789ab:abc"};
  const auto notebook = jupyter::notebook_config_block(settings);
  CHECK(notebook.find("c.NotebookApp.certfile = \"/home/ann/.jupyter/certs/jupyter.pem\"\n") != std::string::npos);
  CHECK(notebook.find("c.NotebookApp.port_retries = 0\n") != std::string::npos);
  CHECK(notebook.find("c.NotebookApp.password = \"sha1:0123456789ab:abc\"\n") != std::string::npos);
  const auto server = jupyter::server_config_block(settings);
  CHECK(server.find("c.ServerApp.root_dir = \"/home/ann/cs231n-setup\"\n") != std::string::npos);
  CHECK(server.find("c.PasswordIdentityProvider.hashed_password = \"sha1:0123456789ab:abc\"\n") != std::string::npos);
  CHECK(server.find("c.ServerApp.open_browser = False\n") != std::string::npos);
}
