#!/usr/bin/env bash
# Proves the product end to end: the static cs231n-agent, installed and started exactly as a GCE
# startup script does it (scripts/startup-script.sh, fetched from the metadata attribute
# startup-script, downloading the agent named by cs231n-agent-url / cs231n-agent-sha256), turns a
# debootstrapped Debian 11 minbase into a finished course VM with only metadata for config.
# Run by scripts/test.sh after ctest; see --help.
# shellcheck disable=SC2119  # gpu_fake_reboot without a new kernel release
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/e2e.sh [--scenarios LIST] [AGENT]   (as root)

The whole product on a real minimal OS: a Debian 11 minbase overlay (tests/e2e/chroot.sh) that is
a GCE VM with a fake Tesla T4 driven by nouveau, a metadata server, the stand-in Anaconda, real
dataset archives and NVIDIA's repo layout on 127.0.0.1. Each VM boots by fetching its
startup-script from the metadata and running it, as GCE does.

  1  happy path: the first boot runs until the one reboot, the second finishes; then the user,
     conda, datasets, Jupyter (a real login over HTTPS), the GPU steps, guest attributes, status
     and the summary are checked, and the generated password is in no log, state or output
  2  chaos: a fresh VM whose boots are SIGKILLed at random moments (one while apt-get or dpkg
     runs; some kill only the agent, some the whole VM, which then reboots), with a download cut
     mid-way and a burst of HTTP 503; booted again until done: the same end state as 1, no step
     recorded done ran again, no verified file downloaded again
  3  second boot of 1's VM: nothing changes and the agent's own time is under a second
  4  refusals: an unsupported OS and a malformed cs231n-config change nothing (exit 4, exit 2);
     cs231n-cuda=10.0 on Debian 11 refuses the GPU branch before any of it is installed, the rest
     completes, exit 4

AGENT        the static binary (default: build/cs231n-agent)
--scenarios  which ones, in the order 1 3 2 4 (default: all; 2 and 3 need 1)
E2E_SEED     replays scenario 2's kill plan (printed with its seed; the timing of the VM is its own)
E2E_KEEP=1   keeps the temporary folder (it is kept anyway when the script fails)
Each scenario's wall time is printed; exit status 0 when every assertion holds.
EOF
}

top=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
scenarios="1,2,3,4"
agent=""
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --scenarios) [[ $# -ge 2 ]] || { echo "e2e.sh: --scenarios needs a list, e.g. 1,3" >&2; exit 2; }; scenarios=$2; shift ;;
    -*) echo "e2e.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [[ -z $agent ]] || { echo "e2e.sh: one AGENT only (see --help)" >&2; exit 2; }; agent=$1 ;;
  esac
  shift
done
agent=${agent:-$top/build/cs231n-agent}
[[ $scenarios =~ ^[1-4](,[1-4])*$ ]] || { echo "e2e.sh: --scenarios takes numbers 1-4 separated by commas, not $scenarios" >&2; exit 2; }
want() { [[ ,$scenarios, == *",$1,"* ]]; }
if { want 2 || want 3; } && ! want 1; then
  echo "e2e.sh: scenarios 2 and 3 need scenario 1 (its VM, its end state)" >&2
  exit 2
fi

export CS231N_SOURCE_DIR=$top
set -- "$agent"
# shellcheck source=tests/e2e/lib.sh
source "$top/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=tests/support/course.sh
source "$SOURCE_DIR/tests/support/course.sh"
# shellcheck source=tests/e2e/gpu.sh
source "$SOURCE_DIR/tests/e2e/gpu.sh"
# shellcheck source=tests/support/jupyter.sh
source "$SOURCE_DIR/tests/support/jupyter.sh"

for tool in /usr/bin/python3 openssl curl ss setpriv unshare timeout debootstrap; do
  command -v "$tool" >/dev/null || { echo "FAIL: scripts/e2e.sh needs $tool on the host" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "FAIL: scripts/e2e.sh needs root (mount, chroot, unshare)" >&2; exit 1; }

E2E_STARTED=$SECONDS
KERNEL=5.10.0-cs231n-1-cloud-amd64
STUDENT=student
STATE_DIR=/var/lib/cs231n-agent
PASSWORD_FILE=/root/cs231n-jupyter-password
HASH_FILE=$STATE_DIR/jupyter/password.hash
SCENARIO_TIMES=()
BOOT_NUMBER=0
BOOTS=$TEST_TMP/boots
mkdir -p -- "$BOOTS"

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
  "$PYTHON" "$SOURCE_DIR/tests/support/make_standin_conda.py" --conda-version 24.3.0 --ledger "$COURSE_LEDGER" -o "$SERVE/$MINICONDA"
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
    printf 'e2e.sh: kept %s for inspection (the VMs upper layers: %s/vm*/upper)\n' "$TEST_TMP" "$TEST_TMP" >&2
  fi
  set +e
  (exit "$status")
  chroot_on_exit
}

# ---------------------------------------------------------------------------------------------
# A VM: an overlay of the minbase, booted through the metadata's startup-script.

# write_metadata INSTANCE-ID EXTERNAL-IP [ATTRIBUTES [QUERIES]]: the instance's metadata.
# cs231n-config is the course config (course.sh) without user and profile (cs231n-user gives the
# user; the auto profile is `current` on Debian 11), pointed at the servers on 127.0.0.1, with a
# reboot command that records the reboot instead of doing it. ATTRIBUTES (JSON) replaces or adds
# attributes (null removes one); QUERIES (JSON, file name -> query) adds a fault-injection query
# to the URLs of those served files.
write_metadata() {
  local id=$1 ip=$2 patch=${3:-"{}"} queries=${4:-"{}"}
  course_config "$TEST_TMP/course.json" "{\"gpu\": {\"repo_url\": \"$GPU_CUDA_REPOS\"}, \"pytorch\": {\"index_url\": \"$GPU_BASE/whl\"},
    \"reboot\": {\"command\": [\"/root/fake-reboot\"]}}"
  "$PYTHON" - "$GPU_METADATA" "$TEST_TMP/course.json" "$id" "$ip" "$FILES_BASE/files/cs231n-agent" "$AGENT_SHA" \
    "$SOURCE_DIR/scripts/startup-script.sh" "$patch" "$queries" <<'PY'
import json, sys
path, config_path, instance_id, ip, agent_url, agent_sha, script, patch, queries = sys.argv[1:10]
config = json.load(open(config_path))
del config["user"], config["profile"]
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

# ---------------------------------------------------------------------------------------------
# Checks shared by the scenarios.

# agent_status: `cs231n-agent status --json` in the VM, into $OUT.
agent_status() {
  LAST_CMD="(VM) cs231n-agent status --json"
  set +e
  in_chroot /usr/local/bin/cs231n-agent status --json >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
}

# assert_datasets: every file each dataset unpacks to (course.sh's manifest), in its assignment,
# with its sha256; the .npz as it is.
assert_datasets() {
  local problems
  problems=$("$PYTHON" - "$MANIFEST" "$R/home/$STUDENT/cs231n-setup" <<'PY'
import hashlib, json, os, sys
manifest, clone = json.load(open(sys.argv[1])), sys.argv[2]
places = {"cifar-10-python.tar.gz": ["assignment1/cs231n/datasets", "assignment2/cs231n/datasets"],
          "coco_captioning.zip": ["assignment3/cs231n/datasets"]}
def sha256(path):
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()
checked = 0
for archive, folders in places.items():
    for folder in folders:
        for member, digest in manifest[archive]["members"].items():
            path = os.path.join(clone, folder, member)
            checked += 1
            if not os.path.isfile(path):
                print("missing: %s/%s" % (folder, member))
            elif sha256(path) != digest:
                print("wrong sha256: %s/%s" % (folder, member))
npz = os.path.join(clone, "assignment3/cs231n/datasets/imagenet_val_25.npz")
if not os.path.isfile(npz) or sha256(npz) != manifest["imagenet_val_25.npz"]["sha256"]:
    print("imagenet_val_25.npz missing or with another sha256")
if checked < 20:
    print("only %d files checked" % checked)
PY
)
  [[ -z $problems ]] || fail "the datasets in the assignments" "$problems"
}

# assert_no_password_leak: the generated Jupyter password is nowhere in the VM (its upper layer:
# logs, state, configs, the home) but in its own file, nor in any boot's serial output, nor in
# what the metadata server was sent (guest attributes).
assert_no_password_leak() {
  local password leaks
  password=$(tr -d '\n' <"$R$PASSWORD_FILE")
  ((${#password} >= 16)) || fail "the generated password" "expected: 16 characters or more" "got:      ${#password}"
  curl -sS --noproxy '*' "http://$GCE_HOST/_idle" >/dev/null
  leaks=$(grep -rlF --devices=skip -e "$password" -- "$UPPER" "$BOOTS" "$GPU_METADATA_LOG" | sed "s|^$UPPER||" | LC_ALL=C sort | xargs || true)
  assert_eq "files holding the generated password (upper layer, serial output, metadata server log)" "$PASSWORD_FILE" "$leaks"
  assert_eq "mode and owner of $PASSWORD_FILE" "600 0" "$(stat -c '%a %u' -- "$R$PASSWORD_FILE")"
}

# assert_jupyter_login: the host's real jupyter_server (Debian's), run as the student over the
# VM's home, finds the agent's ~/.jupyter by itself and serves the agent's certificate; a
# browser's login with the generated password works over verified HTTPS, a wrong one does not.
assert_jupyter_login() {
  local port uid gid jar=$TEST_TMP/login.jar
  port=$(jupyter_free_port)
  uid=$(uid_of "$STUDENT")
  gid=$(awk -F: -v name="$STUDENT" '$1 == name { print $4 }' "$R/etc/passwd")
  # Only the port differs from the agent's config (8888 may be taken on the host).
  jupyter_start jupyter-server server "$R/home/$STUDENT" "$uid" "$gid" --port="$port"
  jupyter_wait_listening "$JUPYTER_PID" "$port" ||
    fail "the real jupyter_server did not listen on port $port" "$(tail -n 30 -- "$TEST_TMP/jupyter-server.log")"
  JUPYTER_CA=$R/home/$STUDENT/.jupyter/certs/jupyter.pem
  jupyter_login "https://127.0.0.1:$port" "$(tr -d '\n' <"$R$PASSWORD_FILE")" "$jar"
  assert_eq "POST /login with the generated password" 302 "$HTTP_CODE"
  jupyter_has_session "$jar" || fail "no session cookie after the login"
  jupyter_http GET "https://127.0.0.1:$port" /api/status "$jar"
  assert_eq "GET /api/status after the login" 200 "$HTTP_CODE"
  jupyter_login "https://127.0.0.1:$port" "not the password" "$TEST_TMP/wrong.jar"
  assert_eq "POST /login with a wrong password" 401 "$HTTP_CODE"
  jupyter_stop "$JUPYTER_PID"
}

# vm_snapshot: the VM's end state, normalized so that two VMs set up from the same metadata
# compare equal: the installed packages (dpkg-query), then every entry of the whole tree with its
# type, mode, owner and content (sha256; a symlink's target), but
#   - left out: /tmp (the metadata script runner's folders; a killed boot leaves its own), /var/log
#     and /var/cache (logs with times; apt's binary caches; the agent's download cache, whose file
#     names carry a hash of the URL, which differs when a URL holds a fault-injection query),
#     /var/lib/cs231n-agent (the state: run ids, times, attempts; the step logs; the random API
#     token and password hash), /var/lib/apt/lists (the archives' indexes, as fetched: what is
#     installed from them is compared) and /var/lib/dpkg/*-old (dpkg's backups),
#     /root/fake-reboot.calls (the harness's own record);
#   - left out too: the clone's .git/index and .git/logs (stat data and reflog times of the clone);
#   - compared without their content: the random password (/root/cs231n-jupyter-password) and
#     the TLS key and certificate (a fresh key on each VM);
#   - compared with a part masked: the password hash in the two Jupyter config files, the boot id
#     in the nouveau blacklist's comment, the time in the conda env's history, the URL's query in
#     the datasets' markers (they name the URL each was unpacked from), the day of the student's
#     last password change in /etc/shadow (a run across midnight).
vm_snapshot() {
  # shellcheck disable=SC2016  # dpkg-query's own fields
  in_chroot dpkg-query -W -f='${Package} ${Version} ${Status}\n' | LC_ALL=C sort
  "$PYTHON" - "$R" <<'PY'
import hashlib, os, re, stat, sys
root = sys.argv[1]
LEFT_OUT = ("tmp", "var/log", "var/cache", "var/lib/cs231n-agent", "var/lib/apt/lists", "root/fake-reboot.calls",
            "proc", "dev", "home/student/cs231n-setup/.git/index", "home/student/cs231n-setup/.git/logs")
NO_CONTENT = {"root/cs231n-jupyter-password", "home/student/.jupyter/certs/jupyter.key", "home/student/.jupyter/certs/jupyter.pem"}
HASH = (re.compile(rb"(argon2:\$argon2id\$[^\"']*|sha1:[0-9a-f]+:[0-9a-f]+)"), b"<password hash>")
MASKED = {"home/student/.jupyter/jupyter_server_config.py": HASH, "home/student/.jupyter/jupyter_notebook_config.py": HASH,
          "etc/modprobe.d/blacklist-nouveau-cs231n-agent.conf": (re.compile(rb"(?m)^# boot [0-9a-f-]+$"), b"# boot <id>"),
          "home/student/miniconda3/envs/cs231n/conda-meta/history": (re.compile(rb"(?m)^==> [0-9: -]+ <==$"), b"==> <time> <=="),
          "etc/shadow": (re.compile(rb"(?m)^(student:[^:]*:)[0-9]+:"), rb"\1<day>:"),
          "etc/shadow-": (re.compile(rb"(?m)^(student:[^:]*:)[0-9]+:"), rb"\1<day>:")}
MARKER = (re.compile(rb"\?[^ ]*"), b"")
def left_out(relative):
    return any(relative == prefix or relative.startswith(prefix + "/") for prefix in LEFT_OUT) or \
        (relative.startswith("var/lib/dpkg/") and relative.endswith("-old"))
def describe(relative):
    path = os.path.join(root, relative)
    info = os.lstat(path)
    line = "%s %s %o %d:%d" % (relative, stat.filemode(info.st_mode)[0], stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    if stat.S_ISLNK(info.st_mode):
        line += " -> " + os.readlink(path)
    elif stat.S_ISREG(info.st_mode) and relative not in NO_CONTENT:
        with open(path, "rb") as stream:
            data = stream.read()
        pattern, replacement = MASKED.get(relative, MARKER if "/.cs231n-agent-" in relative else (None, None))
        if pattern:
            data = pattern.sub(replacement, data)
        line += " %d %s" % (len(data), hashlib.sha256(data).hexdigest())
    print(line)
for folder, folders, files in os.walk(root):
    relative_folder = os.path.relpath(folder, root)
    relative_folder = "" if relative_folder == "." else relative_folder + "/"
    folders[:] = sorted(name for name in folders if not left_out(relative_folder + name))
    for name in folders:
        describe(relative_folder + name)
    for name in sorted(files):
        if not left_out(relative_folder + name):
            describe(relative_folder + name)
PY
}

# ---------------------------------------------------------------------------------------------
scenario_1() {
  scenario_start 1 "happy path"
  vm_create vm1
  write_metadata 1111 34.82.17.5
  local home=$R/home/$STUDENT uid out

  section "1. first boot: the startup script installs the agent, which runs until the one reboot"
  boot
  printf '   first boot: %s s\n' "$TOOK"
  assert_rc 0
  out=$(cat -- "$OUT")
  assert_contains "serial output" "cs231n-startup: installed cs231n-agent $AGENT_VERSION as /usr/local/bin/cs231n-agent" "$out"
  assert_contains "serial output" "cs231n-startup: cs231n-agent run: a reboot is under way" "$out"
  assert_contains "the run's closing line" "reboot-pending: rebooting (step nvidia-driver asked for it; reboot 1 of at most 3)" "$out"
  assert_eq "reboots asked for" 1 "$(reboot_calls)"
  assert_eq "run state" reboot-pending "$(state_json run.state)"
  agent_status
  assert_rc 3
  assert_json "steps[name=nvidia-driver].status" '"done"'
  assert_json "steps[name=cuda].status" '"pending"'
  assert_eq "guest attribute state" reboot-pending "$(guest state)"

  section "1. the reboot (nouveau blacklisted, so gone; udev loads nvidia); the startup script finishes the run"
  gpu_fake_reboot
  assert_not_contains "modules after the reboot" nouveau "$(gpu_modules)"
  assert_contains "modules after the reboot" nvidia "$(gpu_modules)"
  boot
  printf '   second boot: %s s\n' "$TOOK"
  assert_rc 0
  out=$(cat -- "$OUT")
  assert_contains "serial output" "cs231n-startup: cs231n-agent $AGENT_VERSION is installed and matches cs231n-agent-sha256" "$out"
  assert_contains "serial output" "cs231n-startup: cs231n-agent run: done" "$out"
  assert_contains "the run's summary" "Jupyter: https://34.82.17.5:8888/" "$out"
  assert_contains "the run's summary" "Its password: sudo cat /root/cs231n-jupyter-password" "$out"
  assert_contains "the run's closing line" "done: every selected step is done" "$out"
  assert_eq "reboots asked for" 1 "$(reboot_calls)"
  assert_eq "downloads of the agent" 1 "$(data_gets /files/cs231n-agent)"

  section "1. status, guest attributes"
  agent_status
  assert_rc 0
  assert_json state '"done"'
  assert_json reboots 1
  local step
  for step in user apt-packages anaconda conda-env assignments datasets jupyter-password jupyter-cert jupyter-config \
    jupyter-service nvidia-repo nvidia-driver cuda pytorch gpu-persistence idle-shutdown verify; do
    assert_json "steps[name=$step].status" '"done"'
  done
  assert_eq "guest attribute state" "done" "$(guest state)"
  assert_eq "guest attribute jupyter-url" "https://34.82.17.5:8888/" "$(guest jupyter-url)"
  assert_eq "guest attribute error" "" "$(guest error)"

  section "1. the user, conda, the assignments and their datasets"
  grep -q "^$STUDENT:x:[0-9]*:[0-9]*::/home/$STUDENT:/bin/bash\$" "$R/etc/passwd" ||
    fail "/etc/passwd" "expected: a line for $STUDENT with home /home/$STUDENT and /bin/bash" "got:      $(grep "^$STUDENT:" "$R/etc/passwd" || true)"
  uid=$(uid_of "$STUDENT")
  assert_owned "$uid" "$home/miniconda3" "$home/.jupyter" "$home/cs231n-setup"
  [[ -x $home/miniconda3/envs/cs231n/bin/python ]] || fail "the conda env cs231n has no bin/python"
  assert_contains "conda env list in the student's login shell" "/home/$STUDENT/miniconda3/envs/cs231n" \
    "$(user_shell "$STUDENT" 'conda env list')"
  assert_eq "installer runs (ledger)" 1 "$(grep -c $'\tinstaller\t' "$R$COURSE_LEDGER")"
  assert_eq "conda create runs (ledger)" 1 "$(grep -c $'\tconda\tcreate ' "$R$COURSE_LEDGER")"
  assert_datasets
  local file
  for file in "$MINICONDA" cifar-10-python.tar.gz coco_captioning.zip imagenet_val_25.npz; do
    assert_eq "body bytes sent of $file (one whole download)" "$(stat -c %s -- "$FILES_SERVE/$file")" "$(body_bytes "/files/$file")"
  done

  section "1. Jupyter: config, certificate for the metadata's external IP, a real login over HTTPS"
  assert_eq "owner and mode of jupyter_server_config.py" "$uid 600" "$(stat -c '%u %a' -- "$home/.jupyter/jupyter_server_config.py")"
  assert_contains "jupyter_server_config.py" "c.PasswordIdentityProvider.hashed_password = \"$(cat -- "$R$HASH_FILE")\"" \
    "$(cat -- "$home/.jupyter/jupyter_server_config.py")"
  assert_contains "jupyter_notebook_config.py" "c.NotebookApp.password = \"$(cat -- "$R$HASH_FILE")\"" \
    "$(cat -- "$home/.jupyter/jupyter_notebook_config.py")"
  assert_contains "the certificate's subjectAltName" "IP Address:34.82.17.5" \
    "$(openssl x509 -in "$home/.jupyter/certs/jupyter.pem" -noout -ext subjectAltName)"
  assert_eq "owner and mode of the key" "$uid 600" "$(stat -c '%u %a' -- "$home/.jupyter/certs/jupyter.key")"
  # The end state, for scenario 2, before a Jupyter server writes its runtime files in the home.
  vm_snapshot >"$TEST_TMP/vm1.end-state"
  cache_debs
  assert_jupyter_login

  section "1. the GPU: driver, CUDA, torch, persistence"
  assert_eq "cuda-drivers-580" "hold ok installed" "$(gpu_dpkg_status cuda-drivers-580)"
  assert_eq "cuda-toolkit-12-6" "install ok installed" "$(gpu_dpkg_status cuda-toolkit-12-6)"
  assert_contains "persistence mode" Enabled "$(in_chroot nvidia-smi --query-gpu=persistence_mode --format=csv,noheader)"
  assert_contains "pip calls (ledger)" "torch==2.11.0+cu126" "$(grep $'\tpip\t' "$R$COURSE_LEDGER")"
  in_chroot /usr/local/bin/cs231n-agent verify --json >"$OUT" 2>"$ERR" </dev/null || fail "cs231n-agent verify" "$(cat -- "$ERR")"
  assert_json ok true
  assert_json "checks[name=torch.cuda].ok" true

  section "1. the generated password is in no log, state, output or guest attribute"
  assert_no_password_leak
  scenario_end
}

# ---------------------------------------------------------------------------------------------
# Scenario 2: kills.

SEED=${E2E_SEED:-$(($(date +%s%N) % 1000000))}
MARKS=$TEST_TMP/chaos-marks.jsonl
KILLS_LANDED=()

# vm_pids_of NAME...: the VM's processes running a binary called one of NAMEs ("PID NAME" lines).
vm_pids_of() {
  local pid exe name
  for pid in $(chroot_pids); do
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
    exe=${exe% (deleted)}
    for name in "$@"; do
      if [[ ${exe##*/} == "$name" ]]; then printf '%s %s\n' "$pid" "$name"; fi
    done
  done
}

# agent_run_pids: the VM's `cs231n-agent run` processes (not `version`, which the script also runs).
agent_run_pids() {
  local pid name
  while read -r pid name; do
    [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *" run "* ]] && printf '%s\n' "$pid"
  done < <(vm_pids_of cs231n-agent)
  return 0
}

# The steps a step-triggered kill aims at, in the order of the plan (the others are done in a
# blink, or last).
KILL_TARGETS=(apt-packages anaconda conda-env assignments datasets jupyter-password jupyter-cert nvidia-repo nvidia-driver cuda
  pytorch gpu-persistence)

# steps_not_done: the KILL_TARGETS not recorded done yet.
steps_not_done() {
  "$PYTHON" - "$R$STATE_DIR/state.json" "${KILL_TARGETS[@]}" <<'PY'
import json, sys
try:
    steps = json.load(open(sys.argv[1]))["steps"]
except (OSError, ValueError, KeyError):
    steps = {}
print(" ".join(name for name in sys.argv[2:] if steps.get(name, {}).get("status") != "done"))
PY
}

# chaos_mark WHAT: after a boot, what is recorded done (with its attempts), which downloads are
# verified and which are only complete, with the file server's last request number: nothing
# verified must be fetched again. A download is renamed into the cache once complete (and checked
# against its checksum when it has one); one without a published checksum is verified once its
# sha256 is pinned (datasets/pins.json).
chaos_mark() {
  curl -sS --noproxy '*' "$FILES_BASE/_idle" >/dev/null
  "$PYTHON" - "$R" "$STATE_DIR/state.json" "$FILES_LOG" "$BOOT_NUMBER" "$1" "$MINICONDA" "$COURSE_LEDGER" >>"$MARKS" <<'PY'
import glob, json, os, sys
root, state_path, log, boot, what, installer, ledger = sys.argv[1:8]
cache = root + "/var/cache/cs231n-agent"
try:
    state = json.load(open(root + state_path))
except FileNotFoundError:
    state = {"steps": {}, "run": {"state": "not-started"}}
try:
    pinned = {url.split("?")[0].rsplit("/", 1)[1] for url in json.load(open(cache + "/datasets/pins.json"))}
except FileNotFoundError:
    pinned = set()
done = {name: record.get("attempts", 0) for name, record in state["steps"].items() if record["status"] == "done"}
complete = [os.path.basename(path).split("-", 1)[1] for path in glob.glob(cache + "/datasets/*-*")
            if not path.endswith((".part", ".json"))]
if os.path.exists(cache + "/" + installer):
    complete.append(installer)
# The installer and two of the datasets have checksums in the config; imagenet_val_25.npz has none.
verified = [name for name in complete if name != "imagenet_val_25.npz" or name in pinned]
seq = max((json.loads(line)["seq"] for line in open(log)), default=0)
# The stand-in conda's ledger: how often the installer, conda create and pip install ran so far.
calls = [line.split("\t") for line in open(root + ledger).read().splitlines()]
ran = {step: sum(1 for fields in calls if fields[1] == kind and fields[2].startswith(words))
       for step, kind, words in (("anaconda", "installer", ""), ("conda-env", "conda", "create "), ("pytorch", "pip", "install "))}
print(json.dumps({"boot": int(boot), "what": what, "state": state["run"]["state"], "done": done, "verified": sorted(verified),
                  "unpinned": sorted(set(complete) - set(verified)), "seq": seq, "ran": ran}))
PY
}

# chaos_boot KIND TRIGGER ARG DELAY-MS: boots the VM in the background and, at the trigger, SIGKILLs
# the agent's run (KIND agent: its children live on, as after the OOM killer) or every process of
# the VM (KIND vm: a power loss; the VM then reboots). TRIGGER: `time` (ARG ms after the boot
# started), `step` (DELAY ms after step ARG started), `apt` (the ARG-th apt-get or dpkg process of
# this boot, if it still runs DELAY ms later). Sets KILLED (what was killed, or empty when the
# boot ended first) and RC; KIND none: no kill.
chaos_boot() {
  local kind=$1 trigger=$2 arg=$3 delay=$4 pid started fired="" apt_seen=0 line err
  local -A seen=()
  BOOT_NUMBER=$((BOOT_NUMBER + 1))
  err=$BOOTS/$BOOT_NUMBER.err
  started=$EPOCHREALTIME
  chroot_spawn "$BOOTS/$BOOT_NUMBER.out" "$err" /bin/sh -c "$BOOT_RUNNER"
  pid=$CHROOT_PID
  KILLED=""
  while [[ $kind != none && -z $fired ]] && kill -0 "$pid" 2>/dev/null; do
    case $trigger in
      time) (($(elapsed_ms "$started") < arg)) || fired="$arg ms after the boot started" ;;
      step)
        if grep -qE "^[0-9T:-]+ cs231n-agent: info: $arg: started" "$err"; then
          sleep "$(ms_to_s "$delay")"
          fired="$delay ms after step $arg started"
        fi
        ;;
      apt)
        while read -r line; do
          [[ -n $line && -z ${seen[${line%% *}]:-} ]] || continue
          seen[${line%% *}]=1
          apt_seen=$((apt_seen + 1))
          ((apt_seen >= arg)) || continue
          sleep "$(ms_to_s "$delay")"
          if [[ -e /proc/${line%% *} ]]; then
            fired="while ${line#* } ran ($(tr '\0' ' ' <"/proc/${line%% *}/cmdline" 2>/dev/null | cut -c1-80)), $delay ms after it started"
          fi
          break
        done < <(vm_pids_of apt-get dpkg)
        ;;
    esac
    [[ -n $fired ]] || sleep 0.01
  done
  if [[ -n $fired ]] && kill -0 "$pid" 2>/dev/null; then
    case $kind in
      agent)
        local agents
        agents=$(agent_run_pids | xargs)
        if [[ -n $agents ]]; then
          # shellcheck disable=SC2086  # one pid or several
          kill -KILL $agents 2>/dev/null || true
          KILLED="the agent $fired"
        fi
        ;;
      vm)
        chroot_kill_all
        KILLED="the whole VM $fired"
        ;;
    esac
  fi
  set +e
  { wait "$pid"; } 2>/dev/null
  RC=$?
  set -e
  if [[ $kind == agent && -n $KILLED ]]; then
    local left
    left=$(vm_pids_of apt-get dpkg http https git conda python sh bash nvidia-smi modprobe | cut -d' ' -f2 | sort -u | xargs)
    KILLED+="; left running: ${left:-nothing}"
  fi
  cp -- "$BOOTS/$BOOT_NUMBER.out" "$OUT"
  cp -- "$err" "$ERR"
  LAST_CMD="(VM boot $BOOT_NUMBER, chaos: $kind $trigger $arg +${delay}ms, seed $SEED) startup-script"
  if [[ $kind == vm && -n $KILLED ]]; then gpu_fake_reboot; fi
  return 0
}

elapsed_ms() {
  local now=$EPOCHREALTIME
  echo $(((${now/./} - ${1/./}) / 1000))
}
ms_to_s() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

scenario_2() {
  scenario_start 2 "chaos, seed $SEED"
  printf '   E2E_SEED=%s replays this kill plan\n' "$SEED"
  RANDOM=$SEED
  vm_create vm2
  # One dataset is cut off mid-way once; another meets a burst of three 503s (1 + 2 + 4 s of
  # backoff, in which kills can land).
  write_metadata 2222 34.82.17.6 "{}" '{"cifar-10-python.tar.gz": "cut=300000&cut_times=1", "coco_captioning.zip": "fail=503&fail_times=3"}'
  : >"$MARKS"
  local first_seq
  curl -sS --noproxy '*' "$FILES_BASE/_idle" >/dev/null
  first_seq=$("$PYTHON" -c 'import json, sys; print(max((json.loads(line)["seq"] for line in open(sys.argv[1])), default=0))' "$FILES_LOG")

  # The kill plan: first one while apt-get or dpkg runs, then five in random order: two at a
  # random time after a boot started, three shortly after one of the next steps not done yet
  # started (drawn when the kill comes up). Each kills the agent or the whole VM (at least one of
  # each). A kill whose boot ends first waits for the next boot.
  local plan=() kinds=(agent vm) kind first_kind=$((RANDOM % 2)) index order other swap
  plan+=("${kinds[first_kind]} apt $((1 + RANDOM % 4)) $((RANDOM % 150))")
  order=(time time step step step)
  for ((index = ${#order[@]} - 1; index > 0; index--)); do
    other=$((RANDOM % (index + 1)))
    swap=${order[index]} order[index]=${order[other]} order[other]=$swap
  done
  for index in "${!order[@]}"; do
    kind=${kinds[RANDOM % 2]}
    ((index > 0)) || kind=${kinds[1 - first_kind]}
    case ${order[index]} in
      time) plan+=("$kind time $((100 + RANDOM % 1400)) 0") ;;
      step) plan+=("$kind step ? $((RANDOM % 150))") ;;
    esac
  done
  printf '   kill plan: %s\n' "$(printf '[%s] ' "${plan[@]}")"

  section "2. boots, killed at random moments, until the run is done"
  local boots=0 next=0 trigger arg delay state_now apt_landed=0 targets
  while :; do
    ((++boots <= 25)) || fail "the run is not done after 25 boots (seed $SEED)"
    if ((next < ${#plan[@]})); then
      read -r kind trigger arg delay <<<"${plan[next]}"
      if [[ $arg == "?" ]]; then
        # One of the next three steps not done yet, in the order of the plan: kills spread over
        # the whole run instead of jumping to its end.
        read -r -a targets <<<"$(steps_not_done)"
        ((${#targets[@]})) || targets=(gpu-persistence)
        targets=("${targets[@]:0:3}")
        arg=${targets[RANDOM % ${#targets[@]}]}
        plan[next]="$kind $trigger $arg $delay"
      fi
    else
      kind=none trigger=none arg=0 delay=0
    fi
    chaos_boot "$kind" "$trigger" "$arg" "$delay"
    state_now=$(state_json run.state)
    if [[ -n $KILLED ]]; then
      # A kill after the agent finished (the script was ending) does not count as one in the run.
      [[ $state_now == "done" ]] || KILLS_LANDED+=("boot $BOOT_NUMBER: killed $KILLED (run state then: $state_now)")
      printf '   boot %d: killed %s (the run then: %s)\n' "$BOOT_NUMBER" "$KILLED" "$state_now"
      [[ $trigger != apt ]] || apt_landed=1
      next=$((next + 1))
      chaos_mark "killed"
      continue
    fi
    # Not reached in this boot: in the next one, at its first apt-get or dpkg, or twice as early.
    case $trigger in
      apt) plan[next]="$kind apt 1 $delay" ;;
      time) plan[next]="$kind time $(((arg + 100) / 2)) 0" ;;
    esac
    printf '   boot %d: ended by itself, exit %s, run %s\n' "$BOOT_NUMBER" "$RC" "$state_now"
    chaos_mark "ended"
    # A boot the harness did not kill hands on the run's own outcome (3 and 5 become 0).
    assert_rc 0
    case $state_now in
      done) break ;;
      reboot-pending) gpu_fake_reboot ;;
      *) fail "a boot that was not killed left the run $state_now (seed $SEED)" ;;
    esac
  done
  printf '   %d boots, %d kills landed during the run\n' "$((boots))" "${#KILLS_LANDED[@]}"
  ((apt_landed)) || fail "no kill landed while apt-get or dpkg ran (seed $SEED)"
  ((${#KILLS_LANDED[@]} >= 4)) || fail "only ${#KILLS_LANDED[@]} kills landed (seed $SEED)" "${KILLS_LANDED[@]}"
  assert_contains "the last boot's summary" "Jupyter: https://34.82.17.6:8888/" "$(cat -- "$OUT")"
  agent_status
  assert_rc 0
  assert_json state '"done"'
  assert_eq "guest attribute state" "done" "$(guest state)"
  assert_eq "processes left in the VM" "" "$(chroot_pids | xargs)"

  section "2. the end state equals scenario 1's"
  vm_snapshot >"$TEST_TMP/vm2.end-state"
  local difference
  if ! difference=$(diff -- "$TEST_TMP/vm1.end-state" "$TEST_TMP/vm2.end-state"); then
    fail "the VM after the kills differs from scenario 1's (seed $SEED; < scenario 1, > scenario 2)" "$(head -n 40 <<<"$difference")"
  fi
  assert_datasets

  section "2. nothing recorded done ran again; no verified file was downloaded again; one cut, one 503 burst"
  local problems
  problems=$("$PYTHON" - "$MARKS" "$R$STATE_DIR/state.json" "$FILES_LOG" "$first_seq" <<'PY'
import json, sys
marks = [json.loads(line) for line in open(sys.argv[1])]
final = json.load(open(sys.argv[2]))["steps"]
# This scenario's requests only.
log = sorted((entry for entry in map(json.loads, open(sys.argv[3])) if entry["seq"] > int(sys.argv[4])), key=lambda entry: entry["seq"])
problems, notes = [], []
def gets(name, after=0):
    return [entry for entry in log if entry["seq"] > after and entry["method"] == "GET" and entry["path"] == "/files/" + name]
def killed_between(first, last):
    return any(mark["what"] == "killed" and first <= mark["seq"] < last for mark in marks)
# Recorded done: never applied again. gpu-persistence is the exception by design: persistence mode
# does not survive a reboot, and a run checks it again.
for mark in marks:
    for step, attempts in mark["done"].items():
        if step != "gpu-persistence" and final[step]["attempts"] != attempts:
            problems.append("%s was done with %d attempt(s) after boot %d, and has %d at the end"
                            % (step, attempts, mark["boot"], final[step]["attempts"]))
    for name in mark["verified"]:
        if gets(name, mark["seq"]):
            problems.append("%s was verified after boot %d, yet fetched again: %s" % (name, mark["boot"], gets(name, mark["seq"])[0]))
# A file without a published checksum is pinned the moment it is complete (steps/datasets.cpp):
# once complete, it is never downloaded again.
unpinned = sorted({name for mark in marks for name in mark["unpinned"]})
for name in unpinned:
    whole = [entry for entry in gets(name) if entry["range"] != "bytes=0-0" and not entry.get("error")]
    if len(whole) > 1:
        problems.append("%s (no published checksum) was downloaded whole %d times: it was not pinned when it was complete"
                        % (name, len(whole)))
# One cut: the next request for that segment resumes at the byte where it stopped (the sidecar is
# written when a round of transfers ends, so even across a kill), unless a kill came before that.
cifar = gets("cifar-10-python.tar.gz")
cuts = [entry for entry in cifar if entry.get("cut")]
# A kill in the first milliseconds of the download can end the response the server meant to cut
# before it got to the cut (the fault is spent then).
spent = [entry for entry in cifar if entry.get("error") and entry["bytes"] < 300000 and entry["range"] != "bytes=0-0"]
if not cuts and spent:
    notes.append("the response meant to be cut was ended by a kill after %d bytes, before the cut" % spent[0]["bytes"])
elif len(cuts) != 1:
    problems.append("%d responses of cifar-10-python.tar.gz were cut, not 1" % len(cuts))
else:
    cut = cuts[0]
    start, end = (int(number) for number in cut["range"].split("=")[1].split("-"))
    following = [entry for entry in cifar if entry["seq"] > cut["seq"] and entry["range"] and entry["range"] != "bytes=0-0"
                 and start <= int(entry["range"].split("=")[1].split("-")[0]) <= end]
    across = " in the next boot, after a kill" if following and killed_between(cut["seq"], following[0]["seq"]) else ""
    if not following:
        problems.append("the cut segment %s of cifar-10-python.tar.gz was never asked for again" % cut["range"])
    elif following[0]["range"].startswith("bytes=%d-" % (start + cut["bytes"])):
        notes.append("the cut segment %s resumed at byte %d%s" % (cut["range"], start + cut["bytes"], across))
    elif across:
        notes.append("the cut download was killed before its sidecar was saved; the next boot asked for %s" % following[0]["range"])
    else:
        problems.append("the cut segment %s (cut after %d bytes) was asked for again as %s, not resumed"
                        % (cut["range"], cut["bytes"], following[0]["range"]))
failures = [entry for entry in gets("coco_captioning.zip") if entry["status"] == 503]
if len(failures) != 3:
    problems.append("%d answers 503 for coco_captioning.zip, not 3" % len(failures))
# The stand-in conda's ledger: the installer, conda create and pip install never ran again once
# their step was recorded done.
for step, runs in marks[-1]["ran"].items():
    if runs < 1:
        problems.append("step %s never ran its command (ledger)" % step)
    for mark in marks:
        if step in mark["done"] and mark["ran"][step] != runs:
            problems.append("step %s was done after boot %d with its command run %d time(s), and ran it %d time(s) in all"
                            % (step, mark["boot"], mark["ran"][step], runs))
    if runs > final[step]["attempts"]:
        problems.append("step %s ran its command %d time(s) (ledger) but records %d attempt(s): every apply must be counted"
                        % (step, runs, final[step]["attempts"]))
print("\n".join(problems))
sent = sum(entry["bytes"] for entry in cifar if entry["range"] != "bytes=0-0")
notes.append("cifar-10-python.tar.gz: %d requests, %d body bytes; coco_captioning.zip: %d x 503" % (len(cifar), sent, len(failures)))
notes.append("steps applied more than once (each time unfinished): " + (", ".join(
    "%s %d" % (name, record["attempts"]) for name, record in sorted(final.items()) if record["attempts"] > 1) or "none"))
for note in notes:
    print("   " + note, file=sys.stderr)
PY
)
  [[ -z $problems ]] || fail "no work done twice (seed $SEED)" "$problems" "kills: $(printf '%s; ' "${KILLS_LANDED[@]}")"
  assert_no_password_leak
  scenario_end
}

# ---------------------------------------------------------------------------------------------
# Scenario 3: the next boot of scenario 1's VM.

# What a finished VM's boot may change, each for a reason:
#   /tmp                        the metadata script runner's folder (made and removed: /tmp's time)
#   /var/log/cs231n-agent.log   the agent's log of the boot's run
#   /var/lib/cs231n-agent       the state (the boot's run, its times) and the logs of the steps that
#                               are checked at every run (nvidia-driver, gpu-persistence,
#                               assignments, jupyter-password)
#   /var/lib/nvidia-standin     persistence mode (the stand-in driver's), off after the reboot, on
#                               again (nvidia-smi -pm 1)
BOOT_CHANGES=(/tmp /var/log/cs231n-agent.log /var/lib/cs231n-agent /var/lib/nvidia-standin)

scenario_3() {
  scenario_start 3 "second boot"
  # Scenario 1's VM is still mounted: 3 runs right after 1.
  write_metadata 1111 34.82.17.5

  section "3. a reboot with the same kernel, then the startup script: nothing changes, the agent is quick"
  gpu_fake_reboot
  assert_contains "modules after the reboot" nvidia "$(gpu_modules)"
  upper_snapshot "${BOOT_CHANGES[@]}" >"$TEST_TMP/second-boot.before"
  local trace=/dev/shm/${TEST_TMP##*/}-trace
  upper_snapshot >"$TEST_TMP/second-boot.before-all"
  ledger_mark
  [[ -d /dev/shm ]] || fail "scenario 3 needs the host's /dev/shm (the VM sees it through /dev) for its trace"
  # xtrace with a time on every line, into the host's /dev/shm (the VM sees it as its own): the
  # agent's invocation is timed inside the real boot, and nothing is written into the VM.
  printf '%s\n' "PS4='+\${EPOCHREALTIME} '" "exec 9>>$trace.log" "BASH_XTRACEFD=9" "set -x" >"$trace.env"
  : >"$trace.log"
  boot "E2E_BASH_ENV=$trace.env"
  local agent_time
  agent_time=$("$PYTHON" - "$trace.log" <<'PY'
import re, sys
lines = [line for line in open(sys.argv[1]).read().splitlines() if re.match(r"^\++[0-9]+\.[0-9]+ ", line)]
for index, line in enumerate(lines):
    if re.match(r"^\++[0-9.]+ /usr/local/bin/cs231n-agent run$", line):
        start = float(line.lstrip("+").split()[0])
        end = float(lines[index + 1].lstrip("+").split()[0])
        print("%.3f" % (end - start))
        break
else:
    print("none")
PY
)
  rm -f -- "$trace.env" "$trace.log"
  assert_rc 0
  assert_contains "serial output" "cs231n-startup: cs231n-agent $AGENT_VERSION is installed and matches cs231n-agent-sha256" "$(cat -- "$OUT")"
  assert_contains "serial output" "cs231n-startup: cs231n-agent run: done" "$(cat -- "$OUT")"
  assert_not_contains "serial output" "downloading" "$(cat -- "$OUT")"
  [[ $agent_time != none ]] || fail "no \`cs231n-agent run\` in the boot's trace"
  printf '   the boot took %s s, of which the agent (cs231n-agent run) %s s\n' "$TOOK" "$agent_time"
  # The summary table's rows with a duration are the steps this run checked (the others say
  # "done at <when>").
  printf '   what the agent did: %s\n' "$(sed -nE 's/^([a-z0-9-]+) +done +([0-9.]+ s) +(.*)$/\1 \2 (\3);/p' "$OUT" | xargs)"
  agent_status
  "$PYTHON" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)' "$agent_time" ||
    fail "the agent's time at a boot of a finished VM" "expected: under 1 s" "got:      $agent_time s"
  assert_json state '"done"'
  assert_eq "guest attribute state" "done" "$(guest state)"
  assert_contains "persistence mode, on again" Enabled "$(in_chroot nvidia-smi --query-gpu=persistence_mode --format=csv,noheader)"
  assert_eq "reboots asked for" 1 "$(reboot_calls)"
  assert_eq "downloads of the agent" 1 "$(data_gets /files/cs231n-agent)"
  assert_eq "the stand-in conda's ledger lines added by the boot (installer, conda, pip calls)" "" "$(ledger_new)"
  local difference
  if ! difference=$(upper_snapshot "${BOOT_CHANGES[@]}" | diff -- "$TEST_TMP/second-boot.before" -); then
    fail "the second boot changed the VM outside the agent's own records" "$(head -n 20 <<<"$difference")"
  fi
  printf '   changed, as allowed: %s\n' "$(upper_snapshot | diff -- "$TEST_TMP/second-boot.before-all" - |
    sed -n 's/^[<>] \.\([^ ]*\) .*/\1/p' | grep -v '^ ' | LC_ALL=C sort -u | xargs)"
  [[ -z $(find "$R/tmp" -mindepth 1 -print -quit) ]] || fail "the boot left files in /tmp" "$(ls -la "$R/tmp")"
  scenario_end
}

# ---------------------------------------------------------------------------------------------
# Scenario 4: refusals.

scenario_4() {
  scenario_start 4 "refusals"
  local gets_before nvidia_before difference step

  section "4. an unsupported OS (CentOS 7): exit 4, said why, nothing changed"
  vm_create vm4
  # A VM made from an image that holds the agent already (scripts/bake-image.sh): the boots below
  # download nothing, so whatever changes in the VM is the agent's doing.
  install -m 0755 -- "$AGENT" "$R/usr/local/bin/cs231n-agent"
  rm -f -- "$R/etc/os-release"
  cp -- "$ROOTS/centos7/usr/lib/os-release" "$R/etc/os-release"
  write_metadata 4444 34.82.17.8
  gets_before=$(data_gets /files/cs231n-agent)
  # The agent may log a refused run (as tests/e2e/test_course_failures.sh allows): its log exists
  # already, so that only its own content may change.
  : >"$R/var/log/cs231n-agent.log"
  upper_snapshot /tmp /var/log/cs231n-agent.log >"$TEST_TMP/refusal.before"
  boot
  assert_rc 4
  assert_contains "the run's closing line" \
    "refused: CentOS Linux 7 (Core) is not supported; cs231n-agent supports Ubuntu 16.04, 18.04, 20.04, 22.04, 24.04 and Debian 11, 12" \
    "$(cat -- "$OUT")"
  assert_contains "serial output" "cs231n-startup: cs231n-agent run ended with exit status 4" "$(cat -- "$OUT")"
  assert_eq "guest attribute state" refused "$(guest state)"
  assert_eq "downloads of the agent (it was in the image)" "$gets_before" "$(data_gets /files/cs231n-agent)"
  if ! difference=$(upper_snapshot /tmp /var/log/cs231n-agent.log | diff -- "$TEST_TMP/refusal.before" -); then
    fail_later "a refused run on an unsupported OS changed the VM" "added or changed: $(sed -n 's/^> \.\([^ ]*\) .*/\1/p' <<<"$difference" | xargs)"
  fi

  section "4. a malformed cs231n-config: exit 2, naming the attribute, nothing changed"
  vm_create vm5
  install -m 0755 -- "$AGENT" "$R/usr/local/bin/cs231n-agent"
  write_metadata 5555 34.82.17.9 '{"cs231n-config": "{\"datasets\": {\"enabled\": tru"}'
  : >"$R/var/log/cs231n-agent.log"
  upper_snapshot /tmp /var/log/cs231n-agent.log >"$TEST_TMP/refusal.before"
  boot
  assert_rc 2
  assert_eq "the agent's error lines" 1 "$(grep -c '^cs231n-agent: error: ' "$ERR")"
  assert_contains "the agent's error" "cs231n-config" "$(grep '^cs231n-agent: error: ' "$ERR")"
  assert_contains "serial output" "cs231n-startup: cs231n-agent run ended with exit status 2" "$(cat -- "$OUT")"
  if ! difference=$(upper_snapshot /tmp /var/log/cs231n-agent.log | diff -- "$TEST_TMP/refusal.before" -); then
    fail_later "a run with a malformed cs231n-config changed the VM" "added or changed: $(sed -n 's/^> \.\([^ ]*\) .*/\1/p' <<<"$difference" | xargs)"
  fi
  printf '   %s\n' "$(grep -h '^cs231n-agent: error' "$ERR" | head -n 1)"

  section "4. cs231n-cuda=10.0 on Debian 11: the GPU branch refused before any of it, the rest done, exit 4"
  write_metadata 5555 34.82.17.9 '{"cs231n-cuda": "10.0"}'
  nvidia_before=$(grep -c '/compute/cuda/repos/' "$GPU_SERVER_LOG" || true)
  boot
  assert_rc 4
  assert_contains "serial output" "cs231n-startup: cs231n-agent run ended with exit status 4" "$(cat -- "$OUT")"
  assert_contains "nvidia-repo's reason" "CUDA 10.0 has no repository for Debian 11" "$(cat -- "$OUT")"
  agent_status
  assert_rc 4
  assert_json state '"refused"'
  assert_json "steps[name=nvidia-repo].status" '"refused"'
  for step in nvidia-driver cuda pytorch gpu-persistence; do assert_json "steps[name=$step].status" '"skipped"'; done
  for step in user apt-packages anaconda conda-env assignments datasets jupyter-password jupyter-cert jupyter-config \
    jupyter-service idle-shutdown; do
    assert_json "steps[name=$step].status" '"done"'
  done
  assert_eq "guest attribute state" refused "$(guest state)"
  assert_eq "cuda-keyring" "" "$(gpu_dpkg_status cuda-keyring)"
  assert_eq "requests to NVIDIA's repo" "$nvidia_before" "$(grep -c '/compute/cuda/repos/' "$GPU_SERVER_LOG" || true)"
  [[ ! -e $R/etc/modprobe.d/blacklist-nouveau-cs231n-agent.conf ]] || fail "nouveau was blacklisted although the GPU branch was refused"
  assert_eq "reboots asked for" 0 "$(reboot_calls)"
  assert_contains "modules" nouveau "$(gpu_modules)"
  assert_datasets
  scenario_end
}

# ---------------------------------------------------------------------------------------------
setup_files
printf 'scripts/e2e.sh: agent %s (sha256 %s), scenarios %s\n' "$AGENT_VERSION" "$AGENT_SHA" "$scenarios"
want 1 && scenario_1
want 3 && scenario_3
want 2 && scenario_2
want 4 && scenario_4

printf '\n'
for line in "${SCENARIO_TIMES[@]}"; do printf '%s\n' "$line"; done
fail_at_end
printf 'scripts/e2e.sh: PASS in %d s\n' $((SECONDS - E2E_STARTED))
