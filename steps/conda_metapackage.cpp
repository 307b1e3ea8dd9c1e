#include "steps/conda_metapackage.hpp"

#include <functional>
#include <regex>
#include <tuple>

#include <nlohmann/json.hpp>

#include "agent/util/strings.hpp"

namespace cs231n::steps {

namespace {

using nlohmann::json;

// The records of repodata.json's "packages" (file name -> record) whose file name `keep` accepts,
// parsed without keeping the others: today's pkgs/main linux-64 repodata is ~70 MB of JSON
// (docs/sources/conda-and-miniforge.md §5), of which a metapackage's env needs a few hundred records.
util::Result<json> packages_where(std::string_view repodata, const std::function<bool(const std::string&)>& keep) {
  std::string top_key;
  const json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event != json::parse_event_t::key) return true;
    if (depth == 1) {
      top_key = parsed.get<std::string>();
      return top_key == "packages";
    }
    if (depth == 2 && top_key == "packages") return keep(parsed.get<std::string>());
    return true;
  };
  try {
    auto document = json::parse(repodata.begin(), repodata.end(), callback);
    if (!document.is_object()) return util::fail("repodata.json is not a JSON object");
    if (!document.contains("packages")) return json::object();
    if (!document.at("packages").is_object()) return util::fail("repodata.json's \"packages\" is not an object");
    return std::move(document.at("packages"));
  } catch (const json::exception& error) {
    return util::fail(std::string("repodata.json is not valid JSON: ") + error.what());
  }
}

std::string string_field(const json& record, const char* key) {
  const auto found = record.find(key);
  return found != record.end() && found->is_string() ? found->get<std::string>() : std::string();
}

long long integer_field(const json& record, const char* key) {
  const auto found = record.find(key);
  return found != record.end() && found->is_number_integer() ? found->get<long long>() : 0;
}

std::vector<std::string> string_list(const json& record, const char* key) {
  std::vector<std::string> values;
  const auto found = record.find(key);
  if (found == record.end() || !found->is_array()) return values;
  for (const auto& value : *found) {
    if (value.is_string()) values.push_back(value.get<std::string>());
  }
  return values;
}

// Whether a depends entry pins python to `python` ("3.6"): "python 3.6.7 h0371630_0".
bool pins_python(const std::vector<std::string>& depends, const std::string& python) {
  for (const auto& entry : depends) {
    const auto words = util::split_whitespace(entry);
    if (words.size() >= 2 && words[0] == "python" && (words[1] == python || words[1].starts_with(python + ".")))
      return true;
  }
  return false;
}

}  // namespace

std::optional<MetapackageSpec> parse_metapackage_spec(const std::string& spec) {
  static const std::regex form(R"(([a-z0-9][a-z0-9_.-]*)=([A-Za-z0-9_.+]+))");
  std::smatch match;
  if (!std::regex_match(spec, match, form)) return std::nullopt;
  return MetapackageSpec{match[1].str(), match[2].str()};
}

util::Result<MetapackageRecord> find_metapackage(std::string_view repodata, const MetapackageSpec& spec,
                                                 const std::string& python) {
  const std::string prefix = spec.name + "-" + spec.version + "-";
  auto records = packages_where(
      repodata, [&](const std::string& file) { return file.starts_with(prefix) && file.ends_with(".tar.bz2"); });
  if (!records) return std::unexpected(records.error());
  const json* best = nullptr;
  std::string best_file;
  std::vector<std::string> other_builds;
  for (const auto& [file, record] : records->items()) {
    if (string_field(record, "name") != spec.name || string_field(record, "version") != spec.version) continue;
    if (!pins_python(string_list(record, "depends"), python)) {
      other_builds.push_back(string_field(record, "build"));
      continue;
    }
    const auto rank = [](const json& r) {
      return std::make_tuple(integer_field(r, "build_number"), integer_field(r, "timestamp"));
    };
    if (!best || rank(record) > rank(*best)) {
      best = &record;
      best_file = file;
    }
  }
  if (!best) {
    if (other_builds.empty()) return util::fail("it lists no " + spec.name + " " + spec.version);
    return util::fail("its " + spec.name + " " + spec.version + " builds (" + util::join(other_builds, ", ") +
                      ") pin no python " + python);
  }
  return MetapackageRecord{best_file, string_list(*best, "depends")};
}

std::optional<std::string> pinned_file(const std::string& depends_entry) {
  const auto words = util::split_whitespace(depends_entry);
  if (words.size() != 3) return std::nullopt;
  for (const auto& word : words) {
    if (word.find_first_of("<>=!,|*") != std::string_view::npos) return std::nullopt;
  }
  return std::string(words[0]) + "-" + std::string(words[1]) + "-" + std::string(words[2]) + ".tar.bz2";
}

util::Result<std::map<std::string, std::string>> md5_of_files(std::string_view repodata,
                                                              const std::set<std::string>& files) {
  auto records = packages_where(repodata, [&](const std::string& file) { return files.contains(file); });
  if (!records) return std::unexpected(records.error());
  std::map<std::string, std::string> md5s;
  static const std::regex md5_form("[0-9a-f]{32}");
  for (const auto& [file, record] : records->items()) {
    const auto md5 = string_field(record, "md5");
    if (std::regex_match(md5, md5_form)) md5s[file] = md5;
  }
  return md5s;
}

std::string explicit_list_text(const std::string& channel, const std::string& comment,
                               const std::vector<ExplicitEntry>& entries) {
  std::string text = "# " + comment + "\n# platform: linux-64\n@EXPLICIT\n";
  for (const auto& entry : entries) {
    text += channel + "/" + entry.subdir + "/" + entry.file + "#" + entry.md5 + "\n";
  }
  return text;
}

}  // namespace cs231n::steps
