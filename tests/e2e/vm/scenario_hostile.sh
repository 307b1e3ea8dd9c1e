# shellcheck shell=bash
# Scenario 5 of tests/e2e/vm/run.sh: a hostile student on scenario 1's VM (run after 3, on the
# VM still mounted). Before the next boot the student plants FIFOs where the Jupyter certificate
# and a dataset's marker were, ~/.bashrc as a symlink to /etc/shadow, ~/anaconda3 as a symlink to
# root's own conda (/root/miniconda3), a conda of their own (their prefix's bin/conda: a wrapper)
# and git hooks in their clone set through its config (core.hooksPath, core.fsmonitor): one that
# never reads the refs git writes to its stdin (reference-transaction); the hooks and the conda
# wrapper try TIOCSTI on every terminal they can reach and write into every descriptor they
# inherited. (The agent feeds stdin itself only to system programs, install and tee; what the
# student controls gets /dev/null, or git's pipe.) The course config then moves the assignments
# to another branch and the installer and one dataset to a mirror, and the VM gets a new IP, so
# the boot runs git, its hooks and the student's conda as the student, checks ~/.bashrc (it cannot
# be read: the anaconda step fails naming it, what comes after it waits), fetches the dataset
# again and writes a new certificate. Once the student puts ~/.bashrc back, a run by hand on a
# terminal ends done. Nothing of root's is read, touched or revealed.

# shellcheck disable=SC2034  # RC and LAST_CMD are read by tests/e2e/lib.sh's asserts

# What the hooks write into every descriptor above 2 they inherit, and look for afterwards.
HOSTILE_MARK=HOSTILE-STUDENT-WRITE

# as_student COMMAND: a shell command as the student, in the VM, with the student's HOME.
as_student() {
  in_chroot setpriv --reuid="$STUDENT" --regid="$STUDENT" --init-groups env -i HOME="/home/$STUDENT" \
    PATH=/usr/bin:/bin /bin/sh -c "$1"
}

# plant_hostile_hooks: the student's hooks and conda wrapper, reporting to ~/hostile-report (one
# line per finding).
plant_hostile_hooks() {
  local hooks=$R/home/$STUDENT/.hostile-hooks
  mkdir -p -- "$hooks"
  # Each hook: its name, its terminal (field 7 of /proc/self/stat, 0: none), whether TIOCSTI (0x5412)
  # into fd 0, 1, 2 or /dev/tty worked, and every descriptor above 2 with what it points at, after
  # writing the mark into it.
  cat >"$hooks/hostile" <<EOF
#!/bin/sh
name=\${0##*/}
report=\$HOME/hostile-report
printf '%s tty_nr=%s\n' "\$name" "\$(cut -d' ' -f7 /proc/self/stat)" >>"\$report"
perl -e '
  my \$key = "x";
  for my \$fd (0, 1, 2) {
    open(my \$handle, "+<&=", \$fd) or next;
    print "\$ARGV[0] tiocsti fd\$fd ", (ioctl(\$handle, 0x5412, \$key) ? "INJECTED" : "refused"), "\n";
  }
  if (open(my \$tty, "+<", "/dev/tty")) {
    print "\$ARGV[0] tiocsti /dev/tty ", (ioctl(\$tty, 0x5412, \$key) ? "INJECTED" : "refused"), "\n";
  } else {
    print "\$ARGV[0] no /dev/tty\n";
  }' "\$name" >>"\$report" 2>&1
for fd in /proc/\$\$/fd/*; do
  number=\${fd##*/}
  [ "\$number" -gt 2 ] || continue
  target=\$(readlink "\$fd")
  case \$target in "\$report"|/proc/*) continue ;; esac
  printf '%s inherited fd %s -> %s\n' "\$name" "\$number" "\$target" >>"\$report"
  eval "printf '%s\n' $HOSTILE_MARK >&\$number" 2>/dev/null
done
exit 0
EOF
  # Their conda: the same, then the real one (conda.real beside it; it finds its prefix from $0).
  local conda=$R/home/$STUDENT/$VM_PREFIX/bin/conda
  mv -- "$conda" "$conda.real"
  sed 's|^exit 0$|exec "${0%/*}/conda.real" "$@"|' -- "$hooks/hostile" >"$conda"
  chmod 0755 -- "$conda"
  in_chroot chown "$STUDENT:" "/home/$STUDENT/$VM_PREFIX/bin/conda"
  cp -- "$hooks/hostile" "$hooks/post-checkout"
  cp -- "$hooks/hostile" "$hooks/post-merge"
  # git writes the updated refs to this one's stdin; it never reads them and takes its time.
  sed 's/^exit 0$/sleep 2/' -- "$hooks/hostile" >"$hooks/reference-transaction"
  # Exit 1: "no fsmonitor data", git goes on with a full scan.
  sed 's/^exit 0$/exit 1/' -- "$hooks/hostile" >"$hooks/fsmonitor"
  rm -- "$hooks/hostile"
  chmod 0755 -- "$hooks"/*
  in_chroot chown -R "$STUDENT:" "/home/$STUDENT/.hostile-hooks"
  as_student "git -C ~/cs231n-setup config core.hooksPath ~/.hostile-hooks &&
    git -C ~/cs231n-setup config core.fsmonitor ~/.hostile-hooks/fsmonitor"
}

# set_assignments_ref REF: the course config in the metadata with assignments.ref REF.
set_assignments_ref() {
  "$PYTHON" - "$GPU_METADATA" "$1" <<'PY'
import json, sys
metadata = json.load(open(sys.argv[1]))
attributes = metadata["instance"]["attributes"]
config = json.loads(attributes["cs231n-config"])
config["assignments"]["ref"] = sys.argv[2]
attributes["cs231n-config"] = json.dumps(config)
json.dump(metadata, open(sys.argv[1], "w"), indent=1)
PY
}

scenario_hostile() {
  scenario_start 5 "hostile student"
  local home=$R/home/$STUDENT pem=$R/home/$STUDENT/.jupyter/certs/jupyter.pem
  local marker=/home/$STUDENT/cs231n-setup/assignment3/cs231n/datasets/.cs231n-agent-imagenet-val-25

  section "5. the student's traps: FIFOs (certificate, a dataset's marker), ~/.bashrc -> /etc/shadow, ~/anaconda3 -> root's conda, their own conda and git hooks"
  # Root's own conda (an administrator's, in /root), which the student's ~/anaconda3 leads to.
  mkdir -p -- "$R/root/miniconda3/bin"
  printf '#!/bin/sh\necho conda 24.3.0\n' >"$R/root/miniconda3/bin/conda"
  chmod 0755 -- "$R/root/miniconda3/bin/conda"
  # A password hash in /etc/shadow, for the leak check (a locked account has none to leak).
  # shellcheck disable=SC2016  # a crypt(3) string, not an expansion
  local password_hash='$6$cs231ntest$hostile.student.shadow.hash'
  in_chroot usermod -p "$password_hash" "$STUDENT"
  as_student "rm -f ~/.jupyter/certs/jupyter.pem && mkfifo ~/.jupyter/certs/jupyter.pem &&
    mv ~/.bashrc ~/.bashrc.mine && ln -s /etc/shadow ~/.bashrc && ln -s /root/miniconda3 ~/anaconda3 &&
    rm -f $marker && mkfifo $marker && : >~/hostile-report"
  plant_hostile_hooks
  [[ -p $pem && -L $home/.bashrc && -L $home/anaconda3 && -p $R$marker ]] || fail "the traps are not in place"
  local root_files=(etc/shadow etc/passwd etc/gshadow etc/group root/cs231n-jupyter-password root/miniconda3/bin/conda)
  root_sums() { (cd "$R" && sha256sum -- "${root_files[@]}" && stat -c '%n %a %u %g' -- "${root_files[@]}"); }
  local before
  before=$(root_sums)

  section "5. a new IP, branch spring2019, the installer and a dataset from a mirror: anaconda stops at ~/.bashrc, the rest is done"
  write_metadata 1111 34.82.17.99 '{}' "{\"$VM_INSTALLER\": \"mirror=2\", \"imagenet_val_25.npz\": \"mirror=2\"}"
  set_assignments_ref spring2019
  boot
  printf '   the boot: %s s\n' "$TOOK"
  assert_rc 1
  assert_contains "serial output" "cs231n-agent run ended with exit status 1" "$(cat -- "$OUT")"
  agent_status
  assert_json "steps[name=anaconda].status" '"failed"'
  assert_json_contains "steps[name=anaconda].error" "cannot read /home/$STUDENT/.bashrc as $STUDENT" "Permission denied"
  assert_json "steps[name=conda-env].status" '"skipped"'
  local step
  for step in assignments datasets jupyter-cert; do assert_json "steps[name=$step].status" '"done"'; done
  assert_eq "the clone's branch" "ref: refs/heads/spring2019" "$(cat -- "$home/cs231n-setup/.git/HEAD")"
  [[ -f $home/cs231n-setup/CHANGELOG.md ]] || fail "spring2019's CHANGELOG.md is not in the clone"
  [[ -f $R$marker && ! -L $R$marker ]] || fail "the dataset's marker" "expected: a regular file" "got: $(stat -c %F -- "$R$marker")"
  assert_eq "owner of the marker" "$(stat -c %u -- "$home")" "$(stat -c %u -- "$R$marker")"
  assert_contains "the marker" "imagenet_val_25.npz?mirror=2 sha256:" "$(cat -- "$R$marker")"
  [[ -L $home/.bashrc ]] || fail "the student's ~/.bashrc symlink was replaced"

  section "5. ~/.bashrc back; by hand on a terminal (sudo cs231n-agent run), the assignments back on master: done"
  as_student 'rm ~/.bashrc && mv ~/.bashrc.mine ~/.bashrc'
  set_assignments_ref master
  local command
  command=$(chroot_command_line /usr/local/bin/cs231n-agent run --wait --yes)
  LAST_CMD="(VM, on a pty) cs231n-agent run --wait --yes"
  set +e
  SHELL=/bin/bash script -qec "exec $command" /dev/null >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
  assert_rc 0
  assert_contains "the run's closing line" "done: every selected step is done" "$(cat -- "$OUT")"
  agent_status
  assert_json state '"done"'
  assert_eq "the clone's branch" "ref: refs/heads/master" "$(cat -- "$home/cs231n-setup/.git/HEAD")"

  section "5. the certificate is a regular file again, the student's, for the new IP"
  [[ -f $pem && ! -L $pem ]] || fail "jupyter.pem" "expected: a regular file" "got: $(stat -c %F -- "$pem")"
  assert_eq "owner of jupyter.pem" "$(stat -c %u -- "$home")" "$(stat -c %u -- "$pem")"
  assert_contains "the certificate's addresses" "IP Address:34.82.17.99" \
    "$(openssl x509 -noout -ext subjectAltName -in "$pem")"

  section "5. the hooks and the student's conda ran, with no terminal to push keys into and no descriptor of root's"
  local report
  report=$(cat -- "$home/hostile-report")
  printf '   what the hooks and conda saw (times, finding):\n%s\n' "$(sort <<<"$report" | uniq -c)"
  local hook
  for hook in reference-transaction post-checkout fsmonitor conda; do
    assert_contains "the hooks' report" "$hook tty_nr=0" "$report"
  done
  assert_not_contains "the hooks' report" "INJECTED" "$report"
  ! grep -qE 'tty_nr=[1-9]' <<<"$report" || fail "a hook had a controlling terminal" "$(grep -E 'tty_nr=[1-9]' <<<"$report")"
  # Whatever git itself keeps open for its hooks is git's; nothing may lead to the agent's files.
  assert_not_contains "descriptors the hooks inherited" "cs231n-agent" "$(grep ' inherited fd ' <<<"$report" || true)"
  assert_not_contains "descriptors the hooks inherited" "socket:" "$(grep ' inherited fd ' <<<"$report" || true)"

  section "5. root's files are untouched, and nothing of them or of the hooks' writes shows in root's records"
  assert_eq "root's files" "$before" "$(root_sums)"
  LAST_CMD="(VM) cs231n-agent detect --json"
  in_chroot /usr/local/bin/cs231n-agent detect --json >"$OUT" 2>"$ERR" </dev/null
  assert_json installed.conda_prefix "\"/home/$STUDENT/$VM_PREFIX\""
  local leaks
  assert_eq "the student's hash in /etc/shadow" "$password_hash" "$(grep "^$STUDENT:" "$R/etc/shadow" | cut -d: -f2)"
  leaks=$(grep -rlF -e "$HOSTILE_MARK" -- "$R/var/log" "$R$STATE_DIR" "$R/root" "$R/etc" 2>/dev/null || true)
  assert_eq "root's files holding the hooks' mark" "" "$leaks"
  leaks=$(grep -rlF -e "$password_hash" -- "$R/var/log" "$R$STATE_DIR" "$BOOTS" "$OUT" "$ERR" "$home/hostile-report" \
    2>/dev/null || true)
  assert_eq "records holding the student's password hash" "" "$leaks"
  scenario_end
}
