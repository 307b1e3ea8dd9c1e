#pragma once

#include <optional>

#include <nlohmann/json.hpp>

// std::optional <-> JSON: nullopt is null. nlohmann 3.11 (Debian 12) has no mapping of its own,
// so a NLOHMANN_DEFINE_TYPE_* struct with an optional member needs this one.
namespace nlohmann {

template <typename T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& document, const std::optional<T>& value) {
    if (value) {
      document = *value;
    } else {
      document = nullptr;
    }
  }
  static void from_json(const json& document, std::optional<T>& value) {
    if (document.is_null()) {
      value.reset();
    } else {
      value = document.get<T>();
    }
  }
};

}  // namespace nlohmann
