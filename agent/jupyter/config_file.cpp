#include "agent/jupyter/config_file.hpp"

#include <cstdio>

#include "agent/jupyter/api_token.hpp"

namespace cs231n::jupyter {

std::string with_managed_block(std::string_view existing, std::string_view block) {
  std::string managed = std::string(k_block_begin) + "\n" + std::string(block);
  if (!managed.ends_with('\n')) managed += '\n';
  managed += std::string(k_block_end) + "\n";
  const auto begin = existing.find(k_block_begin);
  const auto end = begin == std::string_view::npos ? begin : existing.find(k_block_end, begin);
  if (begin != std::string_view::npos && end != std::string_view::npos) {
    auto after = end + k_block_end.size();
    if (after < existing.size() && existing[after] == '\n') ++after;
    return std::string(existing.substr(0, begin)) + managed + std::string(existing.substr(after));
  }
  std::string result(existing);
  if (!result.empty() && !result.ends_with('\n')) result += '\n';
  if (!result.empty()) result += '\n';
  return result + managed;
}

std::string python_string(std::string_view text) {
  std::string literal = "\"";
  for (const unsigned char c : text) {
    if (c == '\\' || c == '"') {
      literal += '\\';
      literal += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      literal += escaped;
    } else {
      literal += static_cast<char>(c);
    }
  }
  return literal + "\"";
}

std::string systemd_quote(std::string_view text) {
  std::string value;
  bool needs_quotes = text.empty();
  for (const char c : text) {
    if (c == '%') {
      value += "%%";
    } else if (c == '\\' || c == '"') {
      value += '\\';
      value += c;
      needs_quotes = true;
    } else if (c == '\n') {
      value += "\\n";
      needs_quotes = true;
    } else {
      if (c == ' ' || c == '\t' || c == '\'' || c == ';') needs_quotes = true;
      value += c;
    }
  }
  return needs_quotes ? "\"" + value + "\"" : value;
}

namespace {

std::string common_lines(const std::string& app, const ServerSettings& settings) {
  // clang-format off
  return "c." + app + ".certfile = " + python_string(settings.certfile) + "\n" +
         "c." + app + ".keyfile = " + python_string(settings.keyfile) + "\n" +
         "c." + app + ".ip = \"0.0.0.0\"\n" +
         "c." + app + ".port = " + std::to_string(settings.port) + "\n" +
         // A busy port must fail loudly, not move Jupyter to another port the firewall blocks.
         "c." + app + ".port_retries = 0\n" +
         "c." + app + ".open_browser = False\n";
  // clang-format on
}

// The agent's API token (see api_token.hpp) comes from the service's environment and is taken out
// of it here, before any kernel starts, so kernels never inherit it. Notebook 7 reads both config
// files in one process: the first pops the variable, so the value is kept on `sys` for the second.
// Without the variable (Jupyter started by hand) no token is set and Jupyter's defaults stay.
std::string api_token_lines(const std::string& app) {
  // clang-format off
  return "import os, sys\n"
         "sys._cs231n_api_token = os.environ.pop(\"" + std::string(k_api_token_variable) +
         "\", getattr(sys, \"_cs231n_api_token\", \"\"))\n"
         "if sys._cs231n_api_token:\n"
         "    c." + app + ".token = sys._cs231n_api_token\n";
  // clang-format on
}

}  // namespace

std::string notebook_config_block(const ServerSettings& settings) {
  return common_lines("NotebookApp", settings) + "c.NotebookApp.notebook_dir = " + python_string(settings.root_dir) +
         "\n" + "c.NotebookApp.password = " + python_string(settings.password_hash) + "\n" +
         api_token_lines("NotebookApp");
}

std::string server_config_block(const ServerSettings& settings) {
  return common_lines("ServerApp", settings) + "c.ServerApp.root_dir = " + python_string(settings.root_dir) + "\n" +
         "c.ServerApp.password = " + python_string(settings.password_hash) + "\n" +
         "c.PasswordIdentityProvider.hashed_password = " + python_string(settings.password_hash) + "\n" +
         api_token_lines("ServerApp");
}

}  // namespace cs231n::jupyter
