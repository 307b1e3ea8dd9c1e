#include "agent/jupyter/api_token.hpp"

#include <algorithm>

#include "agent/util/hash.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::jupyter {

namespace {

constexpr std::size_t k_token_bytes = 32;

bool is_token(std::string_view text) {
  return text.size() == 2 * k_token_bytes &&
         std::ranges::all_of(text, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::string make_api_token() { return util::random_hex(k_token_bytes); }

std::string api_token_file_content(std::string_view token) {
  return std::string(k_api_token_variable) + "=" + std::string(token) + "\n";
}

std::optional<std::string> parse_api_token_file(std::string_view content) {
  const auto lines = util::lines(content);
  if (lines.size() != 1) return std::nullopt;
  const std::string prefix = std::string(k_api_token_variable) + "=";
  if (!lines.front().starts_with(prefix)) return std::nullopt;
  std::string token = lines.front().substr(prefix.size());
  if (!is_token(token)) return std::nullopt;
  return token;
}

}  // namespace cs231n::jupyter
