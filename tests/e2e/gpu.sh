# shellcheck shell=bash
# The GPU path's test world (NVIDIA's repo, drivers and a GPU cannot exist here), sourced by
# tests/e2e/test_*.sh and tests/e2e/vm/run.sh after lib.sh and chroot.sh, once the overlay is
# mounted (chroot_start):
#
#   gpu_fake_kernel REL [nouveau]  a fake kernel for every later chroot entry (chroot.sh's
#                                  CHROOT_FAKE_PROC): /proc/sys/kernel/osrelease is REL, /proc/modules
#                                  a few harmless modules (and nouveau's, when asked), a fresh
#                                  /proc/sys/kernel/random/boot_id; installs the modprobe and
#                                  update-initramfs stand-ins in /usr/local/sbin of the overlay
#   gpu_fake_reboot [NEW_REL]      what a reboot does: a new boot id (and kernel release, for "an
#                                  unattended kernel update"); no nvidia module, persistence mode
#                                  off; nouveau loaded when there is a GPU and it is not blacklisted
#                                  both in modprobe.d and in the initramfs (update-initramfs since
#                                  the blacklist; a new kernel's initramfs is taken as fresh;
#                                  GPU_INITRAMFS_MATTERS=0: modprobe.d is enough); then, like udev,
#                                  `modprobe nvidia` when nouveau is not in the way
#                                  (GPU_UDEV_LOADS_NVIDIA=0 leaves that out)
#   gpu_add_pci_gpu DEVICE_ID [SLOT]   an NVIDIA 3D controller (10de:DEVICE_ID, e.g. 1eb8 for a T4) at
#                                  SLOT (default 0000:00:04.0) in the overlay's /sys/bus/pci/devices
#   gpu_secure_boot on|off|none    the SecureBoot EFI variable (none: no EFI at all)
#   gpu_gce                        /sys/class/dmi/id/product_name says Google Compute Engine, and a
#                                  metadata server emulation on 127.0.0.1 (GCE_METADATA_HOST) serves
#                                  the JSON file GPU_METADATA (re-read at every request: edit it freely)
#   gpu_os_release NAME            /etc/os-release of ubuntu1604, ubuntu1804, ubuntu2004, ubuntu2204,
#                                  ubuntu2404, debian11 or debian12 (apt and dpkg stay Debian 11's)
#   gpu_make_repos [DISTRO [REL...]]   builds NVIDIA's repo for DISTRO (default: from the overlay's
#                                  os-release: debian11, ubuntu2204, ...) and the OS archive stand-in
#                                  with headers and signed modules for each REL (default: the fake
#                                  kernel's), serves them (tests/support/make_nvidia_repo.sh); puts
#                                  the OS archive's list and key into the overlay. Sets GPU_BASE (the
#                                  server), GPU_SERVE (its folder), GPU_SERVER_LOG, GPU_CUDA_REPOS
#                                  ($GPU_BASE/compute/cuda/repos), GPU_DISTRO, GPU_NVIDIA_REPO_URL
#                                  ($GPU_CUDA_REPOS/$GPU_DISTRO/x86_64/), GPU_KEYRING_SHA256 (the stand-in
#                                  cuda-keyring's) and GPU_KEYRING_PIN (its gpu.keyring_sha256 entry, JSON).
#                                  The server reads the faults file GPU_FAULTS (http_server.py --faults)
#                                  at every request: a test writes rules there when it wants some.
#                                  Leaves lib.sh's BASE alone. GPU_REPO_SERVER_ARGS (an array) goes
#                                  to that server (http_server.py), e.g. (--slow 'GLOB=SECONDS').
#   gpu_install_repo_lists         the OS archive's list and key of those repos into the overlay mounted
#                                  now (a test's second overlay: nothing is built again)
#   gpu_nvidia_repo good|badsig|unsigned   publishes NVIDIA's repo again, signed right, by a key
#                                  cuda-keyring does not hold, or not at all
#   gpu_torch_index DIR            a download.pytorch.org stand-in under DIR/whl: torch_stable.html
#                                  (torch <= 1.10, -f) and PEP 503 indexes whl/cuXXX/ and whl/cpu/
#                                  of torch and of the torchvision built for each torch there;
#                                  with DIR=$GPU_SERVE the URLs are $GPU_BASE/whl/...
#   gpu_modules                    the names of the loaded (fake) modules, space separated
#   gpu_dpkg_status PACKAGE        dpkg's status of PACKAGE in the overlay ("install ok installed",
#                                  "hold ok installed"), empty when dpkg does not know it
#   gpu_kernel_release             the fake kernel's release
#
# The stand-ins log inside the overlay: /var/log/nvidia-standin.log (driver packages, DKMS),
# /var/log/modprobe-standin.log, /var/log/initramfs-standin.log. Knobs inside the overlay:
# /etc/nvidia-standin/dkms-fails (every DKMS build fails), /var/lib/modprobe-standin/nouveau-removable
# (`modprobe -r nouveau` works), /var/lib/nvidia-standin/utilization (nvidia-smi's GPU-Util).

GPU_SUPPORT=$SOURCE_DIR/tests/support
GPU_STANDIN=$SOURCE_DIR/tests/fixtures/standin-nvidia
GPU_FAKE_PROC=""
GPU_METADATA=""
GPU_BASE="" GPU_SERVE="" GPU_SERVER_LOG="" GPU_CUDA_REPOS="" GPU_DISTRO="" GPU_NVIDIA_REPO_URL=""
GPU_KEYRING_SHA256="" GPU_KEYRING_PIN=""
# The repos server's faults by client (tests/support/http_server.py --faults): none until a test writes some.
GPU_FAULTS=$TEST_TMP/gpu-repos-faults.json
GPU_KERNEL_RELEASES=()
GPU_REPO_SERVER_ARGS=()
GPU_SLOT_DEFAULT=0000:00:04.0
GPU_SECURE_BOOT_VARIABLE=sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c

_gpu_need_overlay() {
  [[ -n $CHROOT_ROOT ]] || { echo "gpu.sh: $1 needs the overlay (chroot_start first)" >&2; exit 1; }
}
_gpu_need_kernel() {
  [[ -n $GPU_FAKE_PROC ]] || { echo "gpu.sh: $1 needs a fake kernel (gpu_fake_kernel first)" >&2; exit 1; }
}

# The fake /proc files are bind-mounted into every chroot entry: rewrite them in place, never by
# rename (a rename would leave the mounts on the old file).
_gpu_new_boot_id() { cat /proc/sys/kernel/random/uuid >"$GPU_FAKE_PROC/boot_id"; }
_gpu_write_modules() { # nouveau: yes|no
  {
    echo "virtio_net 61440 0 - Live 0x0000000000000000"
    echo "net_failover 24576 1 virtio_net, Live 0x0000000000000000"
    echo "failover 16384 1 net_failover, Live 0x0000000000000000"
    echo "virtio_scsi 24576 2 - Live 0x0000000000000000"
    if [[ $1 == yes ]]; then
      echo "nouveau 2424832 0 - Live 0x0000000000000000"
      echo "mxm_wmi 16384 1 nouveau, Live 0x0000000000000000"
      echo "drm_ttm_helper 16384 1 nouveau, Live 0x0000000000000000"
      echo "ttm 86016 2 nouveau,drm_ttm_helper, Live 0x0000000000000000"
    fi
  } >"$GPU_FAKE_PROC/modules"
}

gpu_fake_kernel() {
  local release=${1:?gpu_fake_kernel needs a kernel release} nouveau=no
  _gpu_need_overlay gpu_fake_kernel
  case ${2:-} in "") ;; nouveau) nouveau=yes ;; *) echo "gpu.sh: gpu_fake_kernel REL [nouveau], not $2" >&2; exit 1 ;; esac
  GPU_FAKE_PROC=$TEST_TMP/fake-proc
  mkdir -p -- "$GPU_FAKE_PROC"
  printf '%s\n' "$release" >"$GPU_FAKE_PROC/osrelease"
  _gpu_new_boot_id
  _gpu_write_modules "$nouveau"
  # shellcheck disable=SC2034  # chroot.sh's
  CHROOT_FAKE_PROC=$GPU_FAKE_PROC
  install -D -m 0755 -- "$GPU_STANDIN/modprobe" "$CHROOT_ROOT/usr/local/sbin/modprobe"
  install -D -m 0755 -- "$GPU_STANDIN/update-initramfs" "$CHROOT_ROOT/usr/local/sbin/update-initramfs"
}

gpu_kernel_release() { _gpu_need_kernel gpu_kernel_release; cat -- "$GPU_FAKE_PROC/osrelease"; }
# shellcheck disable=SC2016  # dpkg-query's own ${Status}
gpu_dpkg_status() { in_chroot dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true; }
gpu_modules() { _gpu_need_kernel gpu_modules; cut -d' ' -f1 "$GPU_FAKE_PROC/modules" | xargs; }

_gpu_has_gpu() {
  local vendor
  for vendor in "$CHROOT_ROOT"/sys/bus/pci/devices/*/vendor; do
    [[ -f $vendor && $(<"$vendor") == 0x10de ]] && return 0
  done
  return 1
}
_gpu_blacklists_nouveau() { # FILE...: any of them blacklists nouveau (missing ones are fine)
  grep -Eqs '^[[:space:]]*blacklist[[:space:]]+nouveau[[:space:]]*$' -- "$@"
}

gpu_fake_reboot() {
  local new_release=${1:-} blacklisted=no nouveau=no
  _gpu_need_kernel gpu_fake_reboot
  [[ -z $new_release ]] || printf '%s\n' "$new_release" >"$GPU_FAKE_PROC/osrelease"
  _gpu_new_boot_id
  rm -rf -- "$CHROOT_ROOT/sys/module/nvidia"
  rm -f -- "$CHROOT_ROOT/var/lib/nvidia-standin/persistence"
  if _gpu_blacklists_nouveau "$CHROOT_ROOT"/etc/modprobe.d/*.conf "$CHROOT_ROOT"/lib/modprobe.d/*.conf \
    "$CHROOT_ROOT"/usr/lib/modprobe.d/*.conf; then
    # The initramfs loads nouveau before the root file system's modprobe.d is read.
    if [[ -n $new_release || ${GPU_INITRAMFS_MATTERS:-1} == 0 ||
      $(cat -- "$CHROOT_ROOT/var/lib/initramfs-standin/nouveau-blacklisted" 2>/dev/null) == yes ]]; then
      blacklisted=yes
    fi
  fi
  _gpu_has_gpu && [[ $blacklisted == no ]] && nouveau=yes
  _gpu_write_modules "$nouveau"
  if _gpu_has_gpu && [[ $nouveau == no && ${GPU_UDEV_LOADS_NVIDIA:-1} != 0 ]]; then
    in_chroot env MODPROBE_STANDIN_CALLER="udev, at boot" /usr/local/sbin/modprobe -q nvidia >/dev/null 2>&1 || true
  fi
}

gpu_add_pci_gpu() {
  local device=${1:?gpu_add_pci_gpu needs a PCI device id, e.g. 1eb8} slot=${2:-$GPU_SLOT_DEFAULT} dir
  _gpu_need_overlay gpu_add_pci_gpu
  device=${device#0x}
  dir=$CHROOT_ROOT/sys/bus/pci/devices/$slot
  mkdir -p -- "$dir"
  echo 0x10de >"$dir/vendor"
  echo "0x${device,,}" >"$dir/device"
  echo 0x030200 >"$dir/class"
}

gpu_secure_boot() {
  _gpu_need_overlay gpu_secure_boot
  local variable=$CHROOT_ROOT/$GPU_SECURE_BOOT_VARIABLE
  case ${1:-} in
    on | off)
      mkdir -p -- "$(dirname -- "$variable")"
      # 4 attribute bytes (non-volatile, boot and runtime access), then the value.
      if [[ $1 == on ]]; then printf '\x06\x00\x00\x00\x01' >"$variable"; else printf '\x06\x00\x00\x00\x00' >"$variable"; fi ;;
    none) rm -rf -- "$CHROOT_ROOT/sys/firmware/efi" ;;
    *) echo "gpu.sh: gpu_secure_boot on|off|none, not ${1:-nothing}" >&2; exit 1 ;;
  esac
}

# On "GCE" the agent asks the metadata server: never the real address from a test, so this starts
# tests/support/http_server.py's emulation and points GCE_METADATA_HOST (CHROOT_ENV) at it.
gpu_gce() {
  _gpu_need_overlay gpu_gce
  mkdir -p -- "$CHROOT_ROOT/sys/class/dmi/id"
  echo "Google Compute Engine" >"$CHROOT_ROOT/sys/class/dmi/id/product_name"
  [[ -z $GPU_METADATA ]] || return 0
  GPU_METADATA=$TEST_TMP/gpu-metadata.json
  printf '%s\n' '{"instance": {"id": "1234567890", "hostname": "cs231n.us-west1-b.c.test.internal",
    "zone": "projects/123/zones/us-west1-b", "machine-type": "projects/123/machineTypes/n1-standard-8",
    "attributes": {}, "guest-attributes": {},
    "network-interfaces": [{"ip": "10.138.0.2", "access-configs": [{"external-ip": "34.82.0.1"}]}]}}' >"$GPU_METADATA"
  _gpu_start_server gpu-metadata --metadata "$GPU_METADATA"
  CHROOT_ENV+=("GCE_METADATA_HOST=${_GPU_STARTED_BASE#http://}")
}

gpu_os_release() {
  _gpu_need_overlay gpu_os_release
  local target=$CHROOT_ROOT/etc/os-release text
  case ${1:-} in
    ubuntu1604) text=$(<"$ROOTS/ubuntu1604-gce-t4/etc/os-release") ;;
    ubuntu2204) text=$(<"$ROOTS/ubuntu2204-nogpu/etc/os-release") ;;
    debian11) text=$(<"$CHROOT_TREE/usr/lib/os-release") ;;
    ubuntu1804) text='NAME="Ubuntu"
VERSION="18.04.6 LTS (Bionic Beaver)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 18.04.6 LTS"
VERSION_ID="18.04"
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
VERSION_CODENAME=bionic
UBUNTU_CODENAME=bionic' ;;
    ubuntu2004) text='NAME="Ubuntu"
VERSION="20.04.6 LTS (Focal Fossa)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 20.04.6 LTS"
VERSION_ID="20.04"
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
VERSION_CODENAME=focal
UBUNTU_CODENAME=focal' ;;
    ubuntu2404) text='PRETTY_NAME="Ubuntu 24.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.3 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo' ;;
    debian12) text='PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"' ;;
    *) echo "gpu.sh: gpu_os_release knows ubuntu1604 ubuntu1804 ubuntu2004 ubuntu2204 ubuntu2404 debian11 debian12, not ${1:-nothing}" >&2
      exit 1 ;;
  esac
  rm -f -- "$target"  # Debian's is a symlink to ../usr/lib/os-release
  printf '%s\n' "$text" >"$target"
}

# The NVIDIA repo name of the overlay's OS: ID and VERSION_ID without the dot.
_gpu_overlay_distro() {
  local id version
  id=$(sed -n 's/^ID="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$CHROOT_ROOT/etc/os-release")
  version=$(sed -n 's/^VERSION_ID="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$CHROOT_ROOT/etc/os-release")
  printf '%s%s\n' "$id" "${version//./}"
}

# _gpu_start_server NAME ARG...: lib.sh's start_server, leaving its BASE, SERVE and SERVER_LOG as
# they were (a course test has its own server); this one's in _GPU_STARTED_BASE, _SERVE, _LOG.
_gpu_start_server() {
  local saved_base=${BASE:-} saved_serve=${SERVE:-} saved_log=${SERVER_LOG:-}
  start_server "$@"
  _GPU_STARTED_BASE=$BASE _GPU_STARTED_SERVE=$SERVE _GPU_STARTED_LOG=$SERVER_LOG
  BASE=$saved_base SERVE=$saved_serve SERVER_LOG=$saved_log
  [[ " ${CHROOT_EXIT_HOOKS[*]} " == *" stop_servers "* ]] || CHROOT_EXIT_HOOKS+=(stop_servers)
}

_gpu_build_repos() {
  NVIDIA_REPO_BROKEN=${GPU_NVIDIA_REPO_BROKEN:-} bash "$GPU_SUPPORT/make_nvidia_repo.sh" "$GPU_SERVE" "$GPU_CUDA_REPOS" \
    "$GPU_DISTRO" "${GPU_KERNEL_RELEASES[@]}" >"$TEST_TMP/make_nvidia_repo.log" 2>&1 ||
    fail "make_nvidia_repo.sh failed" "$(tail -n 20 -- "$TEST_TMP/make_nvidia_repo.log")"
}

gpu_make_repos() {
  _gpu_need_overlay gpu_make_repos
  GPU_DISTRO=${1:-$(_gpu_overlay_distro)}
  if (($# > 1)); then
    GPU_KERNEL_RELEASES=("${@:2}")
  else
    GPU_KERNEL_RELEASES=("$(gpu_kernel_release)")
  fi
  if [[ -z $GPU_BASE ]]; then
    _gpu_start_server gpu-repos --tree --faults "$GPU_FAULTS" "${GPU_REPO_SERVER_ARGS[@]}"
    # shellcheck disable=SC2034  # GPU_SERVER_LOG is for the tests
    GPU_BASE=$_GPU_STARTED_BASE GPU_SERVE=$_GPU_STARTED_SERVE GPU_SERVER_LOG=$_GPU_STARTED_LOG
  fi
  GPU_CUDA_REPOS=$GPU_BASE/compute/cuda/repos
  # shellcheck disable=SC2034  # for the tests
  GPU_NVIDIA_REPO_URL=$GPU_CUDA_REPOS/$GPU_DISTRO/x86_64/
  _gpu_build_repos
  # The stand-in keyring is not NVIDIA's: the agent checks it against this pin (gpu.keyring_sha256).
  GPU_KEYRING_SHA256=$(sha256sum <"$GPU_SERVE/compute/cuda/repos/$GPU_DISTRO/x86_64/cuda-keyring_1.1-1_all.deb" | cut -d' ' -f1)
  # shellcheck disable=SC2034  # for the tests' configs: "gpu": {$GPU_KEYRING_PIN, ...}
  GPU_KEYRING_PIN="\"keyring_sha256\": {\"$GPU_DISTRO/cuda-keyring_1.1-1_all.deb\": \"$GPU_KEYRING_SHA256\"}"
  install -D -m 0644 -- "$GPU_SERVE/os-archive.list" "$CHROOT_ROOT/etc/apt/sources.list.d/cs231n-test-os-archive.list"
  install -D -m 0644 -- "$GPU_SERVE/os-archive.gpg" "$CHROOT_ROOT/usr/share/keyrings/cs231n-test-os-archive.gpg"
}

# gpu_install_repo_lists: the OS archive stand-in's list and key of the repos gpu_make_repos built,
# into the overlay mounted now (a second overlay of the same test: the repos are not built again).
gpu_install_repo_lists() {
  _gpu_need_overlay gpu_install_repo_lists
  [[ -n $GPU_SERVE ]] || { echo "gpu.sh: gpu_install_repo_lists needs gpu_make_repos first" >&2; exit 1; }
  install -D -m 0644 -- "$GPU_SERVE/os-archive.list" "$CHROOT_ROOT/etc/apt/sources.list.d/cs231n-test-os-archive.list"
  install -D -m 0644 -- "$GPU_SERVE/os-archive.gpg" "$CHROOT_ROOT/usr/share/keyrings/cs231n-test-os-archive.gpg"
}

gpu_nvidia_repo() {
  [[ -n $GPU_SERVE ]] || { echo "gpu.sh: gpu_nvidia_repo needs gpu_make_repos first" >&2; exit 1; }
  case ${1:-} in
    good) GPU_NVIDIA_REPO_BROKEN="" ;;
    badsig | unsigned) GPU_NVIDIA_REPO_BROKEN=$1 ;;
    *) echo "gpu.sh: gpu_nvidia_repo good|badsig|unsigned, not ${1:-nothing}" >&2; exit 1 ;;
  esac
  NVIDIA_REPO_BROKEN=$GPU_NVIDIA_REPO_BROKEN bash "$GPU_SUPPORT/make_nvidia_repo.sh" --sign-only "$GPU_SERVE" "$GPU_CUDA_REPOS" \
    "$GPU_DISTRO" >"$TEST_TMP/make_nvidia_repo.log" 2>&1 ||
    fail "make_nvidia_repo.sh --sign-only failed" "$(tail -n 20 -- "$TEST_TMP/make_nvidia_repo.log")"
}

# _gpu_wheel DIR FOLDER VERSION PY PLATFORM [PROJECT]: a placeholder wheel
# DIR/FOLDER/PROJECT-VERSION-cpPY-ABI-PLATFORM.whl (PROJECT torch unless given; cp36m-style ABI tags
# before Python 3.8); prints its name as a link writes it (+ as %2B).
_gpu_wheel() {
  local dir=$1 folder=$2 version=$3 py=$4 platform=$5 project=${6:-torch} abi name
  abi=cp$py
  ((py < 38)) && abi+=m
  name=$project-$version-cp$py-$abi-$platform.whl
  mkdir -p -- "$dir/$folder"
  printf 'cs231n-agent test stand-in for %s (not a wheel)\n' "$name" >"$dir/$folder/$name"
  printf '%s\n' "${name//+/%2B}"
}

# _gpu_torchvision_of TORCH: the torchvision release built for a torch release, by the rule of
# pytorch/vision README's compatibility table (2.x: 0.(x+15), 1.x: 0.(x+1), the same patch: 2.9.1 ->
# 0.24.1, 2.5.1 -> 0.20.1, 1.13.1 -> 0.14.1, as released); 0.30.1 for the made-up 2.15.1.
_gpu_torchvision_of() {
  local major minor patch
  IFS=. read -r major minor patch <<<"${1%%+*}"
  if ((major == 2)); then echo "0.$((minor + 15)).$patch"; else echo "0.$((minor + 1)).$patch"; fi
}

# _gpu_link PAGE-DIR FILE-LINK [METADATA]: one PEP 503 link to ../FILE-LINK with its #sha256= and,
# with METADATA (the wheel's METADATA text), FILE.metadata beside the wheel and the PEP 658/714
# attributes, as pytorch/test-infra's s3_management/manage_v2.py (to_simple_package_html) writes them.
_gpu_link() {
  local page=$1 link=$2 file attributes=""
  file=$page/../${link//%2B/+}
  if [[ -n ${3:-} ]]; then
    printf '%s' "$3" >"$file.metadata"
    local meta
    meta=sha256=$(sha256sum <"$file.metadata" | cut -d' ' -f1)
    attributes=" data-dist-info-metadata=\"$meta\" data-core-metadata=\"$meta\""
  fi
  printf '    <a href="../%s#sha256=%s"%s>%s</a><br/>\n' "$link" "$(sha256sum <"$file" | cut -d' ' -f1)" "$attributes" \
    "${link//%2B/+}"
}

# _gpu_index DIR VARIANT "VERSION:PY PY..."...: whl/VARIANT/torch/index.html (PEP 503) with
# placeholder wheels in whl/VARIANT/, linked as download.pytorch.org does (with #sha256=), and
# whl/VARIANT/torchvision/index.html with the torchvision built for each of those torch releases
# (_gpu_torchvision_of), each with PEP 658 metadata whose Requires-Dist names its torch exactly, as
# torchvision's wheels do (pytorch/vision setup.py get_requirements: numpy, torch==PYTORCH_VERSION,
# pillow; extras gdown and scipy).
_gpu_index() {
  local dir=$1 variant=$2 entry version vision py platform link metadata
  shift 2
  mkdir -p -- "$dir/$variant/torch" "$dir/$variant/torchvision"
  {
    printf '<!DOCTYPE html>\n<html>\n  <body>\n    <h1>Links for torch</h1>\n'
    for entry in "$@"; do
      version=${entry%%:*}
      platform=manylinux_2_28_x86_64
      [[ $(printf '%s\n' "${version%%+*}" 2.6 | sort -V | head -n 1) == 2.6 ]] || platform=linux_x86_64
      for py in ${entry#*:}; do
        _gpu_link "$dir/$variant/torch" "$(_gpu_wheel "$dir" "$variant" "$version+$variant" "$py" "$platform")"
      done
    done
    printf '  </body>\n</html>\n'
  } >"$dir/$variant/torch/index.html"
  {
    printf '<!DOCTYPE html>\n<html>\n  <body>\n    <h1>Links for torchvision</h1>\n'
    for entry in "$@"; do
      version=${entry%%:*}
      vision=$(_gpu_torchvision_of "$version")+$variant
      platform=manylinux_2_28_x86_64
      [[ $(printf '%s\n' "${version%%+*}" 2.6 | sort -V | head -n 1) == 2.6 ]] || platform=linux_x86_64
      metadata="Metadata-Version: 2.1
Name: torchvision
Version: $vision
Summary: image and video datasets and models for torch deep learning (cs231n-agent test stand-in)
Requires-Dist: numpy
Requires-Dist: torch==$version
Requires-Dist: pillow!=8.3.*,>=5.3.0
Provides-Extra: gdown
Requires-Dist: gdown>=4.7.3; extra == \"gdown\"
Provides-Extra: scipy
Requires-Dist: scipy; extra == \"scipy\"
"
      for py in ${entry#*:}; do
        link=$(_gpu_wheel "$dir" "$variant" "$vision" "$py" "$platform" torchvision)
        _gpu_link "$dir/$variant/torchvision" "$link" "$metadata"
      done
    done
    printf '  </body>\n</html>\n'
  } >"$dir/$variant/torchvision/index.html"
  printf '<!DOCTYPE html>\n<html>\n  <body>\n    <a href="torch/">torch</a><br/>\n    <a href="torchvision/">torchvision</a><br/>\n  </body>\n</html>\n' \
    >"$dir/$variant/index.html"
}

gpu_torch_index() {
  local dir=${1:?gpu_torch_index needs a folder}/whl folder version py platform pys link
  mkdir -p -- "$dir"
  # torch_stable.html: the find-links page of torch <= 1.10 (relative links, no hashes), in the
  # form of tests/fixtures/torch-index/torch_stable.html (see its README): other variants of a
  # version beside the plain one, as pip meets them there.
  {
    printf '<!DOCTYPE html>\n<html>\n  <body>\n'
    while read -r folder version platform pys; do
      for py in $pys; do
        link=$folder/$(_gpu_wheel "$dir" "$folder" "$version" "$py" "$platform")
        printf '    <a href="%s">%s</a><br>\n' "$link" "$link"
      done
    done <<'EOF'
cu100 1.0.0 linux_x86_64 35 36 37
cu100 1.1.0 linux_x86_64 35 36 37
cu100 1.2.0 manylinux1_x86_64 35 36 37
cu92 1.2.0+cu92 manylinux1_x86_64 35 36 37
cpu 1.2.0+cpu manylinux1_x86_64 35 36 37
cu100 1.3.1+cu100 linux_x86_64 35 36 37
cu100 1.4.0+cu100 linux_x86_64 35 36 37 38
cu92 1.4.0+cu92 linux_x86_64 35 36 37 38
cu101 1.4.0 linux_x86_64 35 36 37 38
cpu 1.4.0+cpu linux_x86_64 35 36 37 38
cu102 1.10.2+cu102 linux_x86_64 36 37 38 39
cu113 1.10.2+cu113 linux_x86_64 36 37 38 39
cpu 1.10.2+cpu linux_x86_64 36 37 38 39
EOF
    # Other projects share the page, as on the real one.
    printf '    <a href="cu100/torchvision-0.4.0-cp36-cp36m-manylinux1_x86_64.whl">cu100/torchvision-0.4.0-cp36-cp36m-manylinux1_x86_64.whl</a><br>\n'
    printf '  </body>\n</html>\n'
  } >"$dir/torch_stable.html"
  # PEP 503 indexes (torch 1.11 and later), the CUDA variants and Pythons of FACTS.md's table, and
  # 2.15.1: a release cs231n-agent's table has never heard of, which the agent reads here and picks.
  _gpu_index "$dir" cu116 "1.12.1:37 38 39 310" "1.13.1:37 38 39 310"
  _gpu_index "$dir" cu117 "1.13.1:37 38 39 310 311"
  _gpu_index "$dir" cu118 "2.1.2:38 39 310 311" "2.5.1:39 310 311 312" "2.6.0:39 310 311 312 313" "2.7.1:39 310 311 312 313"
  _gpu_index "$dir" cu121 "2.1.2:38 39 310 311" "2.5.1:39 310 311 312"
  _gpu_index "$dir" cu124 "2.5.1:39 310 311 312" "2.6.0:39 310 311 312 313"
  local newer=("2.9.1:310 311 312 313 314" "2.10.0:310 311 312 313 314" "2.11.0:310 311 312 313 314")
  local newest=("2.14.0:310 311 312 313 314" "2.15.1:310 311 312 313 314")
  _gpu_index "$dir" cu126 "2.6.0:39 310 311 312 313" "2.7.1:39 310 311 312 313" "2.8.0:39 310 311 312 313" "${newer[@]}" \
    "${newest[@]}"
  _gpu_index "$dir" cu128 "2.7.1:39 310 311 312 313" "2.8.0:39 310 311 312 313" "${newer[@]}"
  _gpu_index "$dir" cu130 "${newer[@]}" "${newest[@]}"
  _gpu_index "$dir" cu132 "${newest[@]}"
  _gpu_index "$dir" cpu "2.7.1:39 310 311 312 313" "${newer[@]}" "${newest[@]}"
}
