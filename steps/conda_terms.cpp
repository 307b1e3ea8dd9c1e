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

// A YAML scalar as the simple files write it: without a comment, spaces and quotes.
std::string scalar(std::string_view text) {
  if (const auto hash = text.find(" #"); hash != std::string_view::npos) text = text.substr(0, hash);
  text = util::trim(text);
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') && text.back() == text.front()) {
    text = text.substr(1, text.size() - 2);
  }
  return std::string(text);
}

// The file a config's environment_file names, when it can be read; root reads it the way it reads
// any file a user may control (read_user_file: no symlinks, a regular file, at most 1 MiB).
std::string environment_file_text(const config::Config& config, const os::Files* files) {
  const std::string path = config.string("conda_env.environment_file");
  if (path.empty() || files == nullptr) return "";
  return files->read_user_file(path).value_or("");
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

std::vector<std::string> environment_file_channels(std::string_view text) {
  std::vector<std::string> channels;
  std::string section;  // the top-level key the lines below belong to
  for (const auto& raw : util::lines(text)) {
    const std::string_view line = raw;
    if (util::trim(line).empty() || util::trim(line).starts_with("#")) continue;
    if (line.front() != ' ' && line.front() != '\t' && line.front() != '-') {
      const auto colon = line.find(':');
      section = colon == std::string_view::npos ? "" : std::string(line.substr(0, colon));
      if (section == "channels" && colon != std::string_view::npos) {
        // channels: [conda-forge, nodefaults]
        const std::string value = scalar(line.substr(colon + 1));
        if (value.size() >= 2 && value.front() == '[' && value.back() == ']') {
          for (const auto& item : util::split(std::string_view(value).substr(1, value.size() - 2), ',')) {
            if (auto channel = scalar(item); !channel.empty()) add_unique(channels, {channel});
          }
        }
      }
      continue;
    }
    const auto item = util::trim(line);
    const std::size_t indent = line.find_first_not_of(" \t");
    if (!item.starts_with("- ") || indent > 2) continue;  // deeper: pip's list, not conda's
    const std::string value = scalar(item.substr(2));
    if (section == "channels" && !value.empty()) add_unique(channels, {value});
    if (section == "dependencies") {
      // "conda-forge::numpy": a package from that channel (conda_env/installers/conda.py)
      if (const auto colons = value.find("::"); colons != std::string::npos && colons > 0) {
        add_unique(channels, {value.substr(0, colons)});
      }
    }
  }
  return channels;
}

AnacondaTerms anaconda_terms(const config::Config& config, const os::Files* files, std::optional<bool> plugin) {
  AnacondaTerms terms;
  terms.installer = file_name_of(config.string("anaconda.installer_url"));
  terms.installer_has_plugin = plugin.value_or(installer_has_tos_plugin(terms.installer));
  // Without channels of its own, conda reads its .condarc: `defaults` for Anaconda's installers,
  // conda-forge for conda-forge's (github.com/conda-forge/miniforge README).
  const bool conda_forge_installer =
      terms.installer.starts_with("Miniforge") || terms.installer.starts_with("Mambaforge");
  const std::string installer_own = conda_forge_installer ? "conda-forge" : "defaults";
  std::vector<std::string> sources;
  const std::string installer_from = terms.installer + "'s own channels (" + installer_own + ")";
  const auto read = [&](const std::string& channel, const std::string& from) {
    const auto anaconda = anaconda_channels_of(channel);
    if (anaconda.empty()) return;
    add_unique(terms.anaconda_channels, anaconda);
    add_unique(sources, {from});
    if (from != installer_from) terms.named = true;
  };
  const std::string file = config.string("conda_env.environment_file");
  const auto configured = config.strings("conda_env.channels");
  if (!file.empty()) {
    // conda env create -f: the file's channels, then the installer's unless the file lists
    // `nodefaults` (conda/env/installers/conda.py); the plugin checks the installer's anyway, as
    // its pre-command hook runs on context.channels before the file is read (plugin.py).
    const auto listed = environment_file_channels(environment_file_text(config, files));
    for (const auto& channel : listed) {
      if (channel != "nodefaults") read(channel, file + "'s channels");
    }
    if (std::ranges::find(listed, "nodefaults") == listed.end() || terms.installer_has_plugin) {
      read(installer_own, installer_from);
    }
  } else if (!configured.empty()) {
    for (const auto& channel : configured) read(channel, "conda_env.channels");
  } else {
    read(installer_own, installer_from);
  }
  terms.channels_from = util::join(sources, " and ");
  return terms;
}

std::optional<std::string> terms_refusal(const config::Config& config, const AnacondaTerms& terms) {
  if (config.boolean("anaconda.accept_tos") || !terms.required()) return std::nullopt;
  std::string why = terms.installer_has_plugin
                        ? terms.installer + " stops at Anaconda's Terms of Service (its conda has the ToS plugin)"
                        : "the env reads Anaconda's channels (" + util::join(terms.anaconda_channels, ", ") +
                              ") through " + terms.channels_from + ", which come with its Terms of Service";
  return "config: anaconda.accept_tos: " + why +
         "; accepting them is the student's or the university's decision: set \"anaconda\": {\"accept_tos\": true} "
         "to accept them, or use Miniforge (the current profile's installer, conda-forge only, no terms to accept)";
}

std::optional<std::string> terms_refusal(const config::Config& config, const os::Files* files) {
  return terms_refusal(config, anaconda_terms(config, files));
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
