#include "agent/detect/os_release.hpp"

#include <algorithm>
#include <cctype>

#include "agent/gpu/compat_table.hpp"
#include "agent/util/strings.hpp"

namespace cs231n::detect {

namespace {

bool valid_key(std::string_view key) {
  return !key.empty() && std::ranges::all_of(key, [](char c) {
    return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::optional<std::string> unquote(std::string_view value) {
  if (value.empty()) return std::string();
  const char quote = value.front();
  if (quote != '"' && quote != '\'') {
    if (value.find_first_of(" \t\"'") != std::string_view::npos) return std::nullopt;
    return std::string(value);
  }
  if (value.size() < 2 || value.back() != quote) return std::nullopt;
  value = value.substr(1, value.size() - 2);
  std::string result;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (quote == '"' && value[i] == '\\' && i + 1 < value.size() &&
        std::string_view("\"\\$`").find(value[i + 1]) != std::string_view::npos) {
      ++i;
    }
    result += value[i];
  }
  return result;
}

std::string capitalize(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text;
}

}  // namespace

std::map<std::string, std::string> parse_os_release(std::string_view text) {
  std::map<std::string, std::string> fields;
  for (const auto& raw_line : util::lines(text)) {
    const auto line = util::trim(raw_line);
    if (line.empty() || line.starts_with('#')) continue;
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    const auto key = line.substr(0, equals);
    if (!valid_key(key)) continue;
    if (auto value = unquote(line.substr(equals + 1))) fields[std::string(key)] = *value;
  }
  return fields;
}

std::string OsInfo::label() const {
  if (id.empty()) return "an unknown OS";
  if (id == "ubuntu") return "Ubuntu " + version_id;
  if (id == "debian") return "Debian " + version_id;
  if (!pretty_name.empty()) return pretty_name;
  return capitalize(id) + " " + version_id;
}

OsInfo os_info_from(const std::map<std::string, std::string>& fields) {
  const auto get = [&](const char* key) {
    const auto found = fields.find(key);
    return found == fields.end() ? std::string() : found->second;
  };
  OsInfo info;
  info.id = get("ID");
  info.version_id = get("VERSION_ID");
  info.codename = get("VERSION_CODENAME");
  if (info.codename.empty()) info.codename = get("UBUNTU_CODENAME");
  info.pretty_name = get("PRETTY_NAME");
  if (info.id.empty()) {
    info.reason =
        "cannot tell which OS this is (no ID in os-release); cs231n-agent supports " + gpu::supported_os_list();
    return info;
  }
  info.supported = gpu::find_os(info.id, info.version_id).has_value();
  if (!info.supported) {
    info.reason = info.label() + " is not supported; cs231n-agent supports " + gpu::supported_os_list();
  }
  return info;
}

OsInfo read_os_info(const os::Files& files) {
  auto text = files.read("/etc/os-release");
  if (!text) text = files.read("/usr/lib/os-release");
  if (!text) {
    OsInfo info;
    info.reason = "no /etc/os-release or /usr/lib/os-release under " + files.root().string() +
                  "; cs231n-agent supports " + gpu::supported_os_list();
    return info;
  }
  return os_info_from(parse_os_release(*text));
}

}  // namespace cs231n::detect
