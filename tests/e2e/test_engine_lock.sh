#!/usr/bin/env bash
# One run at a time, and the commands around a run, in a chroot overlay (tests/e2e/chroot.sh):
# a second `run` exits 5 naming the first one's pid, or waits with --wait; `status --wait`; the
# state `status` reports after a SIGKILL; SIGTERM ends the running step's process group; `reset`
# and `logs`.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"

chroot_start "$TEST_TMP/chroot"
chroot_install_agent "$AGENT"
R=$CHROOT_ROOT

# now_ms: milliseconds since the epoch.
now_ms() { local now=${EPOCHREALTIME/./}; echo $((now / 1000)); }

# wait_for_line FILE LINE [SECONDS]: waits until the overlay's FILE holds LINE.
wait_for_line() {
  local deadline=$((SECONDS + ${3:-10}))
  until [[ -e $R/$1 ]] && grep -qx -- "$2" "$R/$1"; do
    ((SECONDS < deadline)) || fail "waiting for \"$2\" in $1" "got: $(cat -- "$R/$1" 2>/dev/null)"
    sleep 0.02
  done
}

# count FILE LINE: how many lines of the overlay's FILE are LINE.
count() { grep -cx -- "$2" "$R/$1" || true; }

# spawn_agent NAME ARG...: starts the agent in the background; its pid in PIDS[NAME], its output
# in $TEST_TMP/NAME.out and .err.
declare -A PIDS
spawn_agent() {
  local name=$1
  shift
  chroot_spawn "$TEST_TMP/$name.out" "$TEST_TMP/$name.err" /root/cs231n-agent "$@"
  chroot_wait_exec "$CHROOT_PID" cs231n-agent || fail "starting the agent ($name)"
  PIDS[$name]=$CHROOT_PID
}

# reap NAME PID: waits for the background agent; its status in $RC, its output in $OUT/$ERR.
reap() {
  set +e
  { wait "$2"; } 2>/dev/null
  RC=$?
  set -e
  cp -- "$TEST_TMP/$1.out" "$OUT"
  cp -- "$TEST_TMP/$1.err" "$ERR"
  LAST_CMD="(chroot, background) cs231n-agent ... ($1)"
}

cat >"$R/root/lock.json" <<'EOF'
{"steps": [
  {"name": "nap", "user": "root", "run": ["sh", "-c", "echo nap >> /root/ledger-lock; sleep 3"]},
  {"name": "quick", "after": ["nap"], "user": "root", "run": ["sh", "-c", "echo quick >> /root/ledger-lock"]}
]}
EOF
LOCK_RUN=(run --config /root/lock.json --only "nap,quick" --yes --state-dir /var/lib/lock)

#-----------------------------------------------------------------------------------------------
section "a second run while one is active"
spawn_agent first "${LOCK_RUN[@]}"
first_started=$(now_ms)
wait_for_line root/ledger-lock nap
chroot_agent "${LOCK_RUN[@]}"
assert_rc 5
assert_error_line "another cs231n-agent run is active (pid ${PIDS[first]})"
assert_eq "times nap started" 1 "$(count root/ledger-lock nap)"

section "status while a run is active"
chroot_agent status --json --state-dir /var/lib/lock
assert_rc 5
assert_json state '"running"'
assert_json pid "${PIDS[first]}"
assert_json 'steps[name=nap].status' '"running"'

section "status --wait --timeout 1 while a run is active"
started=$(now_ms)
chroot_agent status --wait --timeout 1 --json --state-dir /var/lib/lock
took=$(($(now_ms) - started))
assert_rc 5
assert_json state '"running"'
((took >= 900 && took < 2500)) || fail "status --wait --timeout 1 took ${took} ms" "expected: about 1000 ms"

section "run --wait waits for the active run"
spawn_agent waiter "${LOCK_RUN[@]}" --wait

section "status --wait --timeout 10 blocks until the runs end"
chroot_agent status --wait --timeout 10 --json --state-dir /var/lib/lock
status_ended=$(now_ms)
assert_rc 0
assert_json state '"done"'
# The first run naps 3 s: status cannot have returned before that.
((status_ended - first_started >= 2900)) ||
  fail "status --wait returned $((status_ended - first_started)) ms after the first run started, before it could end"
# (A zombie not yet reaped by this shell has ended too.)
if [[ -r /proc/${PIDS[first]}/stat && $(awk '{print $3}' "/proc/${PIDS[first]}/stat" 2>/dev/null) != Z ]]; then
  fail "status --wait returned while the first run (pid ${PIDS[first]}) was still running"
fi

reap first "${PIDS[first]}"
assert_rc 0
reap waiter "${PIDS[waiter]}"
assert_rc 0
assert_contains "the waiting run's log" "another cs231n-agent run is active (pid ${PIDS[first]}); waiting for it to end" "$(cat -- "$ERR")"
assert_contains "closing line of the waiting run" "done: " "$(tail -n 1 "$OUT")"
assert_eq "times nap started" 1 "$(count root/ledger-lock nap)"
assert_eq "times quick started" 1 "$(count root/ledger-lock quick)"

#-----------------------------------------------------------------------------------------------
section "status after the agent was SIGKILLed mid-step"
cat >"$R/root/kill.json" <<'EOF'
{"steps": [
  {"name": "nap", "user": "root", "run": ["sh", "-c", "echo nap >> /root/ledger-kill; sleep 3"]}
]}
EOF
spawn_agent killed run --config /root/kill.json --only nap --yes --state-dir /var/lib/kill
wait_for_line root/ledger-kill nap
chroot_kill "${PIDS[killed]}"
chroot_agent status --json --state-dir /var/lib/kill
assert_rc 9
assert_json state '"interrupted"'
assert_json 'steps[name=nap].status' '"interrupted"'
chroot_agent status --state-dir /var/lib/kill
assert_rc 9
assert_contains "status" "State: interrupted" "$(cat -- "$OUT")"

#-----------------------------------------------------------------------------------------------
section "SIGTERM during a run"
cat >"$R/root/term.json" <<'EOF'
{"steps": [
  {"name": "work", "user": "root",
   "run": ["sh", "-c", "echo started >> /root/ledger-term; sleep 2 && echo finished >> /root/ledger-term"]},
  {"name": "later", "after": ["work"], "user": "root", "run": ["sh", "-c", "echo later >> /root/ledger-term"]}
]}
EOF
spawn_agent term run --config /root/term.json --only work,later --yes --state-dir /var/lib/term
wait_for_line root/ledger-term started
kill -TERM "${PIDS[term]}"
reap term "${PIDS[term]}"
assert_rc 9
assert_contains "closing line" "interrupted" "$(tail -n 1 "$OUT")"
JSON_FILE=$R/var/lib/term/state.json assert_json run.state '"interrupted"'
JSON_FILE=$R/var/lib/term/state.json assert_json steps.work.status '"interrupted"'
# The step's shell and its sleep were ended with their group: "finished" never comes.
sleep 2.3
assert_eq "lines the step wrote" "started" "$(xargs <"$R/root/ledger-term")"
chroot_agent status --json --state-dir /var/lib/term
assert_rc 9
assert_json state '"interrupted"'

#-----------------------------------------------------------------------------------------------
section "reset and logs"
cat >"$R/root/reset.json" <<'EOF'
{"steps": [
  {"name": "one", "user": "root", "run": ["sh", "-c", "echo one >> /root/ledger-reset; echo hello from one; echo to stderr >&2"]},
  {"name": "two", "after": ["one"], "user": "root", "run": ["sh", "-c", "echo two >> /root/ledger-reset"]}
]}
EOF
RESET_RUN=(run --config /root/reset.json --only "one,two" --yes --state-dir /var/lib/reset)
chroot_agent "${RESET_RUN[@]}"
assert_rc 0
assert_eq "steps that ran" "one two" "$(xargs <"$R/root/ledger-reset")"
chroot_agent "${RESET_RUN[@]}"
assert_rc 0
assert_eq "steps that ran (a second run: nothing)" "one two" "$(xargs <"$R/root/ledger-reset")"

chroot_agent reset two --state-dir /var/lib/reset
assert_rc 0
chroot_agent "${RESET_RUN[@]}"
assert_rc 0
assert_eq "steps that ran (after reset two)" "one two two" "$(xargs <"$R/root/ledger-reset")"

chroot_agent reset --all --state-dir /var/lib/reset
assert_rc 0
chroot_agent "${RESET_RUN[@]}"
assert_rc 0
assert_eq "steps that ran (after reset --all)" "one two two one two" "$(xargs <"$R/root/ledger-reset")"

chroot_agent logs one --state-dir /var/lib/reset
assert_rc 0
assert_contains "logs one" "hello from one" "$(cat -- "$OUT")"
assert_contains "logs one" "to stderr" "$(cat -- "$OUT")"

chroot_agent reset nosuch --state-dir /var/lib/reset
assert_rc 2
assert_error_line "step nosuch has no recorded result"

echo "ok: lock, status --wait, SIGKILL and SIGTERM, reset, logs"
