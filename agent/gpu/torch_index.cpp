#include "agent/gpu/torch_index.hpp"

#include <algorithm>

#include "agent/util/strings.hpp"

namespace cs231n::gpu {

namespace {

std::string percent_decoded(std::string_view text) {
  std::string decoded;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      if (const auto byte = util::parse_uint(text.substr(i + 1, 2), 16)) {
        decoded += static_cast<char>(*byte);
        i += 2;
        continue;
      }
    }
    decoded += text[i];
  }
  return decoded;
}

// "torch-2.7.1+cu126-cp312-cp312-manylinux_2_28_x86_64.whl" -> its version when it is a wheel for
// the Python tag and Linux x86_64 (wheel file names: PEP 427, name-version-python-abi-platform).
std::optional<std::string> wheel_version(std::string_view file, std::string_view python_tag) {
  if (!file.starts_with("torch-") || !file.ends_with(".whl")) return std::nullopt;
  const auto parts = util::split(file.substr(0, file.size() - 4), '-');
  if (parts.size() != 5) return std::nullopt;  // no build tag in PyTorch's wheels
  const std::string& platform = parts[4];
  const bool linux_x86_64 = platform.ends_with("x86_64") && platform.find("linux") != std::string::npos;
  if (parts[2] != python_tag || !linux_x86_64) return std::nullopt;
  return parts[1].substr(0, parts[1].find('+'));
}

}  // namespace

std::vector<std::string> torch_versions_in_index(std::string_view html, std::string_view python) {
  std::string python_tag = "cp";
  for (char c : python) {
    if (c != '.') python_tag += c;
  }
  std::vector<std::string> versions;
  std::size_t at = 0;
  while ((at = html.find("href=\"", at)) != std::string_view::npos) {
    at += 6;
    const auto end = html.find('"', at);
    if (end == std::string_view::npos) break;
    std::string_view href = html.substr(at, end - at);
    href = href.substr(0, href.find('#'));
    const auto slash = href.rfind('/');
    const std::string file = percent_decoded(slash == std::string_view::npos ? href : href.substr(slash + 1));
    if (auto version = wheel_version(file, python_tag);
        version && std::ranges::find(versions, *version) == versions.end()) {
      versions.push_back(*version);
    }
    at = end;
  }
  std::ranges::sort(versions,
                    [](const std::string& a, const std::string& b) { return util::compare_versions(a, b) > 0; });
  return versions;
}

}  // namespace cs231n::gpu
