#include "agent/util/redact.hpp"

#include <algorithm>
#include <array>

#include "agent/util/strings.hpp"

namespace cs231n::util {

namespace {

constexpr std::string_view k_hidden = "***";

// Query parameters whose value is a secret: exact names (Azure SAS `sig`, S3/GCS signed URLs'
// `X-Amz-*`/`X-Goog-*` signature and credential) and any name containing one of the words below.
bool is_secret_parameter(std::string_view name) {
  const std::string lower = lowercase(name);
  static constexpr std::array<std::string_view, 5> k_exact{"sig", "key", "auth", "code", "pass"};
  static constexpr std::array<std::string_view, 8> k_words{"token",      "secret", "signature", "password",
                                                           "credential", "apikey", "api_key",   "passwd"};
  if (std::ranges::find(k_exact, lower) != k_exact.end()) return true;
  return std::ranges::any_of(k_words, [&](std::string_view word) { return lower.find(word) != std::string::npos; });
}

// Where a URL that starts at `begin` ends: at white space, a quote or an angle bracket.
std::size_t url_end(std::string_view text, std::size_t begin) {
  std::size_t end = begin;
  while (end < text.size()) {
    const char c = text[end];
    if (std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`') break;
    ++end;
  }
  // Punctuation that ends a sentence or a "URL: message" is not part of the URL.
  while (end > begin && std::string_view(":,;.)").find(text[end - 1]) != std::string_view::npos) --end;
  return end;
}

// One URL (from its "scheme://" on) with its credentials hidden.
std::string redact_url(std::string_view url) {
  const std::size_t authority_begin = url.find("://") + 3;
  std::size_t authority_end = url.find_first_of("/?#", authority_begin);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string out(url.substr(0, authority_begin));
  const std::string_view authority = url.substr(authority_begin, authority_end - authority_begin);
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    out += k_hidden;
    out += authority.substr(at);
  } else {
    out += authority;
  }
  const std::size_t query_begin = url.find('?', authority_end);
  if (query_begin == std::string_view::npos) {
    out += url.substr(authority_end);
    return out;
  }
  out += url.substr(authority_end, query_begin + 1 - authority_end);
  std::size_t fragment = url.find('#', query_begin);
  if (fragment == std::string_view::npos) fragment = url.size();
  std::size_t position = query_begin + 1;
  while (position <= fragment) {
    std::size_t next = url.find_first_of("&;", position);
    if (next == std::string_view::npos || next > fragment) next = fragment;
    const std::string_view parameter = url.substr(position, next - position);
    const std::size_t equals = parameter.find('=');
    if (equals != std::string_view::npos && is_secret_parameter(parameter.substr(0, equals))) {
      out += parameter.substr(0, equals + 1);
      out += k_hidden;
    } else {
      out += parameter;
    }
    if (next < fragment) out += url[next];
    position = next + 1;
  }
  out += url.substr(fragment);
  return out;
}

}  // namespace

std::string redact_credentials(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t done = 0;
  for (std::size_t found = text.find("://"); found != std::string_view::npos; found = text.find("://", done)) {
    // The scheme: the letters, digits, '+', '-' and '.' just before "://".
    std::size_t begin = found;
    while (begin > done && (std::isalnum(static_cast<unsigned char>(text[begin - 1])) || text[begin - 1] == '+' ||
                            text[begin - 1] == '-' || text[begin - 1] == '.')) {
      --begin;
    }
    const std::size_t end = url_end(text, found + 3);
    out += text.substr(done, begin - done);
    out += redact_url(text.substr(begin, end - begin));
    done = end;
  }
  out += text.substr(done);
  return out;
}

}  // namespace cs231n::util
