#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "agent/gpu/choose.hpp"
#include "agent/gpu/torch_index.hpp"
#include "support/fixture_file.hpp"

using namespace cs231n;

namespace {

std::string fixture(const char* name) { return testing::read_fixture(std::string("torch-index/") + name); }

std::vector<gpu::TorchWheel> wheels(const std::vector<std::string>& versions) {
  std::vector<gpu::TorchWheel> listed;
  for (const auto& version : versions) listed.push_back({version, true, "torch-" + version + ".whl"});
  return listed;
}

// PyTorch's per-variant indexes that answer for the variants they have pages for (any Python); the
// others, and torch_stable.html, cannot be read.
gpu::TorchWheelsLookup index_of(std::map<std::string, std::vector<std::string>> pages) {
  return [pages = std::move(pages)](gpu::TorchIndex index, std::string_view variant,
                                    std::string_view) -> std::optional<std::vector<gpu::TorchWheel>> {
    if (index != gpu::TorchIndex::index_url) return std::nullopt;
    if (const auto found = pages.find(std::string(variant)); found != pages.end()) return wheels(found->second);
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
  const auto versions = [&](std::string_view python) {
    return gpu::versions_of(gpu::torch_wheels_in_index(page, python));
  };
  CHECK(versions("3.12") == std::vector<std::string>{"2.15.1", "2.14.0", "2.11.0", "2.9.1"});
  CHECK(versions("3.13") == std::vector<std::string>{"2.15.1"});
  CHECK(versions("3.11") == std::vector<std::string>{"2.11.0"});
  CHECK(versions("3.6").empty());
  CHECK(gpu::torch_wheels_in_index("<html>not an index</html>", "3.12").empty());
  const auto newest = gpu::torch_wheels_in_index(page, "3.12").front();
  CHECK(newest.local_version);
  CHECK(newest.href == "/whl/cu130/torch-2.15.1+cu130-cp312-cp312-manylinux_2_28_x86_64.whl");
  // Other projects and relative links, as the stand-in and older pages have them.
  CHECK(gpu::versions_of(gpu::torch_wheels_in_index(
            R"(<a href="../torch-2.10.0%2Bcu126-cp312-cp312-linux_x86_64.whl#sha256=ab">x</a>)"
            R"(<a href="torchvision-0.25.0%2Bcu126-cp312-cp312-manylinux_2_28_x86_64.whl">y</a>)",
            "3.12")) == std::vector<std::string>{"2.10.0"});
  // torchvision's page beside torch's (pip reads it; the agent must not take its wheels for torch's).
  CHECK(gpu::torch_wheels_in_index(fixture("cu130-torchvision.html"), "3.12").empty());
}

TEST_CASE("torch index: torch_stable.html, the variant from each link's folder, plain builds without +variant") {
  const auto page = fixture("torch_stable.html");
  const auto cu100 = gpu::torch_wheels_in_find_links(page, "cu100", "3.6");
  CHECK(gpu::versions_of(cu100) == std::vector<std::string>{"1.4.0", "1.2.0", "1.1.0", "1.0.0"});
  const auto plain_120 = std::ranges::find_if(cu100, [](const auto& wheel) { return wheel.version == "1.2.0"; });
  REQUIRE(plain_120 != cu100.end());
  CHECK_FALSE(plain_120->local_version);
  CHECK(plain_120->href == "cu100/torch-1.2.0-cp36-cp36m-manylinux1_x86_64.whl");
  CHECK(cu100.front().local_version);  // 1.4.0+cu100
  // 1.2.0+cu92 is another variant's wheel, whatever pip's `==1.2.0` would match.
  CHECK(gpu::versions_of(gpu::torch_wheels_in_find_links(page, "cu92", "3.6")) ==
        std::vector<std::string>{"1.4.0", "1.2.0"});
  CHECK(gpu::torch_wheels_in_find_links(page, "cu100", "3.8").size() == 1);  // 1.4.0+cu100 only
  CHECK(gpu::torch_wheels_in_find_links(page, "cu100", "3.12").empty());
  CHECK(gpu::versions_of(gpu::torch_wheels_in_find_links(page, "cpu", "3.6")) ==
        std::vector<std::string>{"1.10.2", "1.4.0", "1.2.0"});
  // torchvision's wheels share the page and are not torch's.
  CHECK(gpu::torch_wheels_in_find_links(R"(<a href="cu100/torchvision-0.4.0-cp36-cp36m-manylinux1_x86_64.whl">x</a>)",
                                        "cu100", "3.6")
            .empty());
}

TEST_CASE("choose with the index: a release the table has never heard of is picked, for the GPU it runs on") {
  auto request = noble({"27b8"});
  request.torch_wheels = index_of(
      {{"cu132", {}}, {"cu130", gpu::versions_of(gpu::torch_wheels_in_index(fixture("cu130-torch.html"), "3.12"))}});
  auto choice = gpu::choose(request);
  REQUIRE(choice);
  CHECK(choice->torch_version == "2.15.1");
  CHECK(choice->torch_variant == "cu130");
  CHECK(gpu::torch_install(*choice, "https://download.pytorch.org/whl", false)->requirements ==
        std::vector<std::string>{"torch==2.15.1+cu130"});

  SUBCASE("the index is the authority: a version only the table names is not picked") {
    request.torch_wheels = index_of({{"cu132", {"2.12.0"}}, {"cu130", {"2.12.0"}}});
    choice = gpu::choose(request);
    REQUIRE(choice);
    CHECK(choice->torch_version == "2.12.0");  // not the table's 2.14.0
  }
  SUBCASE("an index that cannot be read: the table") {
    request.torch_wheels = index_of({});
    choice = gpu::choose(request);
    REQUIRE(choice);
    CHECK(choice->torch_version == "2.14.0");
  }
  SUBCASE("an explicit version the index lacks: refused before anything is installed, naming what is there") {
    request.torch = "2.13.0";
    request.torch_wheels = index_of({{"cu132", {}}, {"cu130", {"2.15.1", "2.14.0"}}, {"cu126", {"2.14.0"}}});
    request.cuda = "13.2";
    const auto refused = gpu::choose(request);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().reason ==
          "PyTorch's index has no torch 2.13.0 wheel for cu132 or cu130 and Python 3.12 (it has 2.15.1, 2.14.0)");
  }
  SUBCASE("a Pascal GPU: the newest cu126 wheel, whatever its number") {
    auto pascal = noble({"15f8"});
    pascal.torch_wheels = index_of({{"cu128", {"2.15.1"}}, {"cu126", {"2.15.1", "2.14.0"}}});
    choice = gpu::choose(pascal);
    REQUIRE(choice);
    CHECK(choice->cuda == "12.8");
    CHECK(choice->torch_version == "2.15.1");
    CHECK(choice->torch_variant == "cu126");
  }
}

TEST_CASE("choose with the index: a suggestion with another Python asks the index for that Python's wheels") {
  // PyTorch's indexes with wheels for Python 3.12 only; the env has 3.6.
  auto request = noble({"27b8"});
  request.python = "3.6";
  request.torch_wheels = [](gpu::TorchIndex index, std::string_view variant,
                            std::string_view python) -> std::optional<std::vector<gpu::TorchWheel>> {
    if (index == gpu::TorchIndex::index_url && python == "3.12" && (variant == "cu132" || variant == "cu130"))
      return wheels({"2.15.1"});
    return std::vector<gpu::TorchWheel>{};
  };
  const auto refused = gpu::choose(request);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().suggestion ==
        "set conda_env.python to \"3.12\" (here: CUDA 13.2, driver 580, torch 2.15.1+cu132)");
}

TEST_CASE("choose with torch_stable.html: the seed's 1.x wheel is one the page lists, named by its URL when plain") {
  const auto page = fixture("torch_stable.html");
  gpu::Request request = noble({"1eb8"});
  request.os_version = "18.04";
  request.os_label = "Ubuntu 18.04";
  request.kernel_release = "5.4.0-1103-gcp";
  request.python = "3.6";
  request.cuda = "10.0";
  request.torch_wheels = [&](gpu::TorchIndex index, std::string_view variant,
                             std::string_view python) -> std::optional<std::vector<gpu::TorchWheel>> {
    if (index == gpu::TorchIndex::find_links) return gpu::torch_wheels_in_find_links(page, variant, python);
    return std::nullopt;
  };
  auto choice = gpu::choose(request);
  REQUIRE(choice);
  CHECK(choice->torch_version == "1.4.0");  // the newest cu100 wheel for cp36
  CHECK(gpu::torch_install(*choice, "https://download.pytorch.org/whl", false)->requirements ==
        std::vector<std::string>{"torch==1.4.0+cu100"});

  request.torch = "1.2.0";
  choice = gpu::choose(request);
  REQUIRE(choice);
  CHECK(choice->torch_wheel == "cu100/torch-1.2.0-cp36-cp36m-manylinux1_x86_64.whl");
  CHECK(choice->torch_plain);
  const auto install = gpu::torch_install(*choice, "https://download.pytorch.org/whl", false).value();
  CHECK(
      install.requirements ==
      std::vector<std::string>{"https://download.pytorch.org/whl/cu100/torch-1.2.0-cp36-cp36m-manylinux1_x86_64.whl"});
  CHECK(install.index_args.empty());

  SUBCASE("a version the page lacks: refused naming what it has") {
    request.torch = "1.3.1";
    const auto refused = gpu::choose(request);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().reason ==
          "PyTorch's index has no torch 1.3.1 wheel for cu100 and Python 3.6 (it has 1.4.0, 1.2.0, 1.1.0, 1.0.0)");
  }
}
