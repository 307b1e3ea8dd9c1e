#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cs231n::util {

// "2026-11-29T22:15:52Z": UTC, whole seconds; how the agent writes every time (state, guest
// attributes, idle-check).
std::string iso8601(std::chrono::system_clock::time_point time);

// Reads "2026-11-29T22:15:52.354252Z" (Jupyter), "2026-11-29T22:15:52Z" (the agent), and an offset
// "+01:00" in place of Z; nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text);

}  // namespace cs231n::util
