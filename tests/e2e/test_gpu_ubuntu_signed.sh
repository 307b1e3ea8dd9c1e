#!/usr/bin/env bash
# An L4 on "Ubuntu 22.04" with the GCP kernel and Secure Boot on, whose NVIDIA repo apt rejects
# although nothing known beforehand says it would (signed by a key cuda-keyring does not hold, as
# after a key rotation; the SHA1 refusal of APT 3, known from the apt version, is decided in plan
# and adds nothing: test_plan_planner's "APT 3 rejects"): nvidia-repo says so and takes the repo out again, the driver comes from Ubuntu's Canonical-signed
# packages (which load with Secure Boot on), the CUDA toolkit is left out (PyTorch's wheels bring
# their own runtime), and torch.cuda works. A Debian 11 chroot overlay whose os-release says Ubuntu
# 22.04 (tests/e2e/gpu.sh); apt and dpkg are Debian's, real.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=../support/course.sh
source "$SOURCE_DIR/tests/support/course.sh"
# shellcheck source=gpu.sh
source "$SOURCE_DIR/tests/e2e/gpu.sh"

KERNEL=6.8.0-1015-gcp

section "fixtures: an L4, Secure Boot on, Ubuntu 22.04's os-release, NVIDIA's repo signed by the wrong key"
course_setup
gpu_os_release ubuntu2204
gpu_fake_kernel "$KERNEL"
gpu_add_pci_gpu 27b8
gpu_secure_boot on
gpu_make_repos ubuntu2204 "$KERNEL"
gpu_nvidia_repo badsig
gpu_torch_index "$GPU_SERVE"
course_config "$R/root/gpu.json" "{\"gpu\": {$GPU_KEYRING_PIN, \"repo_url\": \"$GPU_CUDA_REPOS\"}, \"pytorch\": {\"index_url\": \"$GPU_BASE/whl\"}}"

section "plan: Ubuntu's signed 580 (open modules) for the running kernel and the flavour, CUDA 13.2, torch for cu132"
chroot_agent plan --config /root/gpu.json --state-dir /var/lib/signed
assert_rc 0
plan=$(cat -- "$OUT")
assert_contains "nvidia-driver row" "install linux-modules-nvidia-580-server-open-$KERNEL linux-modules-nvidia-580-server-open-gcp nvidia-utils-580-server for L4;" "$plan"
assert_contains "nvidia-driver row" "Secure Boot is on: the module must be signed" "$plan"
assert_contains "pytorch row" "torch==2.15.1+cu132" "$plan"
assert_contains "the indexes read" "Indexes the GPU choice read:
  NVIDIA's package list ${GPU_NVIDIA_REPO_URL}Packages.gz: read (" "$plan"
assert_contains "the indexes read" "  PyTorch's index $GPU_BASE/whl/cu132/torch/: read" "$plan"

section "run: NVIDIA's repo is rejected and taken out; the signed driver loads; torch sees the GPU"
chroot_agent run --yes --config /root/gpu.json --state-dir /var/lib/signed
assert_rc 0
assert_contains "nvidia-repo row" "NVIDIA's repository is unusable here" "$(grep '^nvidia-repo ' "$OUT")"
assert_contains "cuda row" "left out: NVIDIA's repository is unusable here" "$(grep '^cuda ' "$OUT")"
chroot_agent logs nvidia-repo --state-dir /var/lib/signed
assert_contains "nvidia-repo log" "apt rejects NVIDIA's ubuntu2204 repository" "$(cat -- "$OUT")"
assert_contains "nvidia-repo log" "falling back to Ubuntu's signed driver packages" "$(cat -- "$OUT")"
assert_eq "cuda-keyring (taken out again)" "" "$(gpu_dpkg_status cuda-keyring)"
[[ ! -e $R/etc/apt/sources.list.d/cuda-ubuntu2204-x86_64.list ]] || fail "NVIDIA's list is still there"
assert_eq "the running kernel's signed open modules" "install ok installed" \
  "$(gpu_dpkg_status "linux-modules-nvidia-580-server-open-$KERNEL")"
# Not held: Ubuntu's names carry the branch, and the meta must follow kernel upgrades.
assert_eq "the flavour's meta package" "install ok installed" "$(gpu_dpkg_status linux-modules-nvidia-580-server-open-gcp)"
assert_eq "the proprietary flavour" "" "$(gpu_dpkg_status "linux-modules-nvidia-580-server-$KERNEL")"
assert_eq "cuda-drivers-580" "" "$(gpu_dpkg_status cuda-drivers-580)"
assert_eq "cuda-toolkit-13-2" "" "$(gpu_dpkg_status cuda-toolkit-13-2)"
assert_contains "modules" "nvidia" "$(gpu_modules)"
LAST_CMD="apt-get update (in the chroot)"
set +e
in_chroot apt-get -q update >"$OUT" 2>"$ERR"
RC=$?
set -e
assert_rc 0
assert_not_contains "apt-get update" "W:" "$(cat -- "$ERR")"

section "verify: the L4, the driver for CUDA 13.2, torch.cuda"
chroot_agent verify --json --state-dir /var/lib/signed
assert_rc 0
assert_json ok true
assert_json "checks[name=torch].detail" '"torch 2.15.1+cu132 built for CUDA 13.2 in env cs231n"'
assert_json "checks[name=torch.cuda].ok" true
echo "PASS"
