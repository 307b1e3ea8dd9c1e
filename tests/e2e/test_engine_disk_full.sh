#!/usr/bin/env bash
# A full disk under the state dir, in a chroot overlay (tests/e2e/chroot.sh): the state folder is a
# 1 MiB tmpfs that a custom step fills while another step runs. The run must end like any failure
# (before the fix a worker thread threw and the agent aborted with 134, leaving `sleep` running):
# the running step interrupted, exit 8 (no_space), one closing line naming the folder, the state
# file still whole JSON with its last good content, no process left in the chroot.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"

chroot_start "$TEST_TMP/chroot"
chroot_install_agent "$AGENT"
R=$CHROOT_ROOT
TINY=$R/var/lib/tiny
mkdir -p -- "$TINY"
mount -t tmpfs -o size=1m,mode=0700 tmpfs "$TINY" || fail "cannot mount a tmpfs at $TINY"
unmount_tiny() { umount -- "$TINY" 2>/dev/null || umount --lazy -- "$TINY"; }
CHROOT_EXIT_HOOKS+=(unmount_tiny)

# long sleeps (and must be interrupted); fill fills the tmpfs, then ends well: saving its end fails.
"$PYTHON" - "$R/root/steps.json" <<'PY'
import json, sys
def step(name, script):
    return {"name": name, "after": [], "user": "root", "run": ["sh", "-c", script]}
json.dump({"steps": [
    step("long", "sleep 300"),
    step("fill", "sleep 1; head -c 4000000 /dev/zero > /var/lib/tiny/filler; true"),
]}, open(sys.argv[1], "w"), indent=1)
PY

#-----------------------------------------------------------------------------------------------
section "the state dir fills up mid-run"
started=$SECONDS
chroot_agent run --config /root/steps.json --only long,fill --yes --state-dir /var/lib/tiny
assert_rc 8
((SECONDS - started < 60)) || fail "the run took $((SECONDS - started)) s: long was not interrupted"
# Like any failed run: the summary table, then the closing line on stdout.
message="cannot save the state: no space left on the disk of /var/lib/tiny (writing /var/lib/tiny/state.json: No space left on device); free some space there and run \`cs231n-agent run\` again"
assert_eq "closing line" "failed: $message" "$(tail -n 1 "$OUT")"
grep -qE '^long +interrupted ' "$OUT" || fail "summary table" "expected: a row \"long  interrupted ...\"" "got: $(cat -- "$OUT")"
assert_eq "the log lines saying so" 1 "$(grep -cF "cs231n-agent: error: $message: ending the running steps" "$ERR")"

section "the state file keeps its last good content"
STATE=$TINY/state.json
"$PYTHON" -c 'import json, sys; json.load(open(sys.argv[1]))' "$STATE" || fail "state.json is not whole JSON"
assert_eq "fill, as last saved" running "$(JSON_FILE=$STATE json_raw steps.fill.status)"
assert_eq "fill's attempts, as last saved" 1 "$(JSON_FILE=$STATE json_raw steps.fill.attempts)"
assert_eq "no temp file left" "" "$(find "$TINY" -maxdepth 1 -name '.state.json.tmp.*')"

section "no process is left"
assert_eq "processes in the chroot" "" "$(chroot_pids | xargs)"

section "with space again, the next run finishes"
rm -f -- "$TINY/filler"
sed -i 's/sleep 300/true/; s/head -c 4000000/head -c 1000/' "$R/root/steps.json"
chroot_agent run --config /root/steps.json --only long,fill --yes --state-dir /var/lib/tiny
assert_rc 0
echo "PASS $TEST_NAME"
