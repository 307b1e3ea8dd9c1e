# shellcheck shell=bash
# The VMs of the whole-product test (tests/e2e/vm/run.sh): what every VM is served from 127.0.0.1,
# a VM (an overlay of the Debian 11 minbase) with its metadata, its boots as GCE does them, and
# the scenarios' banners. Sourced by run.sh after tests/e2e/lib.sh, tests/e2e/chroot.sh,
# tests/support/course.sh, tests/e2e/gpu.sh and tests/support/jupyter.sh.

# shellcheck disable=SC2034  # most of what is set here is read by checks.sh and the scenario_*.sh

KERNEL=5.10.0-cs231n-1-cloud-amd64
STUDENT=student
STATE_DIR=/var/lib/cs231n-agent
PASSWORD_FILE=/root/cs231n-jupyter-password
HASH_FILE=$STATE_DIR/jupyter/password.hash
# What the current profile installs by default: Miniforge (conda-forge only, no ToS plugin) into
# ~/miniforge3, the prefix left to the profile's default. The VMs use its stand-in.
VM_INSTALLER=$MINIFORGE
VM_PREFIX=miniforge3
SCENARIO_TIMES=()
BOOT_NUMBER=0
BOOTS=$TEST_TMP/boots
mkdir -p -- "$BOOTS"
# As on a real VM, where the CUDA toolkit is gigabytes of .debs and the largest download of a run,
# the stand-in NVIDIA repo sends the toolkit's .deb slowest: a run reaches `ready` (Jupyter, torch,
# the driver) while the cuda step still downloads. Scenario 1 checks that order.
TOOLKIT_SECONDS=6
# shellcheck disable=SC2034  # gpu.sh's
GPU_REPO_SERVER_ARGS=(--slow "*/cuda-toolkit-*.deb=$TOOLKIT_SECONDS")

# ---------------------------------------------------------------------------------------------
# Shared setup: what every VM is served from 127.0.0.1 (made once).

# The agent under test is copied: a rebuild during the run must not change it.
cp -- "$AGENT" "$TEST_TMP/cs231n-agent"
AGENT=$TEST_TMP/cs231n-agent
AGENT_SHA=$(sha256_of "$AGENT")
AGENT_VERSION=$("$AGENT" version | cut -d' ' -f2)
# Debian's debs of curl and of the agent's base packages, kept between runs (like an image's apt
# cache: apt-get update and install still run for real, they download less).
DEBS=$CHROOT_CACHE/debs-e2e

# cache_debs: the debs apt downloaded into the VM from Debian's archive (not the stand-in repos'
# packages, which are built for each run) go to $DEBS for the next runs.
cache_debs() {
  local deb
  mkdir -p -- "$DEBS"
  for deb in "$UPPER"/var/cache/apt/archives/*.deb; do
    [[ -f $deb && -z $(find "$GPU_SERVE" -name "${deb##*/}" -print -quit) ]] || continue
    cp -n -- "$deb" "$DEBS/"
  done
  return 0
}

# setup_files: the file server (stand-in installer, dataset archives, the agent), the bare
# assignments repository (copied into every VM, so that every VM has the same commits).
setup_files() {
  MANIFEST=$TEST_TMP/datasets.json
  start_server files
  FILES_BASE=$BASE FILES_SERVE=$SERVE FILES_LOG=$SERVER_LOG
  "$PYTHON" "$SOURCE_DIR/tests/support/course_fixtures.py" datasets "$SERVE" --manifest "$MANIFEST"
  "$PYTHON" "$SOURCE_DIR/tests/support/make_standin_conda.py" --conda-version 26.7.2 --distribution miniforge \
    --ledger "$COURSE_LEDGER" -o "$SERVE/$VM_INSTALLER"
  cp -- "$AGENT" "$SERVE/cs231n-agent"
  "$PYTHON" "$SOURCE_DIR/tests/support/course_fixtures.py" repo "$TEST_TMP/cs231n.git" >/dev/null
}

# e2e_on_exit: the real Jupyter servers, the test servers, then chroot.sh's cleanup.
e2e_on_exit() {
  local status=$?
  jupyter_stop_all
  stop_servers
  if [[ $status != 0 || ${E2E_KEEP:-0} == 1 ]]; then
    CHROOT_REMOVE_ON_EXIT=()
    printf 'tests/e2e/vm/run.sh: kept %s for inspection (the VMs upper layers: %s/vm*/upper)\n' "$TEST_TMP" "$TEST_TMP" >&2
  fi
  set +e
  (exit "$status")
  chroot_on_exit
}

# ---------------------------------------------------------------------------------------------
# A VM: an overlay of the minbase, booted through the metadata's startup-script.

# write_metadata INSTANCE-ID EXTERNAL-IP [ATTRIBUTES [QUERIES]]: the instance's metadata.
# cs231n-config is the course config (course.sh) without user, profile and conda prefix (cs231n-user
# gives the user; the auto profile is `current` on Debian 11, whose prefix is ~/miniforge3), with
# the Miniforge stand-in as installer, pointed at the servers on 127.0.0.1, with a
# reboot command that records the reboot instead of doing it. ATTRIBUTES (JSON) replaces or adds
# attributes (null removes one); QUERIES (JSON, file name -> query) adds a fault-injection query
# to the URLs of those served files.
write_metadata() {
  local id=$1 ip=$2 patch=${3:-"{}"} queries=${4:-"{}"}
  course_config "$TEST_TMP/course.json" "{\"anaconda\": {\"installer_url\": \"$FILES_BASE/files/$VM_INSTALLER\",
    \"installer_sha256\": \"$(sha256_of "$FILES_SERVE/$VM_INSTALLER")\"},
    \"gpu\": {$GPU_KEYRING_PIN, \"repo_url\": \"$GPU_CUDA_REPOS\"}, \"pytorch\": {\"index_url\": \"$GPU_BASE/whl\"},
    \"reboot\": {\"command\": [\"/root/fake-reboot\"]}}"
  "$PYTHON" - "$GPU_METADATA" "$TEST_TMP/course.json" "$id" "$ip" "$FILES_BASE/files/cs231n-agent" "$AGENT_SHA" \
    "$SOURCE_DIR/scripts/startup-script.sh" "$patch" "$queries" <<'PY'
import json, sys
path, config_path, instance_id, ip, agent_url, agent_sha, script, patch, queries = sys.argv[1:10]
config = json.load(open(config_path))
del config["user"], config["profile"], config["anaconda"]["prefix"]
def with_query(url):
    query = json.loads(queries).get(url.rsplit("/", 1)[1])
    return url + "?" + query if query else url
config["anaconda"]["installer_url"] = with_query(config["anaconda"]["installer_url"])
for item in config["datasets"]["items"]:
    item["url"] = with_query(item["url"])
attributes = {"startup-script": open(script).read(), "cs231n-agent-url": agent_url, "cs231n-agent-sha256": agent_sha,
              "cs231n-config": json.dumps(config), "cs231n-user": "student", "enable-guest-attributes": "TRUE"}
for key, value in json.loads(patch).items():
    if value is None:
        attributes.pop(key, None)
    else:
        attributes[key] = value if isinstance(value, str) else json.dumps(value)
json.dump({"instance": {"id": instance_id, "hostname": "cs231n-%s.us-west1-b.c.test.internal" % instance_id,
                        "zone": "projects/123/zones/us-west1-b", "machine-type": "projects/123/machineTypes/n1-standard-8",
                        "attributes": attributes, "guest-attributes": {},
                        "network-interfaces": [{"ip": "10.138.0.2", "access-configs": [{"external-ip": ip}]}]}},
          open(path, "w"), indent=1)
PY
}

# vm_create NAME: a fresh overlay at $TEST_TMP/NAME (unmounting the VM before it): Debian 11
# minbase with curl (GCE images have it; the startup script needs it), a T4 that nouveau drives,
# GCE's DMI name, NVIDIA's repo and the OS archive stand-in's lists, the assignments repository,
# the stand-in conda's ledger and a reboot command that records its calls. Sets R and UPPER.
vm_create() {
  local name=$1
  jupyter_stop_all
  chroot_cleanup
  chroot_start "$TEST_TMP/$name"
  R=$CHROOT_ROOT
  UPPER=$TEST_TMP/$name/upper
  mkdir -p -- "$DEBS"
  cp -- "$DEBS"/*.deb "$R/var/cache/apt/archives/" 2>/dev/null || true
  if ! in_chroot apt-get -o Dpkg::Options::=--force-unsafe-io install -y -qq --no-install-recommends curl >"$TEST_TMP/apt.log" 2>&1; then
    in_chroot apt-get update -qq >>"$TEST_TMP/apt.log" 2>&1 || fail "apt-get update in the overlay failed" "$(tail -n 20 -- "$TEST_TMP/apt.log")"
    in_chroot apt-get -o Dpkg::Options::=--force-unsafe-io install -y -qq --no-install-recommends curl >>"$TEST_TMP/apt.log" 2>&1 ||
      fail "apt-get install curl in the overlay failed" "$(tail -n 20 -- "$TEST_TMP/apt.log")"
  fi
  gpu_fake_kernel "$KERNEL" nouveau
  gpu_add_pci_gpu 1eb8
  gpu_secure_boot off
  gpu_gce
  if [[ -z $GPU_BASE ]]; then
    gpu_make_repos debian11 "$KERNEL"
    gpu_torch_index "$GPU_SERVE"
  else
    gpu_install_repo_lists
  fi
  mkdir -p -- "$R/srv"
  cp -a -- "$TEST_TMP/cs231n.git" "$R/srv/cs231n.git"
  mkdir -p -- "$R${COURSE_LEDGER%/*}"
  : >"$R$COURSE_LEDGER"
  chmod 0666 -- "$R$COURSE_LEDGER"
  printf '#!/bin/sh\necho reboot >>/root/fake-reboot.calls\n' >"$R/root/fake-reboot"
  chmod 0755 -- "$R/root/fake-reboot"
  GPU_METADATA_LOG=$TEST_TMP/gpu-metadata/log  # gpu_gce's server, started by start_server
  local entry
  for entry in "${CHROOT_ENV[@]}"; do
    if [[ $entry == GCE_METADATA_HOST=* ]]; then GCE_HOST=${entry#*=}; fi
  done
  # chroot_start and gpu.sh's servers set their own EXIT traps.
  trap e2e_on_exit EXIT
}

# What GCE's guest agent (google_metadata_script_runner) does at every boot: the startup-script
# attribute into a new folder under /tmp, run as root with `/bin/bash -c FILE`, the folder removed.
# Its output is the serial console's. E2E_BASH_ENV (a file of the host's /dev/shm, which the VM
# sees) is a harness hook: scenario 3 times the agent's invocation inside the script with it.
# shellcheck disable=SC2016  # expanded by the VM's sh
BOOT_RUNNER='dir=$(mktemp -d /tmp/metadata-scripts.XXXXXX) &&
curl -fsS --noproxy "*" -H "Metadata-Flavor: Google" -o "$dir/startup-script" \
  "http://$GCE_METADATA_HOST/computeMetadata/v1/instance/attributes/startup-script" && chmod 0755 "$dir/startup-script" || exit 99
status=0
if [ -n "${E2E_BASH_ENV:-}" ]; then
  BASH_ENV=$E2E_BASH_ENV /bin/bash -c "$dir/startup-script" || status=$?
else
  /bin/bash -c "$dir/startup-script" || status=$?
fi
rm -rf -- "$dir"
exit "$status"'

# boot [ENV=VALUE...]: runs the startup script in the VM, in the foreground; stdout $OUT, stderr
# $ERR, status $RC (kept as $BOOTS/N.out, N.err for the secret checks), its wall time $TOOK (s).
boot() {
  BOOT_NUMBER=$((BOOT_NUMBER + 1))
  LAST_CMD="(VM boot $BOOT_NUMBER) startup-script from the metadata"
  local started=$EPOCHREALTIME
  set +e
  in_chroot env "$@" /bin/sh -c "$BOOT_RUNNER" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
  TOOK=$(elapsed_since "$started")
  cp -- "$OUT" "$BOOTS/$BOOT_NUMBER.out"
  cp -- "$ERR" "$BOOTS/$BOOT_NUMBER.err"
}

# elapsed_since EPOCHREALTIME: seconds since then, with 3 decimals.
elapsed_since() {
  local now=$EPOCHREALTIME
  local micros=$((${now/./} - ${1/./}))
  printf '%d.%03d' $((micros / 1000000)) $((micros % 1000000 / 1000))
}

reboot_calls() { if [[ -f $R/root/fake-reboot.calls ]]; then wc -l <"$R/root/fake-reboot.calls"; else echo 0; fi; }
state_json() { JSON_FILE=$R$STATE_DIR/state.json json_raw "$1"; }
# guest KEY: a guest attribute of namespace cs231n-agent, as `gcloud compute instances get-guest-attributes` reads it.
guest() {
  curl -sS --noproxy '*' -H 'Metadata-Flavor: Google' "http://${GCE_HOST}/computeMetadata/v1/instance/guest-attributes/cs231n-agent/$1"
}

# scenario_start NUMBER TITLE / scenario_end: a banner, and the scenario's wall time.
scenario_start() {
  SCENARIO_NUMBER=$1 SCENARIO_TITLE=$2 SCENARIO_STARTED=$SECONDS SCENARIO_LATER=${#LATER[@]}
  printf '\n######## scenario %s: %s\n' "$1" "$2"
}
scenario_end() {
  local took=$((SECONDS - SCENARIO_STARTED)) failed=$((${#LATER[@]} - SCENARIO_LATER)) verdict=passed
  ((failed == 0)) || verdict="FAILED ($failed expectation(s), listed at the end)"
  SCENARIO_TIMES+=("scenario $SCENARIO_NUMBER ($SCENARIO_TITLE): $took s, $verdict")
  printf '######## scenario %s %s in %d s\n' "$SCENARIO_NUMBER" "$verdict" "$took"
}
