#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/util/result.hpp"

// The env of a conda metapackage that pins every package it brings (`anaconda=2018.12`: its
// `depends` are exact "name version build" triples), as an @EXPLICIT list read from the channel's
// own repodata.json (file name -> the package's info/index.json plus md5, conda/conda
// docs/source/spec.rst): what conda's solver would pick for it, without the solve (a 2018 conda's
// classic solver against today's repodata may never end; docs/sources/conda-and-miniforge.md §4-5).
namespace cs231n::steps {

struct MetapackageSpec {
  std::string name;
  std::string version;
};

// "anaconda=2018.12" -> {anaconda, 2018.12}; nullopt for anything else (a range, a build, a channel).
std::optional<MetapackageSpec> parse_metapackage_spec(const std::string& spec);

struct MetapackageRecord {
  std::string file;                  // "anaconda-2018.12-py36_0.tar.bz2"
  std::vector<std::string> depends;  // "numpy 1.15.4 py36h7e9f1db_0", ...
};

// The metapackage's record in one subdir's repodata.json (its text) built for `python` ("3.6": a
// depends pin "python 3.6.x ..."); of several, the highest build_number, then the newest.
util::Result<MetapackageRecord> find_metapackage(std::string_view repodata, const MetapackageSpec& spec,
                                                 const std::string& python);

// "numpy 1.15.4 py36h7e9f1db_0" -> "numpy-1.15.4-py36h7e9f1db_0.tar.bz2"; nullopt for a depends
// entry that is not an exact pin ("python >=3.6,<3.7").
std::optional<std::string> pinned_file(const std::string& depends_entry);

// The md5 of each of `files` that the repodata's "packages" (.tar.bz2, the only format conda 4.5
// links) lists.
util::Result<std::map<std::string, std::string>> md5_of_files(std::string_view repodata,
                                                              const std::set<std::string>& files);

struct ExplicitEntry {
  std::string subdir;  // "linux-64", "noarch"
  std::string file;
  std::string md5;
};

// The @EXPLICIT list (conda list --explicit --md5's form): "<channel>/<subdir>/<file>#<md5>" lines.
std::string explicit_list_text(const std::string& channel, const std::string& comment,
                               const std::vector<ExplicitEntry>& entries);

}  // namespace cs231n::steps
