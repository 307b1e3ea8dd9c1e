#pragma once

#include <string>
#include <string_view>

namespace cs231n::jupyter {

inline constexpr std::string_view k_block_begin =
    "# >>> cs231n-agent >>> (this block is rewritten by cs231n-agent; edit outside it)";
inline constexpr std::string_view k_block_end = "# <<< cs231n-agent <<<";

// `existing` with the agent's block replaced by `block` (or appended when there is none); every
// line outside the block is kept as it was. Idempotent.
std::string with_managed_block(std::string_view existing, std::string_view block);

// A Python string literal for `text`: double-quoted, with \\, \", and control characters escaped,
// so no value can end the string and inject code.
std::string python_string(std::string_view text);

// An argument for a systemd Exec line or a value of a unit setting: % doubled (specifiers), and
// double-quoted with \\ and \" escaped when it has spaces or quotes.
std::string systemd_quote(std::string_view text);

struct ServerSettings {
  std::string certfile;
  std::string keyfile;
  int port = 8888;
  std::string root_dir;
  std::string password_hash;
};

// The block for ~/.jupyter/jupyter_notebook_config.py (notebook 6: NotebookApp).
std::string notebook_config_block(const ServerSettings& settings);
// The block for ~/.jupyter/jupyter_server_config.py (notebook 7, JupyterLab 4: ServerApp, and
// PasswordIdentityProvider.hashed_password, which jupyter_server 2 reads first).
std::string server_config_block(const ServerSettings& settings);

}  // namespace cs231n::jupyter
