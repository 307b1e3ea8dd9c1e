#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/detect/os_release.hpp"
#include "agent/os/files.hpp"

namespace cs231n::config {

// Checks a config document against the schema. Returns one line per problem, each naming the key
// path and what was expected ("jupyter.port: expected an integer from 1 to 65535, got \"8888\"").
std::vector<std::string> validate(const nlohmann::json& document);

// Objects merge key by key; lists and scalars replace.
void merge_into(nlohmann::json& base, const nlohmann::json& overlay);

// Parses and validates a config file (a host path: the operator's file, not the target's).
// Throws Error(usage) naming the file, and the line and column of a JSON syntax error.
nlohmann::json load_file(const std::filesystem::path& path);

// Why this profile was chosen.
struct ProfileChoice {
  std::string requested;  // "auto", "seed" or "current"
  std::string name;       // "seed" or "current"
  std::string reason;
};

ProfileChoice choose_profile(const std::string& requested, const detect::OsInfo& os);

// One source of config values: a config file, a metadata attribute, ...
struct Layer {
  Layer(nlohmann::json document_, std::string source_ = "config")
      : source(std::move(source_)), document(std::move(document_)) {}
  std::string source;  // "config file /etc/cs231n.json", "metadata attribute cs231n-user"
  nlohmann::json document;
};

nlohmann::json to_json(const Layer& layer);
Layer layer_from_json(const nlohmann::json& document);

// The effective config: profile defaults with the given layers merged over them, lowest
// precedence first (metadata, then the config file).
class Config {
 public:
  static Config resolve(const std::vector<Layer>& layers, const detect::OsInfo& os);

  const nlohmann::json& json() const { return m_json; }
  const ProfileChoice& profile() const { return m_profile; }
  // Where each key's value came from: a layer's source, or "default (seed profile)".
  const std::map<std::string, std::string>& sources() const { return m_sources; }

  // Typed access by dotted path ("jupyter.port"). The schema guarantees the types.
  std::string string(const std::string& path) const;
  long long integer(const std::string& path) const;
  bool boolean(const std::string& path) const;
  std::vector<std::string> strings(const std::string& path) const;
  const nlohmann::json& at(const std::string& path) const;

 private:
  nlohmann::json m_json;
  ProfileChoice m_profile;
  std::map<std::string, std::string> m_sources;
};

}  // namespace cs231n::config
