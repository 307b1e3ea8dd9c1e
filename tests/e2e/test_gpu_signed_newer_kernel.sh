#!/usr/bin/env bash
# A VM made from an older Ubuntu 22.04 image: it runs a GCP kernel for which Ubuntu's archive no
# longer has signed NVIDIA modules (the archive builds them for its newest GCP kernel). The
# nvidia-driver step reads the archive (apt-cache after apt-get update), installs the flavour's
# meta package, nvidia-utils and linux-gcp, and asks for the reboot that starts the newer kernel;
# after it the module of that kernel loads. Then apt's lists, where they exist, are read by plan
# too (apt-cache, no update): an archive with neither the running kernel's signed open modules nor
# the flavour's is refused before nvidia-repo runs, naming what it has. A Debian 11 chroot overlay
# whose os-release says Ubuntu 22.04 (tests/e2e/gpu.sh); apt and dpkg are Debian's, real.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=../support/course.sh
source "$SOURCE_DIR/tests/support/course.sh"
# shellcheck source=gpu.sh
source "$SOURCE_DIR/tests/e2e/gpu.sh"

OLD_KERNEL=6.8.0-1015-gcp
NEW_KERNEL=6.8.0-1040-gcp

section "fixtures: an L4 on the image's kernel $OLD_KERNEL; the archive has signed modules for $NEW_KERNEL only"
course_setup
gpu_os_release ubuntu2204
gpu_fake_kernel "$OLD_KERNEL"
gpu_add_pci_gpu 27b8
gpu_make_repos ubuntu2204 "$NEW_KERNEL"
gpu_torch_index "$GPU_SERVE"
course_config "$R/root/gpu.json" "{\"gpu\": {$GPU_KEYRING_PIN, \"repo_url\": \"$GPU_CUDA_REPOS\"}, \"pytorch\": {\"index_url\": \"$GPU_BASE/whl\"}}"

section "run: the running kernel's modules are not in the archive: the flavour's, linux-gcp, and a reboot"
chroot_agent run --yes --config /root/gpu.json --state-dir /var/lib/newer --reboot-command /bin/true
assert_rc 3
chroot_agent logs nvidia-driver --state-dir /var/lib/newer
assert_contains "nvidia-driver log" \
  "Ubuntu's archive has no linux-modules-nvidia-580-server-open-$OLD_KERNEL for the running kernel $OLD_KERNEL" \
  "$(cat -- "$OUT")"
assert_contains "nvidia-driver log" "apt-cache show --no-all-versions -- linux-modules-nvidia-580-server-open-$OLD_KERNEL" \
  "$(cat -- "$OUT")"
# Their .debs came through the agent's downloader into apt's folder (steps/apt.cpp apt_get_install).
assert_contains "nvidia-driver log" "-> /var/cache/apt/archives/linux-gcp_" "$(cat -- "$OUT")"
for package in linux-modules-nvidia-580-server-open-gcp "linux-modules-nvidia-580-server-open-$NEW_KERNEL" \
  nvidia-utils-580-server linux-gcp; do
  assert_eq "$package" "install ok installed" "$(gpu_dpkg_status "$package")"
done
assert_not_contains "modules before the reboot" nvidia "$(gpu_modules)"

section "after the reboot into $NEW_KERNEL: the module of that kernel, then done"
gpu_fake_reboot "$NEW_KERNEL"
# The stand-in's boot loads nouveau for the GPU when nothing blacklists it (gpu.sh): the step
# blacklists it and asks for one more reboot, as on a VM whose image had no NVIDIA driver.
chroot_agent resume --state-dir /var/lib/newer --reboot-command /bin/true
if [[ $RC == 3 ]]; then
  assert_contains "the second reboot's reason" "nvidia-driver" "$(cat -- "$OUT")"
  gpu_fake_reboot
  chroot_agent resume --state-dir /var/lib/newer --reboot-command /bin/false
fi
assert_rc 0
assert_contains "modules" nvidia "$(gpu_modules)"
[[ -f $R/lib/modules/$NEW_KERNEL/kernel/nvidia-580srv-open/nvidia.ko ]] || fail "no signed open module for $NEW_KERNEL"
grep -qE '^nvidia-driver +done ' "$OUT" || fail "summary" "expected: nvidia-driver done" "got: $(cat -- "$OUT")"
section "plan reads apt's lists: the running kernel's signed modules, found with apt-cache"
chroot_agent plan --json --config /root/gpu.json --state-dir /var/lib/lists
assert_rc 0
assert_json_contains gpu_index_reads "apt-cache pkgnames linux-modules-nvidia-: 5 packages in apt's lists"
assert_contains "nvidia-driver" "Ubuntu's signed linux-modules-nvidia-580-server-open for kernel $NEW_KERNEL" \
  "$(json_raw 'steps[name=nvidia-driver].summary')"

section "an archive without signed open modules: refused in plan, before nvidia-repo, naming what it has"
OS_ARCHIVE_SIGNED_FLAVOURS=server gpu_make_repos ubuntu2204 "$NEW_KERNEL"
# (apt-cache knows installed packages too: the earlier run's go first.)
LAST_CMD="apt-get purge and update (in the chroot)"
in_chroot apt-get -q -y purge linux-modules-nvidia-580-server-open-gcp "linux-modules-nvidia-580-server-open-$NEW_KERNEL" \
  >"$OUT" 2>"$ERR" || fail "apt-get purge" "$(cat -- "$ERR")"
in_chroot apt-get -q update >"$OUT" 2>"$ERR" || fail "apt-get update" "$(cat -- "$ERR")"
chroot_agent plan --json --config /root/gpu.json --state-dir /var/lib/lists
assert_rc 4
assert_json "steps[name=nvidia-repo].action" '"refuse"'
assert_contains "the refusal" "Ubuntu's archive (apt's lists, read with apt-cache) has neither linux-modules-nvidia-580-server-open-$NEW_KERNEL for the running kernel nor linux-modules-nvidia-580-server-open-gcp (it has linux-modules-nvidia-535-server-gcp, linux-modules-nvidia-580-server-$NEW_KERNEL, linux-modules-nvidia-580-server-gcp)" \
  "$(json_raw 'steps[name=nvidia-repo].reason')"
echo "PASS $TEST_NAME"
