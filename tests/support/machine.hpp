#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/plan/planner.hpp"
#include "steps/table.hpp"
#include "support/fake_system.hpp"
#include "support/temp_dir.hpp"

namespace cs231n::testing {

// A machine for planning: an os-release, the accounts root and ann, optionally a Tesla T4, and the
// config resolved from `layers` for that OS.
struct Machine {
  TempDir root;
  std::unique_ptr<FakeSystem> system;
  detect::Facts facts;
  config::Config config;

  explicit Machine(const std::string& os_release, std::vector<config::Layer> layers = {}, bool t4 = false) {
    root.write("etc/os-release", os_release);
    root.write("etc/passwd", "root:x:0:0::/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/bash\n");
    root.write("proc/sys/kernel/arch", "x86_64\n");
    if (t4) {
      root.write("sys/bus/pci/devices/0000:00:04.0/vendor", "0x10de\n");
      root.write("sys/bus/pci/devices/0000:00:04.0/device", "0x1eb8\n");
      root.write("sys/bus/pci/devices/0000:00:04.0/class", "0x030200\n");
    }
    system = std::make_unique<FakeSystem>(root.path());
    facts = detect::gather_facts(*system, "");
    config = config::Config::resolve(layers, facts.os);
  }
  plan::Context context() const { return {*system, facts, config}; }
  plan::Plan plan() const { return plan::make_plan(steps::all_steps(config), context()); }
};

inline const char* const k_xenial = "ID=ubuntu\nVERSION_ID=\"16.04\"\nPRETTY_NAME=\"Ubuntu 16.04.7 LTS\"\n";
inline const char* const k_jammy = "ID=ubuntu\nVERSION_ID=\"22.04\"\n";

}  // namespace cs231n::testing
