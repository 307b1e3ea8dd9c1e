#!/usr/bin/env bash
# The GPU path end to end in a Debian 11 chroot overlay with a fake T4 (sysfs), a fake kernel whose
# nouveau drives the GPU (chroot.sh's CHROOT_FAKE_PROC), NVIDIA's repo as a signed apt repository
# on 127.0.0.1 with the stand-in driver, DKMS and toolkit packages (tests/support/make_nvidia_repo.sh),
# and a download.pytorch.org stand-in read by the stand-in conda env's pip (tests/e2e/gpu.sh).
# The VM is a (fake) GCE VM whose only config is the cs231n-config metadata attribute.
# A GPU cannot exist here; everything else is the real binary, real apt and dpkg. The whole run
# (the course steps against course.sh's stand-ins too), as the startup script starts it.
#   1. `run`: nvidia-repo, then nvidia-driver blacklists nouveau and asks for the one reboot
#   2. the harness reboots (new boot id, nouveau gone, udev loads nvidia); `resume` finishes:
#      CUDA 12.6 toolkit without the driver swap of cuda-12-6, torch 2.15.1+cu126 (the newest the stand-in index has, a release cs231n-agent's table does not know), persistence,
#      verify says torch.cuda.is_available()
#   3. the next boot's `run` (startup script) changes nothing but persistence mode
#   4. an unattended kernel update: the next boot has no nvidia module; `run` repairs it
#   5. pytorch.torchvision off (nothing to do), then on for an env without torchvision (a VM of an
#      agent from before it): pytorch's check notices; while PyTorch's index has none for this torch
#      the run fails with pip's words; then pip adds it, torch kept
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=../support/course.sh
source "$SOURCE_DIR/tests/support/course.sh"
# shellcheck source=gpu.sh
source "$SOURCE_DIR/tests/e2e/gpu.sh"

KERNEL=5.10.0-cs231n-1-cloud-amd64
NEW_KERNEL=5.10.0-cs231n-2-cloud-amd64
# The default state dir, so that README commands run here as written.
STATE=/var/lib/cs231n-agent
REBOOT=(--reboot-command "/root/reboot.sh")

section "fixtures: course stand-ins, a T4, nouveau, NVIDIA's repo and PyTorch's index on 127.0.0.1"
course_setup
gpu_fake_kernel "$KERNEL" nouveau
gpu_add_pci_gpu 1eb8
gpu_secure_boot off
gpu_make_repos debian11 "$KERNEL" "$NEW_KERNEL"
gpu_torch_index "$GPU_SERVE"
course_config "$TEST_TMP/gpu.json" "{\"gpu\": {$GPU_KEYRING_PIN, \"repo_url\": \"$GPU_CUDA_REPOS\"}, \"pytorch\": {\"index_url\": \"$GPU_BASE/whl\"}}"
# A GCE VM whose only config is its metadata (the cs231n-config attribute), as create-instance.sh makes it.
gpu_gce
"$PYTHON" - "$GPU_METADATA" "$TEST_TMP/gpu.json" <<'PY'
import json, sys
metadata = json.load(open(sys.argv[1]))
metadata["instance"]["attributes"]["cs231n-config"] = open(sys.argv[2]).read()
json.dump(metadata, open(sys.argv[1], "w"))
PY
cat >"$R/root/reboot.sh" <<'EOF'
#!/bin/sh
echo reboot >>/root/reboot-calls
EOF
chmod 0755 "$R/root/reboot.sh"
reboots() { if [[ -e $R/root/reboot-calls ]]; then wc -l <"$R/root/reboot-calls"; else echo 0; fi; }
held() { in_chroot apt-mark showhold | xargs; }

section "plan: the choice for a T4 on Debian 11, explained"
chroot_agent plan --state-dir "$STATE"
assert_rc 0
assert_contains "nvidia-driver row" "install linux-headers-$KERNEL cuda-drivers-535 for Tesla T4, hold cuda-drivers-535" "$(cat "$OUT")"
assert_contains "nvidia-driver row" "blacklist nouveau and reboot once" "$(cat "$OUT")"
assert_contains "cuda row" "CUDA 12.6: the newest that the Tesla T4, Debian 11 and Python 3.12 allow" "$(cat "$OUT")"
assert_contains "pytorch row" "pip install torch==2.15.1+cu126 torchvision --index-url $GPU_BASE/whl/cu126 into env cs231n" "$(cat "$OUT")"

#-----------------------------------------------------------------------------------------------
section "1. run: the driver is installed, nouveau blacklisted, one reboot asked for"
started=$SECONDS
chroot_agent run --state-dir "$STATE" "${REBOOT[@]}"
timed "run until the reboot" "$started"
assert_rc 3
assert_contains "closing line" "rebooting (step nvidia-driver asked for it" "$(tail -n 1 "$OUT")"
assert_eq "reboot calls" 1 "$(reboots)"
assert_eq "cuda-keyring" "install ok installed" "$(gpu_dpkg_status cuda-keyring)"
[[ -f $R/usr/share/keyrings/cuda-archive-keyring.gpg ]] || fail "cuda-keyring wrote no keyring"
assert_contains "NVIDIA's list" "signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg" \
  "$(cat "$R/etc/apt/sources.list.d/cuda-debian11-x86_64.list")"
assert_eq "cuda-drivers-535 (held)" "hold ok installed" "$(gpu_dpkg_status cuda-drivers-535)"
assert_eq "linux-headers-$KERNEL" "install ok installed" "$(gpu_dpkg_status "linux-headers-$KERNEL")"
assert_eq "held packages" "cuda-drivers-535" "$(held)"
[[ -f $R/lib/modules/$KERNEL/updates/dkms/nvidia.ko ]] || fail "DKMS built no module for $KERNEL"
blacklist=$(cat "$R/etc/modprobe.d/blacklist-nouveau-cs231n-agent.conf")
assert_contains "nouveau blacklist" "blacklist nouveau" "$blacklist"
assert_contains "update-initramfs" "-u" "$(cat "$R/var/log/initramfs-standin.log")"
JSON_FILE=$R$STATE/state.json assert_json steps.nvidia-driver.status '"done"'
[[ $(JSON_FILE=$R$STATE/state.json json_raw steps.cuda.status) != "done" ]] || fail "cuda ran before the reboot"

section "2. the reboot: nouveau stays out, udev loads nvidia; resume finishes the GPU path"
gpu_fake_reboot
assert_not_contains "modules after the reboot" "nouveau" "$(gpu_modules)"
started=$SECONDS
chroot_agent resume --state-dir "$STATE" "${REBOOT[@]}"
timed "resume after the reboot" "$started"
assert_rc 0
assert_eq "reboot calls" 1 "$(reboots)"
assert_eq "closing line" "done: every selected step is done" "$(tail -n 1 -- "$OUT")"
assert_eq "cuda-toolkit-12-6" "install ok installed" "$(gpu_dpkg_status cuda-toolkit-12-6)"
assert_eq "cuda-12-6 (the metapackage that pulls the newest driver)" "" "$(gpu_dpkg_status cuda-12-6)"
assert_eq "cuda-drivers (newest branch)" "" "$(gpu_dpkg_status cuda-drivers)"
assert_eq "driver branch after CUDA" "hold ok installed" "$(gpu_dpkg_status cuda-drivers-535)"
# shellcheck disable=SC2016  # the profile.d line, literally
assert_contains "profile.d" 'export PATH="/usr/local/cuda-12.6/bin${PATH:+:${PATH}}"' "$(cat "$R/etc/profile.d/cs231n-agent-cuda.sh")"
assert_contains "nvcc on a login shell's PATH" "release 12.6" "$(in_chroot bash -lc 'nvcc --version')"
# pip 24.0 (the stand-in's, base's and the env's) resolves by downloading whole wheels: the agent
# leaves the download to pip, in torch-wheels (base's pip, before the env exists) and in pytorch.
assert_eq "pip calls" "student	pip	--version
student	pip	--version
student	pip	install --no-input --progress-bar off torch==2.15.1+cu126 torchvision --index-url $GPU_BASE/whl/cu126" \
  "$(ledger | grep -P '\tpip\t' || true)"
assert_contains "persistence" "Enabled" "$(in_chroot nvidia-smi --query-gpu=persistence_mode --format=csv,noheader)"

section "verify: nvidia-smi, the driver version and torch.cuda.is_available()"
chroot_agent verify --json --state-dir "$STATE"
assert_rc 0
assert_json ok true
assert_json "checks[name=torch].detail" '"torch 2.15.1+cu126 built for CUDA 12.6 in env cs231n"'
# The torchvision built for torch 2.15.1 (the stand-in index's 0.30.1), not the newest there.
assert_json "checks[name=torchvision].detail" '"torchvision 0.30.1+cu126"'
assert_json "checks[name=nvidia-smi].detail" '"Tesla T4, driver 535.274.02"'
assert_json "checks[name=driver].detail" '"driver 535.274.02 >= 525.60.13, the minimum for CUDA 12.6"'
assert_json "checks[name=torch.cuda].ok" true

#-----------------------------------------------------------------------------------------------
section "3. the next boot: run (the startup script) finds everything in place"
gpu_fake_reboot
ledger_mark
chroot_agent run --state-dir "$STATE" "${REBOOT[@]}"
assert_rc 0
assert_eq "ledger lines (installer, conda, pip)" "" "$(ledger_new)"
assert_eq "reboot calls" 1 "$(reboots)"
chroot_agent logs nvidia-driver --state-dir "$STATE"
assert_not_contains "nvidia-driver log" "self-repair" "$(cat "$OUT")"
assert_contains "persistence, again" "Enabled" "$(in_chroot nvidia-smi --query-gpu=persistence_mode --format=csv,noheader)"

#-----------------------------------------------------------------------------------------------
section "4. an unattended kernel update: no nvidia module at boot; run rebuilds it"
gpu_fake_reboot "$NEW_KERNEL"
assert_not_contains "modules after the kernel update" "nvidia" "$(gpu_modules)"
chroot_agent run --state-dir "$STATE" "${REBOOT[@]}"
assert_rc 0
assert_eq "reboot calls" 1 "$(reboots)"
chroot_agent logs nvidia-driver --state-dir "$STATE"
assert_contains "nvidia-driver log" "self-repair: driver 535 is installed but has no module for kernel $NEW_KERNEL" "$(cat "$OUT")"
assert_eq "linux-headers-$NEW_KERNEL" "install ok installed" "$(gpu_dpkg_status "linux-headers-$NEW_KERNEL")"
[[ -f $R/lib/modules/$NEW_KERNEL/updates/dkms/nvidia.ko ]] || fail "DKMS built no module for $NEW_KERNEL"
assert_contains "modules after the repair" "nvidia" "$(gpu_modules)"
chroot_agent verify --json --state-dir "$STATE"
assert_rc 0
assert_json ok true

#-----------------------------------------------------------------------------------------------
section "5. pytorch.torchvision off, then on again for a VM without it: pytorch's check notices, pip adds it"
# vm_config EXTRA-JSON: the VM's cs231n-config attribute, gpu.json with EXTRA's objects merged over it.
vm_config() {
  "$PYTHON" - "$GPU_METADATA" "$TEST_TMP/gpu.json" "$1" <<'PY'
import json, sys
metadata = json.load(open(sys.argv[1]))
config = json.load(open(sys.argv[2]))
for key, value in json.loads(sys.argv[3]).items():
    config.setdefault(key, {}).update(value)
metadata["instance"]["attributes"]["cs231n-config"] = json.dumps(config)
json.dump(metadata, open(sys.argv[1], "w"))
PY
}
SITE=$(find "$R/home/student" -maxdepth 6 -type d -path '*/envs/cs231n/lib/python3.12/site-packages' -print -quit)
[[ -d $SITE/torchvision ]] || fail "no torchvision in the env's site-packages ($SITE)"
vm_config '{"pytorch": {"torchvision": false}}'
ledger_mark
chroot_agent run --state-dir "$STATE" "${REBOOT[@]}"
assert_rc 0
assert_eq "pip calls without torchvision (torch is in place)" "" "$(ledger_new | grep -P '\tpip\t' || true)"
# The env as a VM of an agent from before torchvision has it (or after a student's pip uninstall).
rm -rf -- "$SITE/torchvision"
vm_config '{}'
# While PyTorch's index has no torchvision page for the variant, pip says so and the step fails.
mv -- "$GPU_SERVE/whl/cu126/torchvision" "$TEST_TMP/cu126-torchvision"
chroot_agent run --state-dir "$STATE" "${REBOOT[@]}"
assert_rc 1
assert_contains "the failure" "pytorch: failed" "$(cat "$ERR")"
chroot_agent logs pytorch --state-dir "$STATE"
assert_contains "pytorch log" "ERROR: Could not find a version that satisfies the requirement torchvision (from versions: none)" \
  "$(cat "$OUT")"
mv -- "$TEST_TMP/cu126-torchvision" "$GPU_SERVE/whl/cu126/torchvision"
ledger_mark
chroot_agent run --state-dir "$STATE" "${REBOOT[@]}"
assert_rc 0
assert_eq "pip calls" "student	pip	--version
student	pip	install --no-input --progress-bar off torch==2.15.1+cu126 torchvision --index-url $GPU_BASE/whl/cu126" \
  "$(ledger_new | grep -P '\tpip\t' || true)"
assert_eq "torch, kept" "2.15.1+cu126" "$(JSON_FILE=$SITE/torch/standin.json json_raw version)"
assert_eq "torchvision, back" "0.30.1+cu126" "$(JSON_FILE=$SITE/torchvision/standin.json json_raw version)"
chroot_agent verify --json --state-dir "$STATE"
assert_rc 0
assert_json "checks[name=torchvision].ok" true

#-----------------------------------------------------------------------------------------------
section "README: every command for the VM (\`\`\`sh vm blocks) runs here, on the finished VM, as written"
mapfile -t README_COMMANDS < <(awk '/^```sh vm$/ { inside = 1; next } /^```/ { inside = 0 } inside && NF && !/^#/' "$SOURCE_DIR/README.md")
((${#README_COMMANDS[@]} >= 6)) || fail "README's VM commands" "expected: at least 6" "got: ${#README_COMMANDS[@]}"
for command in "${README_COMMANDS[@]}"; do
  read -r -a words <<<"${command#sudo }"  # root already; the minbase has no sudo
  LAST_CMD="(README, in the chroot, in /root) $command"
  set +e
  in_chroot env -C /root "${words[@]}" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
  assert_rc 0
done

printf 'timings:%s\n' "${TIMINGS[*]}"
echo "PASS"
