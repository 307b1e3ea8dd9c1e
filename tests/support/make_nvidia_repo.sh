#!/usr/bin/env bash
# Builds the GPU tests' stand-in for NVIDIA's CUDA apt repository and for the OS archive's kernel
# and Canonical-signed driver packages: tiny .debs whose files are test stand-ins (scripts and
# markers from tests/fixtures/standin-nvidia), in flat repositories signed with throwaway keys.
#
#   make_nvidia_repo.sh OUT_DIR BASE_URL DISTRO KERNEL_RELEASE...
#   make_nvidia_repo.sh --sign-only OUT_DIR BASE_URL DISTRO   only signs NVIDIA's repo again (after
#                                                             a change of NVIDIA_REPO_BROKEN)
#
# OUT_DIR is served as the root of http://HOST:PORT, and BASE_URL is HOST:PORT's
# .../compute/cuda/repos (like https://developer.download.nvidia.com/compute/cuda/repos). Writes:
#   OUT_DIR/compute/cuda/repos/DISTRO/x86_64/   NVIDIA's repo, apt line `deb [signed-by=...] BASE_URL/DISTRO/x86_64/ /`,
#       with what DISTRO's real repo has as far as public sources say (tests/fixtures/nvidia-repo/README.md;
#       the table below, distro_contents):
#     cuda-keyring 1.1-1 (also as cuda-keyring_1.1-1_all.deb there): the keyring, list and pin files
#     cuda-drivers-B for the repo's branch packages (proprietary modules), nvidia-open-B for its
#       open ones, and the unsuffixed cuda-drivers / nvidia-open of its newest branch (which carry
#       the driver themselves: from R590 there are no branch packages to depend on). Each Provides
#       and Conflicts nvidia-driver-standin: nvidia-smi, a DKMS stand-in and its kernel-headers
#       hook that "build" /lib/modules/REL/updates/dkms/nvidia.ko ("unsigned nvidia[-open] VERSION REL")
#     cuda-toolkit-X-Y for the repo's toolkits: /usr/local/cuda-X.Y (nvcc, libcudart marker)
#     cuda-X-Y: Depends cuda-toolkit-X-Y and cuda-drivers (>= the release's minimum driver), so it
#       would swap a held driver branch for the newest, as NVIDIA's does
#   OUT_DIR/os-archive/        the OS archive's share, apt line in OUT_DIR/os-archive.list, key
#                              OUT_DIR/os-archive.gpg (for /usr/share/keyrings/cs231n-test-os-archive.gpg):
#     linux-headers-REL for each KERNEL_RELEASE: /lib/modules/REL/build; its postinst runs
#       /etc/kernel/header_postinst.d with REL, as Debian's and Ubuntu's do
#     linux-modules-nvidia-580-server[-open]-REL for each KERNEL_RELEASE: Canonical-signed modules,
#       /lib/modules/REL/kernel/nvidia-580srv[-open]/nvidia.ko ("signed nvidia VERSION REL"), and the
#       flavour's meta package linux-modules-nvidia-580-server[-open]-gcp, which depends on the last
#       KERNEL_RELEASE's (ubuntu-drivers-common's naming: the meta follows the newest GCP kernel)
#     linux-modules-nvidia-535-server-gcp: a dummy transitional package to 580's, as in Ubuntu today
#     linux-gcp: the GCP kernel flavour's meta package (no kernel in it: the tests fake the kernel)
#     nvidia-utils-580-server: nvidia-smi of that branch
#   OUT_DIR/gnupg              the throwaway keys (reused when OUT_DIR is built again)
#   OUT_DIR/cuda-archive-keyring.gpg   the public key cuda-keyring installs
#
# Environment:
#   NVIDIA_REPO_BROKEN=badsig    NVIDIA's repo signed by another key than cuda-keyring's: apt-get
#                                update fails for that source (NO_PUBKEY), like a rotated key
#   NVIDIA_REPO_BROKEN=unsigned  no InRelease or Release.gpg: "The repository ... is not signed"
#   NVIDIA_REPO_TOOLKITS         the toolkits to publish (default: DISTRO's)
#   NVIDIA_REPO_PAYLOADS=FILE    lines "NAME BYTES PARENT..." (# starts a comment): NAME, a package of
#                                BYTES zero bytes (data.tar uncompressed, so the .deb is that big) in
#                                NVIDIA's repo, and a Depends of each PARENT (cuda-toolkit-12-8,
#                                cuda-drivers-580, ...): a toolkit or driver of its real size and
#                                package count (scripts/bench/ready.sh)
#   OS_ARCHIVE_SIGNED_FLAVOURS   the signed module flavours the OS archive has (default: "server
#                                server-open"; "server" alone: an archive without signed open modules)
# Running it again on the same OUT_DIR rebuilds everything with the same keys (so a test can
# switch between a good and a broken repo). Needs dpkg-deb, dpkg-scanpackages (dpkg-dev) and gpg.
set -euo pipefail

SIGN_ONLY=no
if [[ ${1:-} == --sign-only ]]; then
  SIGN_ONLY=yes
  shift
fi
if (($# < 3)) || [[ $SIGN_ONLY == no && $# -lt 4 ]]; then
  echo "usage: $0 OUT_DIR BASE_URL DISTRO KERNEL_RELEASE... | --sign-only OUT_DIR BASE_URL DISTRO" >&2
  exit 2
fi
OUT=$(realpath -m -- "$1")
BASE_URL=${2%/}
DISTRO=$3
shift 3
KERNEL_RELEASES=("$@")
BROKEN=${NVIDIA_REPO_BROKEN:-}
PAYLOADS=${NVIDIA_REPO_PAYLOADS:-}
[[ -z $PAYLOADS || -f $PAYLOADS ]] || { echo "$0: NVIDIA_REPO_PAYLOADS: no file $PAYLOADS" >&2; exit 2; }
# -- what each NVIDIA repo has (sources: tests/fixtures/nvidia-repo/README.md) ------------------
# distro_contents: BRANCHES (cuda-drivers-B), OPEN (nvidia-open-B), LATEST (the branch of the
# unsuffixed cuda-drivers and nvidia-open; none: the repo's newest is not known publicly), TOOLKITS.
distro_contents() {
  case $DISTRO in
    # Frozen after CUDA dropped 16.04: the unsuffixed cuda-drivers of a 46x driver (UNVERIFIED).
    ubuntu1604) BRANCHES="" OPEN="" LATEST=460 TOOLKITS_DEFAULT="10-0" ;;
    # cuda-drivers-470 (NVIDIA/ansible-role-nvidia-driver PR #53/#55 CI); 10.0 and 11.8 toolkits.
    ubuntu1804) BRANCHES="470" OPEN="" LATEST="" TOOLKITS_DEFAULT="10-0 11-8" ;;
    # cuda-drivers-470 (same CI); R535 drivers (NVIDIA/apt-packaging-fabric-manager#3).
    ubuntu2004) BRANCHES="470 535" OPEN="" LATEST="" TOOLKITS_DEFAULT="11-8 12-6 12-8" ;;
    # cuda-drivers-515..580 (ansible-role-nvidia-driver#65, #89; 535 and 580 kept here),
    # nvidia-open-580 (NVIDIA's driver installation guide: nvidia-open-<branch> from R560), the
    # unsuffixed packages at the prod branch 595; toolkits from 11.7 (bazel-contrib/rules_cuda#161).
    ubuntu2204) BRANCHES="535 580" OPEN="580" LATEST=595 TOOLKITS_DEFAULT="11-8 12-6 12-8 13-0 13-2" ;;
    # cuda-drivers-580 and no 515 (#89); toolkits from 12.5 (MicrosoftDocs/azure-docs#123740).
    ubuntu2404) BRANCHES="580" OPEN="580" LATEST=595 TOOLKITS_DEFAULT="12-6 12-8 13-0 13-2" ;;
    # New in 2026, unsuffixed names only; CUDA 13.3 (compute-gpu-installation tests).
    ubuntu2604) BRANCHES="" OPEN="" LATEST=595 TOOLKITS_DEFAULT="13-3" ;;
    # R535 (UNVERIFIED); CUDA 11.8 to 12.6.
    debian11) BRANCHES="535" OPEN="" LATEST="" TOOLKITS_DEFAULT="11-8 12-6" ;;
    # From CUDA 12.3/R545 (nvidia-container-toolkit#181, elFarto/nvidia-vaapi-driver#312); 580.
    debian12) BRANCHES="580" OPEN="580" LATEST="" TOOLKITS_DEFAULT="12-6 12-8 13-0 13-2" ;;
    # From 590, unsuffixed names only (NVIDIA/cuda-repo-management#35, #38).
    debian13) BRANCHES="" OPEN="" LATEST=590 TOOLKITS_DEFAULT="13-1 13-2" ;;
    *) echo "$0: no NVIDIA repo known for $DISTRO" >&2; exit 2 ;;
  esac
}
distro_contents
read -r -a TOOLKITS <<<"${NVIDIA_REPO_TOOLKITS:-$TOOLKITS_DEFAULT}"
read -r -a SIGNED_FLAVOURS <<<"${OS_ARCHIVE_SIGNED_FLAVOURS:-server server-open}"
case $BROKEN in "" | badsig | unsigned) ;; *) echo "$0: NVIDIA_REPO_BROKEN must be badsig or unsigned, not $BROKEN" >&2; exit 2 ;; esac
[[ $BASE_URL =~ ^([a-z]+://[^/]+) ]] || { echo "$0: BASE_URL must look like http://127.0.0.1:PORT/compute/cuda/repos" >&2; exit 2; }
HOST_URL=${BASH_REMATCH[1]}
for tool in dpkg-deb dpkg-scanpackages gpg gpgconf; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (packages dpkg-dev, gpg)" >&2; exit 1; }
done

STANDIN=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../fixtures/standin-nvidia" && pwd)
NVIDIA_REPO=$OUT/compute/cuda/repos/$DISTRO/x86_64
OS_ARCHIVE=$OUT/os-archive
export GNUPGHOME=$OUT/gnupg
WORK=$(mktemp -d "${TMPDIR:-/tmp}/make_nvidia_repo.XXXXXX")
cleanup() {
  gpgconf --kill all 2>/dev/null || true
  rm -rf -- "$WORK"
}
trap cleanup EXIT

# -- the compatibility facts the packages carry (FACTS.md) --------------------------------------
driver_version() { # branch -> the driver version of its packages
  case $1 in 460) echo 460.106.00 ;; 470) echo 470.256.02 ;; 535) echo 535.274.02 ;; 580) echo 580.95.05 ;;
    590) echo 590.48.01 ;; 595) echo 595.84 ;; *) echo "$0: no driver branch $1" >&2; exit 2 ;; esac
}
driver_cuda() { # branch -> the CUDA version nvidia-smi reports
  case $1 in 460) echo 11.2 ;; 470) echo 11.4 ;; 535) echo 12.2 ;; 580) echo 13.0 ;; 590) echo 13.1 ;; 595) echo 13.2 ;; esac
}
toolkit_version() { # 12-6 -> 12.6.3 (the package version without -1)
  case $1 in 10-0) echo 10.0.130 ;; 11-8) echo 11.8.0 ;; 12-6) echo 12.6.3 ;; 12-8) echo 12.8.1 ;; 13-0) echo 13.0.2 ;;
    13-1) echo 13.1.1 ;; 13-2) echo 13.2.1 ;; 13-3) echo 13.3.0 ;; *) echo "$0: no toolkit $1" >&2; exit 2 ;; esac
}
compiler_version() { # what nvcc --version says after "V"
  case $1 in 10-0) echo 10.0.130 ;; 11-8) echo 11.8.89 ;; 12-6) echo 12.6.85 ;; 12-8) echo 12.8.93 ;; 13-0) echo 13.0.88 ;;
    13-1) echo 13.1.80 ;; 13-2) echo 13.2.78 ;; 13-3) echo 13.3.60 ;; esac
}
minimum_driver() { # the driver a CUDA release needs (minor-version compatibility)
  case ${1%%-*} in 10) echo 410.48 ;; 11) echo 450.80.02 ;; 12) echo 525.60.13 ;; 13) echo 580 ;; esac
}

# -- packages ---------------------------------------------------------------------------------
# pkg_begin NAME VERSION ARCH DESCRIPTION [FIELD: VALUE]...: starts a package in $PKG.
pkg_begin() {
  local name=$1 version=$2 arch=$3 description=$4
  shift 4
  PKG=$WORK/pkg/$name
  PKG_DEB=${name}_${version}_${arch}.deb
  rm -rf -- "$PKG"
  mkdir -p -- "$PKG/DEBIAN"
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: %s\n' "$name" "$version" "$arch"
    printf 'Maintainer: cs231n-agent tests <tests@cs231n-agent.invalid>\nSection: misc\nPriority: optional\n'
    local field
    for field in "$@"; do printf '%s\n' "$field"; done
    printf 'Description: test stand-in: %s\n This package exists only in the cs231n-agent tests; every file in it is a stand-in.\n' "$description"
  } >"$PKG/DEBIAN/control"
}
# pkg_file PATH MODE: the file's content from stdin.
pkg_file() {
  mkdir -p -- "$PKG$(dirname -- "$1")"
  cat >"$PKG$1"
  chmod "$2" -- "$PKG$1"
}
# pkg_template PATH MODE TEMPLATE KEY=VALUE...: a stand-in from tests/fixtures/standin-nvidia.
pkg_template() {
  local path=$1 mode=$2 template=$3 text pair
  shift 3
  text=$(<"$STANDIN/$template")
  for pair in "$@"; do text=${text//"@${pair%%=*}@"/"${pair#*=}"}; done
  if [[ $text =~ @[A-Z_]+@ ]]; then echo "$0: placeholder ${BASH_REMATCH[0]} left in $template" >&2; exit 1; fi
  printf '%s\n' "$text" | pkg_file "$path" "$mode"
}
# pkg_script NAME: a maintainer script from stdin, logging every call to /var/log/nvidia-standin.log.
pkg_script() {
  local package
  package=$(sed -n 's/^Package: //p' "$PKG/DEBIAN/control")
  {
    printf '#!/bin/sh\n# cs231n-agent test stand-in: %s of %s\nset -e\n' "$1" "$package"
    # shellcheck disable=SC2016  # expanded by the maintainer script
    printf 'echo "$(date "+%%F %%T") %s %s $*" >>/var/log/nvidia-standin.log\n' "$package" "$1"
    cat
  } >"$PKG/DEBIAN/$1"
  chmod 0755 -- "$PKG/DEBIAN/$1"
}
pkg_build() { # DEST_DIR
  mkdir -p -- "$1"
  dpkg-deb --root-owner-group -Zgzip --build "$PKG" "$1/$PKG_DEB" >/dev/null
}

# payload_depends PARENT: "Depends: NAME, ..." of the payload packages PARENT needs, or nothing.
payload_depends() {
  [[ -n $PAYLOADS ]] || return 0
  local names
  names=$(awk -v parent="$1" '{ sub(/#.*/, "") } NF >= 3 { for (i = 3; i <= NF; i++) if ($i == parent) print $1 }' "$PAYLOADS" |
    paste -sd, - | sed 's/,/, /g')
  [[ -z $names ]] || printf 'Depends: %s' "$names"
}

build_payload_packages() {
  [[ -n $PAYLOADS ]] || return 0
  local name bytes
  while read -r name bytes _; do
    [[ -n $name && $name != \#* ]] || continue
    [[ $bytes =~ ^[0-9]+$ ]] || { echo "$0: NVIDIA_REPO_PAYLOADS: not NAME BYTES PARENT...: $name $bytes" >&2; exit 2; }
    pkg_begin "$name" 1.0-1 amd64 "$bytes zero bytes: the size of a real package of NVIDIA's repo"
    mkdir -p -- "$PKG/usr/share/nvidia-standin-payload"
    truncate -s "$bytes" -- "$PKG/usr/share/nvidia-standin-payload/$name"
    dpkg-deb --root-owner-group -Znone --build "$PKG" "$NVIDIA_REPO/$PKG_DEB" >/dev/null
    rm -rf -- "$PKG"
    # Zeros take no disk where the file system can punch holes.
    fallocate --dig-holes -- "$NVIDIA_REPO/$PKG_DEB" 2>/dev/null || true
  done <"$PAYLOADS"
}

build_keyring_package() {
  pkg_begin cuda-keyring 1.1-1 all "NVIDIA's CUDA repository keyring, list and pin"
  cat -- "$OUT/cuda-archive-keyring.gpg" | pkg_file /usr/share/keyrings/cuda-archive-keyring.gpg 0644
  printf 'deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] %s/%s/x86_64/ /\n' "$BASE_URL" "$DISTRO" |
    pkg_file "/etc/apt/sources.list.d/cuda-$DISTRO-x86_64.list" 0644
  pkg_file /etc/apt/preferences.d/cuda-repository-pin-600 0644 <<'EOF'
Explanation: cs231n-agent test stand-in for the pin NVIDIA's cuda-keyring installs
Package: nsight-compute
Pin: origin *ubuntu.com*
Pin-Priority: -1

Package: nsight-systems
Pin: origin *ubuntu.com*
Pin-Priority: -1

Package: *
Pin: release l=NVIDIA CUDA
Pin-Priority: 600
EOF
  printf '/etc/apt/preferences.d/cuda-repository-pin-600\n/etc/apt/sources.list.d/cuda-%s-x86_64.list\n' "$DISTRO" >"$PKG/DEBIAN/conffiles"
  pkg_build "$NVIDIA_REPO"
}

build_driver_package() { # NAME BRANCH FLAVOUR(proprietary|open)
  local name=$1 branch=$2 flavour=$3 version cuda kind=nvidia
  version=$(driver_version "$branch")
  cuda=$(driver_cuda "$branch")
  [[ $flavour == open ]] && kind=nvidia-open
  local fields=("Provides: nvidia-driver-standin" "Conflicts: nvidia-driver-standin" "Replaces: nvidia-driver-standin")
  local depends
  depends=$(payload_depends "$name")
  [[ -z $depends ]] || fields+=("$depends")
  pkg_begin "$name" "$version-1" amd64 "NVIDIA driver $version (branch $branch, DKMS-built $flavour modules)" "${fields[@]}"
  pkg_template /usr/bin/nvidia-smi 0755 nvidia-smi "DRIVER_VERSION=$version" "CUDA_VERSION=$cuda"
  pkg_template /usr/sbin/dkms 0755 dkms "VERSION=$version" "KIND=$kind"
  pkg_file "/usr/src/nvidia-$version/dkms.conf" 0644 <<EOF
# cs231n-agent test stand-in: the "DKMS source" of the nvidia module (there is no source here)
PACKAGE_NAME="nvidia"
PACKAGE_VERSION="$version"
BUILT_MODULE_NAME[0]="nvidia"
DEST_MODULE_LOCATION[0]="/updates/dkms"
AUTOINSTALL="yes"
EOF
  pkg_file /etc/kernel/header_postinst.d/nvidia-standin-dkms 0755 <<'EOF'
#!/bin/sh
# cs231n-agent test stand-in for DKMS's kernel-headers hook: the headers of kernel $1 were just
# installed, so the stand-in nvidia module is built for it.
[ -n "${1:-}" ] || exit 0
echo "$(date "+%F %T") header_postinst.d/nvidia-standin-dkms $1" >>/var/log/nvidia-standin.log
exec /usr/sbin/dkms autoinstall -k "$1"
EOF
  # Like nvidia-dkms: build for every kernel with headers; the running kernel last, so that its
  # "skipped" notice (DKMS exits 0 there) is the last thing apt shows.
  pkg_script postinst <<'EOF'
if [ "$1" = configure ]; then
  running=$(cat /proc/sys/kernel/osrelease)
  for build in /lib/modules/*/build; do
    [ -e "$build/Makefile" ] || continue
    release=${build#/lib/modules/}
    release=${release%/build}
    [ "$release" = "$running" ] || /usr/sbin/dkms autoinstall -k "$release"
  done
  /usr/sbin/dkms autoinstall -k "$running"
fi
EOF
  pkg_script prerm <<EOF
case "\$1" in remove | upgrade | deconfigure) /usr/sbin/dkms remove nvidia/$version --all ;; esac
EOF
  pkg_build "$NVIDIA_REPO"
}

build_toolkit_packages() { # X-Y
  local toolkit=$1 version release priority
  version=$(toolkit_version "$toolkit")
  release=${toolkit/-/.}
  priority=${toolkit/-/}
  local depends
  depends=$(payload_depends "cuda-toolkit-$toolkit")
  pkg_begin "cuda-toolkit-$toolkit" "$version-1" amd64 "CUDA Toolkit $release (no driver)" ${depends:+"$depends"}
  pkg_template "/usr/local/cuda-$release/bin/nvcc" 0755 nvcc "RELEASE=$release" "COMPILER_VERSION=$(compiler_version "$toolkit")"
  printf 'cs231n-agent test stand-in for the CUDA %s runtime library\n' "$version" |
    pkg_file "/usr/local/cuda-$release/lib64/libcudart.so.$release.stand-in" 0644
  if [[ $toolkit == 10-* ]]; then
    printf 'CUDA Version %s\n' "$version" | pkg_file "/usr/local/cuda-$release/version.txt" 0644
  else
    printf '{\n   "cuda" : {\n      "name" : "CUDA SDK",\n      "version" : "%s"\n   }\n}\n' "$version" |
      pkg_file "/usr/local/cuda-$release/version.json" 0644
  fi
  pkg_script postinst <<EOF
if [ "\$1" = configure ]; then
  update-alternatives --install /usr/local/cuda cuda /usr/local/cuda-$release $priority
  update-alternatives --install /usr/local/cuda-${release%%.*} cuda-${release%%.*} /usr/local/cuda-$release $priority
fi
EOF
  pkg_script prerm <<EOF
if [ "\$1" = remove ] || [ "\$1" = deconfigure ]; then
  update-alternatives --remove cuda /usr/local/cuda-$release
  update-alternatives --remove cuda-${release%%.*} /usr/local/cuda-$release
fi
EOF
  pkg_build "$NVIDIA_REPO"

  pkg_begin "cuda-$toolkit" "$version-1" amd64 "CUDA $release with the newest driver (NVIDIA's cuda-X-Y metapackage)" \
    "Depends: cuda-toolkit-$toolkit (>= $version), cuda-drivers (>= $(minimum_driver "$toolkit"))"
  pkg_build "$NVIDIA_REPO"
}

build_os_packages() {
  local release branch version
  for release in "${KERNEL_RELEASES[@]}"; do
    pkg_begin "linux-headers-$release" 1.0-1 amd64 "headers of kernel $release"
    printf '# cs231n-agent test stand-in: the headers of kernel %s (nothing to build with)\n' "$release" |
      pkg_file "/usr/src/linux-headers-$release/Makefile" 0644
    mkdir -p -- "$PKG/lib/modules/$release"
    ln -s "/usr/src/linux-headers-$release" "$PKG/lib/modules/$release/build"
    # What Debian's and Ubuntu's linux-headers postinst does: run the hooks (DKMS's among them).
    pkg_script postinst <<EOF
if [ "\$1" = configure ] && [ -d /etc/kernel/header_postinst.d ]; then
  DEB_MAINT_PARAMS="\$*" run-parts --report --exit-on-error --arg=$release --arg=/boot/vmlinuz-$release /etc/kernel/header_postinst.d
fi
EOF
    pkg_build "$OS_ARCHIVE"
  done
  branch=580
  version=$(driver_version "$branch")
  local flavour last=${KERNEL_RELEASES[-1]}
  for flavour in "${SIGNED_FLAVOURS[@]}"; do
    flavour=${flavour#server}  # "" or -open
    for release in "${KERNEL_RELEASES[@]}"; do
      pkg_begin "linux-modules-nvidia-$branch-server$flavour-$release" "$version-0ubuntu1" amd64 \
        "Canonical-signed NVIDIA $branch server$flavour modules for kernel $release"
      printf 'signed nvidia %s %s\n' "$version" "$release" |
        pkg_file "/lib/modules/$release/kernel/nvidia-${branch}srv$flavour/nvidia.ko" 0644
      pkg_build "$OS_ARCHIVE"
    done
    pkg_begin "linux-modules-nvidia-$branch-server$flavour-gcp" "$version-0ubuntu1" amd64 \
      "Extra drivers for nvidia-$branch-server$flavour for the gcp flavour" \
      "Depends: linux-modules-nvidia-$branch-server$flavour-$last"
    pkg_build "$OS_ARCHIVE"
  done
  # The GCP kernel flavour's meta package (in Ubuntu it depends on the newest linux-image-*-gcp).
  pkg_begin linux-gcp "$last" amd64 "the newest GCP kernel ($last)"
  pkg_build "$OS_ARCHIVE"
  pkg_begin linux-modules-nvidia-535-server-gcp "$version-0ubuntu1" amd64 \
    "Extra drivers for nvidia-535-server for the gcp flavour (dummy transitional package)" \
    "Depends: linux-modules-nvidia-$branch-server-gcp"
  pkg_build "$OS_ARCHIVE"

  pkg_begin "nvidia-utils-$branch-server" "$version-0ubuntu1" amd64 "NVIDIA $branch server utilities (nvidia-smi)" \
    "Provides: nvidia-driver-standin" "Conflicts: nvidia-driver-standin" "Replaces: nvidia-driver-standin"
  pkg_template /usr/bin/nvidia-smi 0755 nvidia-smi "DRIVER_VERSION=$version" "CUDA_VERSION=$(driver_cuda "$branch")"
  pkg_build "$OS_ARCHIVE"
}

# -- repositories -------------------------------------------------------------------------------
# ensure_key NAME USER-ID: the fingerprint of the key NAME, made once per OUT_DIR.
ensure_key() {
  local uid="cs231n-agent test key: $2 <$1@cs231n-agent.invalid>" fingerprint
  fingerprint=$(gpg --batch --with-colons --list-secret-keys "=$uid" 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')
  if [[ -z $fingerprint ]]; then
    gpg --batch --quiet --pinentry-mode loopback --passphrase '' --quick-gen-key "$uid" ed25519 sign never 2>/dev/null
    fingerprint=$(gpg --batch --with-colons --list-secret-keys "=$uid" 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')
  fi
  [[ -n $fingerprint ]] || { echo "$0: could not make the key $1" >&2; exit 1; }
  printf '%s\n' "$fingerprint"
}

# index_repo DIR ORIGIN LABEL [KEY]: Packages, Packages.gz, Release, and with KEY InRelease and
# Release.gpg, as a flat repository ("deb URL /") has them.
index_repo() {
  local dir=$1 origin=$2 label=$3 key=${4:-} file
  (
    cd -- "$dir"
    rm -f Packages Packages.gz Release InRelease Release.gpg
    dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null
    gzip -9n <Packages >Packages.gz
    {
      printf 'Origin: %s\nLabel: %s\nArchitecture: x86_64\nDate: %s\n' "$origin" "$label" "$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
      printf 'Description: cs231n-agent test stand-in repository\n'
      printf 'MD5Sum:\n'
      for file in Packages Packages.gz; do printf ' %s %8d %s\n' "$(md5sum <"$file" | cut -d' ' -f1)" "$(stat -c %s "$file")" "$file"; done
      printf 'SHA256:\n'
      for file in Packages Packages.gz; do printf ' %s %8d %s\n' "$(sha256sum <"$file" | cut -d' ' -f1)" "$(stat -c %s "$file")" "$file"; done
    } >Release
    if [[ -n $key ]]; then
      gpg --batch --yes --quiet --local-user "$key" --digest-algo SHA256 --clearsign -o InRelease Release
      gpg --batch --yes --quiet --local-user "$key" --digest-algo SHA256 --armor --detach-sign -o Release.gpg Release
    fi
  )
}

mkdir -p -- "$OUT" "$GNUPGHOME"
chmod 0700 -- "$GNUPGHOME"
NVIDIA_KEY=$(ensure_key nvidia-repo "stand-in for NVIDIA's CUDA repository key")
OS_KEY=$(ensure_key os-archive "stand-in for the OS archive's key")
ROGUE_KEY=$(ensure_key rogue "a key cuda-keyring does not hold")
sign_nvidia_repo() {
  case $BROKEN in
    "") index_repo "$NVIDIA_REPO" NVIDIA "NVIDIA CUDA" "$NVIDIA_KEY" ;;
    badsig) index_repo "$NVIDIA_REPO" NVIDIA "NVIDIA CUDA" "$ROGUE_KEY" ;;
    unsigned) index_repo "$NVIDIA_REPO" NVIDIA "NVIDIA CUDA" ;;
  esac
}
if [[ $SIGN_ONLY == yes ]]; then
  [[ -f $NVIDIA_REPO/Packages ]] || { echo "$0: --sign-only: no repository at $NVIDIA_REPO" >&2; exit 1; }
  sign_nvidia_repo
  exit 0
fi
gpg --batch --export "$NVIDIA_KEY" >"$OUT/cuda-archive-keyring.gpg"
gpg --batch --export "$OS_KEY" >"$OUT/os-archive.gpg"

rm -rf -- "$NVIDIA_REPO" "$OS_ARCHIVE"
mkdir -p -- "$NVIDIA_REPO" "$OS_ARCHIVE"
build_keyring_package
build_payload_packages
for branch in $BRANCHES; do build_driver_package "cuda-drivers-$branch" "$branch" proprietary; done
for branch in $OPEN; do build_driver_package "nvidia-open-$branch" "$branch" open; done
if [[ -n $LATEST ]]; then
  build_driver_package cuda-drivers "$LATEST" proprietary
  # The open flavour's meta is R560's convention: older frozen repos have only cuda-drivers.
  ((LATEST < 560)) || build_driver_package nvidia-open "$LATEST" open
fi
for toolkit in "${TOOLKITS[@]}"; do build_toolkit_packages "$toolkit"; done
build_os_packages

sign_nvidia_repo
index_repo "$OS_ARCHIVE" cs231n-test-os-archive cs231n-test-os-archive "$OS_KEY"
printf 'deb [signed-by=/usr/share/keyrings/cs231n-test-os-archive.gpg] %s/os-archive/ /\n' "$HOST_URL" >"$OUT/os-archive.list"
