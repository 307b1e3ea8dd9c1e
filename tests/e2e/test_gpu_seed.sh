#!/usr/bin/env bash
# The tutorial's GPU recipe as profile `seed` keeps it, on a T4 under "Ubuntu 18.04" (a Debian 11
# chroot overlay whose os-release says so; tests/e2e/gpu.sh): CUDA 10.0 from NVIDIA's ubuntu1804
# repo through cuda-keyring (not the tutorial's apt-key, whose key NVIDIA rotated in 2022; a list
# left by it is disabled; an old repo with only cuda-keyring 1.0-1), driver 470 (it runs CUDA 10.0 and every GPU of the time), torch 1.2.0's CUDA 10.0 wheel for Python 3.6
# as torch_stable.html lists it, no nouveau so no reboot, and verify says torch.cuda.is_available().
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=../support/course.sh
source "$SOURCE_DIR/tests/support/course.sh"
# shellcheck source=gpu.sh
source "$SOURCE_DIR/tests/e2e/gpu.sh"

KERNEL=5.4.0-1103-gcp

section "fixtures: a T4 without nouveau, Ubuntu 18.04's os-release, the tutorial's old cuda.list"
course_setup
gpu_os_release ubuntu1804
gpu_fake_kernel "$KERNEL"
gpu_add_pci_gpu 1eb8
gpu_make_repos ubuntu1804 "$KERNEL"
gpu_torch_index "$GPU_SERVE"
# An old repo that carries only the first keyring package (both pinned: the stand-in is one file).
mv -- "$GPU_SERVE/compute/cuda/repos/ubuntu1804/x86_64/cuda-keyring_1.1-1_all.deb" \
  "$GPU_SERVE/compute/cuda/repos/ubuntu1804/x86_64/cuda-keyring_1.0-1_all.deb"
echo "deb http://developer.download.nvidia.com/compute/cuda/repos/ubuntu1804/x86_64 /" >"$R/etc/apt/sources.list.d/cuda.list"
course_config "$R/root/seed.json" "{\"profile\": \"seed\", \"conda_env\": {\"python\": \"3.6\"},
  \"anaconda\": {\"installer_url\": \"@BASE@/files/$ANACONDA\", \"installer_sha256\": \"$(sha256sum <"$SERVE/$ANACONDA" | cut -d' ' -f1)\", \"prefix\": \"~/anaconda3\"},
  \"gpu\": {\"keyring_sha256\": {\"ubuntu1804/cuda-keyring_1.1-1_all.deb\": \"$GPU_KEYRING_SHA256\",
                               \"ubuntu1804/cuda-keyring_1.0-1_all.deb\": \"$GPU_KEYRING_SHA256\"},
           \"repo_url\": \"$GPU_CUDA_REPOS\"}, \"pytorch\": {\"index_url\": \"$GPU_BASE/whl\"}}"

section "run: CUDA 10.0, driver 470, torch 1.2.0, no reboot"
chroot_agent run --yes --config /root/seed.json --state-dir /var/lib/seed --reboot-command /bin/false
assert_rc 0
chroot_agent logs nvidia-repo --state-dir /var/lib/seed
assert_contains "nvidia-repo log" "cuda-keyring_1.1-1_all.deb is not in $GPU_NVIDIA_REPO_URL: trying the next keyring package" "$(cat -- "$OUT")"
[[ ! -e $R/etc/apt/sources.list.d/cuda.list ]] || fail "the tutorial's cuda.list (apt-key era) is still active"
[[ -e $R/etc/apt/sources.list.d/cuda.list.disabled-by-cs231n-agent ]] || fail "the tutorial's cuda.list was not kept aside"
assert_eq "cuda-drivers-470 (held)" "hold ok installed" "$(gpu_dpkg_status cuda-drivers-470)"
assert_eq "cuda-toolkit-10-0" "install ok installed" "$(gpu_dpkg_status cuda-toolkit-10-0)"
# The wheel torch_stable.html lists for CUDA 10.0, by its URL: `torch==1.2.0 -f torch_stable.html`
# would get 1.2.0+cu92 (PEP 440's == ignores the local part; the stand-in index has both, as the real one).
# pip 24.0 (the stand-in's, base's and the env's) resolves by downloading whole wheels: the agent
# leaves the download to pip, in torch-wheels (base's pip, before the env exists) and in pytorch.
assert_eq "pip calls" "student	pip	--version
student	pip	--version
student	pip	install --no-input --progress-bar off $GPU_BASE/whl/cu100/torch-1.2.0-cp36-cp36m-manylinux1_x86_64.whl" \
  "$(ledger | grep -P '\tpip\t' || true)"
assert_contains "nvcc" "release 10.0" "$(in_chroot bash -lc 'nvcc --version')"
[[ ! -e $R/etc/modprobe.d/blacklist-nouveau-cs231n-agent.conf ]] || fail "nouveau blacklisted although it was not loaded"

section "verify"
chroot_agent verify --json --state-dir /var/lib/seed
assert_rc 0
assert_json "checks[name=torch].detail" '"torch 1.2.0 built for CUDA 10.0 in env cs231n"'
assert_json "checks[name=driver].detail" '"driver 470.256.02 >= 410.48, the minimum for CUDA 10.0"'
assert_json "checks[name=torch.cuda].ok" true
echo "PASS"
