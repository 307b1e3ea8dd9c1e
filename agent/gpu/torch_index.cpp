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

// Every href of a page, %2B decoded and without its #fragment. Quoted as PyTorch's pages quote
// them; the unquoted form a broken page once had (spinalcordtoolbox/spinalcordtoolbox#3107) is
// not a page pip could use either.
std::vector<std::string> hrefs(std::string_view html) {
  std::vector<std::string> links;
  std::size_t at = 0;
  while ((at = html.find("href=\"", at)) != std::string_view::npos) {
    at += 6;
    const auto end = html.find('"', at);
    if (end == std::string_view::npos) break;
    const std::string_view href = html.substr(at, end - at);
    links.push_back(percent_decoded(href.substr(0, href.find('#'))));
    at = end;
  }
  return links;
}

void add_wheel(std::vector<TorchWheel>& wheels, const std::string& full_version, std::string href) {
  const auto plus = full_version.find('+');
  TorchWheel wheel{full_version.substr(0, plus), plus != std::string::npos, std::move(href)};
  const bool known = std::ranges::any_of(wheels, [&](const TorchWheel& other) {
    return other.version == wheel.version && other.local_version == wheel.local_version;
  });
  if (!known) wheels.push_back(std::move(wheel));
}

void sort_newest_first(std::vector<TorchWheel>& wheels) {
  std::ranges::stable_sort(wheels, [](const TorchWheel& a, const TorchWheel& b) {
    return util::compare_versions(a.version, b.version) > 0;
  });
}

}  // namespace

std::string python_tag(std::string_view python) {
  std::string tag = "cp";
  for (char c : python) {
    if (c != '.') tag += c;
  }
  return tag;
}

std::optional<std::string> wheel_version(std::string_view file, std::string_view python_tag) {
  if (!file.starts_with("torch-") || !file.ends_with(".whl")) return std::nullopt;
  const auto parts = util::split(file.substr(0, file.size() - 4), '-');
  if (parts.size() != 5) return std::nullopt;  // no build tag in PyTorch's wheels
  const std::string& platform = parts[4];
  const bool linux_x86_64 = platform.ends_with("x86_64") && platform.find("linux") != std::string::npos;
  if (parts[2] != python_tag || !linux_x86_64) return std::nullopt;
  return parts[1];
}

std::vector<TorchWheel> torch_wheels_in_index(std::string_view html, std::string_view python) {
  const auto tag = python_tag(python);
  std::vector<TorchWheel> wheels;
  for (auto& href : hrefs(html)) {
    const auto slash = href.rfind('/');
    const auto file = slash == std::string::npos ? href : href.substr(slash + 1);
    if (auto version = wheel_version(file, tag)) add_wheel(wheels, *version, std::move(href));
  }
  sort_newest_first(wheels);
  return wheels;
}

std::vector<TorchWheel> torch_wheels_in_find_links(std::string_view html, std::string_view variant,
                                                   std::string_view python) {
  const auto tag = python_tag(python);
  std::vector<TorchWheel> wheels;
  for (auto& href : hrefs(html)) {
    const auto slash = href.rfind('/');
    if (slash == std::string::npos) continue;
    const auto folder_start = href.rfind('/', slash - 1);
    const auto folder = href.substr(folder_start == std::string::npos ? 0 : folder_start + 1,
                                    slash - (folder_start == std::string::npos ? 0 : folder_start + 1));
    if (folder != variant) continue;
    if (auto version = wheel_version(href.substr(slash + 1), tag)) add_wheel(wheels, *version, std::move(href));
  }
  sort_newest_first(wheels);
  return wheels;
}

std::vector<std::string> versions_of(const std::vector<TorchWheel>& wheels) {
  std::vector<std::string> versions;
  for (const auto& wheel : wheels) {
    if (std::ranges::find(versions, wheel.version) == versions.end()) versions.push_back(wheel.version);
  }
  return versions;
}

}  // namespace cs231n::gpu
