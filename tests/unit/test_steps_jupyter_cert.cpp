#include <doctest/doctest.h>

#include "agent/detect/facts.hpp"
#include "steps/table.hpp"
#include "support/fake_system.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;

namespace {

// A VM with the user ann; the certificate step runs every write as ann (scripted here), and the
// test says whether systemd runs and whether the Jupyter unit is installed.
struct CertVm {
  testing::TempDir root;
  std::unique_ptr<testing::FakeSystem> system;
  detect::Facts facts;
  config::Config config;
  std::unique_ptr<plan::Step> step = steps::make_jupyter_cert_step();

  CertVm(bool systemd, bool unit_installed) {
    root.write("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
    root.write("etc/passwd", "root:x:0:0::/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/bash\n");
    root.write("proc/sys/kernel/arch", "x86_64\n");
    if (systemd) std::filesystem::create_directories(root.path() / "run/systemd/system");
    if (unit_installed) root.write("etc/systemd/system/cs231n-jupyter.service", "[Service]\n");
    system = std::make_unique<testing::FakeSystem>(root.path());
    facts = detect::gather_facts(*system, "ann");
    config = config::Config::resolve({}, facts.os);
  }

  void expect_write_as_ann(const std::string& path, const std::string& mode) {
    const auto slash = path.rfind('/');
    const std::string folder = path.substr(0, slash);
    const std::string temp = folder + "/." + path.substr(slash + 1) + ".cs231n-agent.tmp";
    system->expect({"mkdir", "-p", "-m", "0700", "--", folder});
    system->expect({"install", "-m", mode, "/dev/stdin", temp});
    system->expect({"sync", "--", temp});
    system->expect({"mv", "-fT", "--", temp, path});
    system->expect({"sync", "--", folder});
  }

  void expect_certificate_written() {
    expect_write_as_ann("/home/ann/.jupyter/certs/jupyter.key", "0600");
    expect_write_as_ann("/home/ann/.jupyter/certs/jupyter.pem", "0644");
  }

  util::Result<plan::ApplyResult> apply() const {
    const plan::Context context{*system, facts, config};
    return step->apply(plan::StepRun::unlogged(context, step->info().name, std::chrono::minutes(1)));
  }
};

}  // namespace

TEST_CASE(
    "jupyter-cert: a new certificate restarts a running Jupyter (it serves the old one until it starts again), as "
    "the user writes it") {
  CertVm vm(true, true);
  vm.expect_certificate_written();
  vm.system->expect({"systemctl", "try-restart", "cs231n-jupyter.service"});
  REQUIRE(vm.apply());
  vm.system->verify();
  for (const auto& command : vm.system->commands()) {
    if (command.argv.front() != "systemctl") CHECK(command.user == "ann");
  }
}

TEST_CASE("jupyter-cert: nothing to restart before the service is installed, or without systemd") {
  SUBCASE("the first run: no unit yet") {
    CertVm vm(true, false);
    vm.expect_certificate_written();
    REQUIRE(vm.apply());
    vm.system->verify();
  }
  SUBCASE("no systemd (a chroot, an image being built)") {
    CertVm vm(false, true);
    vm.expect_certificate_written();
    REQUIRE(vm.apply());
    vm.system->verify();
  }
}
