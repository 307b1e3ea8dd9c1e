#!/usr/bin/env bash
# `detect` on every fixture root (tests/fixtures/roots): what it reports, as JSON and as the
# table, and that it changes nothing in the root.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

# detect_root DIR [ARG...]: detect --json on DIR; it must succeed, print nothing on stderr and
# leave DIR untouched. Then the table form, kept in $TEST_TMP/table.
detect_root() {
  local root=$1
  shift
  take_snapshot "$root" detect
  run_agent detect --root "$root" "$@"
  assert_rc 0
  assert_stderr_empty
  cp -- "$OUT" "$TEST_TMP/table"
  TABLE_CMD=$LAST_CMD
  run_agent detect --json --root "$root" "$@"
  assert_rc 0
  assert_stderr_empty
  assert_unchanged "$root" detect
}

# on_table COMMAND...: runs COMMAND with $OUT and $LAST_CMD pointing at the last table output,
# so that failures show the table.
on_table() {
  local saved_out=$OUT saved_cmd=$LAST_CMD
  OUT=$TEST_TMP/table
  LAST_CMD=$TABLE_CMD
  "$@"
  OUT=$saved_out
  LAST_CMD=$saved_cmd
}

# table ROW: the value of a row of the last table output.
table() {
  on_table table_value "$1"
}

assert_detect_table_aligned() {
  on_table assert_table_aligned
}

# ---------------------------------------------------------------------------------------------
section "detect ubuntu1604-gce-t4 (Ubuntu 16.04, GCE, Tesla T4 + its audio function, nouveau)"
detect_root "$ROOTS/ubuntu1604-gce-t4"
assert_json os.id '"ubuntu"'
assert_json os.version_id '"16.04"'
assert_json os.codename '"xenial"'
assert_json os.pretty_name '"Ubuntu 16.04.7 LTS"'
assert_json os.supported true
assert_json os.reason null
assert_json arch '"x86_64"'
assert_json arch_supported true
assert_json gce true
# The NVIDIA HD audio function at 0000:00:04.1 (class 0x040300) is not a GPU.
assert_json gpus '[{"pci_id": "10de:1eb8", "name": "Tesla T4", "slot": "0000:00:04.0"}]'
assert_json secure_boot '"off"'
assert_json cpus 8
assert_json memory_bytes 32212254720
assert_json boot_id '"7c9f3a52-1d4e-4b8a-9f0e-2b6c8d1e4a10"'
assert_json kernel_release '"4.15.0-1098-gcp"'
assert_json hostname '"cs231n-t4"'
assert_json modules '{"nouveau": true, "nvidia": false}'
assert_json installed '{"conda_prefix": null, "nvidia_smi": false, "cuda": []}'
assert_json user '{"name": "student", "source": "/etc/passwd", "exists": true, "uid": 1001,
                   "home": "/home/student", "error": null}'
disk=$(json_get disk_free_bytes)
[[ $disk =~ ^[0-9]+$ && $disk -gt 0 ]] || fail "disk_free_bytes" "expected: a positive number" "got:      $disk"

assert_detect_table_aligned
assert_contains "OS row" "Ubuntu 16.04" "$(table OS)"
assert_contains "OS row" "(supported)" "$(table OS)"
assert_eq "Architecture row" "x86_64" "$(table Architecture)"
assert_eq "GCE VM row" "yes" "$(table 'GCE VM')"
assert_eq "GPUs row" "Tesla T4 (10de:1eb8 at 0000:00:04.0)" "$(table GPUs)"
assert_not_contains "table (the audio function is no GPU)" "0000:00:04.1" "$(cat "$TEST_TMP/table")"
assert_eq "Secure Boot row" "off" "$(table 'Secure Boot')"
assert_eq "CPUs row" "8" "$(table CPUs)"
assert_eq "Memory row" "30.0 GiB" "$(table Memory)"
assert_eq "Kernel row" "4.15.0-1098-gcp" "$(table Kernel)"
assert_eq "Hostname row" "cs231n-t4" "$(table Hostname)"
assert_eq "Boot id row" "7c9f3a52-1d4e-4b8a-9f0e-2b6c8d1e4a10" "$(table 'Boot id')"
assert_eq "GPU modules row" "nouveau" "$(table 'GPU modules')"
assert_eq "Conda row" "not installed" "$(table Conda)"
assert_eq "CUDA row" "not installed" "$(table CUDA)"
assert_eq "User row" "student (from /etc/passwd, home /home/student)" "$(table User)"

# ---------------------------------------------------------------------------------------------
section "detect ubuntu2204-nogpu (Ubuntu 22.04, GCE, no NVIDIA GPU, Miniconda installed)"
detect_root "$ROOTS/ubuntu2204-nogpu"
assert_json os.id '"ubuntu"'
assert_json os.version_id '"22.04"'
assert_json os.codename '"jammy"'
assert_json os.supported true
assert_json gce true
# A QEMU VGA controller (vendor 0x1234, class 0x030000) is a display device but not NVIDIA's.
assert_json gpus '[]'
assert_json cpus 2
assert_json memory_bytes 8343728128
assert_json modules '{"nouveau": false, "nvidia": false}'
assert_json installed.conda_prefix '"/home/ubuntu/miniconda3"'
# root, the system accounts and nobody (65534, nologin) are not candidates.
assert_json user '{"name": "ubuntu", "source": "/etc/passwd", "exists": true, "uid": 1000,
                   "home": "/home/ubuntu", "error": null}'
assert_detect_table_aligned
assert_contains "OS row" "Ubuntu 22.04" "$(table OS)"
assert_eq "GPUs row" "none" "$(table GPUs)"
assert_eq "Conda row" "/home/ubuntu/miniconda3" "$(table Conda)"
assert_eq "GPU modules row" "none loaded" "$(table 'GPU modules')"
assert_eq "User row" "ubuntu (from /etc/passwd, home /home/ubuntu)" "$(table User)"

# ---------------------------------------------------------------------------------------------
section "detect ubuntu2204-l4-secureboot (L4, EFI boot, Secure Boot on)"
detect_root "$ROOTS/ubuntu2204-l4-secureboot"
assert_json os.version_id '"22.04"'
assert_json gpus '[{"pci_id": "10de:27b8", "name": "L4", "slot": "0000:00:03.0"}]'
assert_json secure_boot '"on"'
assert_json cpus 4
assert_json user.name '"student"'
assert_detect_table_aligned
assert_eq "Secure Boot row" "on" "$(table 'Secure Boot')"
assert_eq "GPUs row" "L4 (10de:27b8 at 0000:00:03.0)" "$(table GPUs)"

# ---------------------------------------------------------------------------------------------
section "detect ubuntu2204-k80 (Tesla K80)"
detect_root "$ROOTS/ubuntu2204-k80"
assert_json gpus '[{"pci_id": "10de:102d", "name": "Tesla K80", "slot": "0000:00:04.0"}]'
assert_json modules.nouveau true
assert_json secure_boot '"off"'

# ---------------------------------------------------------------------------------------------
section "detect centos7 (unsupported; /etc/os-release is an absolute symlink inside the root)"
detect_root "$ROOTS/centos7"
# The symlink points at /usr/lib/os-release: it must be read inside the root (CentOS), not on the
# host running the test.
assert_json os.id '"centos"'
assert_json os.version_id '"7"'
assert_json os.supported false
assert_json_contains os.reason "CentOS Linux 7" "not supported" "Ubuntu 16.04" "22.04" "Debian 11, 12"
assert_detect_table_aligned
assert_contains "OS row" "CentOS Linux 7" "$(table OS)"
assert_contains "OS row" "not supported" "$(table OS)"

# ---------------------------------------------------------------------------------------------
section "detect debian12-unknown-gpu (Debian 12 from /usr/lib/os-release, unknown NVIDIA id, two users)"
detect_root "$ROOTS/debian12-unknown-gpu"
assert_json os.id '"debian"'
assert_json os.version_id '"12"'
assert_json os.codename '"bookworm"'
assert_json os.supported true
assert_json gce false
assert_json gpus '[{"pci_id": "10de:9999", "name": "NVIDIA 10de:9999", "slot": "0000:01:00.0"}]'
assert_json cpus 16
assert_json memory_bytes 67108864000
assert_json modules '{"nouveau": false, "nvidia": true}'
assert_json installed '{"conda_prefix": null, "nvidia_smi": true, "cuda": ["/usr/local/cuda-12.4"]}'
assert_json user.name null
assert_json user.source null
assert_json user.exists false
# The error says who the candidates are and which config key settles it.
assert_json_contains user.error "alice" "bob" '"user"'
assert_detect_table_aligned
assert_eq "GCE VM row" "no" "$(table 'GCE VM')"
assert_eq "GPUs row" "NVIDIA 10de:9999 (10de:9999 at 0000:01:00.0)" "$(table GPUs)"
assert_eq "GPU modules row" "nvidia" "$(table 'GPU modules')"
assert_eq "nvidia-smi row" "installed" "$(table nvidia-smi)"
assert_eq "CUDA row" "/usr/local/cuda-12.4" "$(table CUDA)"
assert_contains "User row" "unknown: " "$(table User)"
assert_contains "User row" '"user"' "$(table User)"

section "detect debian12-unknown-gpu run through sudo by bob (SUDO_USER)"
SUDO_USER=bob detect_root "$ROOTS/debian12-unknown-gpu"
assert_json user '{"name": "bob", "source": "SUDO_USER", "exists": true, "uid": 1001, "home": "/home/bob", "error": null}'

section "detect debian12-unknown-gpu with SUDO_USER=root (a root shell: not the target)"
SUDO_USER=root detect_root "$ROOTS/debian12-unknown-gpu"
assert_json user.name null
assert_json_contains user.error "alice" "bob"

section "detect debian12-unknown-gpu with a SUDO_USER that is no account name"
SUDO_USER='Bad Name' detect_root "$ROOTS/debian12-unknown-gpu"
assert_json user.name null
assert_json_contains user.error "SUDO_USER" '"user"'

# ---------------------------------------------------------------------------------------------
# Variants, on private copies of the fixture roots.

section "detect with three GPUs: reported in slot order, one table row each"
root=$(copy_root ubuntu1604-gce-t4)
for slot in 0000:00:05.0 0000:00:02.0; do
  mkdir -p "$root/sys/bus/pci/devices/$slot"
  printf '0x10de\n' >"$root/sys/bus/pci/devices/$slot/vendor"
  printf '0x030200\n' >"$root/sys/bus/pci/devices/$slot/class"
done
printf '0x20b0\n' >"$root/sys/bus/pci/devices/0000:00:02.0/device"
printf '0x1eb8\n' >"$root/sys/bus/pci/devices/0000:00:05.0/device"
detect_root "$root"
assert_json gpus '[{"pci_id": "10de:20b0", "name": "A100 40GB", "slot": "0000:00:02.0"},
                   {"pci_id": "10de:1eb8", "name": "Tesla T4", "slot": "0000:00:04.0"},
                   {"pci_id": "10de:1eb8", "name": "Tesla T4", "slot": "0000:00:05.0"}]'
assert_detect_table_aligned
assert_eq "GPUs row" "A100 40GB (10de:20b0 at 0000:00:02.0)" "$(table GPUs)"
assert_contains "second GPU row" "Tesla T4 (10de:1eb8 at 0000:00:04.0)" "$(cat "$TEST_TMP/table")"
assert_contains "third GPU row" "Tesla T4 (10de:1eb8 at 0000:00:05.0)" "$(cat "$TEST_TMP/table")"

section "detect Secure Boot variable 00: off"
root=$(copy_root ubuntu2204-l4-secureboot)
sb=$root/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
printf '\x06\x00\x00\x00\x00' >"$sb"
detect_root "$root"
assert_json secure_boot '"off"'

section "detect Secure Boot variable of the wrong size: unknown"
printf '\x06\x00\x00\x00' >"$sb"
detect_root "$root"
assert_json secure_boot '"unknown"'

section "detect EFI boot without a SecureBoot variable: unknown"
rm -- "$sb"
detect_root "$root"
assert_json secure_boot '"unknown"'
assert_eq "Secure Boot row" "unknown" "$(table 'Secure Boot')"

section "detect without any os-release: not supported, says why"
root=$(copy_root ubuntu2204-nogpu)
rm -- "$root/etc/os-release"
detect_root "$root"
assert_json os.id '""'
assert_json os.supported false
assert_json_contains os.reason "os-release" "Ubuntu 16.04"
assert_contains "OS row" "not supported" "$(table OS)"

section "detect an aarch64 machine: architecture not supported"
root=$(copy_root ubuntu2204-nogpu)
printf 'aarch64\n' >"$root/proc/sys/kernel/arch"
detect_root "$root"
assert_json arch '"aarch64"'
assert_json arch_supported false
assert_json os.supported true
assert_eq "Architecture row" "aarch64 (not supported)" "$(table Architecture)"

section "detect a system-wide conda in /opt/conda"
root=$(copy_root ubuntu2204-nogpu)
rm -rf -- "$root/home/ubuntu/miniconda3"
mkdir -p "$root/opt/conda/bin"
: >"$root/opt/conda/bin/conda"
detect_root "$root"
assert_json installed.conda_prefix '"/opt/conda"'

section "detect Miniforge in ~/miniforge3 (the current profile's conda)"
root=$(copy_root ubuntu2204-nogpu)
mv -- "$root/home/ubuntu/miniconda3" "$root/home/ubuntu/miniforge3"
detect_root "$root"
assert_json installed.conda_prefix '"/home/ubuntu/miniforge3"'

section "detect a root with no regular account yet (GCE makes it at the first SSH login)"
root=$(copy_root ubuntu2204-nogpu)
grep -v '^ubuntu:' "$ROOTS/ubuntu2204-nogpu/etc/passwd" >"$root/etc/passwd"
detect_root "$root"
assert_json user.name null
assert_json_contains user.error "no regular account" '"user"'

section "detect follows a symlink full of .. without leaving the root"
root=$(copy_root centos7)
rm -- "$root/etc/os-release"
ln -s ../../../../../../../../usr/lib/os-release "$root/etc/os-release"
detect_root "$root"
assert_json os.id '"centos"'
assert_json os.supported false

section "detect without /proc/cpuinfo and /proc/meminfo: null, shown as unknown"
root=$(copy_root ubuntu2204-nogpu)
rm -- "$root/proc/cpuinfo" "$root/proc/meminfo"
detect_root "$root"
assert_json cpus null
assert_json memory_bytes null
assert_eq "CPUs row" "unknown" "$(table CPUs)"
assert_eq "Memory row" "unknown" "$(table Memory)"

# ---------------------------------------------------------------------------------------------
# Edge cases that once failed; kept last so that they do not hide the checks above.

section "detect a root whose only regular account has a name the agent does not accept"
root=$(copy_root ubuntu2204-nogpu)
sed 's/^ubuntu:/john.doe:/' "$ROOTS/ubuntu2204-nogpu/etc/passwd" >"$root/etc/passwd"
detect_root "$root"
assert_json user.name null
# There is one candidate, not several: the message must say what is wrong with it.
assert_json_contains user.error "john.doe" '"user"'
assert_json_not_contains user.error "several accounts"

echo "PASS $TEST_NAME"
