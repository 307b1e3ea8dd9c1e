#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.hpp"

namespace cs231n::steps {

// The two channels Anaconda's Terms of Service plugin stops on Linux: conda's UNIX `defaults`
// (conda/conda conda/base/constants.py DEFAULT_CHANNELS_UNIX), the channels whose server
// publishes a terms.json (anaconda/conda-anaconda-tos conda_anaconda_tos/remote.py).
inline constexpr std::string_view k_anaconda_main = "https://repo.anaconda.com/pkgs/main";
inline constexpr std::string_view k_anaconda_r = "https://repo.anaconda.com/pkgs/r";

// Whether the conda an installer lays down carries Anaconda's ToS plugin (conda-anaconda-tos),
// which stops `conda create -y` on an Anaconda channel with CondaToSNonInteractiveError. Decided
// from the file name (the plugin needs conda >= 24.11, the wall is enforced since July 2025):
//   Miniconda3-[pyXY_]A.B.C-N-...  A.B >= 25.5;  Miniconda3-latest-...  yes
//   Anaconda3-YYYY.MM-...          YYYY.MM >= 2025.06 (the first built with conda 25.5)
//   anything else (Miniforge3, Mambaforge, Anaconda 2018.12, Miniconda 24.3)  no
// Sources: issue 18, docs/sources/conda-and-miniforge.md section 1 ("Which installers bundle
// it": deepfakes/faceswap#1495, Miniconda 25.5.1 stopped right after installing). Which release
// first bundled the plugin is not pinned down; 25.5 is on the safe side of what was reported.
bool installer_has_tos_plugin(std::string_view installer_file_name);

// What a config asks of Anaconda's Terms of Service.
struct AnacondaTerms {
  std::string installer;                       // the installer's file name
  bool installer_has_plugin = false;           // see installer_has_tos_plugin
  bool channels_configured = false;            // conda_env.channels is not empty
  std::vector<std::string> anaconda_channels;  // Anaconda channel URLs the env reads, in config order
  // accept_tos is needed: the installer has the plugin, or the config names an Anaconda channel.
  bool required() const { return installer_has_plugin || (channels_configured && !anaconda_channels.empty()); }
  // `conda tos accept` runs (with accept_tos) only where there is a plugin to record it.
  bool runs_accept() const { return installer_has_plugin && !anaconda_channels.empty(); }
};

AnacondaTerms anaconda_terms(const config::Config& config);

// The one-line refusal of a config that needs anaconda.accept_tos and does not set it, naming the
// key and the alternative; nullopt when the config is fine.
std::optional<std::string> terms_refusal(const config::Config& config);

// `--override-channels -c CHANNEL...` for conda_env.channels; empty when none are configured.
std::vector<std::string> channel_arguments(const config::Config& config);

}  // namespace cs231n::steps
