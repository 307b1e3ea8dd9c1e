#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/util/result.hpp"

namespace cs231n::util {

// The content of gzip data (RFC 1952, one or more members, as gzip and Debian's Packages.gz have
// it), failing on corrupt or truncated data and on content longer than `max_size` bytes (a bound
// on what a server can make us hold in memory).
Result<std::string> gunzip(std::string_view compressed, std::size_t max_size);

}  // namespace cs231n::util
