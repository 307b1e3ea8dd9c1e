#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cs231n::gpu {

// What PyTorch's wheel index offers, read at run time so that the choice follows the releases
// (a table in the binary goes stale within months). Pure: the reading is the caller's.

// The torch versions a PEP 503 project page (<index_url>/<variant>/torch/, as
// download.pytorch.org serves it) has a wheel of for `python` ("3.12": tag cp312) on Linux x86_64,
// newest first, without the local part ("2.7.1" for torch-2.7.1+cu126-...). Links are read from
// href (the file name after the last '/', before '#', %2B decoded), as pip does.
std::vector<std::string> torch_versions_in_index(std::string_view html, std::string_view python);

// The versions of one variant ("cu126", "cpu") for the env's Python, or nullopt when the index
// could not be read (the table is used then).
using TorchVersionsLookup = std::function<std::optional<std::vector<std::string>>(std::string_view variant)>;

}  // namespace cs231n::gpu
