#!/usr/bin/env bash
# Off GCE, `run` is about to change a machine that may be someone's workstation: without a
# terminal it needs --yes; on a terminal it asks, and "n" changes nothing; a run that was
# confirmed once is continued without asking again. Runs in a chroot overlay, with `script` for a
# terminal.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"

chroot_start "$TEST_TMP/chroot"
chroot_install_agent "$AGENT"
R=$CHROOT_ROOT
cat >"$R/root/config.json" <<'JSON'
{"user": "root", "steps": [{"name": "touch-marker", "run": ["sh", "-c", "touch /root/ran; test -e /root/may-succeed"]}]}
JSON
RUN=(run --only touch-marker --config /root/config.json --state-dir /var/lib/confirm)

# on_terminal ANSWER ARG...: the agent with a terminal (script(1) gives it a pty), ANSWER typed.
on_terminal() {
  local answer=$1 command
  shift
  command=$(printf '%q ' /root/cs231n-agent "$@")
  LAST_CMD="(chroot, on a terminal, typing $answer) cs231n-agent $*"
  set +e
  printf '%s\n' "$answer" | in_chroot script -qec "$command" /dev/null >"$OUT" 2>"$ERR"
  RC=$?
  set -e
}

section "without a terminal and without --yes: exit 2, nothing changed"
chroot_agent "${RUN[@]}"
assert_rc 2
assert_error_line "not a GCE VM" "add --yes"
[[ ! -e $R/root/ran && ! -e $R/var/lib/confirm/state.json ]] || fail "something ran or was recorded"

section "on a terminal, answering n: exit 2, nothing changed"
on_terminal n "${RUN[@]}"
assert_rc 2
assert_contains "the question" "This machine is not a GCE VM" "$(cat -- "$OUT")"
assert_contains "the answer" "not confirmed; nothing was changed" "$(cat -- "$OUT" "$ERR")"
[[ ! -e $R/root/ran && ! -e $R/var/lib/confirm/state.json ]] || fail "something ran or was recorded"

section "on a terminal, answering y: the run goes on (and this step fails, so the run is unfinished)"
on_terminal y "${RUN[@]}"
assert_rc 1
[[ -e $R/root/ran ]] || fail "the confirmed run did not run the step"
# On a terminal the running steps are shown live, one line each with the time so far.
assert_contains "live view" "... touch-marker" "$(cat -- "$OUT")"
JSON_FILE=$R/var/lib/confirm/state.json assert_json run.confirmed true

section "continuing the confirmed run needs no second confirmation, even without a terminal"
touch "$R/root/may-succeed"
chroot_agent "${RUN[@]}"
assert_rc 0
JSON_FILE=$R/var/lib/confirm/state.json assert_json run.state '"done"'

echo "PASS $TEST_NAME"
