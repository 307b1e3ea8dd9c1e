#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/plan/step.hpp"

namespace cs231n::steps {

// The pip that first resolves with metadata only in `pip install --dry-run`: older ones download
// every wheel in full while resolving (docs/sources/pip-and-apt-downloads.md).
inline constexpr std::string_view k_pip_metadata_only_dry_run = "25.3";

// "25.3" from `python -m pip --version` ("pip 25.3 from /…/site-packages/pip (python 3.12)");
// empty when the text is not pip's.
std::string pip_version_of(std::string_view version_output);

// One wheel of a pip installation report, as the agent downloads it.
struct ReportedWheel {
  std::string name;       // the project ("nvidia-cublas-cu12")
  std::string url;        // download_info.url, without a fragment
  std::string file_name;  // the URL's last segment, percent-decoded ("torch-2.9.1+cu130-...whl")
  std::string sha256;     // lowercase hex
};

// The wheels of the JSON report `pip install --dry-run --report -` prints (pip's installation
// report, version "1"), or why the agent cannot fetch them itself: not a report, a source archive
// (pip would build it, with packages from the index), a URL that is not http(s), a file name that
// is not a plain wheel name, no sha256.
std::expected<std::vector<ReportedWheel>, std::string> parse_install_report(std::string_view report);

// The one wheel torch's PEP 503 project page (`page`, as read from `page_url`) lists for a pinned
// requirement ("torch==2.9.1+cu128") on CPython `python_version` ("3.11") and Linux x86_64, with
// its URL made absolute and the sha256 of its link's #sha256= fragment; nullopt when the
// requirement is not torch's or pins no version, or when no link or several fit (pip would choose
// among those by platform tag; the agent does not guess).
std::optional<ReportedWheel> pinned_wheel_in_page(std::string_view page, std::string_view page_url,
                                                  std::string_view requirement, std::string_view python_version);

// Why the torch-wheels step does not fetch torch before the env exists (nullopt: it does): it
// needs downloads.accelerate_pip_apt, and the env's Python version: conda_env.python, or the
// python package of an @EXPLICIT list served over HTTP(S) (an environment file, or a list on the
// VM that conda reads as the user, decide it only once conda reads them).
std::optional<std::string> why_no_prefetch(const plan::Context& context);

// The Python version ("3.11") whose package an @EXPLICIT list installs (a line ending in
// python-3.11.9-hb806964_0_cpython.conda or .tar.bz2, an #md5 fragment after it), nullopt without one.
std::optional<std::string> python_of_explicit_list(std::string_view list);

// Before the env exists: the pip of `base_python` (conda's base) resolves the requirements for
// the env's Python `python_version` ("3.12"), and the agent downloads those wheels into
// <cache-dir>/wheels, named in its prefetched.json once all are there (the first requirement's own
// wheel, found on its --index-url page, already while pip resolves): pip_install for the same
// requirements and index installs from them without resolving against the index again. When the
// env's pip finds them short of what it needs, pip_install resolves and fetches the rest.
// nullopt when every wheel is there, else why nothing (or not all) was fetched: a pip older than
// k_pip_metadata_only_dry_run, a resolution that fails, a download that fails.
std::optional<std::string> prefetch_wheels(const plan::StepRun& run, const std::string& base_python,
                                           const std::string& python_version,
                                           const std::vector<std::string>& requirements,
                                           const std::vector<std::string>& index_args);

// `python -m pip install REQUIREMENT... INDEX_ARGS...` as the user, the requirements resolved
// together. With downloads.accelerate_pip_apt and a pip >= k_pip_metadata_only_dry_run, pip
// resolves first (`--dry-run --report -`), the agent downloads the wheels it named (several at
// once, each over several connections, verified against the index's sha256) into
// <cache-dir>/wheels, and pip installs from there alone (`--no-index --find-links`); when
// prefetch_wheels already fetched every wheel for these requirements, pip installs from them
// first and resolves only if that fails. Anything else, or any failure on the way, is the plain
// install, its reason in the step's log.
util::Result<void> pip_install(const plan::StepRun& run, const std::string& python,
                               const std::vector<std::string>& requirements,
                               const std::vector<std::string>& index_args);

}  // namespace cs231n::steps
