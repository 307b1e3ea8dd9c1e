#include <doctest/doctest.h>

#include "agent/detect/facts.hpp"

using namespace cs231n;

TEST_CASE("detect table: one aligned row per fact, extra GPUs on rows without a label") {
  detect::Facts facts;
  facts.os = {"ubuntu", "16.04", "xenial", "Ubuntu 16.04.7 LTS", true, ""};
  facts.arch = "x86_64";
  facts.arch_supported = true;
  facts.gce = true;
  facts.gpus = {{"10de:1eb8", "1eb8", "Tesla T4", "0000:00:04.0"}, {"10de:1eb8", "1eb8", "Tesla T4", "0000:00:05.0"}};
  facts.secure_boot = detect::SecureBoot::off;
  facts.cpus = 8;
  facts.memory_bytes = 30ull << 30;
  facts.kernel_release = "4.15.0-1098-gcp";
  facts.hostname = "cs231n-t4";
  facts.boot_id = "7c9f";
  facts.nouveau_loaded = true;
  facts.user.name = "student";
  facts.user.source = "/etc/passwd";
  facts.user.account = os::Account{"student", 1000, 1000, "", "/home/student", "/bin/bash"};
  CHECK(detect::to_table(facts) ==
        "OS            Ubuntu 16.04.7 LTS (supported)\n"
        "Architecture  x86_64\n"
        "GCE VM        yes\n"
        "GPUs          Tesla T4 (10de:1eb8 at 0000:00:04.0)\n"
        "              Tesla T4 (10de:1eb8 at 0000:00:05.0)\n"
        "Secure Boot   off\n"
        "CPUs          8\n"
        "Memory        30.0 GiB\n"
        "Free disk     unknown\n"
        "Kernel        4.15.0-1098-gcp\n"
        "Hostname      cs231n-t4\n"
        "Boot id       7c9f\n"
        "GPU modules   nouveau\n"
        "Conda         not installed\n"
        "nvidia-smi    not installed\n"
        "CUDA          not installed\n"
        "User          student (from /etc/passwd, home /home/student)\n");
}
