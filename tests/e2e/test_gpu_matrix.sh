#!/usr/bin/env bash
# `plan --json` on fake roots for the GPU/OS combinations a course meets today, with PyTorch's wheel
# indexes and NVIDIA's repo indexes served on 127.0.0.1 in their real formats (a PEP 503 page per
# variant, torch_stable.html for torch 1.x, a Packages or Packages.gz file per distro; what they
# hold is what public sources report, see docs/sources/gpu-driver-cuda-torch.md and
# tests/fixtures/nvidia-repo/README.md, plus torch 2.15.1, a release the agent's table does not
# know). For each: the choice an expert would make, and every CUDA toolkit, driver package and
# torch wheel it names exists in the served indexes. Ubuntu's signed modules come from the OS
# archive, which a fixture root has no apt lists of: their names are checked against Ubuntu's
# naming (ubuntu-drivers-common) instead. ubuntu2204's Packages.gz carries tens of MB of other
# packages, as NVIDIA's real one does; each index is read once per plan.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

start_server indexes --tree
INDEXES=$SERVE
INDEX_BASE=$BASE

# -- the indexes ---------------------------------------------------------------------------------
# torch_page VARIANT VERSION...: whl/VARIANT/torch/index.html with cp310-cp314 Linux x86_64 wheels
# of each VERSION (and one aarch64 wheel, which must not count), and whl/VARIANT/torchvision/ with
# the torchvision of each (tests/fixtures/torch-index/README.md: its releases follow torch's, 2.x ->
# 0.(x+15), and each wheel's PEP 658 metadata, whl/VARIANT/FILE.metadata, requires that torch).
torch_page() {
  local variant=$1 version vision minor py file meta
  shift
  mkdir -p -- "$INDEXES/whl/$variant/torch" "$INDEXES/whl/$variant/torchvision"
  {
    printf '<!DOCTYPE html>\n<html>\n  <body>\n    <h1>Links for torch</h1>\n'
    for version in "$@"; do
      for py in 310 311 312 313 314; do
        file="torch-$version+$variant-cp$py-cp$py-manylinux_2_28_x86_64.whl"
        printf '    <a href="/whl/%s/%s#sha256=%064d">%s</a><br/>\n' "$variant" "${file//+/%2B}" 0 "$file"
      done
      file="torch-$version+$variant-cp312-cp312-manylinux_2_28_aarch64.whl"
      printf '    <a href="/whl/%s/%s#sha256=%064d">%s</a><br/>\n' "$variant" "${file//+/%2B}" 0 "$file"
    done
    printf '  </body>\n</html>\n'
  } >"$INDEXES/whl/$variant/torch/index.html"
  {
    printf '<!DOCTYPE html>\n<html>\n  <body>\n    <h1>Links for torchvision</h1>\n'
    for version in "$@"; do
      minor=${version#2.}
      vision=0.$((${minor%%.*} + 15)).${version##*.}+$variant
      for py in 310 311 312 313 314; do
        file="torchvision-$vision-cp$py-cp$py-manylinux_2_28_x86_64.whl"
        printf 'Metadata-Version: 2.1\nName: torchvision\nVersion: %s\nRequires-Dist: numpy\nRequires-Dist: torch==%s\nRequires-Dist: pillow!=8.3.*,>=5.3.0\n' \
          "$vision" "$version" >"$INDEXES/whl/$variant/$file.metadata"
        meta=sha256=$(sha256sum <"$INDEXES/whl/$variant/$file.metadata" | cut -d' ' -f1)
        printf '    <a href="/whl/%s/%s#sha256=%064d" data-dist-info-metadata="%s" data-core-metadata="%s">%s</a><br/>\n' \
          "$variant" "${file//+/%2B}" 0 "$meta" "$meta" "$file"
      done
    done
    printf '  </body>\n</html>\n'
  } >"$INDEXES/whl/$variant/torchvision/index.html"
}
# pytorch/pytorch RELEASE.md's matrix: which releases have which variants.
torch_page cu118 2.6.0 2.7.1
torch_page cu124 2.6.0
torch_page cu126 2.6.0 2.7.1 2.8.0 2.9.1 2.10.0 2.11.0 2.12.0 2.13.0 2.14.0 2.15.1
torch_page cu128 2.7.1 2.8.0 2.9.1 2.10.0 2.11.0
torch_page cu129 2.8.0
torch_page cu130 2.9.1 2.10.0 2.11.0 2.12.0 2.13.0 2.14.0 2.15.1
torch_page cu132 2.12.0 2.13.0 2.14.0 2.15.1
torch_page cpu 2.7.1 2.14.0 2.15.1
# torch 1.x: PyTorch's find-links page (tests/fixtures/torch-index/README.md).
cp -- "$SOURCE_DIR/tests/fixtures/torch-index/torch_stable.html" "$INDEXES/whl/torch_stable.html"

# packages DISTRO NAME=VERSION[=SIZE[=DEPENDS]]...: NVIDIA's repo's Packages file for DISTRO (with
# Size: and Depends: fields where given, DEPENDS as the field says it).
packages() {
  local distro=$1 entry name version size depends
  shift
  mkdir -p -- "$INDEXES/repos/$distro/x86_64"
  for entry in "$@"; do
    IFS='=' read -r name version size depends <<<"$entry"
    printf 'Package: %s\nArchitecture: amd64\nVersion: %s\n' "$name" "$version"
    [[ -z $depends ]] || printf 'Depends: %s\n' "$depends"
    printf 'Filename: ./%s_%s_amd64.deb\n' "$name" "$version"
    [[ -z $size ]] || printf 'Size: %s\n' "$size"
    printf '\n'
  done >"$INDEXES/repos/$distro/x86_64/Packages"
}
# What public sources say each repo has (tests/fixtures/nvidia-repo/README.md).
packages ubuntu1804 cuda-drivers-470=470.256.02-1 cuda-toolkit-10-0=10.0.130-1 cuda-toolkit-11-8=11.8.0-1
# Ubuntu 20.04's with sizes and dependencies, for plan's expected downloads (the sizes are made up;
# the shape is NVIDIA's: small meta packages over large libraries, an OS package among the deps).
packages ubuntu2004 cuda-drivers-470=470.256.02-1 "cuda-drivers-535=535.274.02-1=2800=nvidia-driver-535 (>= 535.274.02)" \
  "nvidia-driver-535=535.274.02-1=400000000=libc6 (>= 2.17), nvidia-kernel-source-535 | nvidia-kernel-open-535" \
  nvidia-kernel-source-535=535.274.02-1=60000000 cuda-toolkit-11-8=11.8.0-1 cuda-toolkit-12-6=12.6.3-1 \
  "cuda-toolkit-12-8=12.8.1-1=2500=cuda-compiler-12-8 (>= 12.8.1), cuda-libraries-12-8 (>= 12.8.1)" \
  "cuda-compiler-12-8=12.8.1-1=90000000=cuda-libraries-12-8" cuda-libraries-12-8=12.8.1-1=2900000000
packages ubuntu2204 cuda-drivers-535=535.274.02-1 cuda-drivers-580=580.105.08-1 nvidia-open-580=580.105.08-1 \
  cuda-drivers=595.58.03-1 nvidia-open=595.58.03-1 cuda-toolkit-11-8=11.8.0-1 cuda-toolkit-12-6=12.6.3-1 \
  cuda-toolkit-12-8=12.8.1-1 cuda-toolkit-13-0=13.0.2-1 cuda-toolkit-13-2=13.2.1-1
packages ubuntu2404 cuda-drivers-580=580.105.08-1 nvidia-open-580=580.105.08-1 cuda-drivers=595.58.03-1 \
  nvidia-open=595.58.03-1 cuda-toolkit-12-6=12.6.3-1 cuda-toolkit-12-8=12.8.1-1 cuda-toolkit-13-0=13.0.2-1 \
  cuda-toolkit-13-2=13.2.1-1
packages ubuntu2604 cuda-drivers=595.58.03-1 nvidia-open=595.58.03-1 cuda-toolkit-13-3=13.3.0-1
packages debian13 cuda-drivers=590.48.01-1 nvidia-open=590.48.01-1 cuda-toolkit-13-1=13.1.1-1 \
  cuda-toolkit-13-2=13.2.1-1
# ubuntu2204 as NVIDIA serves the big repos: Packages.gz only (apt fetches that; ubuntu2204's was
# 2.4 MB compressed in 2026), its real stanzas among 40 MB of others' (libraries, old toolkits).
"$PYTHON" - "$INDEXES/repos/ubuntu2204/x86_64" <<'PY'
import gzip, os, sys
folder = sys.argv[1]
wanted = open(os.path.join(folder, "Packages")).read()
filler = "".join(
    f"Package: libcublas-{i // 400}-{i % 400}\nArchitecture: amd64\nVersion: {i}.0.1-1\n"
    f"Depends: libc6 (>= 2.17), cuda-toolkit-config-common\nFilename: ./libcublas-{i}_amd64.deb\n"
    f"Size: 123456789\nSHA256: {i:064d}\nDescription: CUBLAS native runtime libraries\n "
    f"a filler stanza of the test's large index\n\n" for i in range(150000))
text = filler[: len(filler) // 2] + wanted + filler[len(filler) // 2 :]
assert len(text) > 40 << 20, len(text)
with gzip.open(os.path.join(folder, "Packages.gz"), "wt", compresslevel=6) as out:
    out.write(text)
os.remove(os.path.join(folder, "Packages"))
PY

# -- the machines --------------------------------------------------------------------------------
# make_root NAME OS_ID VERSION_ID PRETTY KERNEL APT GPU_ID GCE: a fake root with that OS, kernel,
# installed apt, one NVIDIA GPU, and GCE's DMI name when GCE is "gce".
make_root() {
  local root=$TEST_TMP/roots/$1
  mkdir -p -- "$root/etc" "$root/proc/sys/kernel/random" "$root/var/lib/dpkg" "$root/sys/class/dmi/id" \
    "$root/sys/bus/pci/devices/0000:00:04.0"
  printf 'ID=%s\nVERSION_ID="%s"\nPRETTY_NAME="%s"\n' "$2" "$3" "$4" >"$root/etc/os-release"
  printf 'root:x:0:0::/root:/bin/bash\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  printf '%s\n' "$5" >"$root/proc/sys/kernel/osrelease"
  printf 'x86_64\n' >"$root/proc/sys/kernel/arch"
  printf 'vm\n' >"$root/proc/sys/kernel/hostname"
  printf '0b6f1c1e-0000-4000-8000-000000000001\n' >"$root/proc/sys/kernel/random/boot_id"
  printf 'MemTotal:       15000000 kB\n' >"$root/proc/meminfo"
  printf 'processor\t: 0\n' >"$root/proc/cpuinfo"
  : >"$root/proc/modules"
  printf 'Package: apt\nStatus: install ok installed\nVersion: %s\n\n' "$6" >"$root/var/lib/dpkg/status"
  printf '0x030200\n' >"$root/sys/bus/pci/devices/0000:00:04.0/class"
  printf '0x10de\n' >"$root/sys/bus/pci/devices/0000:00:04.0/vendor"
  printf '0x%s\n' "$7" >"$root/sys/bus/pci/devices/0000:00:04.0/device"
  [[ $8 != gce ]] || printf 'Google Compute Engine\n' >"$root/sys/class/dmi/id/product_name"
  printf '%s\n' "$root"
}

# plan_matrix ROOT [CONFIG-JSON]: plan --json on ROOT with the served indexes; the GPU steps'
# summaries in $TEST_TMP/steps.json.
plan_matrix() {
  local config
  config=$("$PYTHON" -c 'import json, sys; c = json.loads(sys.argv[3] or "{}")
c.setdefault("user", "student")
c.setdefault("gpu", {})["repo_url"] = sys.argv[1] + "/repos"
c.setdefault("pytorch", {})["index_url"] = sys.argv[1] + "/whl"
print(json.dumps(c))' "$INDEX_BASE" "" "${2:-}")
  printf '%s\n' "$config" >"$TEST_TMP/config.json"
  run_agent plan --json --root "$1" --config "$TEST_TMP/config.json"
  [[ $RC == 0 ]] || "$PYTHON" -c 'import json, sys
for step in json.load(open(sys.argv[1]))["steps"]:
    if step["action"] == "refuse": print("refused:", step["name"], step["reason"])' "$OUT" >&2
  assert_rc 0
}

# the_step NAME: the summary of step NAME of the last plan.
the_step() { JSON_FILE=$OUT json_raw "steps[name=$1].summary"; }

# expect_choice DESCRIPTION DRIVER-PACKAGES TOOLKIT TORCH-REQUIREMENT: the plan installs exactly
# those, and each exists in the served indexes (signed modules: by Ubuntu's naming).
expect_choice() {
  local what=$1 driver=$2 toolkit=$3 torch=$4 distro package variant version
  section "$what"
  assert_contains "nvidia-driver" "install $driver for " "$(the_step nvidia-driver)"
  assert_contains "cuda" "install $toolkit and put it on PATH" "$(the_step cuda)"
  assert_contains "pytorch" "pip install $torch " "$(the_step pytorch)"
  assert_contains "pytorch: where the versions came from" "versions from PyTorch's index $INDEX_BASE/whl" \
    "$(the_step pytorch)"
  distro=$(the_step nvidia-repo | sed -n "s/^add NVIDIA's \([a-z0-9]*\) repository.*/\1/p")
  assert_contains "nvidia-repo: where its packages came from" \
    "its packages known from NVIDIA's package list $INDEX_BASE/repos/$distro/x86_64/Packages" "$(the_step nvidia-repo)"
  JSON_FILE=$OUT assert_json_contains gpu_index_reads "NVIDIA's package list $INDEX_BASE/repos/$distro/x86_64/Packages" \
    "PyTorch's index $INDEX_BASE/whl/"
  local index=$INDEXES/repos/$distro/x86_64/Packages listed
  if [[ -f $index ]]; then listed=$(grep '^Package:' "$index"); else listed=$(zcat -- "$index.gz" | grep '^Package:'); fi
  for package in $driver $toolkit; do
    case $package in
      linux-headers-*) ;;  # the OS archive's, for the running kernel
      linux-modules-nvidia-*)
        [[ $package =~ ^linux-modules-nvidia-[0-9]+-server(-open)?-(gcp|[0-9.]+-[0-9]+-gcp)$ ]] ||
          fail "$what: $package is not one of Ubuntu's signed module names (ubuntu-drivers-common)" ;;
      nvidia-utils-*-server) ;;
      *)
        grep -qx "Package: $package" <<<"$listed" ||
          fail "$what: $package is not in NVIDIA's $distro repository" "it has: $(grep -v libcublas <<<"$listed" | xargs)" ;;
    esac
  done
  if [[ $torch =~ ^torch==([0-9.]+)\+(cu[0-9]+)$ ]]; then
    version=${BASH_REMATCH[1]} variant=${BASH_REMATCH[2]}
    grep -qF "torch-$version+$variant-cp312-cp312-manylinux_2_28_x86_64.whl" "$INDEXES/whl/$variant/torch/index.html" ||
      fail "$what: no wheel torch-$version+$variant for Python 3.12 in the $variant index"
    # torchvision, its release left to pip: the variant's index must hold one whose metadata
    # requires this torch.
    assert_contains "pytorch" "pip install $torch torchvision --index-url $INDEX_BASE/whl/$variant into env" \
      "$(the_step pytorch)"
    local wheel matching=""
    while read -r wheel; do
      grep -qx "Requires-Dist: torch==$version" "$INDEXES/whl/$variant/$wheel.metadata" && matching=$wheel
    done < <(grep -oE 'torchvision-[^/"#]*-cp312-cp312-manylinux_2_28_x86_64\.whl' \
      "$INDEXES/whl/$variant/torchvision/index.html" | sed 's/%2B/+/g' | sort -u)
    [[ -n $matching ]] || fail "$what: no torchvision for torch $version and Python 3.12 in the $variant index"
  fi
}

JAMMY_GCP=6.8.0-1015-gcp
NOBLE_GCP=6.8.0-1040-gcp

root=$(make_root jammy-t4 ubuntu 22.04 "Ubuntu 22.04.5 LTS" "$JAMMY_GCP" 2.4.13 1eb8 gce)
plan_matrix "$root"
expect_choice "Ubuntu 22.04 + T4: CUDA 13.2, Ubuntu's signed 580 with open modules for the running kernel, torch 2.15.1+cu132" \
  "linux-modules-nvidia-580-server-open-$JAMMY_GCP linux-modules-nvidia-580-server-open-gcp nvidia-utils-580-server" \
  cuda-toolkit-13-2 "torch==2.15.1+cu132"

section "each index is read once per plan, however many steps ask for the choice"
curl -sS "$INDEX_BASE/_idle" >/dev/null
gets() { "$PYTHON" -c 'import json, sys
print(sum(1 for line in open(sys.argv[1]) if json.loads(line)["path"] == sys.argv[2]))' "$SERVER_LOG" "$1"; }
for path in /repos/ubuntu2204/x86_64/Packages.gz /whl/cu132/torch/ /whl/cu130/torch/; do
  assert_eq "GET $path" 1 "$(gets "$path")"
done
assert_eq "GET /repos/ubuntu2204/x86_64/Packages (Packages.gz was there)" 0 "$(gets /repos/ubuntu2204/x86_64/Packages)"
assert_eq "GET /whl/torch_stable.html (nothing for Python 3.12 there)" 0 "$(gets /whl/torch_stable.html)"

root=$(make_root jammy-p100 ubuntu 22.04 "Ubuntu 22.04.5 LTS" "$JAMMY_GCP" 2.4.13 15f8 gce)
plan_matrix "$root"
expect_choice "Ubuntu 22.04 + P100: CUDA 12 at most, proprietary modules, a cu126 torch (no Pascal kernels in cu128/cu13x)" \
  "linux-modules-nvidia-580-server-$JAMMY_GCP linux-modules-nvidia-580-server-gcp nvidia-utils-580-server" \
  cuda-toolkit-12-8 "torch==2.15.1+cu126"

root=$(make_root noble-l4 ubuntu 24.04 "Ubuntu 24.04.3 LTS" "$NOBLE_GCP" 2.7.14 27b8 gce)
plan_matrix "$root"
expect_choice "Ubuntu 24.04 + L4 (APT 2.7: NVIDIA's repo is fine)" \
  "linux-modules-nvidia-580-server-open-$NOBLE_GCP linux-modules-nvidia-580-server-open-gcp nvidia-utils-580-server" \
  cuda-toolkit-13-2 "torch==2.15.1+cu132"
assert_not_contains "nvidia-repo: no SHA1 warning with APT 2.x" "sqv" "$(the_step nvidia-repo)"

root=$(make_root resolute-l4 ubuntu 26.04 "Ubuntu 26.04 LTS" 7.0.0-1017-gcp 3.1.6 27b8 gce)
plan_matrix "$root"
expect_choice "Ubuntu 26.04 + L4: the 13.3 toolkit its repo has, a cu132 torch beside it" \
  "linux-modules-nvidia-580-server-open-7.0.0-1017-gcp linux-modules-nvidia-580-server-open-gcp nvidia-utils-580-server" \
  cuda-toolkit-13-3 "torch==2.15.1+cu132"

root=$(make_root trixie-a100 debian 13 "Debian GNU/Linux 13 (trixie)" 6.12.57+deb13-cloud-amd64 3.0.3 20b0 gce)
plan_matrix "$root"
expect_choice "Debian 13 + A100: NVIDIA's new-key repo, its nvidia-open (590, open modules, DKMS)" \
  "linux-headers-6.12.57+deb13-cloud-amd64 nvidia-open" cuda-toolkit-13-2 "torch==2.15.1+cu132"

for gpu in 2901:B200 2bb5:"RTX PRO 6000"; do
  root=$(make_root "noble-${gpu%%:*}" ubuntu 24.04 "Ubuntu 24.04.3 LTS" "$NOBLE_GCP" 2.7.14 "${gpu%%:*}" gce)
  plan_matrix "$root"
  expect_choice "Ubuntu 24.04 + ${gpu#*:} (Blackwell): open modules, a torch with sm_100/sm_120 kernels" \
    "linux-modules-nvidia-580-server-open-$NOBLE_GCP linux-modules-nvidia-580-server-open-gcp nvidia-utils-580-server" \
    cuda-toolkit-13-2 "torch==2.15.1+cu132"
done

for gpu in 1eb8:"T4":"Ubuntu 22.04":jammy:22.04 2901:"B200":"Ubuntu 24.04":noble:24.04; do
  IFS=: read -r id name label codename version <<<"$gpu"
  root=$(make_root "$codename-$id-generic" ubuntu "$version" "$label" 6.8.0-45-generic 2.4.13 "$id" gce)
  plan_matrix "$root"
  expect_choice "$label + $name, a kernel without Ubuntu's signed modules: NVIDIA's open modules, nvidia-open-580 (DKMS)" \
    "linux-headers-6.8.0-45-generic nvidia-open-580" cuda-toolkit-13-2 "torch==2.15.1+cu132"
done

root=$(make_root focal-v100 ubuntu 20.04 "Ubuntu 20.04.6 LTS" 5.15.0-1070-gcp 2.0.10 1db1 gce)
plan_matrix "$root"
expect_choice "Ubuntu 20.04 + V100: no signed modules there, cuda-drivers-535 from NVIDIA's repo, a cu126 torch" \
  "linux-headers-5.15.0-1070-gcp cuda-drivers-535" cuda-toolkit-12-8 "torch==2.15.1+cu126"

section "Ubuntu 20.04 + V100: the expected downloads, from the Size: fields of what apt would fetch from NVIDIA's repo"
# cuda-toolkit-12-8, cuda-compiler-12-8 and cuda-libraries-12-8 (asked for twice, fetched once).
assert_json "steps[name=cuda].downloads[0].bytes" $((2500 + 90000000 + 2900000000))
assert_json_contains "steps[name=cuda].downloads[0].what" "cuda-toolkit-12-8 (3 packages from NVIDIA's repo)"
assert_json_contains "steps[name=cuda].downloads[0].source" "Size: fields of NVIDIA's Packages index"
# cuda-drivers-535, nvidia-driver-535 and the first alternative of its kernel module; the running
# kernel's headers and libc6 are the OS archive's: not known, and said so.
assert_json "steps[name=nvidia-driver].downloads[0].bytes" $((2800 + 400000000 + 60000000))
assert_json "steps[name=nvidia-driver].downloads[1].bytes" null
assert_json_contains "steps[name=nvidia-driver].downloads[1].what" "2 more packages from the OS archive"
assert_json "steps[name=nvidia-driver].download_bytes.complete" false
# PyTorch's index gives no sizes: a CUDA 12 build's wheels are an estimate, shown as one. They are
# torch-wheels' downloads (base's pip names them before the env exists); pytorch only verifies them.
assert_json "steps[name=torch-wheels].downloads[0].estimate" true
assert_json "steps[name=torch-wheels].downloads[0].bytes" 2371100000
assert_json_contains "steps[name=torch-wheels].downloads[0].source" "estimate" "pytorch/pytorch#121646"
assert_json "steps[name=pytorch].downloads" "[]"
section "Ubuntu 20.04 + V100: the critical path to ready goes through torch's wheels, the one to done through the toolkit"
assert_eq "path to ready" "user anaconda torch-wheels pytorch ready" "$(json_names critical_path.ready.steps)"
assert_json critical_path.ready.download_bytes.estimate true
assert_eq "path to done" "apt-packages nvidia-repo nvidia-driver cuda verify" "$(json_names critical_path.done.steps)"
assert_json critical_path.done.download_bytes.bytes $((2800 + 400000000 + 60000000 + 2500 + 90000000 + 2900000000))
run_agent plan --root "$root" --config "$TEST_TMP/config.json"
assert_rc 0
assert_contains "plan's text" "  to ready: user -> anaconda (?) -> torch-wheels (~2.2 GiB) -> pytorch -> ready" "$(cat -- "$OUT")"
assert_contains "plan's text" "-> nvidia-driver (438.7 MiB+?) -> cuda (2.8 GiB) -> verify" "$(cat -- "$OUT")"
row=$(grep -E '^  torch-wheels +torch 2\.15\.1\+cu126, torchvision and the wheels they need +~2\.2 GiB +estimate: ' -- "$OUT" || true)
[[ -n $row ]] || fail "plan's text" "expected: a Downloads row for torch-wheels with ~2.2 GiB, an estimate" "got: $(cat -- "$OUT")"

# No public sha256 of ubuntu1804's cuda-keyring: the TA pins one (a placeholder here; plan installs nothing).
SEED='{"profile": "seed", "gpu": {"keyring_sha256": {"ubuntu1804/cuda-keyring_1.1-1_all.deb": "'"$(printf '%064d' 0)"'"}}}'
root=$(make_root bionic-t4 ubuntu 18.04 "Ubuntu 18.04.6 LTS" 5.4.0-1103-gcp 1.6.17 1eb8 gce)
plan_matrix "$root" "$SEED"
# expect_seed_wheel WHAT: the pytorch step installs torch 1.2.0's CUDA 10.0 wheel by its URL, a
# wheel torch_stable.html lists for Python 3.6 (not `torch==1.2.0 -f`, which pip would answer with
# 1.2.0+cu92).
expect_seed_wheel() {
  local wheel=cu100/torch-1.2.0-cp36-cp36m-manylinux1_x86_64.whl
  assert_contains "$1: pytorch" "pip install $INDEX_BASE/whl/$wheel into env" "$(the_step pytorch)"
  assert_contains "$1: pytorch" "versions from PyTorch's index $INDEX_BASE/whl" "$(the_step pytorch)"
  grep -qF "href=\"$wheel\"" "$INDEXES/whl/torch_stable.html" || fail "$1: no $wheel in torch_stable.html"
  JSON_FILE=$OUT assert_json_contains gpu_index_reads "PyTorch's index $INDEX_BASE/whl/torch_stable.html: read"
}
section "Ubuntu 18.04 + T4, the tutorial (seed): CUDA 10.0, cuda-drivers-470, torch 1.2.0 from torch_stable.html"
assert_contains "nvidia-driver" "install linux-headers-5.4.0-1103-gcp cuda-drivers-470 for " "$(the_step nvidia-driver)"
assert_contains "cuda" "install cuda-toolkit-10-0 " "$(the_step cuda)"
expect_seed_wheel "Ubuntu 18.04 + T4"
grep -qx "Package: cuda-drivers-470" "$INDEXES/repos/ubuntu1804/x86_64/Packages" || fail "cuda-drivers-470 not in ubuntu1804"

root=$(make_root bionic-k80 ubuntu 18.04 "Ubuntu 18.04.6 LTS" 4.15.0-213-generic 1.6.17 102d workstation)
plan_matrix "$root" "$SEED"
section "Ubuntu 18.04 + K80 off GCE (seed): the same 470, which is the K80's last branch"
assert_contains "nvidia-driver" "cuda-drivers-470 for Tesla K80" "$(the_step nvidia-driver)"
expect_seed_wheel "Ubuntu 18.04 + K80"

root=$(make_root bionic-k80-gce ubuntu 18.04 "Ubuntu 18.04.6 LTS" 5.4.0-1103-gcp 1.6.17 102d gce)
run_agent plan --json --root "$root" --config "$TEST_TMP/config.json"
section "the K80 on a GCE VM: refused, it is retired there"
assert_rc 4
assert_contains "nvidia-repo" "the Tesla K80 is retired from Compute Engine" \
  "$(JSON_FILE=$OUT json_raw 'steps[name=nvidia-repo].reason')"

echo "PASS $TEST_NAME"
