#!/usr/bin/env bash
# Time to ready and time to done of a whole run: the real static binary runs every step of the
# current profile in a Debian 12 chroot overlay (tests/e2e/chroot.sh; real apt and dpkg, a real
# Python 3.11 whose pip is Debian's 26.x: pip >= 25.3 resolves from metadata alone) on a fake T4
# (tests/e2e/gpu.sh), against a private nginx that serves what a run downloads at its real size
# and count (zero-filled payloads: tests/support/make_wheel_index.py, make_nvidia_repo.sh,
# make_standin_conda.py, scripts/bench/ready_fixtures.py). nginx caps each connection
# (LIMIT_RATE: a CDN serves one connection at tens of MB/s), and the whole run shares one link
# (LINK_MBIT): nginx and the chroot live in a network namespace of their own whose loopback has a
# tc tbf qdisc, so every byte of the run crosses that one shaped link.
#   (a) the agent: downloads.accelerate_pip_apt true (the agent fetches pip's wheels and apt's .debs)
#   (b) the same run with pip and apt downloading by themselves (accelerate_pip_apt false)
#   (c) the floor: the bytes the run needs / the link's capacity
# Prints, side by side, time to ready (the state file's run.ready) and time to done (its last
# update, at done), each from run.started, with the ratios. Goals: (a)'s time to done <= 1.3 x the
# floor, and (a)'s time to ready at most 0.75 x its time to done. Exits 1 when a goal is missed.
#
#   scripts/bench/ready.sh [PATH-TO-cs231n-agent]          (default: build/cs231n-agent; needs root)
#   SCALE=0.1 scripts/bench/ready.sh                         every payload x 0.1: a quick run
#   LIMIT_RATE=50m LINK_MBIT=2000 scripts/bench/ready.sh     nginx's limit_rate, the link in Mbit/s
#   BENCH_KEEP=1 scripts/bench/ready.sh                      keeps the state files, step logs, nginx's log
# Installs nginx (nginx-light) and dpkg-dev/gpg on the host when missing, like fetch.sh. Needs the
# Debian archive once for the chroot tree and Debian's python3-pip-whl (its .debs are reused from
# tests/e2e/test_pip_downloads.sh's cache when there); the timed runs reach nothing but the
# namespace's loopback. Leaves nothing behind (the namespace, nginx, the overlays, the fixtures).
#
# Sizes (what a real run downloads; MB = 10^6 bytes). VERIFIED: read in the source named;
# ESTIMATE: not found in a public listing, derived as said (docs/sources/downloads-and-bandwidth.md).
set -euo pipefail
top=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib.sh
source "$top/scripts/lib.sh"

agent=$(realpath -- "${1:-$top/build/cs231n-agent}")
scale=${SCALE:-1}
limit_rate=${LIMIT_RATE:-50m}
link_mbit=${LINK_MBIT:-2000}
[[ -x $agent ]] || die "usage: $0 [PATH-TO-cs231n-agent] (no executable at $agent)"
[[ $(id -u) == 0 ]] || die "$0 needs root (network namespace, overlay mounts, chroot)"
[[ $scale =~ ^(0?\.[0-9]*[1-9][0-9]*|[1-9][0-9]*(\.[0-9]+)?)$ ]] || die "SCALE must be a positive number, like 0.1 or 1"
[[ $limit_rate =~ ^[1-9][0-9]*[km]?$ ]] || die "LIMIT_RATE must look like 50m (nginx's limit_rate)"
[[ $link_mbit =~ ^[1-9][0-9]*$ ]] || die "LINK_MBIT must be a positive integer (Mbit/s)"

# -- what a run downloads -------------------------------------------------------------------------
# torch 2.9.1 from PyPI (its default build is CUDA 12.8) and the 16 wheels it names for Linux
# x86_64: names, versions and sizes VERIFIED in one pip log of `pip install torch==2.9.1` on Cloud
# Build (pip's "Downloading FILE (SIZE)" lines: torch 899.8 MB, nvidia_cublas_cu12-12.8.4.1 594.3 MB,
# ...), the same sizes PyPI lists (pypi.org/project/nvidia-cudnn-cu12: the 9.x wheels are
# 650-710 MB); a cu13x build is alike (pypi.org/project/nvidia-cublas/13.4.2.4: 404.9 MB).
TORCH_BYTES=899800000
TORCH_DEPS='
nvidia-cublas-cu12       12.8.4.1   594300000
nvidia-cudnn-cu12        9.10.2.21  706800000
nvidia-nccl-cu12         2.27.5     322300000
nvidia-cusparse-cu12     12.5.8.93  288200000
nvidia-cusparselt-cu12   0.7.1      287200000
nvidia-cusolver-cu12     11.7.3.90  267500000
nvidia-cufft-cu12        11.3.3.83  193100000
nvidia-nvshmem-cu12      3.3.20     124700000
nvidia-cuda-nvrtc-cu12   12.8.93     88000000
nvidia-curand-cu12       10.3.9.90   63600000
nvidia-nvjitlink-cu12    12.8.93     39300000
nvidia-cuda-cupti-cu12   12.8.90     10200000
nvidia-cufile-cu12       1.13.1.3     1200000
nvidia-cuda-runtime-cu12 12.8.90       954800
nvidia-nvtx-cu12         12.8.90        90000
triton                   3.5.1      170300000
'
# NVIDIA's repo: cuda-toolkit-12-8's closure, the packages apt installs with it. Names VERIFIED in
# NVIDIA/nvidia-container-toolkit#883 (`apt-get install cuda-toolkit-12-8`: 53 packages besides it;
# libcudla* there are Jetson's, and x86_64 has cuda-opencl* instead: anaconda.org's
# cuda-libraries-dev 12.8.1 for linux-64 depends on cuda-opencl-dev, its aarch64 build does not).
# Sizes: VERIFIED for the same libraries elsewhere where marked (v), else ESTIMATE; the sum, ~4 GB,
# is the "3-4 GB of .debs" issue 17 names. Each is a package of that many zero bytes that
# cuda-toolkit-12-8 depends on (make_nvidia_repo.sh NVIDIA_REPO_PAYLOADS).
TOOLKIT_DEBS='
libcublas-12-8             560000000  # (v) anaconda.org main libcublas-12.8.4.1 linux-64: 560,018,281 B
libcublas-dev-12-8         430000000  # (v) packages.ubuntu.com libcublas-dev-13-2 amd64: 430,408 kB
nsight-compute-2025.1.0    698000000  # (v) anaconda.org main nsight-compute-2024.1.1.4 linux-64: 697,865,176 B
nsight-systems-2025.1.1    300000000
libcusparse-12-8           288000000  # (v) the same library as a wheel (12.5.8.93: 288.2 MB)
libcusparse-dev-12-8       200000000
libcusolver-12-8           268000000  # (v) wheel 11.7.3.90: 267.5 MB
libcusolver-dev-12-8       100000000
libcufft-12-8              193000000  # (v) wheel 11.3.3.83: 193.1 MB
libcufft-dev-12-8          150000000
libnpp-12-8                120000000
libnpp-dev-12-8            120000000
cuda-nvrtc-12-8             88000000  # (v) wheel 12.8.93: 88.0 MB
cuda-nvrtc-dev-12-8         80000000
libcurand-12-8              64000000  # (v) wheel 10.3.9.90: 63.6 MB
libcurand-dev-12-8          64000000
cuda-nvcc-12-8              60000000
cuda-nvdisasm-12-8          50000000
gds-tools-12-8              40000000
libnvjitlink-12-8           39000000  # (v) wheel 12.8.93: 39.3 MB
libnvjitlink-dev-12-8       30000000
cuda-nvvm-12-8              30000000
cuda-gdb-12-8               30000000
cuda-cupti-12-8             10000000  # (v) wheel 12.8.90: 10.2 MB
cuda-sanitizer-12-8         10000000
libnvjpeg-12-8               5000000
libnvjpeg-dev-12-8           5000000
cuda-cupti-dev-12-8          3000000
libcufile-dev-12-8           2000000
cuda-cccl-12-8               1500000
libcufile-12-8               1000000
libnvfatbin-12-8             1000000
libnvfatbin-dev-12-8         1000000
cuda-crt-12-8                1000000
cuda-cudart-dev-12-8         1000000
cuda-cuobjdump-12-8           500000
cuda-cudart-12-8              200000
cuda-cuxxfilt-12-8            200000
cuda-nvml-dev-12-8            200000
cuda-nvprune-12-8             100000
cuda-driver-dev-12-8          100000
cuda-nvtx-12-8                100000
cuda-opencl-dev-12-8          100000
cuda-documentation-12-8        50000
cuda-profiler-api-12-8         20000
cuda-opencl-12-8               20000
cuda-command-line-tools-12-8    3000
cuda-compiler-12-8              3000
cuda-libraries-12-8             3000
cuda-libraries-dev-12-8         3000
cuda-nsight-compute-12-8        3000
cuda-nsight-systems-12-8        3000
cuda-tools-12-8                 3000
cuda-visual-tools-12-8          3000
cuda-toolkit-12-8-config-common 3000
'
# The driver's closure (cuda-drivers-580 / nvidia-open-580 on Debian 12): ESTIMATE, ~400 MB in
# ~20 packages (firmware-nvidia-gsp, the DKMS source, libcuda1, the GL and compute libraries).
DRIVER_DEBS='
firmware-nvidia-gsp-580       72000000
nvidia-kernel-dkms-580        60000000
libcuda1-580                  60000000
libnvidia-gl-580              60000000
libnvidia-rtcore-580          40000000
libnvidia-nvvm4-580           30000000
libnvidia-ptxjitcompiler1-580 25000000
libnvidia-eglcore-580         20000000
libnvidia-glcore-580          15000000
nvidia-driver-libs-580        10000000
nvidia-smi-580                 2000000
nvidia-persistenced-580         200000
'
# The env's conda packages (conda_env.packages of the current profile, Python 3.11 to match the
# chroot's Python): ESTIMATE, ~250 MB in ~120 packages from conda-forge (python 31 MB, the Qt
# that matplotlib pulls 50 MB, scipy 17 MB, numpy 8 MB, ...), installed by the stand-in conda from
# an @EXPLICIT list (one download at a time; conda fetches a few at once).
CONDA_PACKAGES='
python-3.11.14-hd63d673_2_cpython.conda    31000000
qt6-main-6.9.2-h3fc9a0a_0.conda            50000000
pyside6-6.9.2-py311h0a5e1c5_0.conda        11000000
scipy-1.16.2-py311h1e13796_0.conda         17000000
libopenblas-0.3.30-pthreads_h94d23a6_2.conda 5900000
numpy-2.3.3-py311h2e04523_0.conda           8400000
matplotlib-base-3.10.6-py311h0f3be63_1.conda 8000000
jupyterlab-4.4.9-pyhd8ed1ab_0.conda         8000000
notebook-7.4.7-pyhd8ed1ab_0.conda           9000000
libllvm21-21.1.2-hf7376ad_0.conda          43000000
libstdcxx-15.2.0-h8f9b012_7.conda           3900000
hdf5-1.14.6-nompi_h6e4c0c1_103.conda        3900000
cython-3.1.4-py311h4f64b35_2.conda          3700000
openssl-3.5.4-h26f9b46_0.conda              3100000
libgfortran5-15.2.0-hcd61629_7.conda        1600000
h5py-3.14.0-nompi_py311h0b2f468_101.conda   1300000
pillow-11.3.0-py311h98278a2_3.conda         1000000
setuptools-80.9.0-pyhff2d567_0.conda         750000
imageio-2.37.0-pyhfb79c49_0.conda            300000
'
CONDA_SMALL_PACKAGES=100 CONDA_SMALL_BYTES=350000  # the rest: ipython, tornado, zeromq, fonts, ...
# The installer: Miniforge3-26.7.2-0-Linux-x86_64.sh, ESTIMATE 90 MB (Miniforge3 Linux x86_64
# installers are 80-100 MB). The datasets of the current profile: CIFAR-10, VERIFIED 170,498,071 B
# (the agent's own table, agent/config/schema.cpp), in both assignments; COCO captions ESTIMATE
# 1 GB (its features in float32: 82,783 x 4,096 for train2014 alone is 1.36 GB before zip).
INSTALLER_BYTES=90000000 CIFAR_BYTES=170498071 COCO_BYTES=1000000000

# -- the machinery --------------------------------------------------------------------------------
nginx_package=nginx-light
apt-cache show nginx-light >/dev/null 2>&1 || nginx_package=nginx
command -v nginx >/dev/null || ensure_packages "$nginx_package"
ensure_packages dpkg-dev gpg iproute2
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
PYTHON3=$(command -v python3) || die "$0 needs python3"

# shellcheck disable=SC2034  # chroot.sh's and gpu.sh's
{
  CHROOT_SUITE=bookworm CHROOT_INCLUDE=python3-venv
  SOURCE_DIR=$top
  TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cs231n-bench-ready.XXXXXX")
}
tmp=$TEST_TMP
# shellcheck source=tests/e2e/chroot.sh
source "$top/tests/e2e/chroot.sh"
# shellcheck source=tests/e2e/gpu.sh
source "$top/tests/e2e/gpu.sh"
chmod 755 "$tmp"  # nginx's workers run as www-data
netns=cs231n-bench-$$
port=8231
base=http://127.0.0.1:$port
www=$tmp/www
# shellcheck disable=SC2317  # run by chroot.sh's EXIT trap
stop_bench() {
  if [[ -s $tmp/nginx.pid ]]; then kill "$(cat -- "$tmp/nginx.pid")" 2>/dev/null || true; fi
  ip netns del "$netns" 2>/dev/null || true
}
CHROOT_EXIT_HOOKS+=(stop_bench)
if [[ ${BENCH_KEEP:-0} == 1 ]]; then
  CHROOT_REMOVE_ON_EXIT=()
  # shellcheck disable=SC2317  # run by chroot.sh's EXIT trap
  keep_note() { log "kept $tmp (states, outputs, logs; delete it when done)"; }
  CHROOT_EXIT_HOOKS+=(keep_note)
fi
trap chroot_on_exit EXIT
trap 'exit 130' INT TERM HUP
mkdir -p -- "$www" "$tmp/logs"
chmod 755 "$www"

# scaled BYTES: BYTES x SCALE, at least 1.
scaled() { awk -v bytes="$1" -v scale="$scale" 'BEGIN { v = int(bytes * scale); print (v < 1) ? 1 : v }'; }
# scale_column TABLE COLUMN: the table with that column (counted from 1, comments left alone) scaled.
scale_column() {
  awk -v column="$2" -v scale="$scale" '{ sub(/#.*/, "") } NF { v = int($column * scale); $column = (v < 1) ? 1 : v; print }' <<<"$1"
}
sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

log "fixtures at SCALE=$scale: the wheel index"
scale_column "$TORCH_DEPS" 3 >"$tmp/torch-deps.txt"
# torchvision 0.24.1 is the release built for torch 2.9.1 (pytorch/vision README's compatibility
# table: 0.24 with 2.9); the current profile installs it beside torch.
"$PYTHON3" "$top/tests/support/make_wheel_index.py" "$www" --torch 2.9.1+cu128 --python 3.11 \
  --torch-size "$(scaled "$TORCH_BYTES")" --deps "$tmp/torch-deps.txt" --torchvision 0.24.1 >"$tmp/wheels.tsv" 2>&1 ||
  die "make_wheel_index.py: $(tail -n 5 -- "$tmp/wheels.tsv")"

log "fixtures: NVIDIA's repo (cuda-toolkit-12-8 and the driver at their sizes) and the OS archive"
kernel=6.1.0-cs231n-1-cloud-amd64
{
  scale_column "$TOOLKIT_DEBS" 2 | sed 's/$/ cuda-toolkit-12-8/'
  scale_column "$DRIVER_DEBS" 2 | sed 's/$/ cuda-drivers-580 nvidia-open-580/'
} >"$tmp/payloads.txt"
NVIDIA_REPO_PAYLOADS=$tmp/payloads.txt NVIDIA_REPO_TOOLKITS=12-8 \
  bash "$top/tests/support/make_nvidia_repo.sh" "$www" "$base/compute/cuda/repos" debian12 "$kernel" \
  >"$tmp/logs/make_nvidia_repo.log" 2>&1 || die "make_nvidia_repo.sh: $(tail -n 5 -- "$tmp/logs/make_nvidia_repo.log")"
keyring_sha256=$(sha256_of "$www/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb")

log "fixtures: the installer, the env's packages, the assignments, the datasets"
# pip >= 25.3 for the env (Debian 12's own is 23.0.1): Debian's python3-pip-whl from sid, as
# tests/e2e/test_pip_downloads.sh gets it (its cached .deb reused, never written to).
pip_deb=$(find "$CHROOT_CACHE/debs-pip-downloads" -maxdepth 1 -name 'python3-pip-whl_*_all.deb' -print -quit 2>/dev/null || true)
if [[ -z $pip_deb ]]; then
  sid=$tmp/sid-apt
  mkdir -p -- "$sid/lists/partial" "$sid/cache/archives/partial"
  echo "deb http://deb.debian.org/debian sid main" >"$sid/sources.list"
  sid_options=(-o "Dir::Etc::SourceList=$sid/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$sid/lists"
    -o "Dir::Cache=$sid/cache" -o Dir::State::status=/dev/null -o Acquire::Languages=none -o APT::Sandbox::User=root)
  { apt-get "${sid_options[@]}" update -qq && (cd -- "$sid" && apt-get "${sid_options[@]}" download python3-pip-whl); } \
    >"$tmp/logs/sid-apt.log" 2>&1 || die "apt-get download python3-pip-whl from Debian sid: $(tail -n 3 -- "$tmp/logs/sid-apt.log")"
  pip_deb=$(find "$sid" -maxdepth 1 -name 'python3-pip-whl_*_all.deb' -print -quit)
fi
dpkg-deb -x "$pip_deb" "$tmp/pip-whl"
pip_wheel=$(find "$tmp/pip-whl/usr/share/python-wheels" -name 'pip-*.whl' -print -quit)
[[ -f $pip_wheel ]] || die "no pip wheel in $pip_deb"
installer=Miniforge3-26.7.2-0-Linux-x86_64.sh
ledger=/var/log/standin-conda/calls.log
mkdir -p -- "$www/installers"
"$PYTHON3" "$top/tests/support/make_standin_conda.py" --conda-version 26.7.2 --distribution miniforge --ledger "$ledger" \
  --env-python /usr/bin/python3 --env-pip-wheel "/opt/$(basename -- "$pip_wheel")" \
  --payload-bytes "$(scaled "$INSTALLER_BYTES")" -o "$www/installers/$installer"
{
  scale_column "$CONDA_PACKAGES" 2
  for number in $(seq "$CONDA_SMALL_PACKAGES"); do
    printf 'standin-package-%03d-1.0-h0_0.conda %s\n' "$number" "$(scaled "$CONDA_SMALL_BYTES")"
  done
} >"$tmp/conda-packages.txt"
"$PYTHON3" "$top/scripts/bench/ready_fixtures.py" conda "$www/conda" "$base/conda" "$tmp/conda-packages.txt" >"$tmp/conda.tsv"
"$PYTHON3" "$top/scripts/bench/ready_fixtures.py" archives "$www/course" >"$tmp/course.tsv"
"$PYTHON3" "$top/scripts/bench/ready_fixtures.py" datasets "$www/data" "$(scaled "$CIFAR_BYTES")" "$(scaled "$COCO_BYTES")" \
  >"$tmp/datasets.tsv"
# Zeros take no disk where the file system punches holes (nginx reads them as zeros).
find "$www" -type f -size +1M -exec fallocate --dig-holes {} + 2>/dev/null || true
chmod -R a+rX "$www"

# -- the namespace, its one link, nginx -----------------------------------------------------------
# The loopback of a namespace of its own carries every byte of the run (nginx answers on
# 127.0.0.1:$port there, and the chroot's processes are entered into it): its tbf is the link.
# Burst: 10 ms at the link's rate.
ip netns add "$netns"
ip -n "$netns" link set lo up
tc -n "$netns" qdisc add dev lo root tbf rate "${link_mbit}mbit" burst "$((link_mbit * 1250))" latency 100ms
in_netns() { ip netns exec "$netns" "$@"; }
cat >"$tmp/nginx.conf" <<EOF
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log warn;
events { worker_connections 512; }
http {
  log_format bench '\$request_uri \$status \$body_bytes_sent \$msec \$request_time "\$http_user_agent"';
  access_log $tmp/logs/access.log bench;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000;
  server {
    listen 127.0.0.1:$port;
    root $www;
    limit_rate $limit_rate;
  }
}
EOF
in_netns "$nginx_bin" -p "$tmp" -e "$tmp/logs/error.log" -c "$tmp/nginx.conf" ||
  die "nginx did not start: $(cat -- "$tmp/logs/error.log")"
for _ in $(seq 100); do [[ -s $tmp/nginx.pid ]] && break; sleep 0.05; done
in_netns curl -sfo /dev/null "$base/whl/cu128/torch/" || die "nginx does not answer on $base in the namespace"

# The link, measured with the agent's own downloader on the largest wheel (16 connections).
largest=$(sort -t$'\t' -k2,2n "$tmp/wheels.tsv" | tail -n 1 | cut -f1)
check_started=$EPOCHREALTIME
in_netns "$agent" fetch "$base/whl/cu128/${largest//+/%2B}" -o "$tmp/link-check.bin" --connections 16 >/dev/null 2>&1 ||
  die "the link check's download failed"
link_check_s=$(awk -v a="$check_started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
link_check_bytes=$(stat -c %s -- "$tmp/link-check.bin")
rm -f -- "$tmp/link-check.bin"

# -- one run --------------------------------------------------------------------------------------
# Debian's .debs of the base packages: those of test_pip_downloads.sh's cache, copied (the cache is
# only read), and what apt fetches from Debian's archive before the timed part.
mkdir -p -- "$tmp/debs"
cp -n -- "$CHROOT_CACHE"/debs-pip-downloads/*.deb "$tmp/debs/" 2>/dev/null || true
manifest() { grep "^$1 " "$2" | cut -d' ' -f"$3"; }
write_config() { # FILE ACCELERATE
  local cifar_sha cifar_size coco_sha coco_size
  cifar_sha=$(manifest cifar-10-python.tar.gz "$tmp/datasets.tsv" 3) cifar_size=$(manifest cifar-10-python.tar.gz "$tmp/datasets.tsv" 2)
  coco_sha=$(manifest coco_captioning.zip "$tmp/datasets.tsv" 3) coco_size=$(manifest coco_captioning.zip "$tmp/datasets.tsv" 2)
  cat >"$1" <<EOF
{"profile": "current", "user": "student",
 "anaconda": {"installer_url": "$base/installers/$installer", "installer_sha256": "$(sha256_of "$www/installers/$installer")"},
 "conda_env": {"name": "cs231n", "python": "3.11", "explicit_file": "$base/conda/explicit.txt",
               "explicit_sha256": "$(manifest explicit.txt "$tmp/conda.tsv" 3)"},
 "assignments": {"archives": [
   {"name": "assignment1-2026", "url": "$base/course/assignment1.zip", "sha256": "$(manifest assignment1.zip "$tmp/course.tsv" 3)"},
   {"name": "assignment2-2026", "url": "$base/course/assignment2.zip", "sha256": "$(manifest assignment2.zip "$tmp/course.tsv" 3)",
    "into": "assignment2"}]},
 "datasets": {"items": [
   {"name": "cifar-10-assignment1", "url": "$base/data/cifar-10-python.tar.gz", "sha256": "$cifar_sha", "size": $cifar_size,
    "into": "assignment1/cs231n/datasets", "extract": true},
   {"name": "cifar-10-assignment2", "url": "$base/data/cifar-10-python.tar.gz", "sha256": "$cifar_sha", "size": $cifar_size,
    "into": "assignment2/cs231n/datasets", "extract": true},
   {"name": "coco-captioning", "url": "$base/data/coco_captioning.zip", "sha256": "$coco_sha", "size": $coco_size,
    "into": "assignment2/cs231n/datasets", "extract": true}]},
 "gpu": {"cuda": "12.8", "repo_url": "$base/compute/cuda/repos",
         "keyring_sha256": {"debian12/cuda-keyring_1.1-1_all.deb": "$keyring_sha256"}},
 "pytorch": {"version": "2.9.1", "index_url": "$base/whl"},
 "downloads": {"accelerate_pip_apt": $2},
 "reboot": {"command": ["/root/fake-reboot"]}}
EOF
}

# bench NAME ACCELERATE: a fresh overlay, one whole run (booted again after a fake reboot, if the
# run asks for one); appends "NAME ready_s done_s wall_s bytes_sent" to $tmp/results and keeps
# the state file and the access log lines as $tmp/NAME.state.json, $tmp/NAME.access.log.
bench() {
  local name=$1 accelerate=$2 rc=3 boots=0 started
  log "($name) a fresh Debian 12 overlay: the agent, its base packages, a T4, the repos' lists"
  chroot_start "$tmp/$name"
  local R=$CHROOT_ROOT
  chroot_install_agent "$agent"
  chroot_apt_install "$tmp/debs" bzip2 ca-certificates git unzip
  # Nothing but the namespace from here: Debian's archive is not reachable in the timed run.
  rm -f -- "$R/etc/apt/sources.list.d/debian.sources"
  : >"$R/etc/apt/sources.list"
  install -D -m 0644 -- "$pip_wheel" "$R/opt/$(basename -- "$pip_wheel")"
  mkdir -p -- "$R${ledger%/*}"
  : >"$R$ledger"
  chmod 0666 -- "$R$ledger"
  printf '#!/bin/sh\necho reboot >>/root/fake-reboot.calls\n' >"$R/root/fake-reboot"
  chmod 0755 -- "$R/root/fake-reboot"
  gpu_fake_kernel "$kernel"
  gpu_add_pci_gpu 1eb8
  gpu_secure_boot off
  GPU_SERVE=$www gpu_install_repo_lists
  write_config "$R/root/config.json" "$accelerate"
  : >"$tmp/logs/access.log"
  sync
  log "($name) the run (downloads.accelerate_pip_apt $accelerate)"
  started=$EPOCHREALTIME
  while ((rc == 3 && boots < 4)); do
    boots=$((boots + 1))
    ((boots == 1)) || gpu_fake_reboot ""
    set +e
    in_netns bash -c "$(chroot_command_line /root/cs231n-agent run --yes --config /root/config.json)" \
      >>"$tmp/$name.out" 2>>"$tmp/$name.err" </dev/null
    rc=$?
    set -e
  done
  local wall
  wall=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  cp -- "$R/var/lib/cs231n-agent/state.json" "$tmp/$name.state.json" 2>/dev/null || true
  cp -r -- "$R/var/lib/cs231n-agent/logs" "$tmp/$name.logs" 2>/dev/null || true
  cp -- "$tmp/logs/access.log" "$tmp/$name.access.log"
  ((rc == 0)) || die "($name) the run ended with exit $rc after $boots boot(s): $(tail -n 15 -- "$tmp/$name.err" "$tmp/$name.out")"
  "$PYTHON3" - "$tmp/$name.state.json" "$tmp/$name.access.log" "$name" "$wall" "$boots" >>"$tmp/results" <<'PY'
import datetime, json, sys
state_path, log_path, name, wall, boots = sys.argv[1:6]
run = json.load(open(state_path))["run"]
def at(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timestamp()
assert run["state"] == "done", run["state"]
sent = sum(int(line.split()[2]) for line in open(log_path) if len(line.split()) > 2)
print(name, at(run["ready"]) - at(run["started"]), at(run["updated"]) - at(run["started"]), wall, sent, boots)
PY
  # Where the time went: each step of a second or more, from..to (s since run.started), by start.
  "$PYTHON3" - "$tmp/$name.state.json" <<'PY' >"$tmp/$name.steps"
import datetime, json, sys
state = json.load(open(sys.argv[1]))
def at(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timestamp()
started = at(state["run"]["started"])
spans = []
for name, record in state["steps"].items():
    if record["finished"] and record["duration_s"] >= 1:
        end = at(record["finished"]) - started
        spans.append((end - record["duration_s"], end, name))
print("  ".join("%s %.0f-%.0f" % (name, begin, end) for begin, end, name in sorted(spans)))
PY
  # When the bytes came (nginx's clock, s since the run began): the span and size of each kind.
  "$PYTHON3" - "$tmp/$name.access.log" "$started" <<'PY' >"$tmp/$name.downloads"
import collections, sys
began = float(sys.argv[2])
kinds = collections.OrderedDict((kind, [None, 0, 0]) for kind in (".whl", ".deb", ".conda", "/data/", "/installers/"))
for line in open(sys.argv[1]):
    fields = line.split()
    for kind, span in kinds.items():
        if kind in fields[0] and int(fields[2]) > 1:
            end = float(fields[3]) - began
            span[0] = min(span[0], end - float(fields[4])) if span[0] is not None else end - float(fields[4])
            span[1], span[2] = max(span[1], end), span[2] + int(fields[2])
names = {".whl": "wheels", ".deb": ".debs", ".conda": "conda pkgs", "/data/": "datasets", "/installers/": "installer"}
print("  ".join("%s %.0f-%.0f (%.2f GB)" % (names[kind], span[0], span[1], span[2] / 1e9)
                for kind, span in kinds.items() if span[0] is not None))
PY
  chroot_cleanup
  rm -rf -- "${tmp:?}/$name"
}

bench agent true
bench pip-apt false

# -- the floor and the verdicts -------------------------------------------------------------------
# The bytes the run needs: each file (a) fetched, once, whole (the downloader's probes and ranges
# counted as the file they are part of).
needed=$("$PYTHON3" - "$tmp/agent.access.log" "$www" <<'PY'
import os, sys, urllib.parse
log_path, www = sys.argv[1:3]
paths = set()
for line in open(log_path):
    fields = line.split()
    if len(fields) > 1 and fields[1] in ("200", "206"):
        paths.add(urllib.parse.unquote(fields[0].split("?", 1)[0]))
total = 0
for path in paths:
    file = os.path.join(www, path.lstrip("/"))
    if os.path.isfile(file):
        total += os.path.getsize(file)
print(total)
PY
)
floor=$(awk -v bytes="$needed" -v mbit="$link_mbit" 'BEGIN { printf "%.1f", bytes * 8 / (mbit * 1e6) }')
read -r _ a_ready a_done a_wall a_sent a_boots < <(grep '^agent ' "$tmp/results")
read -r _ b_ready b_done b_wall b_sent b_boots < <(grep '^pip-apt ' "$tmp/results")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
gb() { awk -v b="$1" 'BEGIN { printf "%.2f GB", b / 1e9 }'; }

echo
echo "ready benchmark: a whole run of the current profile (Debian 12 chroot, fake T4), SCALE=$scale"
echo "  link $link_mbit Mbit/s (tbf), nginx limit_rate $limit_rate per connection; the run needs $(gb "$needed")"
printf '  link check: %s in %.1f s with 16 connections = %.0f Mbit/s\n' "$(gb "$link_check_bytes")" "$link_check_s" \
  "$(awk -v b="$link_check_bytes" -v s="$link_check_s" 'BEGIN { print b * 8 / s / 1e6 }')"
printf '%-34s %9s %9s %9s %10s\n' "" "ready" "done" "wall" "bytes sent"
printf '%-34s %8.0fs %8.0fs %8.1fs %10s\n' "(a) agent (accelerate_pip_apt)" "$a_ready" "$a_done" "$a_wall" "$(gb "$a_sent")"
printf '%-34s %8.0fs %8.0fs %8.1fs %10s\n' "(b) pip and apt download" "$b_ready" "$b_done" "$b_wall" "$(gb "$b_sent")"
printf '%-34s %9s %8.1fs\n' "(c) floor: bytes / link" "" "$floor"
echo "  (a) steps, s from the start: $(cat -- "$tmp/agent.steps")"
echo "  (b) steps, s from the start: $(cat -- "$tmp/pip-apt.steps")"
echo "  (a) downloads, s from the start: $(cat -- "$tmp/agent.downloads")"
echo "  (b) downloads, s from the start: $(cat -- "$tmp/pip-apt.downloads")"
((a_boots == 1 && b_boots == 1)) || echo "  (a run asked for a reboot: boots (a) $a_boots, (b) $b_boots; the fake reboot takes no time)"
echo
echo "(a) done / floor:        $(ratio "$a_done" "$floor")   (goal <= 1.30)"
echo "(a) ready / done:        $(ratio "$a_ready" "$a_done")   (goal <= 0.75)"
echo "(b) / (a), ready:        $(ratio "$b_ready" "$a_ready")"
echo "(b) / (a), done:         $(ratio "$b_done" "$a_done")"
echo "(b) done / floor:        $(ratio "$b_done" "$floor")"
echo
missed=0
check() {
  if [[ $2 == 1 ]]; then printf '  ok    %s\n' "$1"; else printf '  MISS  %s\n' "$1"; missed=1; fi
}
check "(a) time to done within 1.3 x the floor" "$(awk -v a="$a_done" -v f="$floor" 'BEGIN { print (a <= 1.3 * f) ? 1 : 0 }')"
check "(a) time to ready at most 0.75 x its time to done" "$(awk -v r="$a_ready" -v d="$a_done" 'BEGIN { print (r <= 0.75 * d) ? 1 : 0 }')"
exit "$missed"
