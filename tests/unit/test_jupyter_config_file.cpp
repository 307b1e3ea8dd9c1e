#include <doctest/doctest.h>

#include "agent/jupyter/config_file.hpp"

using namespace cs231n;

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
