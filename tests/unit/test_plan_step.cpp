#include <doctest/doctest.h>

#include "agent/plan/step.hpp"
#include "steps/table.hpp"
#include "support/fake_system.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;
using nlohmann::json;

namespace {

const json k_site_motd = {{"name", "site-motd"}, {"after", {"anaconda"}}, {"run", {"touch", "/etc/motd"}}};

// Ubuntu 22.04 with a Tesla T4 and the account ann.
struct Machine {
  testing::TempDir root;
  std::unique_ptr<testing::FakeSystem> system;
  detect::Facts facts;
  config::Config config;

  explicit Machine(std::vector<config::Layer> layers) {
    root.write("etc/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\n");
    root.write("etc/passwd", "root:x:0:0::/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/bash\n");
    root.write("proc/sys/kernel/arch", "x86_64\n");
    root.write("sys/bus/pci/devices/0000:00:04.0/vendor", "0x10de\n");
    root.write("sys/bus/pci/devices/0000:00:04.0/device", "0x1eb8\n");
    root.write("sys/bus/pci/devices/0000:00:04.0/class", "0x030200\n");
    system = std::make_unique<testing::FakeSystem>(root.path());
    facts = detect::gather_facts(*system, "");
    config = config::Config::resolve(layers, facts.os);
  }
  plan::Context context() const { return {*system, facts, config}; }
};

}  // namespace

// A changed fingerprint re-runs the step on every VM after an upgrade: these are today's
// fingerprints and must stay as they are (bump a step's version instead).
TEST_CASE("fingerprint: every built-in step's fingerprint for a fixed machine is pinned") {
  Machine machine({json{{"steps", json::array({k_site_motd})}}});
  const std::map<std::string, std::string> pinned{
      {"user", "4e21c1df994d6ad310bd892efb7b514c3d5a3e4cc16e2056855cbecc95e6c3b0"},
      {"apt-packages", "e8c78336c8b4c04491e0d227f455961078be451ded77f3923fc7c7412b520e96"},
      {"anaconda", "bbded962e02813bf9412b66413b104cfed47708682f175109e413e2590d1aff5"},
      {"conda-env", "95dd9dd3198ab1d2c2fb134a109a94a5e4fa7242c89d5f4a3530dad25a49b9bb"},
      {"assignments", "6788659bd9f7da62c879754d316deb95b7e0a3b88d0c0a58adf698c37c9c2c6e"},
      {"datasets", "d3d2e24911f2abb7ad88efbb92943b932d69b611d7f342322b2204fa7fd8f7d8"},
      {"jupyter-password", "aa1047d0041e7504fc4568cdbb194fbfe2fe099295b784d638603bdbafa17e39"},
      {"jupyter-cert", "812f592be10f3f7c52414cc3e35b6ca35efe1bd78df53f9743d267bf4b768f80"},
      {"jupyter-config", "ff2d0809ca8fe99e941e393b0e5741557de85bfd81f9ea9d67502828fe381329"},
      {"jupyter-service", "375dae90f1883d1a820e2a334a08f607addfcec99ed68f364ecce95d4cb6706d"},
      {"nvidia-repo", "1ae0a0005c1fc10ba3536f6adb3119f88338fa8fc53b745ba8f7c54f4e1b1643"},
      {"nvidia-driver", "4af49d449df8d32cc85c9ae6a9b1822a52e74385be19ba119a6ddb384c3623e4"},
      {"cuda", "0853fed44f583f29473b0b00ceab08425fbe5dd3de41de96b867b1ae6c06e9a1"},
      {"pytorch", "ffbbd2109ab822ba9795598a638ee32895f9332a0f5aaf53ce64c94d2b0b7d79"},
      {"gpu-persistence", "c64d0e41b1f65f517f3cd4bedc72bb9f1aaa8145d47150cece5a40efab204433"},
      {"idle-shutdown", "7c601d1c6bbec75950610d6aab36771ab443378fe636d856eeef50cd903ed6a5"},
      {"verify", "2afaf151773ead2f5ca6a87aa1238be11623456cd402056fd1018b7c3306aacc"},
      {"site-motd", "71365ff5962ea3aca033700b711c4a877dbc3499679016da6f718f8dc7f34c1f"},
  };
  std::map<std::string, std::string> computed;
  for (const auto& step : steps::all_steps(machine.config)) {
    computed[step->info().name] = plan::fingerprint(*step, machine.context());
  }
  CHECK(computed == pinned);
}
