#!/usr/bin/env bash
# Failures, in a chroot overlay (tests/e2e/chroot.sh): a failed step stops its dependents while
# other branches finish; the next run after a fix runs just what is left; a changed step re-runs
# alone; a bad --only, --dry-run, a corrupt state file and a state file from a newer agent.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"

chroot_start "$TEST_TMP/chroot"
chroot_install_agent "$AGENT"
R=$CHROOT_ROOT
UPPER=$TEST_TMP/chroot/upper

# write_config FILE VERSION: the graph. needs-file fails unless /root/need exists; VERSION goes
# into needs-file's argv (a changed step).
#   prep -> needs-file -> after-fail -> after-after        side1 -> side2
write_config() {
  "$PYTHON" - "$1" "$2" <<'PY'
import json, sys
path, version = sys.argv[1], sys.argv[2]
def step(name, after, script):
    return {"name": name, "after": after, "user": "root",
            "run": ["sh", "-c", f"echo {name} >> /root/ledger; {script}"]}
json.dump({"steps": [
    step("prep", [], "true"),
    step("needs-file", ["prep"], f"echo looking for /root/need, {version}; test -e /root/need"),
    step("after-fail", ["needs-file"], "true"),
    step("after-after", ["after-fail"], "true"),
    step("side1", [], "true"),
    step("side2", ["side1"], "true"),
]}, open(path, "w"), indent=1)
PY
}

ONLY=prep,needs-file,after-fail,after-after,side1,side2
RUN=(run --config /root/graph.json --only "$ONLY" --yes --state-dir /var/lib/graph)
STATE=$R/var/lib/graph/state.json
write_config "$R/root/graph.json" v1

# ledger: the steps that ran so far, space separated.
ledger() { if [[ -e $R/root/ledger ]]; then xargs <"$R/root/ledger"; fi; }
# state_of STEP: its recorded status.
state_of() { JSON_FILE=$STATE json_raw "steps.$1.status"; }

#-----------------------------------------------------------------------------------------------
section "--dry-run changes nothing"
# Everything the test itself wrote is in the upper layer already; the agent must add nothing
# (but its log file, which every run command opens).
upper_listing() { (cd "$UPPER" && find . ! -path ./var/log/cs231n-agent.log -printf '%p %y %s\n' | LC_ALL=C sort); }
: >"$R/var/log/cs231n-agent.log"
before=$(upper_listing)
chroot_agent "${RUN[@]}" --dry-run
assert_rc 0
for step in prep needs-file after-fail after-after side1 side2; do
  grep -qE "^$step +run " "$OUT" || fail "dry-run output" "expected: a row \"$step  run ...\"" "got: $(cat -- "$OUT")"
done
assert_eq "files the dry run added or changed in the chroot" "$before" "$(upper_listing)"
[[ ! -e $R/var/lib/graph ]] || fail "--dry-run created the state folder"
[[ ! -e $R/usr/local/bin/cs231n-agent ]] || fail "--dry-run installed the agent"

#-----------------------------------------------------------------------------------------------
section "a failed step stops its dependents; the independent branch finishes"
chroot_agent "${RUN[@]}"
assert_rc 1
closing=$(tail -n 1 "$OUT")
assert_contains "closing line" "failed: step needs-file failed: " "$closing"
assert_contains "closing line (the error)" "exited with status 1: looking for /root/need, v1" "$closing"
assert_contains "closing line (the log)" "(log: /var/lib/graph/logs/needs-file.log)" "$closing"
grep -qE '^after-fail +skipped' "$OUT" || fail "summary table" "expected: after-fail skipped" "got: $(cat -- "$OUT")"
assert_eq "steps that ran" "needs-file prep side1 side2" "$(ledger | tr " " "\n" | LC_ALL=C sort | xargs)"
[[ $(grep -nx prep "$R/root/ledger" | cut -d: -f1) -lt $(grep -nx needs-file "$R/root/ledger" | cut -d: -f1) ]] ||
  fail "prep must run before needs-file" "got: $(ledger)"
assert_eq "needs-file" failed "$(state_of needs-file)"
assert_eq "after-fail" skipped "$(state_of after-fail)"
assert_eq "after-after" skipped "$(state_of after-after)"
for step in prep side1 side2; do assert_eq "$step" "done" "$(state_of "$step")"; done
JSON_FILE=$STATE assert_json run.state '"failed"'
JSON_FILE=$STATE assert_json_contains steps.needs-file.error "looking for /root/need, v1"
JSON_FILE=$STATE assert_json_contains steps.after-fail.detail "needs-file"
log=$(cat -- "$R/var/lib/graph/logs/needs-file.log")
assert_contains "the step's log" "looking for /root/need, v1" "$log"
chroot_agent logs needs-file --state-dir /var/lib/graph
assert_rc 0
assert_contains "logs needs-file" "looking for /root/need, v1" "$(cat -- "$OUT")"
chroot_agent status --json --state-dir /var/lib/graph
assert_rc 1
assert_json state '"failed"'

section "after the fix, the next run runs just the failed step and its dependents"
: >"$R/root/ledger"
touch "$R/root/need"
chroot_agent "${RUN[@]}"
assert_rc 0
assert_eq "steps that ran" "needs-file after-fail after-after" "$(ledger)"
for step in prep needs-file after-fail after-after side1 side2; do assert_eq "$step" "done" "$(state_of "$step")"; done
JSON_FILE=$STATE assert_json steps.needs-file.attempts 2
JSON_FILE=$STATE assert_json steps.prep.attempts 1

section "a run with nothing left to do runs nothing"
: >"$R/root/ledger"
chroot_agent "${RUN[@]}"
assert_rc 0
assert_eq "steps that ran" "" "$(ledger)"

section "a changed step runs again, alone"
# The fingerprint is of a step's own inputs (its definition): its dependents keep theirs.
write_config "$R/root/graph.json" v2
chroot_agent "${RUN[@]}"
assert_rc 0
assert_eq "steps that ran" "needs-file" "$(ledger)"
assert_contains "the step's log" "looking for /root/need, v2" "$(cat -- "$R/var/lib/graph/logs/needs-file.log")"

#-----------------------------------------------------------------------------------------------
section "--only a step whose predecessor is not done"
chroot_agent run --config /root/graph.json --only after-fail --yes --state-dir /var/lib/only
assert_rc 2
assert_error_line "step after-fail comes after needs-file, which is not selected and not done"
[[ ! -e $R/var/lib/only/state.json ]] || fail "a refused selection wrote a state file"
# With the predecessors done (in /var/lib/graph), the same selection runs just that step.
: >"$R/root/ledger"
chroot_agent run --config /root/graph.json --only after-fail --yes --state-dir /var/lib/graph
assert_rc 0
assert_eq "steps that ran" "" "$(ledger)"

#-----------------------------------------------------------------------------------------------
section "a corrupt state file is moved aside and the run goes on"
cat >"$R/root/checked.json" <<'EOF'
{"steps": [
  {"name": "made", "user": "root", "run": ["sh", "-c", "echo made >> /root/ledger-checked; touch /root/made"],
   "check": ["test", "-e", "/root/made"]}
]}
EOF
CHECKED=(run --config /root/checked.json --only made --yes --state-dir /var/lib/checked)
chroot_agent "${CHECKED[@]}"
assert_rc 0
printf '{"format": 1, "run": {"id": "abc", ' >"$R/var/lib/checked/state.json"
chroot_agent "${CHECKED[@]}"
assert_rc 0
mapfile -t aside < <(find "$R/var/lib/checked" -maxdepth 1 -name 'state.json.corrupt-*')
assert_eq "files moved aside" 1 "${#aside[@]}"
assert_eq "the corrupt file, kept as it was" '{"format": 1, "run": {"id": "abc", ' "$(cat -- "${aside[0]}")"
assert_contains "warning" "warning: the state file /var/lib/checked/state.json could not be read" "$(cat -- "$ERR")"
assert_contains "warning" "moved it to /var/lib/checked/state.json.corrupt-" "$(cat -- "$ERR")"
JSON_FILE=$R/var/lib/checked/state.json assert_json run.state '"done"'
JSON_FILE=$R/var/lib/checked/state.json assert_json steps.made.status '"done"'
# Its check found it done: it did not run again.
assert_eq "times made ran" "made" "$(xargs <"$R/root/ledger-checked")"

section "a state file from a newer agent is refused and left as it was"
printf '{"format": 99, "run": {"id": "future"}, "steps": {}}\n' >"$R/var/lib/checked/state.json"
cp -- "$R/var/lib/checked/state.json" "$TEST_TMP/newer.json"
chroot_agent "${CHECKED[@]}"
assert_rc 2
assert_error_line "/var/lib/checked/state.json was written by a newer cs231n-agent (state format 99, this one reads up to 1)"
cmp -s -- "$TEST_TMP/newer.json" "$R/var/lib/checked/state.json" || fail "the newer state file was changed"
assert_eq "files moved aside" 1 "$(find "$R/var/lib/checked" -maxdepth 1 -name 'state.json.corrupt-*' | wc -l)"
chroot_agent status --json --state-dir /var/lib/checked
assert_rc 1

#-----------------------------------------------------------------------------------------------
section "status lists the steps in plan order"
chroot_agent plan --json --config /root/graph.json
plan_order=$(json_names steps | tr ' ' '\n' | grep -xE 'prep|needs-file|after-fail|after-after|side1|side2' | xargs)
chroot_agent status --json --state-dir /var/lib/graph
status_order=$(json_names steps | tr ' ' '\n' | grep -xE 'prep|needs-file|after-fail|after-after|side1|side2' | xargs)
assert_eq "steps of status --json, in order (run.order: $(JSON_FILE=$STATE json_get run.order))" "$plan_order" "$status_order"

echo "ok: failures, fixes, changed steps, --only, --dry-run, corrupt and newer state files"
