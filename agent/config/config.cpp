#include "agent/config/config.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "agent/config/schema.hpp"
#include "agent/core/error.hpp"
#include "agent/util/redact.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::config {

namespace {

using nlohmann::json;

std::string kind_of(const json& value) {
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  if (value.is_array()) return "a list";
  if (value.is_object()) return "an object";
  return "null";
}

// A value as a message shows it: credentials in a URL are not echoed to the console.
std::string shown(const json& value) {
  std::string text = util::redact_credentials(value.dump());
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

bool has_kind(const json& value, Kind kind) {
  const auto all = [&](auto predicate) {
    if (kind == Kind::string_map || kind == Kind::integer_map) {
      return std::ranges::all_of(value.items(), [&](const auto& item) { return predicate(item.value()); });
    }
    return std::ranges::all_of(value, predicate);
  };
  switch (kind) {
    case Kind::string: return value.is_string();
    case Kind::boolean: return value.is_boolean();
    case Kind::integer: return value.is_number_integer();
    case Kind::string_list: return value.is_array() && all([](const json& v) { return v.is_string(); });
    case Kind::string_map: return value.is_object() && all([](const json& v) { return v.is_string(); });
    case Kind::integer_map: return value.is_object() && all([](const json& v) { return v.is_number_integer(); });
    case Kind::object_list: return value.is_array() && all([](const json& v) { return v.is_object(); });
  }
  return false;
}

void check_fields(const json& object, const std::vector<Field>& fields, const std::string& lookup,
                  const std::string& shown_prefix, std::vector<std::string>& problems);

void check_value(const json& value, const Field& field, const std::string& path, std::vector<std::string>& problems) {
  if (!has_kind(value, field.kind)) {
    problems.push_back(path + ": expected " + std::string(describe(field.kind)) + ", got " + kind_of(value) + " " +
                       shown(value));
    return;
  }
  if (field.check) {
    if (auto problem = field.check(value)) {
      problems.push_back(path + ": " + util::redact_credentials(*problem) + ", got " + shown(value));
      return;
    }
  }
  if (field.kind == Kind::object_list) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      for (const auto& item_field : field.item_fields) {
        if (item_field.required && !value[i].contains(item_field.path)) {
          problems.push_back(item_path + "." + item_field.path + ": required (" + item_field.description + ")");
        }
      }
      check_fields(value[i], field.item_fields, "", item_path + ".", problems);
    }
  }
}

// Checks every key of `object`: `lookup` is the schema path prefix of its fields ("jupyter."),
// `shown` the prefix used in messages ("steps[2]." for an item of a list).
void check_fields(const json& object, const std::vector<Field>& fields, const std::string& lookup,
                  const std::string& shown_prefix, std::vector<std::string>& problems) {
  for (const auto& [key, value] : object.items()) {
    const std::string path = lookup + key;
    const std::string shown_path = shown_prefix + key;
    const auto exact = std::ranges::find_if(fields, [&](const Field& field) { return field.path == path; });
    if (exact != fields.end()) {
      check_value(value, *exact, shown_path, problems);
      continue;
    }
    const bool is_section =
        std::ranges::any_of(fields, [&](const Field& field) { return field.path.starts_with(path + "."); });
    if (is_section && value.is_object()) {
      check_fields(value, fields, path + ".", shown_path + ".", problems);
      continue;
    }
    if (is_section) {
      problems.push_back(shown_path + ": expected an object, got " + kind_of(value) + " " + shown(value));
      continue;
    }
    std::vector<std::string> siblings;
    for (const auto& field : fields) {
      if (!field.path.starts_with(lookup)) continue;
      const auto rest = field.path.substr(lookup.size());
      siblings.push_back(rest.substr(0, rest.find('.')));
    }
    std::string problem = shown_path + ": unknown key";
    if (auto guess = util::closest_match(key, siblings)) problem += "; did you mean \"" + *guess + "\"?";
    problems.push_back(problem);
  }
}

std::pair<std::size_t, std::size_t> line_and_column(const std::string& text, std::size_t byte) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

const json& at_path(const json& document, const std::string& path) {
  const json* node = &document;
  for (const auto& part : util::split(path, '.')) node = &node->at(part);
  return *node;
}

}  // namespace

std::vector<std::string> validate(const json& document) {
  std::vector<std::string> problems;
  if (!document.is_object()) {
    problems.push_back("the config must be a JSON object, got " + kind_of(document));
    return problems;
  }
  check_fields(document, schema(), "", "", problems);
  return problems;
}

void merge_into(json& base, const json& overlay) {
  for (const auto& [key, value] : overlay.items()) {
    if (value.is_object() && base.contains(key) && base[key].is_object()) {
      merge_into(base[key], value);
    } else {
      base[key] = value;
    }
  }
}

json load_file(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::exists(path, error) && !std::filesystem::is_regular_file(path, error)) {
    throw Error(ExitCode::usage,
                "config file " + path.string() + " is not a file: give --config the path of a JSON file");
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    throw Error(ExitCode::usage, "cannot read config file " + path.string() + ": check the path given to --config");
  }
  std::stringstream buffer;
  buffer << stream.rdbuf();
  const std::string text = buffer.str();
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& error) {
    const auto [line, column] = line_and_column(text, error.byte);
    throw Error(ExitCode::usage, "config file " + path.string() + " is not valid JSON (line " + std::to_string(line) +
                                     ", column " + std::to_string(column) + "): fix the syntax there");
  }
  const auto problems = validate(document);
  if (!problems.empty()) {
    std::string message = "config file " + path.string() + ": " + problems.front();
    if (problems.size() > 1) message += " (and " + std::to_string(problems.size() - 1) + " more problems)";
    throw Error(ExitCode::usage, message);
  }
  return document;
}

ProfileChoice choose_profile(const std::string& requested, const detect::OsInfo& os) {
  ProfileChoice choice{requested, requested, ""};
  if (requested == "seed") {
    choice.reason = "set in the config";
  } else if (requested == "current") {
    choice.reason = "set in the config";
  } else if (os.is("ubuntu", "16.04") || os.is("ubuntu", "18.04")) {
    choice.name = "seed";
    choice.reason = os.label() + " can still run the 2019 course tutorial as written";
  } else {
    choice.name = "current";
    choice.reason =
        os.label() + ": NVIDIA publishes CUDA 10.0 only for Ubuntu 16.04/18.04, so today's versions are used";
  }
  return choice;
}

nlohmann::json to_json(const Layer& layer) { return {{"source", layer.source}, {"config", layer.document}}; }

Layer layer_from_json(const nlohmann::json& document) {
  return Layer(document.at("config"), document.at("source").get<std::string>());
}

Config Config::resolve(const std::vector<Layer>& layers, const detect::OsInfo& os) {
  nlohmann::json requested = {{"profile", "auto"}};
  for (const auto& layer : layers) merge_into(requested, layer.document);
  Config config;
  config.m_profile = choose_profile(requested["profile"].get<std::string>(), os);
  config.m_json = profile_defaults(config.m_profile.name);
  for (const auto& layer : layers) merge_into(config.m_json, layer.document);
  for (const auto& field : schema()) {
    std::string pointer = "/" + field.path;
    std::ranges::replace(pointer, '.', '/');
    std::string source = "default (" + config.m_profile.name + " profile)";
    for (const auto& layer : layers) {
      if (layer.document.contains(nlohmann::json::json_pointer(pointer))) source = layer.source;
    }
    config.m_sources[field.path] = source;
  }
  return config;
}

std::string Config::string(const std::string& path) const { return at(path).get<std::string>(); }
long long Config::integer(const std::string& path) const { return at(path).get<long long>(); }
bool Config::boolean(const std::string& path) const { return at(path).get<bool>(); }
std::vector<std::string> Config::strings(const std::string& path) const {
  return at(path).get<std::vector<std::string>>();
}
const nlohmann::json& Config::at(const std::string& path) const { return at_path(m_json, path); }

}  // namespace cs231n::config
