#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cs231n::jupyter {

// The agent's own credential for Jupyter's REST API: `idle-check` reads /api/kernels with it
// (Jupyter answers only authenticated requests, and the student's password is known only as a
// hash). Jupyter accepts a token beside the password, so the student's login is unchanged.
//
// Why this design: the token lives in one root-only file (0600 in a 0700 folder), which is also
// the EnvironmentFile= of cs231n-jupyter.service (Paths::api_token_file). systemd reads it as root before it drops to
// the student, so no file the student's processes can open holds it, and it never appears in a unit, an argv or a log.
// The managed config block takes it out of the server's environment at start, so kernels (and anything a notebook
// prints of os.environ) never see it; notebook 6 and jupyter_server print a token that did not come from them as
// "?token=...". Jupyter itself keeps it only in its runtime files (~/.local/share/jupyter/runtime, 0700), as it does
// any token.
inline constexpr const char* k_api_token_variable = "CS231N_JUPYTER_API_TOKEN";

// Where the jupyter-cert step keeps the certificate, relative to the target user's home; the
// agent trusts it (and nothing else) when it talks to Jupyter on 127.0.0.1.
inline constexpr const char* k_certificate_in_home = "/.jupyter/certs/jupyter.pem";

// 32 random bytes from OpenSSL's CSPRNG, as 64 lowercase hex digits.
std::string make_api_token();

// The file: "CS231N_JUPYTER_API_TOKEN=<token>\n" (systemd's EnvironmentFile= syntax).
std::string api_token_file_content(std::string_view token);
// The token of such a file, or nullopt when it is not exactly one well-formed line.
std::optional<std::string> parse_api_token_file(std::string_view content);

}  // namespace cs231n::jupyter
