#include "agent/gpu/repo_index.hpp"

#include <algorithm>

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

RepoContents parse_packages_index(std::string_view text) {
  RepoContents contents;
  std::string name;
  std::string version;
  const auto finish = [&] {
    if (!name.empty() && !version.empty()) {
      auto& kept = contents.packages[name];
      if (kept.empty() || util::compare_versions(version, kept) > 0) kept = version;
    }
    name.clear();
    version.clear();
  };
  for (const auto& line : util::lines(text)) {
    if (util::trim(line).empty()) {
      finish();
    } else if (line.starts_with("Package:")) {
      name = util::trim(std::string_view(line).substr(8));
    } else if (line.starts_with("Version:")) {
      version = util::trim(std::string_view(line).substr(8));
    }
  }
  finish();
  return contents;
}

}  // namespace cs231n::gpu
