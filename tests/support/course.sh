# shellcheck shell=bash
# Shared by tests/e2e/test_course_*.sh and tests/e2e/vm/run.sh, sourced after tests/e2e/lib.sh and
# tests/e2e/chroot.sh: the fixtures of the course steps (user, apt-packages, anaconda, conda-env,
# assignments, datasets) and helpers to look at what a run did inside the chroot overlay.
#
#   course_setup             builds the fixtures, starts the HTTP server, mounts the overlay and
#                            installs the agent; sets R (the overlay), BASE (the server's URL),
#                            SERVE (its folder), SERVER_LOG, MANIFEST (the datasets' facts),
#                            MASTER_COMMIT and SPRING_COMMIT (the commits of /srv/cs231n.git)
#   course_config FILE [JSON...]   the course config, each JSON object merged over it (objects key
#                            by key, everything else replaced), written to FILE (a path on the host)
#   course_run CONFIG STATE-DIR [ARG...]   `run --only <the six course steps> --yes` in the chroot
#   ledger                   the stand-in conda's ledger: "<user> TAB installer|conda TAB <args>" lines
#   ledger_mark, ledger_new  remember where the ledger ends; the lines added since
#   data_gets PATH           the GET requests for PATH so far, but the downloader's one-byte probe
#   body_bytes PATH          the body bytes sent for PATH so far (probes left out)
#   uid_of USER              USER's uid from the overlay's /etc/passwd
#   assert_owned UID PATH... every file and folder under each PATH belongs to UID
#   user_shell USER SCRIPT   SCRIPT in an interactive login bash of USER (su - USER), stdout only
#   upper_snapshot [EXCLUDE...]  the overlay's upper layer (what every run added or changed): one
#                            line per entry with its type, mode, owner, size, mtime and sha256
#                            ($UPPER, when a test's overlay is not $TEST_TMP/chroot)
#   fail_later WHAT DETAIL...    a failed expectation that does not stop the test (the sections
#                            after it still run); fail_at_end fails the test if there was one

COURSE_STEPS=user,apt-packages,anaconda,conda-env,assignments,datasets
# timed TEXT STARTED: how long since STARTED (a $SECONDS), for the report at the end.
# shellcheck disable=SC2034  # read by the tests' closing report
TEST_STARTED=$SECONDS
TIMINGS=()
timed() { TIMINGS+=(" $1: $((SECONDS - $2)) s"); }

# Where the stand-in installer and conda append their calls (inside the chroot).
COURSE_LEDGER=/var/log/standin-conda/calls.log
MINICONDA=Miniconda3-py312_24.3.0-0-Linux-x86_64.sh
ANACONDA=Anaconda3-2018.12-Linux-x86_64.sh
# The current profile's installer (conda-forge only, no ToS plugin), and a Miniconda with Anaconda's
# ToS plugin (conda >= 25.5).
MINIFORGE=Miniforge3-26.7.2-0-Linux-x86_64.sh
MINICONDA_TOS=Miniconda3-py313_25.5.1-1-Linux-x86_64.sh

course_setup() {
  local support=$SOURCE_DIR/tests/support
  local fixtures=$TEST_TMP/server/root  # start_server below serves it
  MANIFEST=$TEST_TMP/datasets.json
  mkdir -p -- "$fixtures"
  "$PYTHON" "$support/course_fixtures.py" datasets "$fixtures" --manifest "$MANIFEST"
  "$PYTHON" "$support/make_standin_conda.py" --conda-version 24.3.0 --ledger "$COURSE_LEDGER" -o "$fixtures/$MINICONDA"
  "$PYTHON" "$support/make_standin_conda.py" --conda-version 4.5.12 --ledger "$COURSE_LEDGER" -o "$fixtures/$ANACONDA"
  "$PYTHON" "$support/make_standin_conda.py" --conda-version 26.7.2 --distribution miniforge --ledger "$COURSE_LEDGER" \
    -o "$fixtures/$MINIFORGE"
  "$PYTHON" "$support/make_standin_conda.py" --conda-version 25.5.1 --ledger "$COURSE_LEDGER" -o "$fixtures/$MINICONDA_TOS"

  chroot_start "$TEST_TMP/chroot"
  CHROOT_EXIT_HOOKS+=(stop_servers)
  chroot_install_agent "$AGENT"
  R=$CHROOT_ROOT
  "$PYTHON" "$support/course_fixtures.py" repo "$R/srv/cs231n.git" >"$TEST_TMP/commits"
  # shellcheck disable=SC2034  # for the tests that source this file
  { read -r MASTER_COMMIT && read -r SPRING_COMMIT; } <"$TEST_TMP/commits"
  mkdir -p -- "$R${COURSE_LEDGER%/*}"
  : >"$R$COURSE_LEDGER"
  chmod 0666 -- "$R$COURSE_LEDGER"

  start_server server  # lib.sh: sets BASE, SERVE and SERVER_LOG
}

# manifest_value FILE KEY: size, md5 or sha256 of a served dataset.
manifest_value() {
  "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' "$MANIFEST" "$1" "$2"
}

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

course_config() {
  local file=$1
  shift
  # The VMs serve no Miniconda (their installer comes in a patch): then its sha256 is left empty.
  local miniconda_sha=""
  [[ ! -f $SERVE/$MINICONDA ]] || miniconda_sha=$(sha256_of "$SERVE/$MINICONDA")
  "$PYTHON" - "$file" "$BASE" "$MANIFEST" "$miniconda_sha" "$@" <<'PY'
import json, sys
path, base, manifest_path, installer_sha = sys.argv[1:5]
manifest = json.load(open(manifest_path))
def item(name, file, into, extract, checksum):
    entry = {"name": name, "url": base + "/files/" + file, "into": into, "extract": extract}
    if checksum:
        entry[checksum] = manifest[file][checksum]
    if checksum == "md5":
        entry["size"] = manifest[file]["size"]
    return entry
config = {
    "profile": "current",
    "user": "student",
    "anaconda": {"installer_url": base + "/files/Miniconda3-py312_24.3.0-0-Linux-x86_64.sh",
                 "installer_sha256": installer_sha, "prefix": "~/miniconda3"},
    "conda_env": {"name": "cs231n", "python": "3.12", "packages": ["numpy", "scipy", "matplotlib", "notebook"]},
    "assignments": {"repo": "file:///srv/cs231n.git", "folder": "~/cs231n-setup"},
    "datasets": {"items": [
        # CIFAR-10 with its md5 and size, as the course publishes it, for two assignments.
        item("cifar-10-assignment1", "cifar-10-python.tar.gz", "assignment1/cs231n/datasets", True, "md5"),
        item("cifar-10-assignment2", "cifar-10-python.tar.gz", "assignment2/cs231n/datasets", True, "md5"),
        item("coco-captioning", "coco_captioning.zip", "assignment3/cs231n/datasets", True, "sha256"),
        # No checksum published: pinned at the first download.
        item("imagenet-val-25", "imagenet_val_25.npz", "assignment3/cs231n/datasets", False, None),
    ]},
}
def merge(into, patch):
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
for patch in sys.argv[5:]:
    merge(config, json.loads(patch.replace("@BASE@", base)))
with open(path, "w") as stream:
    json.dump(config, stream, indent=1)
PY
}

course_run() {
  local config=$1 state=$2
  shift 2
  chroot_agent run --only "$COURSE_STEPS" --yes --config "$config" --state-dir "$state" "$@"
}

ledger() { cat -- "$R$COURSE_LEDGER"; }

# ledger_mark, then ledger_new: the ledger lines added since the mark.
LEDGER_MARK=0
ledger_mark() { LEDGER_MARK=$(wc -l <"$R$COURSE_LEDGER"); }
ledger_new() { tail -n "+$((LEDGER_MARK + 1))" -- "$R$COURSE_LEDGER"; }

# _server_entries PATH: the server's log lines (JSON) for PATH, once every request so far is logged.
_server_entries() {
  "$PYTHON" - "$BASE" "$SERVER_LOG" "$1" <<'PY'
import json, sys, urllib.request
base, log, path = sys.argv[1:4]
urllib.request.urlopen(base + "/_idle", timeout=15).read()
try:
    lines = open(log).read().splitlines()
except FileNotFoundError:
    lines = []
for line in lines:
    entry = json.loads(line)
    if entry["path"] == path and entry["method"] == "GET" and entry["range"] != "bytes=0-0":
        print(json.dumps(entry, sort_keys=True))
PY
}

data_gets() { _server_entries "$1" | wc -l; }

body_bytes() {
  _server_entries "$1" | "$PYTHON" -c 'import json, sys; print(sum(json.loads(line)["bytes"] for line in sys.stdin))'
}

uid_of() {
  awk -F: -v name="$1" '$1 == name { print $3 }' "$R/etc/passwd"
}

assert_owned() {
  local uid=$1 path wrong
  shift
  for path in "$@"; do
    [[ -e $path ]] || fail "ownership" "expected $path to exist"
    wrong=$(find "$path" ! -uid "$uid" -printf '%p (uid %U)\n' | head -n 5)
    [[ -z $wrong ]] || fail "ownership of $path" "expected: every entry owned by uid $uid" "got:      $wrong"
  done
}

user_shell() {
  local user=$1 script=$2
  in_chroot su - "$user" -c "bash -lic '$script'" 2>"$TEST_TMP/user_shell.stderr" </dev/null
}

upper_snapshot() {
  local upper=${UPPER:-$TEST_TMP/chroot/upper} exclude args=()
  for exclude in "$@"; do args+=(! -path ".$exclude" ! -path ".$exclude/*"); done
  (
    cd -- "$upper" || exit 1
    find . "${args[@]}" -printf '%p %y %m %U:%G %s %T@\n' | LC_ALL=C sort
    find . "${args[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum --
  )
}

LATER=()
fail_later() {
  local line
  line=$(printf '[%s] %s' "$CONTEXT" "$1"; shift; printf '\n  %s' "$@")
  LATER+=("$line")
  printf 'FAIL (reported again at the end) %s\n' "$line" >&2
}

fail_at_end() {
  if ((${#LATER[@]})); then
    CONTEXT="the end"
    # shellcheck disable=SC2034  # lib.sh's
    LAST_CMD=""
    fail "${#LATER[@]} expectation(s) failed above" "${LATER[@]}"
  fi
}

# cache_file ROOT NAME: the cached download of a file named NAME (cache names carry a hash of the
# URL before the name, so that two URLs ending in the same name do not share one).
cache_file() {
  local matches=("$1"/var/cache/cs231n-agent/datasets/*-"$2")
  printf '%s\n' "${matches[0]}"
}
