#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cs231n::config {

enum class Kind { string, boolean, integer, string_list, string_map, integer_map, object_list };

struct Field;
// Returns what is wrong with a value of the right kind ("must be 64 hex digits"), or nullopt.
using ValueCheck = std::function<std::optional<std::string>(const nlohmann::json&)>;

struct Field {
  std::string path;  // "jupyter.port"; a top-level key has no dot
  Kind kind;
  std::string description;         // one line, for the README table
  std::string metadata_attribute;  // GCE metadata attribute that can set it, or empty
  ValueCheck check;                // extra checks beyond the kind, may be empty
  std::vector<Field> item_fields;  // object_list: the fields of each item (paths relative to it)
  bool required = false;           // object_list items only
};

// The one schema: every key the config accepts. Sections are the first path component.
const std::vector<Field>& schema();
std::string_view describe(Kind kind);

// Built-in defaults of a profile ("seed" or "current"), a complete config.
nlohmann::json profile_defaults(const std::string& profile);

// The schema table of the README (Markdown), generated so that it cannot drift from the code.
std::string schema_markdown();

}  // namespace cs231n::config
