#!/usr/bin/env bash
# The GPU path's test world (tests/e2e/gpu.sh, tests/support/make_nvidia_repo.sh, the stand-ins in
# tests/fixtures/standin-nvidia and the stand-in pip/torch) behaves the way the real one does, as
# far as the agent will see it, in a Debian 11 chroot overlay with real apt and dpkg:
#   - a fake kernel (release, modules, boot id) that the agent's `detect` reads, with a T4;
#   - cuda-keyring sets up a signed NVIDIA repo that apt trusts through that keyring only; a repo
#     signed by another key, or not at all, fails `apt-get update` naming the NVIDIA source;
#   - cuda-drivers-580 plus the running kernel's headers build the (unsigned) module through the
#     headers' DKMS hook, nvidia-open-580 the open one in its place; nouveau keeps it from loading until a reboot with nouveau blacklisted in
#     modprobe.d and the initramfs; then nvidia-smi lists the T4;
#   - a held driver branch: cuda-12-6 would replace it, cuda-toolkit-12-6 installs alone;
#   - a reboot into a new kernel leaves the module missing until that kernel's headers come;
#   - Secure Boot rejects the DKMS module and loads Ubuntu's signed one;
#   - the stand-in pip finds torch only where the index has it, and the stand-in torch sees the
#     GPU only while the driver is loaded.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=gpu.sh
source "$SOURCE_DIR/tests/e2e/gpu.sh"

STARTED=$SECONDS
REL=5.10.0-99-cloud-amd64
NEW_REL=5.10.0-100-cloud-amd64

# inside CMD...: CMD in the chroot; stdout to $OUT, stderr to $ERR, status to $RC.
inside() {
  LAST_CMD="(chroot) $*"
  set +e
  in_chroot env DEBIAN_FRONTEND=noninteractive "$@" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
}
# inside_ok CMD...: the same, and it must succeed.
inside_ok() {
  inside "$@"
  [[ $RC == 0 ]] || fail "expected success"
}
both() { cat -- "$OUT" "$ERR"; }
assert_output_contains() { assert_contains "$1" "$2" "$(both)"; }

section "fixtures: a fake kernel with nouveau, a T4, the repositories on 127.0.0.1"
chroot_start "$TEST_TMP/chroot"
R=$CHROOT_ROOT
gpu_fake_kernel "$REL" nouveau
gpu_add_pci_gpu 1eb8
gpu_gce
gpu_secure_boot off
gpu_make_repos ubuntu2204 "$REL" "$NEW_REL"
chroot_install_agent "$AGENT"
# Only the test's repositories: no traffic to Debian's archive, and quick.
: >"$R/etc/apt/sources.list"
assert_eq "GPU_NVIDIA_REPO_URL" "$GPU_BASE/compute/cuda/repos/ubuntu2204/x86_64/" "$GPU_NVIDIA_REPO_URL"

section "the fake /proc: kernel facts from the fake folder, everything else the real procfs"
inside_ok cat /proc/sys/kernel/osrelease /proc/sys/kernel/random/boot_id
assert_eq "osrelease and boot_id inside" "$REL
$(cat -- "$GPU_FAKE_PROC/boot_id")" "$(cat -- "$OUT")"
assert_eq "modules inside" "virtio_net net_failover failover virtio_scsi nouveau mxm_wmi drm_ttm_helper ttm" \
  "$(in_chroot cut -d' ' -f1 /proc/modules | xargs)"
inside_ok sh -c 'head -n 1 /proc/meminfo; readlink /proc/self/exe; echo "test_module 16384 0 - Live 0x0000000000000000" >>/proc/modules'
assert_contains "/proc/meminfo inside" "MemTotal:" "$(cat -- "$OUT")"
assert_contains "/proc/self/exe inside" "/usr/bin/readlink" "$(cat -- "$OUT")"
assert_contains "a write to /proc/modules inside lands in the host's file" "test_module 16384" "$(cat -- "$GPU_FAKE_PROC/modules")"
grep -v '^test_module ' "$GPU_FAKE_PROC/modules" >"$TEST_TMP/modules"
cat -- "$TEST_TMP/modules" >"$GPU_FAKE_PROC/modules"
assert_not_contains "a host-side change is seen inside" "test_module" "$(in_chroot cat /proc/modules)"
assert_eq "the host's /proc is untouched" "$(uname -r)" "$(cat /proc/sys/kernel/osrelease)"

section "the agent's detect sees the fake kernel, the T4, nouveau and GCE"
chroot_agent detect --json
assert_rc 0
assert_json kernel_release "\"$REL\""
assert_json boot_id "\"$(cat -- "$GPU_FAKE_PROC/boot_id")\""
assert_json modules '{"nouveau": true, "nvidia": false}'
assert_json gpus '[{"pci_id": "10de:1eb8", "name": "Tesla T4", "slot": "0000:00:04.0"}]'
assert_json secure_boot '"off"'
assert_json gce true
gpu_os_release ubuntu2204
chroot_agent detect --json
assert_json os.version_id '"22.04"'
gpu_os_release debian11
chroot_agent detect --json
assert_json os.version_id '"11"'

section "no driver yet: no nvidia-smi, no module"
inside nvidia-smi
assert_rc 127
inside modprobe nvidia
assert_rc 1
assert_eq "modprobe without a driver" "modprobe: FATAL: Module nvidia not found in directory /lib/modules/$REL" "$(cat -- "$ERR")"

section "cuda-keyring: the keyring, the list and the pin; apt trusts the repo through that keyring"
cp -- "$GPU_SERVE/compute/cuda/repos/ubuntu2204/x86_64/cuda-keyring_1.1-1_all.deb" "$R/tmp/"
inside_ok dpkg -i /tmp/cuda-keyring_1.1-1_all.deb
assert_eq "the list cuda-keyring installs" \
  "deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] $GPU_NVIDIA_REPO_URL /" \
  "$(cat -- "$R/etc/apt/sources.list.d/cuda-ubuntu2204-x86_64.list")"
cmp -s -- "$GPU_SERVE/cuda-archive-keyring.gpg" "$R/usr/share/keyrings/cuda-archive-keyring.gpg" ||
  fail "the keyring cuda-keyring installs is not the repo's key"
assert_contains "the pin" "Pin: release l=NVIDIA CUDA
Pin-Priority: 600" "$(cat -- "$R/etc/apt/preferences.d/cuda-repository-pin-600")"
others=$(find "$R/etc/apt/trusted.gpg.d" -mindepth 1 ! -name 'debian-archive-*' -printf '%f\n')
[[ -z $others && ! -e $R/etc/apt/trusted.gpg ]] ||
  fail "apt's global keyrings" "expected: only Debian's (the test keys are signed-by only)" "got: $others"
inside_ok apt-get update
# apt names a flat repository by its URL without the last slash.
APT_NVIDIA=${GPU_NVIDIA_REPO_URL%/}
assert_output_contains "apt-get update" "Get:2 $APT_NVIDIA  InRelease"
inside_ok apt-cache policy cuda-drivers-580
assert_output_contains "the pin applies" "600 $APT_NVIDIA  Packages"

section "NVIDIA's repo signed by another key, or not at all: apt-get update names it"
gpu_nvidia_repo badsig
# With the lists of an earlier good update apt keeps those, warns, and exits 0.
inside apt-get update
assert_rc 0
assert_output_contains "apt-get update, bad signature, old lists kept" \
  "W: An error occurred during the signature verification. The repository is not updated and the previous index files will be used. GPG error: $APT_NVIDIA  InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY"
# On a machine that never had them it is an error.
rm -f -- "$R"/var/lib/apt/lists/*_compute_cuda_repos_*
inside apt-get update
assert_rc 100
assert_output_contains "apt-get update, bad signature" "Err:2 $APT_NVIDIA  InRelease
  The following signatures couldn't be verified because the public key is not available: NO_PUBKEY"
assert_output_contains "apt-get update, bad signature" "E: The repository '$APT_NVIDIA  InRelease' is not signed."
BADSIG_MESSAGE=$(cat -- "$ERR")
gpu_nvidia_repo unsigned
inside apt-get update
assert_rc 100
assert_output_contains "apt-get update, unsigned" "E: The repository '$APT_NVIDIA  Release' is not signed."
gpu_nvidia_repo good
# apt keeps a failed InRelease in lists/partial and resumes it with If-Range; re-signed within the
# same second (Last-Modified has seconds), the server would rightly confirm the old bytes.
rm -f -- "$R"/var/lib/apt/lists/partial/*
inside_ok apt-get update

section "cuda-drivers-580 and the running kernel's headers: the headers' DKMS hook builds the module"
inside_ok apt-get install -y cuda-drivers-580 "linux-headers-$REL"
assert_eq "the module" "unsigned nvidia 580.95.05 $REL" "$(cat -- "$R/lib/modules/$REL/updates/dkms/nvidia.ko")"
[[ ! -e $R/lib/modules/$NEW_REL ]] || fail "a module for $NEW_REL, whose headers are not installed"
driver_log=$(cat -- "$R/var/log/nvidia-standin.log")
assert_contains "the driver's log" "cuda-drivers-580 postinst configure" "$driver_log"
assert_contains "the driver's log" "dkms: built nvidia/580.95.05 for $REL" "$driver_log"

section "the open flavour: nvidia-open-580 replaces cuda-drivers-580 and builds the open module"
inside_ok apt-get install -y nvidia-open-580
assert_eq "the open module" "unsigned nvidia-open 580.95.05 $REL" "$(cat -- "$R/lib/modules/$REL/updates/dkms/nvidia.ko")"
[[ $(gpu_dpkg_status cuda-drivers-580) != *" ok installed" ]] || fail "cuda-drivers-580 (the proprietary flavour) is still installed"
inside_ok apt-get install -y cuda-drivers-580
assert_eq "the proprietary module again" "unsigned nvidia 580.95.05 $REL" "$(cat -- "$R/lib/modules/$REL/updates/dkms/nvidia.ko")"
[[ $(gpu_dpkg_status nvidia-open-580) != *" ok installed" ]] || fail "nvidia-open-580 is still installed"

section "nouveau holds the GPU: modprobe nvidia fails, nvidia-smi cannot reach the driver"
inside modprobe nvidia
assert_rc 1
assert_eq "modprobe with nouveau loaded" "modprobe: ERROR: could not insert 'nvidia': No such device" "$(cat -- "$ERR")"
inside nvidia-smi -L
assert_rc 9
assert_contains "nvidia-smi without the module" "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." "$(cat -- "$OUT")"
inside modprobe -r nouveau
assert_rc 1
assert_eq "modprobe -r nouveau" "modprobe: FATAL: Module nouveau is in use." "$(cat -- "$ERR")"

section "blacklisted in modprobe.d only: after a reboot nouveau is back (the initramfs loads it)"
mkdir -p -- "$R/etc/modprobe.d"
printf 'blacklist nouveau\noptions nouveau modeset=0\n' >"$R/etc/modprobe.d/blacklist-nouveau.conf"
boot_before=$(cat -- "$GPU_FAKE_PROC/boot_id")
gpu_fake_reboot
[[ $(cat -- "$GPU_FAKE_PROC/boot_id") != "$boot_before" ]] || fail "the boot id did not change"
assert_eq "modules after the reboot" "virtio_net net_failover failover virtio_scsi nouveau mxm_wmi drm_ttm_helper ttm" "$(gpu_modules)"

section "with the initramfs updated: nouveau stays out, modprobe loads nvidia, nvidia-smi lists the T4"
inside_ok update-initramfs -u
assert_eq "update-initramfs" "update-initramfs: Generating /boot/initrd.img-$REL" "$(cat -- "$OUT")"
GPU_UDEV_LOADS_NVIDIA=0 gpu_fake_reboot
assert_eq "modules after the reboot" "virtio_net net_failover failover virtio_scsi" "$(gpu_modules)"
inside nvidia-smi
assert_rc 9
inside_ok modprobe nvidia
assert_eq "modules after modprobe" "virtio_net net_failover failover virtio_scsi nvidia" "$(gpu_modules)"
inside_ok nvidia-smi -L
[[ $(cat -- "$OUT") =~ ^"GPU 0: Tesla T4 (UUID: GPU-"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")"$ ]] ||
  fail "nvidia-smi -L" "expected: GPU 0: Tesla T4 (UUID: GPU-...)" "got: $(cat -- "$OUT")"
FIELDS=name,driver_version,persistence_mode,utilization.gpu,pci.device_id,memory.total
inside_ok nvidia-smi --query-gpu=$FIELDS --format=csv,noheader
assert_eq "query csv,noheader" "Tesla T4, 580.95.05, Disabled, 0 %, 0x1EB810DE, 15360 MiB" "$(cat -- "$OUT")"
mkdir -p "$R/var/lib/nvidia-standin" && echo 37 >"$R/var/lib/nvidia-standin/utilization"
inside_ok nvidia-smi --query-gpu=utilization.gpu,name --format=csv,noheader,nounits
assert_eq "query csv,noheader,nounits" "37, Tesla T4" "$(cat -- "$OUT")"
rm -f -- "$R/var/lib/nvidia-standin/utilization"
inside_ok nvidia-smi --query-gpu=name,memory.total --format=csv
assert_eq "query csv with the header" "name, memory.total [MiB]
Tesla T4, 15360 MiB" "$(cat -- "$OUT")"
inside nvidia-smi --query-gpu=nonsense --format=csv
assert_rc 2
inside_ok nvidia-smi
assert_output_contains "nvidia-smi's table" "Driver Version: 580.95.05"
assert_output_contains "nvidia-smi's table" "CUDA Version: 13.0"
assert_output_contains "nvidia-smi's table" "Tesla T4"
inside su nobody -s /bin/sh -c 'nvidia-smi -pm 1'
assert_rc 4
assert_output_contains "nvidia-smi -pm 1 as nobody" "Unable to set persistence mode for GPU 00000000:00:04.0: Insufficient Permissions"
inside_ok nvidia-smi -pm 1
assert_eq "nvidia-smi -pm 1" "Enabled persistence mode for GPU 00000000:00:04.0.
All done." "$(cat -- "$OUT")"
assert_eq "persistence_mode" "Enabled" "$(in_chroot nvidia-smi --query-gpu=persistence_mode --format=csv,noheader)"
chroot_agent detect --json
assert_json modules '{"nouveau": false, "nvidia": true}'

section "the stand-in pip and torch in conda envs (python 3.6 and 3.12)"
gpu_torch_index "$GPU_SERVE"
LEDGER=/var/log/standin-conda/calls.log
mkdir -p -- "$R${LEDGER%/*}" && : >"$R$LEDGER" && chmod 0666 -- "$R$LEDGER"
"$PYTHON" "$SOURCE_DIR/tests/support/make_standin_conda.py" --conda-version 24.3.0 --ledger "$LEDGER" -o "$R/tmp/miniconda.sh"
inside_ok bash /tmp/miniconda.sh -b -p /opt/conda
inside_ok /opt/conda/bin/conda create -y -n py36 python=3.6
inside_ok /opt/conda/bin/conda create -y -n py312 python=3.12
PY36=/opt/conda/envs/py36/bin/python
PY312=/opt/conda/envs/py312/bin/python
PIP_OPTIONS=(-m pip install --no-input --progress-bar off)

inside "$PY312" -c 'import torch; print(torch.__version__)'
assert_rc 1
assert_contains "no torch yet" "ModuleNotFoundError: No module named 'torch'" "$(cat -- "$ERR")"
inside "$PY36" "${PIP_OPTIONS[@]}" torch==1.2.0
assert_rc 1
assert_contains "pip without an index (PyPI, unreachable)" "Temporary failure in name resolution')': /simple/torch/" "$(cat -- "$ERR")"
assert_contains "pip without an index (PyPI, unreachable)" "ERROR: Could not find a version that satisfies the requirement torch==1.2.0 (from versions: none)
ERROR: No matching distribution found for torch==1.2.0" "$(cat -- "$ERR")"
inside "$PY36" "${PIP_OPTIONS[@]}" torch==1.5.0 -f "$GPU_BASE/whl/torch_stable.html"
assert_rc 1
# (sort -V's order, which differs from PEP 440's among local labels: cu92 before cu100)
assert_contains "pip, a version the page lacks" \
  "ERROR: Could not find a version that satisfies the requirement torch==1.5.0 (from versions: 1.0.0, 1.1.0, 1.2.0, 1.2.0+cpu, 1.2.0+cu92, 1.3.1+cu100, 1.4.0, 1.4.0+cpu, 1.4.0+cu92, 1.4.0+cu100, 1.10.2+cpu, 1.10.2+cu102, 1.10.2+cu113)
ERROR: No matching distribution found for torch==1.5.0" "$(cat -- "$ERR")"
inside "$PY312" "${PIP_OPTIONS[@]}" torch==1.2.0 -f "$GPU_BASE/whl/torch_stable.html"
assert_rc 1
assert_contains "pip, no wheel for python 3.12" "(from versions: none)" "$(cat -- "$ERR")"
[[ ! -e $R/opt/conda/envs/py36/lib/python3.6/site-packages/torch ]] || fail "a failed pip install left a torch"

# PEP 440: ==1.2.0 matches 1.2.0+cu92 and 1.2.0+cpu too, and pip takes the newest match.
inside_ok "$PY36" "${PIP_OPTIONS[@]}" torch==1.2.0 -f "$GPU_BASE/whl/torch_stable.html"
assert_contains "pip install torch==1.2.0 -f" "Successfully installed torch-1.2.0+cu92" "$(cat -- "$OUT")"
WHEEL=$GPU_BASE/whl/cu100/torch-1.2.0-cp36-cp36m-manylinux1_x86_64.whl
inside_ok "$PY36" "${PIP_OPTIONS[@]}" "$WHEEL"
assert_contains "pip install of the wheel's URL" "Successfully installed torch-1.2.0" "$(cat -- "$OUT")"
JSON_FILE=$R/opt/conda/envs/py36/lib/python3.6/site-packages/torch/standin.json assert_json "" \
  "{\"version\": \"1.2.0\", \"cuda\": \"10.0\", \"wheel\": \"torch-1.2.0-cp36-cp36m-manylinux1_x86_64.whl\",
    \"url\": \"$WHEEL\"}"
assert_eq "the ledger's pip line" "root	pip	install --no-input --progress-bar off $WHEEL" \
  "$(grep -P '\tpip\t' "$R$LEDGER" | tail -n 1)"
inside_ok "$PY36" -c 'import torch; print(torch.cuda.is_available())'
assert_json "" '{"torch": "1.2.0", "cuda": "10.0", "available": true, "devices": ["Tesla T4"]}'
inside_ok "$PY36" "${PIP_OPTIONS[@]}" torch==1.4.0+cu100 -f "$GPU_BASE/whl/torch_stable.html"
assert_contains "pip replaces 1.2.0" "Successfully uninstalled torch-1.2.0" "$(cat -- "$OUT")"
inside_ok "$PY36" -c 'import torch'
assert_json "" '{"torch": "1.4.0+cu100", "cuda": "10.0", "available": true, "devices": ["Tesla T4"]}'

inside_ok "$PY312" "${PIP_OPTIONS[@]}" torch==2.7.1 --index-url "$GPU_BASE/whl/cu126"
assert_contains "pip install from the cu126 index" "Looking in indexes: $GPU_BASE/whl/cu126" "$(cat -- "$OUT")"
assert_contains "pip install from the cu126 index" "Successfully installed torch-2.7.1+cu126" "$(cat -- "$OUT")"
inside_ok "$PY312" "${PIP_OPTIONS[@]}" torch==2.7.1 --index-url "$GPU_BASE/whl/cu118"
assert_contains "2.7.1 satisfies torch==2.7.1, whatever the index" \
  "Requirement already satisfied: torch==2.7.1 in /opt/conda/envs/py312/lib/python3.12/site-packages (2.7.1+cu126)" "$(cat -- "$OUT")"
inside_ok "$PY312" -c 'import torch'
assert_json "" '{"torch": "2.7.1+cu126", "cuda": "12.6", "available": true, "devices": ["Tesla T4"]}'
inside "$PY312" "${PIP_OPTIONS[@]}" torch==2.9.1+cu126 --extra-index-url "$GPU_BASE/whl/cu126"
assert_rc 0
inside_ok "$PY312" "${PIP_OPTIONS[@]}" --force-reinstall torch==2.9.1 --index-url "$GPU_BASE/whl/cpu"
inside_ok "$PY312" -c 'import torch'
assert_json "" '{"torch": "2.9.1+cpu", "cuda": null, "available": false, "devices": []}'
inside_ok modprobe -r nvidia
inside_ok "$PY36" -c 'import torch'
assert_json "" '{"torch": "1.4.0+cu100", "cuda": "10.0", "available": false, "devices": []}'
inside_ok modprobe nvidia

section "the stand-in pip: torchvision with torch, its release picked by the torch its metadata requires"
inside_ok "$PY312" -c 'import torch, torchvision'
assert_json torchvision '{"error": "ModuleNotFoundError: No module named '"'"'torchvision'"'"'"}'
# The cu126 index has torchvision 0.30.1 (for torch 2.15.1) down to 0.21.0 (2.6.0): 0.24.1 is 2.9.1's.
inside_ok "$PY312" "${PIP_OPTIONS[@]}" torch==2.9.1+cu126 torchvision --index-url "$GPU_BASE/whl/cu126"
assert_contains "pip, torch and torchvision" "Successfully installed torch-2.9.1+cu126 torchvision-0.24.1+cu126" "$(cat -- "$OUT")"
assert_contains "pip passes over the newer ones" "INFO: pip is looking at multiple versions of torchvision" "$(cat -- "$OUT")"
JSON_FILE=$R/opt/conda/envs/py312/lib/python3.12/site-packages/torchvision/standin.json \
  assert_json requires '["numpy", "torch==2.9.1", "pillow!=8.3.*,>=5.3.0"]'
inside_ok "$PY312" -c 'import torch, torchvision'
assert_json torchvision '{"version": "0.24.1+cu126"}'
inside_ok "$PY312" "${PIP_OPTIONS[@]}" torch==2.9.1+cu126 torchvision --index-url "$GPU_BASE/whl/cu126"
assert_contains "pip, both there" "Requirement already satisfied: torchvision in " "$(cat -- "$OUT")"
assert_not_contains "pip, both there" "Successfully installed" "$(cat -- "$OUT")"
# A new torch: the installed torchvision requires the old one, so pip takes the one for the new torch.
inside_ok "$PY312" "${PIP_OPTIONS[@]}" torch==2.10.0+cu126 torchvision --index-url "$GPU_BASE/whl/cu126"
assert_contains "pip, a new torch" "Successfully installed torch-2.10.0+cu126 torchvision-0.25.0+cu126" "$(cat -- "$OUT")"
# torchvision built for another CUDA than torch's: its import fails as torchvision's extension.py says.
inside_ok "$PY312" "${PIP_OPTIONS[@]}" --force-reinstall torchvision==0.25.0 --index-url "$GPU_BASE/whl/cu128"
inside_ok "$PY312" -c 'import torch, torchvision'
assert_json torchvision.error '"RuntimeError: Detected that PyTorch and torchvision were compiled with different CUDA versions. PyTorch has CUDA Version=12.6 and torchvision has CUDA Version=12.8. Please reinstall the torchvision that matches your PyTorch install."'
# No torchvision for this torch: every version there requires another (pip's ResolutionImpossible).
inside "$PY312" "${PIP_OPTIONS[@]}" torch==2.7.1+cu126 torchvision==0.30.1 --index-url "$GPU_BASE/whl/cu126"
assert_rc 1
assert_contains "pip, a conflict" "ERROR: Cannot install torch==2.7.1+cu126 and torchvision==0.30.1+cu126 because these package versions have conflicting dependencies." "$(cat -- "$ERR")"
assert_contains "pip, a conflict" "The conflict is caused by:
    The user requested torch==2.7.1+cu126
    torchvision 0.30.1+cu126 depends on torch==2.15.1" "$(cat -- "$OUT")"
assert_contains "pip, a conflict" "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts" "$(cat -- "$ERR")"
assert_eq "nothing installed by the failed resolution" "2.10.0+cu126" \
  "$(JSON_FILE=$R/opt/conda/envs/py312/lib/python3.12/site-packages/torch/standin.json json_raw version)"
# An index without torchvision: pip's "Could not find a version" (pytorch/pytorch#168953's words).
mv -- "$GPU_SERVE/whl/cu130/torchvision" "$TEST_TMP/cu130-torchvision"
inside "$PY312" "${PIP_OPTIONS[@]}" torch==2.9.1+cu130 torchvision --index-url "$GPU_BASE/whl/cu130"
assert_rc 1
assert_contains "pip, no torchvision page" "ERROR: Could not find a version that satisfies the requirement torchvision (from versions: none)
ERROR: No matching distribution found for torchvision" "$(cat -- "$ERR")"
mv -- "$TEST_TMP/cu130-torchvision" "$GPU_SERVE/whl/cu130/torchvision"

section "a held driver branch: cuda-12-6 would replace it, cuda-toolkit-12-6 installs alone"
inside_ok apt-get install -s cuda-12-6
assert_output_contains "cuda-12-6 without a hold" "Remv cuda-drivers-580"
assert_output_contains "cuda-12-6 without a hold" "Inst cuda-drivers (595.84-1"
inside_ok apt-mark hold cuda-drivers-580
inside apt-get install -s cuda-12-6
assert_rc 100
assert_output_contains "cuda-12-6 with cuda-drivers-580 held" " cuda-drivers-580 : Conflicts: nvidia-driver-standin"
assert_output_contains "cuda-12-6 with cuda-drivers-580 held" "E: Error, pkgProblemResolver::Resolve generated breaks, this may be caused by held packages."
inside_ok apt-get install -y cuda-toolkit-12-6
# shellcheck disable=SC2016  # dpkg-query's own ${Status}
assert_eq "cuda-drivers-580 still installed and held" "hold ok installed" \
  "$(in_chroot dpkg-query -W -f='${Status}' cuda-drivers-580)"
inside_ok /usr/local/cuda/bin/nvcc --version
assert_output_contains "nvcc --version" "Cuda compilation tools, release 12.6, V12.6.85"
assert_eq "/usr/local/cuda (update-alternatives)" /usr/local/cuda-12.6 "$(in_chroot readlink -f /usr/local/cuda)"

section "a reboot with the driver installed: udev loads nvidia; persistence mode is off again"
gpu_fake_reboot
assert_eq "modules after the reboot" "virtio_net net_failover failover virtio_scsi nvidia" "$(gpu_modules)"
assert_contains "modprobe's log" "modprobe -q nvidia (udev, at boot)" "$(cat -- "$R/var/log/modprobe-standin.log")"
assert_eq "persistence_mode" "Disabled" "$(in_chroot nvidia-smi --query-gpu=persistence_mode --format=csv,noheader)"

section "an unattended kernel update: no module for the new kernel until its headers come"
gpu_fake_reboot "$NEW_REL"
assert_eq "modules after booting $NEW_REL" "virtio_net net_failover failover virtio_scsi" "$(gpu_modules)"
inside modprobe nvidia
assert_rc 1
assert_eq "modprobe on the new kernel" "modprobe: FATAL: Module nvidia not found in directory /lib/modules/$NEW_REL" "$(cat -- "$ERR")"
inside_ok dkms autoinstall
assert_contains "dkms autoinstall without headers" \
  "Module build for kernel $NEW_REL was skipped since the kernel headers for this kernel does not seem to be installed." "$(cat -- "$OUT")"
inside_ok apt-get install -y "linux-headers-$NEW_REL"
assert_eq "the module for $NEW_REL" "unsigned nvidia 580.95.05 $NEW_REL" "$(cat -- "$R/lib/modules/$NEW_REL/updates/dkms/nvidia.ko")"
inside_ok modprobe nvidia
inside_ok nvidia-smi -L

section "Secure Boot: the DKMS module is rejected, Ubuntu's signed one loads"
gpu_secure_boot on
gpu_fake_reboot
assert_eq "modules after the reboot" "virtio_net net_failover failover virtio_scsi" "$(gpu_modules)"
inside modprobe nvidia
assert_rc 1
assert_eq "modprobe with Secure Boot" "modprobe: ERROR: could not insert 'nvidia': Key was rejected by service" "$(cat -- "$ERR")"
inside_ok apt-get install -y --allow-change-held-packages linux-modules-nvidia-580-server-gcp nvidia-utils-580-server cuda-drivers-580-
[[ ! -e $R/lib/modules/$NEW_REL/updates/dkms/nvidia.ko ]] || fail "removing cuda-drivers-580 left its DKMS module"
assert_eq "the signed module" "signed nvidia 580.95.05 $NEW_REL" "$(cat -- "$R/lib/modules/$NEW_REL/kernel/nvidia-580srv/nvidia.ko")"
inside_ok modprobe nvidia
inside_ok nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
assert_eq "nvidia-smi of nvidia-utils-580-server" "Tesla T4, 580.95.05" "$(cat -- "$OUT")"

printf 'NVIDIA repo signed by another key, on a fresh machine apt-get update (Debian 11) says on stderr:\n%s\n' "$BADSIG_MESSAGE"
echo "ok: the GPU test world behaves ($((SECONDS - STARTED)) s)"
