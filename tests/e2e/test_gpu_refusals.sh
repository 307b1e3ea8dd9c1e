#!/usr/bin/env bash
# The GPU path refused before anything of it is installed, in a Debian 11 chroot overlay with a
# fake T4 (tests/e2e/gpu.sh): Secure Boot on where the only driver is a DKMS-built (unsigned)
# module, and an explicit CUDA 10.0 that NVIDIA never published for Debian 11. Each time the rest
# of the run completes and the exit code says "refused" (4).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=../support/course.sh
source "$SOURCE_DIR/tests/support/course.sh"
# shellcheck source=gpu.sh
source "$SOURCE_DIR/tests/e2e/gpu.sh"

KERNEL=5.10.0-cs231n-1-cloud-amd64
# The first step of the path is refused; the planner skips the ones after it.
AFTER_REFUSED=(nvidia-driver cuda pytorch gpu-persistence ready verify)
# Requests to NVIDIA's repo that fetch something to install; its Packages index is read (GET, once
# per agent process) on a GCE VM or from 127.0.0.1 to know what the repo has.
nvidia_requests() { grep '/compute/cuda/repos/' "$GPU_SERVER_LOG" | grep -cv '/x86_64/Packages' || true; }
index_reads() { grep -c '/compute/cuda/repos/debian11/x86_64/Packages' "$GPU_SERVER_LOG" || true; }

section "fixtures: course stand-ins, a T4 with Secure Boot on, NVIDIA's repo on 127.0.0.1"
course_setup
gpu_fake_kernel "$KERNEL"
gpu_add_pci_gpu 1eb8
gpu_secure_boot on
gpu_make_repos debian11 "$KERNEL"
gpu_torch_index "$GPU_SERVE"
course_config "$R/root/gpu.json" "{\"gpu\": {$GPU_KEYRING_PIN, \"repo_url\": \"$GPU_CUDA_REPOS\"}, \"pytorch\": {\"index_url\": \"$GPU_BASE/whl\"}}"

section "plan: Secure Boot and a driver only DKMS can build are refused, saying how to go on"
chroot_agent plan --json --config /root/gpu.json --state-dir /var/lib/sb
assert_rc 4
assert_json "steps[name=nvidia-repo].action" '"refuse"'
for step in "${AFTER_REFUSED[@]}"; do assert_json "steps[name=$step].action" '"skip"'; done
reason=$(json_raw "steps[name=nvidia-repo].reason")
assert_contains "reason" "Secure Boot is on and driver 535 from NVIDIA's repo builds an unsigned module that will not load" "$reason"
assert_contains "reason" "gcloud compute instances update NAME --no-shielded-secure-boot" "$reason"
assert_contains "reason" "/var/lib/dkms/mok.key" "$reason"

section "run: the course steps complete, nothing of the GPU path is installed, exit code 4"
chroot_agent run --yes --config /root/gpu.json --state-dir /var/lib/sb
assert_rc 4
assert_contains "closing line" "refused" "$(tail -n 1 -- "$OUT")"
for step in user anaconda conda-env datasets jupyter-service; do
  grep -qE "^$step +done " "$OUT" || fail "summary table" "expected: $step done" "got: $(cat -- "$OUT")"
done
grep -qE "^nvidia-repo +refused " "$OUT" || fail "summary table" "expected: nvidia-repo refused" "got: $(cat -- "$OUT")"
for step in "${AFTER_REFUSED[@]}"; do
  grep -qE "^$step +skipped " "$OUT" || fail "summary table" "expected: $step skipped" "got: $(cat -- "$OUT")"
done
assert_eq "cuda-keyring" "" "$(gpu_dpkg_status cuda-keyring)"
assert_eq "cuda-drivers-535" "" "$(gpu_dpkg_status cuda-drivers-535)"
assert_eq "requests to NVIDIA's repo (other than its index)" 0 "$(nvidia_requests)"
[[ ! -e $R/etc/modprobe.d/blacklist-nouveau-cs231n-agent.conf ]] || fail "nouveau was blacklisted although the GPU path was refused"

section "with a MOK key DKMS signs with, the same machine is not refused"
mkdir -p "$R/var/lib/dkms"
echo "test key" >"$R/var/lib/dkms/mok.key"
echo "test cert" >"$R/var/lib/dkms/mok.pub"
chroot_agent plan --json --config /root/gpu.json --state-dir /var/lib/sb
assert_json "steps[name=nvidia-repo].action" '"run"'
assert_json "steps[name=nvidia-driver].action" '"run"'
rm -rf "$R/var/lib/dkms"

section "CUDA 10.0 on Debian 11: refused with the nearest combination that works"
gpu_secure_boot off
course_config "$R/root/cuda10.json" "{\"gpu\": {$GPU_KEYRING_PIN, \"cuda\": \"10.0\", \"repo_url\": \"$GPU_CUDA_REPOS\"}, \"pytorch\": {\"index_url\": \"$GPU_BASE/whl\"}}"
chroot_agent run --yes --config /root/cuda10.json --state-dir /var/lib/cuda10
assert_rc 4
chroot_agent status --json --state-dir /var/lib/cuda10
assert_json state '"refused"'
assert_contains "nvidia-repo's reason" \
  "NVIDIA's debian11 repository has no cuda-toolkit-10-0 (its CUDA toolkits: 12.6, 11.8); set gpu.cuda to \\\"auto\\\" (here: CUDA 12.6, driver 535, torch 2.15.1+cu126)" \
  "$(cat -- "$OUT")"
assert_eq "cuda-keyring" "" "$(gpu_dpkg_status cuda-keyring)"
assert_eq "requests to NVIDIA's repo (other than its index)" 0 "$(nvidia_requests)"
[[ $(index_reads) -ge 1 ]] || fail "the refusal names what NVIDIA's repo has: its Packages index was not read"

section "a cuda-keyring .deb that is not the pinned one: exit 7 (checksum) before dpkg runs, nothing installed"
KEYRING_DEB=$GPU_SERVE/compute/cuda/repos/debian11/x86_64/cuda-keyring_1.1-1_all.deb
cp -- "$KEYRING_DEB" "$TEST_TMP/cuda-keyring.deb"
printf 'appended by someone on the path\n' >>"$KEYRING_DEB"
chroot_agent run --yes --config /root/gpu.json --state-dir /var/lib/tampered
assert_rc 7
grep -qE "^nvidia-repo +failed " "$OUT" || fail "summary table" "expected: nvidia-repo failed" "got: $(cat -- "$OUT")"
assert_contains "the step's log" "checksum" "$(cat -- "$R"/var/lib/tampered/logs/nvidia-repo*.log 2>/dev/null || cat -- "$OUT")"
assert_eq "cuda-keyring" "" "$(gpu_dpkg_status cuda-keyring)"
[[ ! -e $R/usr/share/keyrings/cuda-archive-keyring.gpg ]] || fail "the keyring file of the tampered package is installed"
cp -- "$TEST_TMP/cuda-keyring.deb" "$KEYRING_DEB"
echo "PASS"
