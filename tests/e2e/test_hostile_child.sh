#!/usr/bin/env bash
# What a step's child (the student's programs among them) inherits from the root agent, in a
# chroot overlay (tests/e2e/chroot.sh): the agent runs `run` on a pty (script), as `sudo -i` would
# leave it, with an extra descriptor open and its log file, from a copy in a folder the student
# can write. Its children have no controlling terminal (no TIOCSTI into root's shell) and no
# descriptor but 0, 1 and 2; the log is close-on-exec; and what it installs as
# /usr/local/bin/cs231n-agent is the binary that runs, even when the file at the path it was
# started from is swapped before it installs itself.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"

chroot_start "$TEST_TMP/chroot"
R=$CHROOT_ROOT
in_chroot useradd -m -s /bin/bash student

# The agent is started from a folder the student owns.
mkdir -p "$R/tmp/student-bin"
install -m 0755 -- "$AGENT" "$R/tmp/student-bin/cs231n-agent"
in_chroot chown -R student: /tmp/student-bin

# Each step reports what it got: field 7 of /proc/self/stat (tty_nr: 0 is no terminal) and the
# descriptors of an ls it runs (/proc/self/fd: what it inherited, plus the folder it reads). The
# last step reads the flags of the agent's (its parent's) descriptor on its log.
cat >"$R/opt/report.sh" <<'EOF'
cut -d" " -f7 /proc/self/stat >"$1.tty"
ls /proc/self/fd >"$1.fds"
EOF
cat >"$R/opt/log-flags.sh" <<'EOF'
for fd in /proc/$PPID/fd/*; do
  if [ "$(readlink "$fd")" = /var/log/cs231n-agent.log ]; then
    sed -n 's/^flags:[[:space:]]*//p' "/proc/$PPID/fdinfo/${fd##*/}"
  fi
done >/root/log-flags
EOF
chmod 0644 "$R/opt/report.sh" "$R/opt/log-flags.sh"
cat >"$R/root/hostile.json" <<'EOF'
{"user": "student", "steps": [
  {"name": "as-student", "user": "target", "run": ["sh", "/opt/report.sh", "/tmp/as-student"]},
  {"name": "as-root", "user": "root", "run": ["sh", "/opt/report.sh", "/root/as-root"]},
  {"name": "agent-log-flags", "user": "root", "run": ["sh", "/opt/log-flags.sh"]}
]}
EOF

# A run holds the lock (taken here, from the host) while the file is swapped.
mkdir -p "$R/var/lib/hostile/logs" && chmod 0700 "$R/var/lib/hostile" "$R/var/lib/hostile/logs"
exec 8>"$R/var/lib/hostile/lock"
flock 8

section "run on a pty, with descriptor 9 open, started from the student's folder"
command=$(chroot_command_line /tmp/student-bin/cs231n-agent run --wait --yes --config /root/hostile.json --state-dir /var/lib/hostile \
  --only as-student,as-root,agent-log-flags)
SHELL=/bin/bash script -qec "exec $command 9>$(printf %q "$TEST_TMP/extra-descriptor")" /dev/null \
  >"$TEST_TMP/agent.out" 2>&1 </dev/null 8>&- &
script_pid=$!
agent_pid=""
for _ in $(seq 1 500); do
  agent_pid=$(ps -o pid= --ppid "$script_pid" | tr -d ' ')
  [[ -n $agent_pid ]] && break
  sleep 0.02
done
[[ -n $agent_pid ]] || fail "the agent did not start under script"
chroot_wait_exec "$agent_pid" cs231n-agent || fail "the agent did not start"
for _ in $(seq 1 500); do
  grep -q "another cs231n-agent run is active" "$TEST_TMP/agent.out" && break
  sleep 0.02
done
tty_nr=$(cut -d' ' -f7 "/proc/$agent_pid/stat")
[[ $tty_nr != 0 ]] || fail "test bug: the agent is not on a terminal" "tty_nr of the agent: $tty_nr"

section "the student swaps the file the agent was started from"
rm -- "$R/tmp/student-bin/cs231n-agent"
printf '#!/bin/sh\necho "cs231n-agent 0.0.1 (the student'"'"'s)"\n' >"$R/tmp/student-bin/cs231n-agent"
# What readlink /proc/PID/exe names once the file is gone.
cp -- "$R/tmp/student-bin/cs231n-agent" "$R/tmp/student-bin/cs231n-agent (deleted)"
chmod 0755 "$R/tmp/student-bin/"*
flock -u 8
exec 8>&-

set +e
wait "$script_pid"
RC=$?
set -e
cp -- "$TEST_TMP/agent.out" "$OUT"
: >"$ERR"
LAST_CMD="(chroot, on a pty) /tmp/student-bin/cs231n-agent run ..."
assert_rc 0

section "children have no controlling terminal"
assert_eq "tty_nr of a step run as the student" 0 "$(cat -- "$R/tmp/as-student.tty")"
assert_eq "tty_nr of a step run as root" 0 "$(cat -- "$R/root/as-root.tty")"

section "children inherit descriptors 0, 1 and 2 only"
# ls lists its own descriptors: 0 1 2, and 3, the folder it reads; anything inherited would be more.
assert_eq "descriptors of a step run as the student (and ls's own 3)" "0 1 2 3" "$(xargs <"$R/tmp/as-student.fds")"
assert_eq "descriptors of a step run as root (and ls's own 3)" "0 1 2 3" "$(xargs <"$R/root/as-root.fds")"

section "the agent's log is close-on-exec"
flags=$(cat -- "$R/root/log-flags")
[[ -n $flags ]] || fail "the agent has no descriptor on /var/log/cs231n-agent.log"
((8#$flags & 8#2000000)) || fail "the log's descriptor is not close-on-exec" "flags: $flags"

section "the installed agent is the one that ran, not the file now at its path"
[[ -f $R/usr/local/bin/cs231n-agent ]] || fail "/usr/local/bin/cs231n-agent was not installed"
cmp -s -- "$AGENT" "$R/usr/local/bin/cs231n-agent" ||
  fail "/usr/local/bin/cs231n-agent is not the agent that ran" "it holds: $(head -c 200 -- "$R/usr/local/bin/cs231n-agent" | tr -d '\0')"

echo "PASS $TEST_NAME"
