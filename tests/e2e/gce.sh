# shellcheck shell=bash
# shellcheck disable=SC2034  # the values are the sourcing test's
# Shared by the tests of the off-instance GCE scripts (tests/e2e/test_gce_*.sh): the stand-in gcloud
# on PATH (tests/fixtures/standin-gcloud), a fresh "cloud" per case, the recorded calls and asserts
# on them. Sourced after lib.sh.
SCRIPTS=$SOURCE_DIR/scripts
STANDIN=$FIXTURES/standin-gcloud
export PATH=$STANDIN:$PATH
export STANDIN_GCLOUD_DIR=$TEST_TMP/cloud STANDIN_GCLOUD_LEDGER=$TEST_TMP/ledger
ZONE=us-west1-b
AGENT_FILE=$TEST_TMP/cs231n-agent
printf 'a stand-in for the agent binary\n' >"$AGENT_FILE"
SHA=$(sha256sum -- "$AGENT_FILE" | cut -d' ' -f1)
STARTUP=$SCRIPTS/startup-script.sh
export CS231N_BACKOFF_SECONDS=0 CS231N_PROPAGATION_POLL_SECONDS=0
# The first calls of every run: the login, the project, the Compute Engine API.
PREAMBLE=("gcloud config get-value account" "gcloud config get-value project"
  "gcloud services list --enabled --filter=config.name=compute.googleapis.com '--format=value(config.name)'")
IMAGE_SIZE="gcloud compute images describe-from-family ubuntu-2404-lts-amd64 --project=ubuntu-os-cloud '--format=value(diskSizeGb)'"
SERVICE_ACCOUNT=123456789012-compute@developer.gserviceaccount.com

# access_of BASE PORT RANGE: the firewall rule (and network tag) that lets RANGE reach PORT.
access_of() { printf '%s-%s-%s' "$1" "$2" "$(printf '%s' "$3" | sha256sum | cut -c1-8)"; }
MY_ACCESS=$(access_of cs231n-jupyter 8888 198.51.100.7/32)
DESCRIPTION="--description=cs231n-agent: Jupyter on tcp:8888 from 198.51.100.7/32, for VMs tagged $MY_ACCESS"

# run_script NAME ARG...: like run_agent, for scripts/NAME.
run_script() {
  local name=$1
  shift
  LAST_CMD="scripts/$name $*"
  set +e
  "$SCRIPTS/$name" "$@" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
}

# run_script_waiting NAME ARG...: run_script with stdin an open pipe nobody writes to (a terminal
# nobody types at), at most 20 s; TOOK: the seconds it ran.
run_script_waiting() {
  local name=$1 fifo=$TEST_TMP/stdin.fifo started=$SECONDS
  shift
  LAST_CMD="scripts/$name $* (stdin open, nothing typed)"
  rm -f -- "$fifo"
  mkfifo -- "$fifo"
  exec 3<>"$fifo"
  set +e
  timeout 20 "$SCRIPTS/$name" "$@" >"$OUT" 2>"$ERR" <&3
  RC=$?
  set -e
  exec 3<&-
  TOOK=$((SECONDS - started))
}

# new_cloud GPU-LIMIT [GLOBAL-LIMIT]: an empty project whose us-west1 allows GPU-LIMIT T4s and L4s,
# with account Alice.Smith@example.edu, project cs231n-test (its Compute Engine API on) and the
# bucket gs://my-bucket.
new_cloud() {
  rm -rf -- "$STANDIN_GCLOUD_DIR"
  : >"$STANDIN_GCLOUD_LEDGER"
  mkdir -p "$STANDIN_GCLOUD_DIR"/{config/compute,regions,storage/my-bucket,services}
  printf 'compute.googleapis.com\nstorage.googleapis.com\n' >"$STANDIN_GCLOUD_DIR/services/enabled"
  echo Alice.Smith@example.edu >"$STANDIN_GCLOUD_DIR/config/account"
  echo cs231n-test >"$STANDIN_GCLOUD_DIR/config/project"
  "$PYTHON" - "$STANDIN_GCLOUD_DIR" "$1" "${2:-8}" <<'PY'
import json, sys
cloud, limit, total = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
json.dump({"name": "us-west1", "quotas": [
    {"metric": "CPUS", "limit": 24.0, "usage": 0.0},
    {"metric": "NVIDIA_T4_GPUS", "limit": limit, "usage": 0.0},
    {"metric": "NVIDIA_L4_GPUS", "limit": limit, "usage": 0.0},
    {"metric": "PREEMPTIBLE_NVIDIA_T4_GPUS", "limit": 16.0, "usage": 0.0}]}, open(cloud + "/regions/us-west1.json", "w"))
json.dump({"name": "cs231n-test", "quotas": [{"metric": "GPUS_ALL_REGIONS", "limit": total, "usage": 0.0}]},
          open(cloud + "/project-info.json", "w"))
PY
}

# guest_attributes VM STATE[:STEP[:ERROR]][@READY]...: what get-guest-attributes answers, call after
# call; "-" is a VM that has published nothing yet (gcloud fails). @READY: the agent's `ready`
# attribute (seconds until Jupyter served) and its jupyter-url, as a run that is done has too.
guest_attributes() {
  "$PYTHON" - "$STANDIN_GCLOUD_DIR/guest-attributes/$1" "${@:2}" <<'PY'
import json, os, sys
folder = sys.argv[1]
os.makedirs(folder, exist_ok=True)
for number, answer in enumerate(sys.argv[2:], 1):
    if answer == "-":
        open("%s/%d.err" % (folder, number), "w").write(
        "ERROR: (gcloud.compute.instances.get-guest-attributes) HTTPError 404: The resource 'cs231n-agent/' of type "
        "'Guest Attribute' was not found. This command is authenticated as Alice.Smith@example.edu which is the "
        "active account specified by the [core/account] property.\n")
        continue
    ready = None
    if "@" in answer and answer.rsplit("@", 1)[1].isdigit():
        answer, ready = answer.rsplit("@", 1)
    state, step, error = (answer.split(":", 2) + ["", ""])[:3]
    items = [{"namespace": "cs231n-agent", "key": "state", "value": state}]
    if ready is not None:
        items.append({"namespace": "cs231n-agent", "key": "ready", "value": ready})
    if step:
        items.append({"namespace": "cs231n-agent", "key": "step", "value": step})
    if error:
        items.append({"namespace": "cs231n-agent", "key": "error", "value": error})
    if state == "done" or ready is not None:
        items.append({"namespace": "cs231n-agent", "key": "jupyter-url", "value": "https://203.0.113.11:8888"})
    json.dump(items, open("%s/%d.json" % (folder, number), "w"))
PY
}

# calls: every recorded gcloud/gsutil call, one per line, as a shell would quote it.
calls() {
  "$PYTHON" -c '
import json, shlex, sys
for line in open(sys.argv[1]):
    print(shlex.join(json.loads(line)["argv"]))' "$STANDIN_GCLOUD_LEDGER"
}

# call_field N KEY: field KEY (JSON) of the Nth recorded call whose argv starts with the words
# after N ("5 files" of the 5th call).
call_matching() {
  "$PYTHON" - "$STANDIN_GCLOUD_LEDGER" "$@" <<'PY'
import json, sys
ledger, key, words = sys.argv[1], sys.argv[2], sys.argv[3:]
found = [json.loads(line) for line in open(ledger) if json.loads(line)["argv"][:len(words)] == words]
if len(found) != 1:
    print("<%d calls start with %s>" % (len(found), " ".join(words)))
    sys.exit(0)
value = found[0].get(key)
print(value if isinstance(value, str) else json.dumps(value, sort_keys=True))
PY
}

assert_calls() {
  local expected got
  expected=$(printf '%s\n' "$@")
  got=$(calls)
  [[ $got == "$expected" ]] || fail "gcloud calls" "expected:" "$expected" "got:" "$got" \
    "difference:" "$(diff <(printf '%s\n' "$expected") <(printf '%s\n' "$got") || true)"
}

assert_no_call_matching() {
  local got
  got=$(calls | grep -E -- "$1" || true)
  [[ -z $got ]] || fail "gcloud calls" "expected no call matching: $1" "got: $got"
}

# assert_one_error_line NEEDLE...: stderr is one line, "<script>: error: ...", with every NEEDLE;
# stdout is empty.
assert_one_error_line() {
  local prefix=$1 line needle
  shift
  [[ $(wc -l <"$ERR") == 1 ]] || fail "stderr should be one line" "got: $(cat -- "$ERR")"
  line=$(cat -- "$ERR")
  [[ $line == "$prefix: error: "* ]] || fail "error prefix" "expected: $prefix: error: ..." "got:      $line"
  for needle in "$@"; do assert_contains "error line" "$needle" "$line"; done
  assert_stdout_empty
}

