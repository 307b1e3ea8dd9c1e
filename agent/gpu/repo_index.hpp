#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cs231n::gpu {

// What NVIDIA's apt repository for the OS holds (<repo_url>/<distro>/x86_64/Packages, read at run
// time): the names the choice depends on, so that it never names a package the repo lacks. Pure:
// the reading is the caller's.
struct RepoContents {
  std::map<std::string, std::string> packages;  // name -> newest version

  bool has(std::string_view name) const { return packages.contains(std::string(name)); }
  // "13.2" for each cuda-toolkit-13-2, newest first.
  std::vector<std::string> cuda_toolkits() const;
  // The branches of cuda-drivers-<branch>, oldest first.
  std::vector<int> driver_branches() const;
  // The branches of nvidia-open-<branch> (the open modules' meta package from R560), oldest first.
  std::vector<int> open_branches() const;
  // The branch the unsuffixed nvidia-open (else cuda-drivers) brings: 590 for 590.48.01-1; 0: none.
  int unsuffixed_driver_branch() const;
};

// A Debian Packages index (deb822 stanzas; "Package:" and "Version:" fields). Later stanzas of
// the same package keep the newest version (dpkg's ordering, simplified to numeric parts).
RepoContents parse_packages_index(std::string_view text);

}  // namespace cs231n::gpu
