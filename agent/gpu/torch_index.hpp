#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cs231n::gpu {

// What PyTorch's wheel indexes offer, read at run time so that the choice follows the releases
// (a table in the binary goes stale within months). Pure: the reading is the caller's.

// One torch wheel an index lists for the env's Python on Linux x86_64.
struct TorchWheel {
  std::string version;        // without the local part: "1.4.0" for torch-1.4.0+cu100-...
  bool local_version = true;  // the file name carries +<variant>; false: PyPI's plain build of that variant
  std::string href;           // the link as the page has it, %2B decoded ("cu100/torch-1.2.0-cp36-...whl")
};

// "cp312" for "3.12": the CPython tag of wheel file names.
std::string python_tag(std::string_view python);

// "torch-2.7.1+cu126-cp312-cp312-manylinux_2_28_x86_64.whl" -> its version (with the local part)
// when it is a torch wheel for `python_tag` ("cp312") on Linux x86_64 (wheel file names: PEP 427,
// name-version-python-abi-platform); nullopt for any other file.
std::optional<std::string> wheel_version(std::string_view file, std::string_view python_tag);

// The wheels a PEP 503 project page (<index_url>/<variant>/torch/, as download.pytorch.org serves
// it) has for `python` ("3.12": tag cp312) on Linux x86_64, newest first. Links are read from href
// (the file name after the last '/', before '#', %2B decoded), as pip does.
std::vector<TorchWheel> torch_wheels_in_index(std::string_view html, std::string_view python);

// The wheels of `variant` ("cu100", "cpu") for `python` on Linux x86_64 in PyTorch's find-links page
// (<index_url>/torch_stable.html, torch <= 1.10): one flat page of every wheel of every variant and
// project, each link relative to the page, the variant its folder ("cu100/torch-1.2.0-cp36-cp36m-...",
// "cu100/torch-1.4.0%2Bcu100-cp36-..."). The folder, not the file name, says the variant: some
// folders hold PyPI's plain build without +<variant> (pytorch/pytorch#53821). Newest first.
std::vector<TorchWheel> torch_wheels_in_find_links(std::string_view html, std::string_view variant,
                                                   std::string_view python);

// Their versions, in order, without repeats.
std::vector<std::string> versions_of(const std::vector<TorchWheel>& wheels);

// How pip finds a build: torch <= 1.10 from the find-links page, 2.x from the variant's index.
enum class TorchIndex {
  find_links,  // pip install torch==V+cuXXX -f BASE/torch_stable.html
  index_url,   // pip install torch==V+cuXXX --index-url BASE/cuXXX
};

// The wheels of one variant for a Python, from the index of that form, or nullopt when it could
// not be read (the table is used then).
using TorchWheelsLookup = std::function<std::optional<std::vector<TorchWheel>>(
    TorchIndex index, std::string_view variant, std::string_view python)>;

}  // namespace cs231n::gpu
