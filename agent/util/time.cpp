#include "agent/util/time.hpp"

#include <cstdio>
#include <ctime>

#include "agent/util/strings.hpp"

namespace cs231n::util {

std::string iso8601(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text) {
  const std::string value(trim(text));
  std::tm fields{};
  int consumed = 0;
  if (std::sscanf(value.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &fields.tm_year, &fields.tm_mon, &fields.tm_mday,
                  &fields.tm_hour, &fields.tm_min, &fields.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  std::string_view rest = std::string_view(value).substr(19);
  std::chrono::microseconds fraction{0};
  if (rest.starts_with('.')) {
    rest.remove_prefix(1);
    std::size_t digits = 0;
    long long micros = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
      if (digits < 6) micros = micros * 10 + (rest[digits] - '0');
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    for (std::size_t i = digits; i < 6; ++i) micros *= 10;
    fraction = std::chrono::microseconds(micros);
    rest.remove_prefix(digits);
  }
  std::chrono::minutes offset{0};
  if (rest == "Z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    const auto hours = parse_uint(rest.substr(1, 2));
    const auto minutes = parse_uint(rest.substr(4, 2));
    if (!hours || !minutes) return std::nullopt;
    offset = std::chrono::minutes(static_cast<long long>(*hours * 60 + *minutes)) * (rest[0] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  fields.tm_year -= 1900;
  fields.tm_mon -= 1;
  const std::time_t seconds = ::timegm(&fields);
  if (seconds == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(seconds) + fraction - offset;
}

}  // namespace cs231n::util
