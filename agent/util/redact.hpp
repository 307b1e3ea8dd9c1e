#pragma once

#include <string>
#include <string_view>

namespace cs231n::util {

// `text` with the credentials of every URL in it replaced by "***": the user info
// (`https://user:pass@host` -> `https://***@host`, a token given as the user name included) and the
// values of query parameters that carry secrets (`token`, `sig`, `signature`, `key`, `password`,
// `X-Amz-Credential`, ...). Anything else is left as it is. For every URL, command line or message
// that reaches a log, the console or the guest attributes.
std::string redact_credentials(std::string_view text);

}  // namespace cs231n::util
