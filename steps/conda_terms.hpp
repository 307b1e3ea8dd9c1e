#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.hpp"
#include "agent/os/files.hpp"

namespace cs231n::steps {

// The two channels Anaconda's Terms of Service plugin stops on Linux: conda's UNIX `defaults`
// (conda/conda conda/base/constants.py DEFAULT_CHANNELS_UNIX), the channels whose server
// publishes a terms.json (anaconda/conda-anaconda-tos conda_anaconda_tos/remote.py).
inline constexpr std::string_view k_anaconda_main = "https://repo.anaconda.com/pkgs/main";
inline constexpr std::string_view k_anaconda_r = "https://repo.anaconda.com/pkgs/r";

// Whether the conda an installer lays down carries Anaconda's ToS plugin (conda-anaconda-tos),
// which stops `conda create -y` on an Anaconda channel with CondaToSNonInteractiveError. Decided
// from the file name before anything is installed (the plugin needs conda >= 24.11, the wall is
// enforced since July 2025):
//   Miniconda3-[pyXY_]A.B.C-N-...  A.B >= 25.5;  Miniconda3-latest-...  yes
//   Anaconda3-YYYY.MM-...          YYYY.MM >= 2025.06 (the first built with conda 25.5)
//   anything else (Miniforge3, Mambaforge, Anaconda 2018.12, Miniconda 24.3)  no
// Sources: issue 18, docs/sources/conda-and-miniforge.md section 1 ("Which installers bundle
// it": deepfakes/faceswap#1495, Miniconda 25.5.1 stopped right after installing). Which release
// first bundled the plugin is not pinned down; 25.5 is on the safe side of what was reported.
// Once conda is installed, the conda-env step asks it (`conda tos --version`) instead.
bool installer_has_tos_plugin(std::string_view installer_file_name);

// The channels of `environment.yml` text: its top-level `channels:` list (block or [inline]),
// plus the `CHANNEL::` prefixes of its first-level dependencies, in file order; "nodefaults"
// kept. A bounded, simple reading, not a YAML parser: what conda env create would read for the
// common shapes of the file (conda/conda conda/env/env.py, conda/env/installers/conda.py).
std::vector<std::string> environment_file_channels(std::string_view text);

// What a config asks of Anaconda's Terms of Service: the Anaconda channels the env will really
// read, and whether the conda doing it has the plugin that enforces their terms.
struct AnacondaTerms {
  std::string installer;                       // the installer's file name
  bool installer_has_plugin = false;           // by its name, or as the installed conda answers
  std::vector<std::string> anaconda_channels;  // Anaconda channel URLs the env reads, in order
  std::string channels_from;                   // where they are configured, for the messages
  bool named = false;  // the config or its environment file names one of them (not only the installer's own)
  // accept_tos is needed: the conda has the plugin (then any Anaconda channel, named or the
  // installer's own `defaults`, stops it alike), or the config chose Anaconda's channels itself.
  // A conda without the plugin on its own `defaults` (the seed profile's 2018 Anaconda) is not
  // refused: nothing there enforces or records the terms, and a seed VM keeps running as it did.
  bool required() const { return installer_has_plugin || named; }
  // `conda tos accept` runs (with accept_tos) only where there is a plugin to record it.
  bool runs_accept() const { return installer_has_plugin && !anaconda_channels.empty(); }
};

// `files` reads conda_env.environment_file (nullptr, or a file not there yet: its channels count
// as none); `plugin` is what the installed conda says, when it has been asked.
AnacondaTerms anaconda_terms(const config::Config& config, const os::Files* files = nullptr,
                             std::optional<bool> plugin = std::nullopt);

// The one-line refusal of a config that needs anaconda.accept_tos and does not set it, naming the
// key, why, and the alternative; nullopt when the config is fine.
std::optional<std::string> terms_refusal(const config::Config& config, const AnacondaTerms& terms);
std::optional<std::string> terms_refusal(const config::Config& config, const os::Files* files = nullptr);

// `--override-channels -c CHANNEL...` for conda_env.channels; empty when none are configured.
std::vector<std::string> channel_arguments(const config::Config& config);

}  // namespace cs231n::steps
