#include "steps/conda_terms.hpp"

#include <algorithm>
#include <regex>

#include "agent/util/strings.hpp"
#include "steps/common.hpp"

namespace cs231n::steps {

namespace {

// The Anaconda channels a `-c` value stands for: `defaults` is pkgs/main and pkgs/r on Linux;
// "pkgs/main" and repo.anaconda.com URLs (with or without a subdir or a trailing slash) are one.
std::vector<std::string> anaconda_channels_of(const std::string& channel) {
  if (channel == "defaults") return {std::string(k_anaconda_main), std::string(k_anaconda_r)};
  for (const std::string_view base : {k_anaconda_main, k_anaconda_r}) {
    const std::string name(base.substr(base.find("pkgs/")));
    if (channel == name) return {std::string(base)};
    for (const std::string scheme : {"https://", "http://"}) {
      const std::string url = scheme + std::string(base.substr(8));
      if (channel == url || channel.starts_with(url + "/")) return {std::string(base)};
    }
  }
  return {};
}

void add_unique(std::vector<std::string>& list, const std::vector<std::string>& items) {
  for (const auto& item : items) {
    if (std::ranges::find(list, item) == list.end()) list.push_back(item);
  }
}

}  // namespace

bool installer_has_tos_plugin(std::string_view installer_file_name) {
  const std::string name(installer_file_name);
  if (name.starts_with("Miniconda3-latest-") || name.starts_with("Miniconda-latest-")) return true;
  static const std::regex miniconda(R"(Miniconda3?-(py[0-9]+_)?([0-9]+\.[0-9]+(\.[0-9]+)?)-.*)");
  static const std::regex anaconda(R"(Anaconda3?-([0-9]{4}\.[0-9]{2})(-[0-9]+)?-.*)");
  std::smatch match;
  if (std::regex_match(name, match, miniconda)) return util::compare_versions(match[2].str(), "25.5") >= 0;
  if (std::regex_match(name, match, anaconda)) return util::compare_versions(match[1].str(), "2025.06") >= 0;
  return false;
}

AnacondaTerms anaconda_terms(const config::Config& config) {
  AnacondaTerms terms;
  terms.installer = file_name_of(config.string("anaconda.installer_url"));
  terms.installer_has_plugin = installer_has_tos_plugin(terms.installer);
  const auto channels = config.strings("conda_env.channels");
  terms.channels_configured = !channels.empty();
  if (terms.channels_configured) {
    for (const auto& channel : channels) add_unique(terms.anaconda_channels, anaconda_channels_of(channel));
  } else if (!terms.installer.starts_with("Miniforge") && !terms.installer.starts_with("Mambaforge")) {
    // Without channels, conda reads its .condarc: `defaults` for Anaconda's installers,
    // conda-forge for conda-forge's (github.com/conda-forge/miniforge README).
    add_unique(terms.anaconda_channels, anaconda_channels_of("defaults"));
  }
  return terms;
}

std::optional<std::string> terms_refusal(const config::Config& config) {
  if (config.boolean("anaconda.accept_tos")) return std::nullopt;
  const auto terms = anaconda_terms(config);
  if (!terms.required()) return std::nullopt;
  std::string why = terms.installer_has_plugin
                        ? terms.installer + " stops at Anaconda's Terms of Service (its conda has the ToS plugin)"
                        : "conda_env.channels names Anaconda's channels (" + util::join(terms.anaconda_channels, ", ") +
                              "), which come with its Terms of Service";
  return "config: anaconda.accept_tos: " + why +
         "; accepting them is the student's or the university's decision: set \"anaconda\": {\"accept_tos\": true} "
         "to accept them, or use Miniforge (the current profile's installer, conda-forge only, no terms to accept)";
}

std::vector<std::string> channel_arguments(const config::Config& config) {
  const auto channels = config.strings("conda_env.channels");
  if (channels.empty()) return {};
  std::vector<std::string> arguments{"--override-channels"};
  for (const auto& channel : channels) {
    arguments.push_back("-c");
    arguments.push_back(channel);
  }
  return arguments;
}

}  // namespace cs231n::steps
