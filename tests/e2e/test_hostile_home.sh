#!/usr/bin/env bash
# Files the student planted in their home, in a chroot overlay (tests/e2e/chroot.sh): root reads
# them only as regular files reached without a symlink (os::Files::read_user_file). Here
# ~/.jupyter/certs/jupyter.pem is a FIFO (before the fix `plan` blocked on it for ever, and a run
# held the run lock) and ~/.bashrc a symlink to /etc/shadow. `plan` answers at once, the run ends
# well (the FIFO replaced by the certificate, written as the student), root's files are untouched.
# A write as the student killed half-way leaves the student's Jupyter config whole. ~/miniforge3
# and ~/.jupyter linked to root-only folders: detect does not take root's conda for the student's,
# the run ends with an error naming the folder, and nothing in root's folders is touched or shown.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"

chroot_start "$TEST_TMP/chroot"
chroot_install_agent "$AGENT"
R=$CHROOT_ROOT
HOME_DIR=$R/home/student
PEM=$HOME_DIR/.jupyter/certs/jupyter.pem
printf '{"user": "student", "jupyter": {"port": 8899, "hash_algorithm": "sha1"}}\n' >"$R/root/student.json"

# timed_agent SECONDS ARG...: the agent in the chroot, killed after SECONDS (status 124 then).
timed_agent() {
  local seconds=$1
  shift
  LAST_CMD="(chroot) cs231n-agent $*"
  set +e
  timeout --kill-after=5 "$seconds" env -i "${CHROOT_ENV[@]}" unshare --mount /bin/sh -c "$_CHROOT_ENTER" sh \
    "$CHROOT_ROOT" /root/cs231n-agent "$@" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
}
as_student() { in_chroot setpriv --reuid=student --regid=student --init-groups env HOME=/home/student /bin/sh -c "$1"; }

section "the student's account, then the student's traps"
timed_agent 120 run --only user --yes --config /root/student.json
assert_rc 0
as_student 'mkdir -p ~/.jupyter/certs && mkfifo ~/.jupyter/certs/jupyter.pem && rm -f ~/.bashrc && ln -s /etc/shadow ~/.bashrc'
[[ -p $PEM && -L $HOME_DIR/.bashrc ]] || fail "the traps are not in place"
ROOT_FILES=(etc/shadow etc/passwd etc/gshadow)
root_sums() { (cd "$R" && sha256sum -- "${ROOT_FILES[@]}" && stat -c '%n %a %u %g' -- "${ROOT_FILES[@]}"); }
before=$(root_sums)

section "plan answers at once"
started=$SECONDS
timed_agent 20 plan --config /root/student.json
assert_rc 0
((SECONDS - started < 10)) || fail "plan took $((SECONDS - started)) s"
grep -qE '^jupyter-cert +run' "$OUT" || fail "plan" "expected: jupyter-cert to run" "got: $(cat -- "$OUT")"

section "the run ends well and replaces the FIFO"
timed_agent 120 run --only user,jupyter-password,jupyter-cert,jupyter-config --yes --config /root/student.json
assert_rc 0
[[ -f $PEM && ! -L $PEM ]] || fail "jupyter.pem" "expected: a regular file" "got: $(stat -c %F -- "$PEM")"
assert_eq "owner of jupyter.pem" "$(stat -c %u -- "$HOME_DIR")" "$(stat -c %u -- "$PEM")"
grep -q 'BEGIN CERTIFICATE' -- "$PEM" || fail "jupyter.pem holds no certificate"

section "root's files are untouched, and nothing of them shows"
assert_eq "root's files" "$before" "$(root_sums)"
[[ -L $HOME_DIR/.bashrc ]] || fail "the student's ~/.bashrc symlink was replaced"
shadow_hash=$(grep '^root:' "$R/etc/shadow" | cut -d: -f2)
for file in "$OUT" "$ERR" "$R"/var/lib/cs231n-agent/logs/*.log; do
  if [[ -n $shadow_hash && $shadow_hash != '*' && $shadow_hash != '!'* ]]; then
    assert_not_contains "$file" "$shadow_hash" "$(cat -- "$file")"
  fi
done

#-----------------------------------------------------------------------------------------------
section "a write as the student killed half-way leaves the student's config whole"
NB_CONFIG=$HOME_DIR/.jupyter/jupyter_notebook_config.py
as_student 'echo "c.NotebookApp.iopub_data_rate_limit = 10000000  # the student own line" >> ~/.jupyter/jupyter_notebook_config.py'
cp -- "$NB_CONFIG" "$TEST_TMP/config-before"
# A changed port makes jupyter-config rewrite the file; an `install` that writes 20 bytes of what
# it is given and is then SIGKILLed stands for the agent (or the VM) dying in the middle of it.
printf '{"user": "student", "jupyter": {"port": 8898, "hash_algorithm": "sha1"}}\n' >"$R/root/student.json"
printf '#!/bin/sh\nhead -c 20 | /usr/bin/install "$@"\nkill -KILL $$\n' >"$R/usr/local/bin/install"
chmod 0755 "$R/usr/local/bin/install"
timed_agent 120 run --only user,jupyter-password,jupyter-cert,jupyter-config --yes --config /root/student.json
assert_rc 1
cmp -s -- "$TEST_TMP/config-before" "$NB_CONFIG" ||
  fail "the config after the killed write" "expected: as before" "got: $(head -c 300 -- "$NB_CONFIG")"
rm -f -- "$R/usr/local/bin/install"
timed_agent 120 run --only user,jupyter-password,jupyter-cert,jupyter-config --yes --config /root/student.json
assert_rc 0
assert_contains "the student's line" "# the student own line" "$(cat -- "$NB_CONFIG")"
assert_contains "the new port" "8898" "$(cat -- "$NB_CONFIG")"
assert_eq "temp files left" "" "$(find "$HOME_DIR/.jupyter" -name '*.cs231n-agent.tmp')"

#-----------------------------------------------------------------------------------------------
section "folders the student linked to root's: nothing in them is looked at, listed or revealed"
# ~/miniforge3 -> a root-only conda, ~/.jupyter -> a root-only folder. Root following them
# would name ~/miniforge3 as the conda prefix (bin/conda exists, for root) and write nothing for
# the student; as the student, nothing there can be read or written.
mkdir -p -- "$R/root/conda-of-root/bin" "$R/root/jupyter-of-root"
printf '#!/bin/sh\necho conda 4.5.12\n' >"$R/root/conda-of-root/bin/conda"
echo '{"NotebookApp": {"certfile": ""}}' >"$R/root/jupyter-of-root/jupyter_notebook_config.json"
chmod 0755 -- "$R/root/conda-of-root/bin/conda"
chmod 0700 -- "$R/root/conda-of-root" "$R/root/jupyter-of-root"
as_student 'ln -s /root/conda-of-root ~/miniforge3 && mv ~/.jupyter ~/.jupyter-before && ln -s /root/jupyter-of-root ~/.jupyter'
root_folders() { (cd "$R/root" && find conda-of-root jupyter-of-root -printf '%p %m %u %s %T@\n' | sort); }
folders_before=$(root_folders)
timed_agent 20 detect --json --config /root/student.json
assert_rc 0
assert_json installed.conda_prefix null
# A longer certificate life makes jupyter-cert run again; it writes as the student, who cannot
# enter root's folder: a clear error naming it.
printf '{"user": "student", "jupyter": {"port": 8898, "hash_algorithm": "sha1", "certificate_days": 800}}\n' \
  >"$R/root/student.json"
timed_agent 120 run --only user,jupyter-password,jupyter-cert,jupyter-config --yes --config /root/student.json
assert_rc 1
assert_contains "the run's output" "/home/student/.jupyter/certs" "$(cat -- "$OUT" "$ERR")"
assert_contains "the run's output" "Permission denied" "$(cat -- "$OUT" "$ERR")"
assert_eq "root's folders" "$folders_before" "$(root_folders)"
assert_not_contains "what the agent said" "jupyter_notebook_config.json" "$(cat -- "$OUT" "$ERR" "$R"/var/lib/cs231n-agent/logs/*.log)"
