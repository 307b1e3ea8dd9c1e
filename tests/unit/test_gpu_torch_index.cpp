#include <doctest/doctest.h>

#include <map>

#include "agent/gpu/choose.hpp"
#include "agent/gpu/torch_index.hpp"
#include "support/fixture_file.hpp"

using namespace cs231n;

namespace {

std::string fixture(const char* name) { return testing::read_fixture(std::string("torch-index/") + name); }

// An index that answers for the variants it has pages for; the others cannot be read.
gpu::TorchVersionsLookup index_of(std::map<std::string, std::vector<std::string>> pages) {
  return [pages = std::move(pages)](std::string_view variant) -> std::optional<std::vector<std::string>> {
    if (const auto found = pages.find(std::string(variant)); found != pages.end()) return found->second;
    return std::nullopt;
  };
}

gpu::Request noble(std::vector<std::string> gpu_ids) {
  gpu::Request request;
  request.gpu_path = true;
  request.gpu_ids = std::move(gpu_ids);
  request.os_id = "ubuntu";
  request.os_version = "24.04";
  request.os_label = "Ubuntu 24.04";
  request.kernel_release = "6.8.0-1015-gcp";
  request.python = "3.12";
  return request;
}

}  // namespace

TEST_CASE("torch index: the versions of a PEP 503 page for one Python on Linux x86_64, newest first") {
  const auto page = fixture("cu130-torch.html");
  CHECK(gpu::torch_versions_in_index(page, "3.12") == std::vector<std::string>{"2.15.1", "2.14.0", "2.11.0", "2.9.1"});
  CHECK(gpu::torch_versions_in_index(page, "3.13") == std::vector<std::string>{"2.15.1"});
  CHECK(gpu::torch_versions_in_index(page, "3.11") == std::vector<std::string>{"2.11.0"});
  CHECK(gpu::torch_versions_in_index(page, "3.6").empty());
  CHECK(gpu::torch_versions_in_index("<html>not an index</html>", "3.12").empty());
  // Other projects and relative links, as the stand-in and older pages have them.
  CHECK(gpu::torch_versions_in_index(
            R"(<a href="../torch-2.10.0%2Bcu126-cp312-cp312-linux_x86_64.whl#sha256=ab">x</a>)"
            R"(<a href="torchvision-0.25.0%2Bcu126-cp312-cp312-manylinux_2_28_x86_64.whl">y</a>)",
            "3.12") == std::vector<std::string>{"2.10.0"});
}

TEST_CASE("choose with the index: a release the table has never heard of is picked, for the GPU it runs on") {
  auto request = noble({"27b8"});
  request.torch_versions =
      index_of({{"cu132", {}}, {"cu130", gpu::torch_versions_in_index(fixture("cu130-torch.html"), "3.12")}});
  auto choice = gpu::choose(request);
  REQUIRE(choice);
  CHECK(choice->torch_version == "2.15.1");
  CHECK(choice->torch_variant == "cu130");
  CHECK(gpu::torch_install(*choice, "https://download.pytorch.org/whl").requirement == "torch==2.15.1+cu130");

  SUBCASE("the index is the authority: a version only the table names is not picked") {
    request.torch_versions = index_of({{"cu132", {"2.12.0"}}, {"cu130", {"2.12.0"}}});
    choice = gpu::choose(request);
    REQUIRE(choice);
    CHECK(choice->torch_version == "2.12.0");  // not the table's 2.14.0
  }
  SUBCASE("an index that cannot be read: the table") {
    request.torch_versions = index_of({});
    choice = gpu::choose(request);
    REQUIRE(choice);
    CHECK(choice->torch_version == "2.14.0");
  }
  SUBCASE("an explicit version the index lacks: refused before anything is installed, naming what is there") {
    request.torch = "2.13.0";
    request.torch_versions = index_of({{"cu132", {}}, {"cu130", {"2.15.1", "2.14.0"}}, {"cu126", {"2.14.0"}}});
    request.cuda = "13.2";
    const auto refused = gpu::choose(request);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().reason ==
          "PyTorch's index has no torch 2.13.0 wheel for cu132 or cu130 and Python 3.12 (it has 2.15.1, 2.14.0)");
  }
  SUBCASE("a Pascal GPU: the newest cu126 wheel, whatever its number") {
    auto pascal = noble({"15f8"});
    pascal.torch_versions = index_of({{"cu128", {"2.15.1"}}, {"cu126", {"2.15.1", "2.14.0"}}});
    choice = gpu::choose(pascal);
    REQUIRE(choice);
    CHECK(choice->cuda == "12.8");
    CHECK(choice->torch_version == "2.15.1");
    CHECK(choice->torch_variant == "cu126");
  }
}
