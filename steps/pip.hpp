#pragma once

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

// `python -m pip install REQUIREMENT... INDEX_ARGS...` as the user, the requirements resolved
// together. With downloads.accelerate_pip_apt and a pip >= k_pip_metadata_only_dry_run, pip
// resolves first (`--dry-run --report -`), the agent downloads the wheels it named (several at
// once, each over several connections, verified against the index's sha256) into
// <cache-dir>/wheels, and pip installs from there alone (`--no-index --find-links`). Anything
// else, or any failure on the way, is the plain install, its reason in the step's log.
util::Result<void> pip_install(const plan::StepRun& run, const std::string& python,
                               const std::vector<std::string>& requirements,
                               const std::vector<std::string>& index_args);

}  // namespace cs231n::steps
