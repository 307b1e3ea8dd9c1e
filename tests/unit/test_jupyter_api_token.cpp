#include <doctest/doctest.h>

#include "agent/jupyter/api_token.hpp"
#include "agent/jupyter/config_file.hpp"

using namespace cs231n;

TEST_CASE("api token file: one line the EnvironmentFile= syntax reads; anything else is refused") {
  const auto token = jupyter::make_api_token();
  CHECK(token.size() == 64);
  CHECK(token != jupyter::make_api_token());
  CHECK(jupyter::api_token_file_content(token) == "CS231N_JUPYTER_API_TOKEN=" + token + "\n");
  CHECK(jupyter::parse_api_token_file(jupyter::api_token_file_content(token)) == token);
  CHECK(jupyter::parse_api_token_file("CS231N_JUPYTER_API_TOKEN=" + token) == token);
  for (const std::string& bad : {std::string(""), "CS231N_JUPYTER_API_TOKEN=" + token.substr(1),
                                 "JUPYTER_TOKEN=" + token, "CS231N_JUPYTER_API_TOKEN=" + std::string(64, 'G'),
                                 "CS231N_JUPYTER_API_TOKEN=" + token + "\nCS231N_JUPYTER_API_TOKEN=" + token + "\n"}) {
    CHECK_MESSAGE(!jupyter::parse_api_token_file(bad), bad);
  }
}

TEST_CASE("jupyter config blocks: the token comes from the environment and leaves it, set only when there") {
  const jupyter::ServerSettings settings{"/c.pem", "/c.key", 8888, "/home/ann/cs231n-setup", "sha1:0123456789ab:abc"};
  const std::string expected_tail =
      "import os, sys\n"
      "sys._cs231n_api_token = os.environ.pop(\"CS231N_JUPYTER_API_TOKEN\", getattr(sys, \"_cs231n_api_token\", "
      "\"\"))\n"
      "if sys._cs231n_api_token:\n"
      "    c.%s.token = sys._cs231n_api_token\n";
  const auto with_app = [&](const std::string& app) {
    std::string text = expected_tail;
    text.replace(text.find("%s"), 2, app);
    return text;
  };
  CHECK(jupyter::notebook_config_block(settings).ends_with(with_app("NotebookApp")));
  CHECK(jupyter::server_config_block(settings).ends_with(with_app("ServerApp")));
}
