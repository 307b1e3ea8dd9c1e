#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cs231n::util {

std::string_view trim(std::string_view text);
std::vector<std::string> split(std::string_view text, char separator);
// Splits on runs of spaces and tabs, dropping empty fields.
std::vector<std::string> split_whitespace(std::string_view text);
std::string join(const std::vector<std::string>& parts, std::string_view separator);
// ASCII letters in lower case ("SHA256:AB" -> "sha256:ab").
std::string lowercase(std::string_view text);
std::vector<std::string> lines(std::string_view text);

std::optional<std::uint64_t> parse_uint(std::string_view text, int base = 10);

// Levenshtein distance, for "did you mean" hints.
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word`, if close enough to be a plausible typo.
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates);

// "1.5 GiB" style, for human output.
std::string human_bytes(std::uint64_t bytes);

// "~" and "~/..." in a config path, under `home`; any other path as it is.
std::string expand_home(const std::string& path, const std::string& home);

// Compares dotted versions numerically ("10.0" < "11.8" < "11.10"); missing parts count as 0.
int compare_versions(std::string_view a, std::string_view b);

}  // namespace cs231n::util
