#include <doctest/doctest.h>

#include "steps/conda_metapackage.hpp"

using namespace cs231n;

namespace {

// repodata.json's form (conda's: "info", "packages" file -> record, "packages.conda", "removed",
// "repodata_version"; a record is the package's info/index.json, conda/conda docs/source/spec.rst, plus its md5), with
// the anaconda metapackage's exact pins as anaconda.org shows them for 2018.12 (docs/sources/conda-and-miniforge.md
// section 4) and a py37 build beside the py36 ones.
const char* const k_repodata = R"({
  "info": {"subdir": "linux-64"},
  "packages": {
    "anaconda-2018.12-py36_0.tar.bz2": {"name": "anaconda", "version": "2018.12", "build": "py36_0",
      "build_number": 0, "timestamp": 1545000000000, "md5": "0123456789abcdef0123456789abcdef",
      "depends": ["numpy 1.15.4 py36h7e9f1db_0", "python 3.6.7 h0371630_0", "blas 1.0 mkl"]},
    "anaconda-2018.12-py36_1.tar.bz2": {"name": "anaconda", "version": "2018.12", "build": "py36_1",
      "build_number": 1, "timestamp": 1545000000001, "md5": "1123456789abcdef0123456789abcdef",
      "depends": ["numpy 1.15.4 py36h7e9f1db_0", "python 3.6.8 h0371630_0"]},
    "anaconda-2018.12-py37_0.tar.bz2": {"name": "anaconda", "version": "2018.12", "build": "py37_0",
      "build_number": 0, "md5": "2123456789abcdef0123456789abcdef",
      "depends": ["python 3.7.1 h0371630_7"]},
    "anaconda-2019.03-py36_0.tar.bz2": {"name": "anaconda", "version": "2019.03", "build": "py36_0",
      "depends": ["python 3.6.8 h0371630_0"]},
    "numpy-1.15.4-py36h7e9f1db_0.tar.bz2": {"name": "numpy", "version": "1.15.4", "build": "py36h7e9f1db_0",
      "md5": "3123456789abcdef0123456789abcdef", "depends": ["python >=3.6,<3.7.0a0"]},
    "python-3.6.8-h0371630_0.tar.bz2": {"name": "python", "version": "3.6.8", "md5": "not an md5"}
  },
  "packages.conda": {
    "anaconda-2018.12-py36_9.conda": {"name": "anaconda", "version": "2018.12", "build_number": 9,
      "depends": ["python 3.6.7 h0371630_0"]}
  },
  "removed": [],
  "repodata_version": 1
})";

}  // namespace

TEST_CASE("conda metapackage: only name=version is a metapackage spec") {
  const auto spec = steps::parse_metapackage_spec("anaconda=2018.12");
  REQUIRE(spec);
  CHECK(spec->name == "anaconda");
  CHECK(spec->version == "2018.12");
  for (const char* other : {"anaconda", "anaconda>=2018", "anaconda=2018.12=py36_0", "defaults::anaconda=2018.12",
                            "anaconda==2018.12", "numpy 1.15"}) {
    CHECK_MESSAGE(!steps::parse_metapackage_spec(other), other);
  }
}

TEST_CASE("conda metapackage: the build for the env's python, the highest build number; .conda files are not read") {
  const auto record = steps::find_metapackage(k_repodata, {"anaconda", "2018.12"}, "3.6");
  REQUIRE(record);
  CHECK(record->file == "anaconda-2018.12-py36_1.tar.bz2");
  CHECK(record->depends == std::vector<std::string>{"numpy 1.15.4 py36h7e9f1db_0", "python 3.6.8 h0371630_0"});
  const auto py37 = steps::find_metapackage(k_repodata, {"anaconda", "2018.12"}, "3.7");
  REQUIRE(py37);
  CHECK(py37->file == "anaconda-2018.12-py37_0.tar.bz2");
}

TEST_CASE("conda metapackage: what is missing is said") {
  auto none = steps::find_metapackage(k_repodata, {"anaconda", "2018.12"}, "3.8");
  REQUIRE_FALSE(none);
  CHECK(none.error().message == "its anaconda 2018.12 builds (py36_0, py36_1, py37_0) pin no python 3.8");
  auto unknown = steps::find_metapackage(k_repodata, {"anaconda", "2017.01"}, "3.6");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message == "it lists no anaconda 2017.01");
  auto broken = steps::find_metapackage(R"({"packages": {"a": )", {"anaconda", "2018.12"}, "3.6");
  REQUIRE_FALSE(broken);
  CHECK(broken.error().message.starts_with("repodata.json is not valid JSON: "));
}

TEST_CASE("conda metapackage: an exact pin names its .tar.bz2, a range none") {
  CHECK(steps::pinned_file("numpy 1.15.4 py36h7e9f1db_0") == "numpy-1.15.4-py36h7e9f1db_0.tar.bz2");
  CHECK(steps::pinned_file("blas 1.0 mkl") == "blas-1.0-mkl.tar.bz2");
  for (const char* range : {"python >=3.6,<3.7.0a0", "numpy 1.15.*", "numpy", "numpy 1.15.4", "a 1 b c"}) {
    CHECK_MESSAGE(!steps::pinned_file(range), range);
  }
}

TEST_CASE("conda metapackage: md5s of the wanted files only, a malformed md5 left out") {
  const auto md5s = steps::md5_of_files(
      k_repodata, {"numpy-1.15.4-py36h7e9f1db_0.tar.bz2", "python-3.6.8-h0371630_0.tar.bz2", "blas-1.0-mkl.tar.bz2"});
  REQUIRE(md5s);
  CHECK(*md5s == std::map<std::string, std::string>{
                     {"numpy-1.15.4-py36h7e9f1db_0.tar.bz2", "3123456789abcdef0123456789abcdef"}});
}

TEST_CASE("conda metapackage: the @EXPLICIT list is conda list --explicit --md5's form") {
  const auto text = steps::explicit_list_text(
      "https://repo.anaconda.com/pkgs/main", "the pins of anaconda-2018.12-py36_1.tar.bz2",
      {{"linux-64", "numpy-1.15.4-py36h7e9f1db_0.tar.bz2", "3123456789abcdef0123456789abcdef"},
       {"noarch", "six-1.12.0-py_0.tar.bz2", "4123456789abcdef0123456789abcdef"}});
  CHECK(text ==
        "# the pins of anaconda-2018.12-py36_1.tar.bz2\n# platform: linux-64\n@EXPLICIT\n"
        "https://repo.anaconda.com/pkgs/main/linux-64/numpy-1.15.4-py36h7e9f1db_0.tar.bz2#"
        "3123456789abcdef0123456789abcdef\n"
        "https://repo.anaconda.com/pkgs/main/noarch/six-1.12.0-py_0.tar.bz2#4123456789abcdef0123456789abcdef\n");
}
