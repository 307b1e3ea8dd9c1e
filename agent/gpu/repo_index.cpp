#include "agent/gpu/repo_index.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "agent/util/strings.hpp"

namespace cs231n::gpu {

namespace {

// "590.48.01-1" -> 590.
int branch_of(std::string_view version) {
  const auto colon = version.find(':');  // an epoch
  if (colon != std::string_view::npos) version.remove_prefix(colon + 1);
  return static_cast<int>(util::parse_uint(version.substr(0, version.find('.'))).value_or(0));
}

// The branches of the packages named <prefix><branch>, oldest first.
std::vector<int> branches_of(const std::map<std::string, std::string>& packages, std::string_view prefix) {
  std::vector<int> branches;
  for (const auto& [name, version] : packages) {
    if (!name.starts_with(prefix)) continue;
    if (const auto branch = util::parse_uint(std::string_view(name).substr(prefix.size())))
      branches.push_back(static_cast<int>(*branch));
  }
  std::ranges::sort(branches);
  return branches;
}

}  // namespace

std::vector<std::string> RepoContents::cuda_toolkits() const {
  std::vector<std::string> versions;
  constexpr std::string_view prefix = "cuda-toolkit-";
  for (const auto& [name, version] : packages) {
    if (!name.starts_with(prefix)) continue;
    const auto parts = util::split(std::string_view(name).substr(prefix.size()), '-');
    if (parts.size() != 2 || !util::parse_uint(parts[0]) || !util::parse_uint(parts[1])) continue;
    versions.push_back(parts[0] + "." + parts[1]);
  }
  std::ranges::sort(versions,
                    [](const std::string& a, const std::string& b) { return util::compare_versions(a, b) > 0; });
  return versions;
}

std::vector<int> RepoContents::driver_branches() const { return branches_of(packages, "cuda-drivers-"); }

std::vector<int> RepoContents::open_branches() const { return branches_of(packages, "nvidia-open-"); }

int RepoContents::unsuffixed_driver_branch() const {
  for (const char* name : {"nvidia-open", "cuda-drivers"}) {
    if (const auto found = packages.find(name); found != packages.end()) return branch_of(found->second);
  }
  return 0;
}

RepoContents::Closure RepoContents::download_closure(const std::vector<std::string>& names,
                                                     const std::function<bool(const std::string&)>& skip) const {
  Closure closure;
  std::set<std::string> seen;
  std::vector<std::string> todo = names;
  while (!todo.empty()) {
    const std::string name = todo.back();
    todo.pop_back();
    if (!seen.insert(name).second || (skip && skip(name))) continue;
    const auto found = details.find(name);
    if (found == details.end()) {
      ++closure.elsewhere;
      continue;
    }
    closure.bytes += found->second.size;
    ++closure.packages;
    todo.insert(todo.end(), found->second.depends.begin(), found->second.depends.end());
  }
  return closure;
}

namespace {

// Whether Debian version `a` is newer than `b`, by their runs of digits in order ("12.6.85-1":
// 12 6 85 1): dpkg's ordering for the versions NVIDIA's repos use (digits, dots, one revision);
// util::compare_versions reads "85-1" as no number at all.
bool newer_version(std::string_view a, std::string_view b) {
  const auto runs = [](std::string_view text) {
    std::vector<std::uint64_t> numbers;
    for (std::size_t i = 0; i < text.size();) {
      if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) {
        ++i;
        continue;
      }
      const auto end = text.find_first_not_of("0123456789", i);
      numbers.push_back(util::parse_uint(text.substr(i, end - i)).value_or(0));
      i = end == std::string_view::npos ? text.size() : end;
    }
    return numbers;
  };
  return runs(a) > runs(b);
}

// "a (>= 1.0), b:any | c, d" -> a, b, d: apt takes the first alternative it can.
std::vector<std::string> dependency_names(std::string_view field) {
  std::vector<std::string> names;
  for (const auto& item : util::split(field, ',')) {
    const auto first = util::trim(std::string_view(item).substr(0, item.find('|')));
    const auto name = first.substr(0, first.find_first_of(" (:"));
    if (!name.empty()) names.emplace_back(name);
  }
  return names;
}

}  // namespace

RepoContents parse_packages_index(std::string_view text) {
  RepoContents contents;
  std::string name;
  std::string version;
  RepoContents::Details details;
  const auto finish = [&] {
    if (!name.empty() && !version.empty()) {
      auto& kept = contents.packages[name];
      if (kept.empty() || newer_version(version, kept)) {
        kept = version;
        contents.details[name] = std::move(details);
      }
    }
    name.clear();
    version.clear();
    details = {};
  };
  const auto value = [](std::string_view line, std::size_t prefix) { return util::trim(line.substr(prefix)); };
  for (const auto& line : util::lines(text)) {
    if (util::trim(line).empty()) {
      finish();
    } else if (line.starts_with("Package:")) {
      name = value(line, 8);
    } else if (line.starts_with("Version:")) {
      version = value(line, 8);
    } else if (line.starts_with("Size:")) {
      details.size = util::parse_uint(value(line, 5)).value_or(0);
    } else if (line.starts_with("Depends:") || line.starts_with("Pre-Depends:")) {
      auto names = dependency_names(line.substr(line.find(':') + 1));
      details.depends.insert(details.depends.end(), names.begin(), names.end());
    }
  }
  finish();
  return contents;
}

}  // namespace cs231n::gpu
