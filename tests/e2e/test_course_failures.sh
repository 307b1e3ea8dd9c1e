#!/usr/bin/env bash
# The course steps when things go wrong, in one Debian 11 chroot overlay (tests/e2e/chroot.sh), with
# the fixtures of tests/support/course.sh (stand-in installers, datasets, a bare repository, the
# HTTP server on 127.0.0.1):
#   - invalid config values: exit 2, nothing changed
#   - a run SIGKILLed while dpkg unpacks ("dpkg was interrupted", for real): the next run repairs
#     dpkg (dpkg --configure -a) and finishes
#   - the dpkg lock held by another process: the step waits, says so, then succeeds
#   - an installer with another sha256: exit 7, both digests named, nothing installed, the steps
#     after it not run
#   - a conda create that cannot solve, a repository that cannot be cloned: exit 1, named
#   - a clone with local changes: left alone, with a warning; once clean, it follows a new
#     repository; a new assignments.ref is checked out
#   - a dataset with another checksum: exit 7; a server that cuts the download several times:
#     resumed, completes; a pinned file that changed on the server: exit 7
#   - a .zip URL with a query string; two URLs with the same file name; a repository that does
#     not ignore the unpacked datasets
# Expectations that do not change what later sections see (message wording, the last four) are
# checked with fail_later: the test goes on and fails at the end, listing them.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=../support/course.sh
source "$SOURCE_DIR/tests/support/course.sh"


STATE=/var/lib/course
HOME_DIR=/home/student
PREFIX=$HOME_DIR/miniconda3
CLONE=$HOME_DIR/cs231n-setup
LOGS=$STATE/logs

section "fixtures: stand-in installers, dataset archives, a bare repository, the HTTP server, the overlay"
course_setup
course_config "$R/root/course.json"
INSTALLER_SHA=$(sha256_of "$SERVE/$MINICONDA")
# closing_line: the last line of the last run's stdout.
closing_line() { tail -n 1 -- "$OUT"; }
# step_status STEP: its recorded status.
step_status() { JSON_FILE=$R$STATE/state.json json_raw "steps.$1.status"; }
# attempt_log STEP: the step's log from its last attempt on.
attempt_log() { awk '/^=== .* run .*, attempt [0-9]+, boot/ { text = "" } { text = text $0 "\n" } END { printf "%s", text }' "$R$LOGS/$1.log"; }

#-----------------------------------------------------------------------------------------------
section "invalid config values: exit 2, nothing changed in the overlay"
course_config "$R/root/bad-user.json" '{"user": "Bad User"}'
course_config "$R/root/bad-prefix.json" '{"anaconda": {"prefix": "~/my anaconda"}}'
: >"$R/var/log/cs231n-agent.log"
upper_snapshot /var/log/cs231n-agent.log >"$TEST_TMP/upper.pristine"
course_run /root/bad-user.json "$STATE"
assert_rc 2
assert_error_line "user" "Bad User"
course_run /root/bad-prefix.json "$STATE"
assert_rc 2
assert_error_line "anaconda.prefix" "/my anaconda" "without spaces"
if ! difference=$(upper_snapshot /var/log/cs231n-agent.log | diff -- "$TEST_TMP/upper.pristine" -); then
  fail "a refused config changed the overlay" "$(head -n 20 <<<"$difference")"
fi
grep -q '^student:' "$R/etc/passwd" && fail "a refused config made the account"
[[ ! -e $R$STATE ]] || fail "a refused config made the state folder"

#-----------------------------------------------------------------------------------------------
section "a run SIGKILLed while dpkg unpacks leaves \"dpkg was interrupted\"; the next run repairs it"
started=$SECONDS
chroot_spawn "$TEST_TMP/killed.out" "$TEST_TMP/killed.err" /root/cs231n-agent run --only user,apt-packages --yes \
  --config /root/course.json --state-dir "$STATE"
AGENT_PID=$CHROOT_PID
# Wait for dpkg at work: a dpkg process, and its journal (/var/lib/dpkg/updates) not empty.
dpkg_pid=""
deadline=$((SECONDS + 150))
while [[ -z $dpkg_pid ]]; do
  ((SECONDS < deadline)) || fail "no dpkg run within 150 s" "$(tail -n 20 -- "$R$LOGS/apt-packages.log" 2>&1)"
  kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent ended before dpkg ran" "$(cat -- "$TEST_TMP/killed.out" "$TEST_TMP/killed.err")"
  if [[ -n $(find "$R/var/lib/dpkg/updates" -type f -print -quit) ]]; then
    for pid in $(chroot_pids); do
      [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */dpkg ]] && dpkg_pid=$pid && break
    done
  fi
  [[ -n $dpkg_pid ]] || sleep 0.02
done
dpkg_args=$(tr '\0' ' ' <"/proc/$dpkg_pid/cmdline" 2>/dev/null || true)
# dpkg first (so it cannot finish its journal), then the agent and everything it started. (The
# braces keep bash's "Killed" notice about its job out of the output.)
{
  kill -KILL "$dpkg_pid" "$AGENT_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do
    mapfile -t pids < <(chroot_pids)
    ((${#pids[@]} == 0)) && break
    kill -KILL "${pids[@]}" 2>/dev/null || true
    sleep 0.05
  done
  wait "$AGENT_PID" || true
} 2>/dev/null
echo "killed the agent and its children while dpkg ran: $dpkg_args"
# apt-get refuses to work (it changes nothing then) until dpkg is repaired.
in_chroot apt-get -q -y install unzip >"$TEST_TMP/apt-check.out" 2>&1 || true
assert_contains "apt-get install after the kill (dpkg's journal: $(find "$R/var/lib/dpkg/updates" -type f | wc -l) files)" \
  "dpkg was interrupted, you must manually run 'dpkg --configure -a'" "$(cat -- "$TEST_TMP/apt-check.out")"
assert_eq "apt-packages in the state file of the killed run" running "$(step_status apt-packages)"

chroot_agent run --only user,apt-packages --yes --config /root/course.json --state-dir "$STATE"
timed "kill during dpkg, then the repairing run" "$started"
assert_rc 0
repair_log=$(attempt_log apt-packages)
assert_contains "apt-packages' log" "dpkg was interrupted earlier: dpkg --configure -a" "$repair_log"
assert_contains "apt-packages' log" "$ dpkg --force-confdef --force-confold --configure -a" "$repair_log"
assert_eq "dpkg --audit" "" "$(in_chroot dpkg --audit 2>&1)"
for package in git unzip bzip2 ca-certificates; do
  # shellcheck disable=SC2016  # dpkg-query's own ${Status}
  assert_eq "dpkg-query $package" "install ok installed" "$(in_chroot dpkg-query -W -f='${Status}' "$package" 2>&1)"
done
assert_eq "apt-packages" "done" "$(step_status apt-packages)"

#-----------------------------------------------------------------------------------------------
section "the dpkg lock held by another process: apt-packages waits, says so, then succeeds"
in_chroot dpkg --purge unzip >/dev/null
chroot_agent reset apt-packages --state-dir "$STATE"
assert_rc 0
# perl-base is in every Debian: an fcntl write lock on lock-frontend, the lock apt and dpkg take.
HOLD_SECONDS=8
# shellcheck disable=SC2016  # perl's own variables
chroot_spawn "$TEST_TMP/holder.out" "$TEST_TMP/holder.err" perl -e '
  use Fcntl;
  $| = 1;
  open(my $fh, "+<", "/var/lib/dpkg/lock-frontend") or die "open: $!";
  fcntl($fh, F_SETLK, pack("s s x4 q q i x4", F_WRLCK, SEEK_SET, 0, 0, 0)) or die "lock: $!";
  print "locked\n";
  sleep $ARGV[0];' "$HOLD_SECONDS"
HOLDER_PID=$CHROOT_PID
for _ in $(seq 1 500); do [[ -s $TEST_TMP/holder.out ]] && break; sleep 0.01; done
assert_eq "the lock holder (stderr: $(cat -- "$TEST_TMP/holder.err"))" locked "$(cat -- "$TEST_TMP/holder.out")"
started=$SECONDS
chroot_agent run --only user,apt-packages --yes --config /root/course.json --state-dir "$STATE"
waited=$((SECONDS - started))
timed "run behind a held dpkg lock" "$started"
assert_rc 0
{ wait "$HOLDER_PID"; } 2>/dev/null || true
((waited >= HOLD_SECONDS - 2)) || fail "the run did not wait for the lock" "expected: at least $((HOLD_SECONDS - 2)) s" "got: $waited s"
lock_log=$(attempt_log apt-packages)
assert_contains "apt-packages' log" "waiting for the dpkg lock (another package manager is working)" "$lock_log"
# shellcheck disable=SC2016
assert_eq "dpkg-query unzip" "install ok installed" "$(in_chroot dpkg-query -W -f='${Status}' unzip 2>&1)"

#-----------------------------------------------------------------------------------------------
section "an installer whose sha256 is not the configured one: exit 7, nothing installed, nothing after it"
WRONG_SHA=$(printf 'not the installer' | sha256sum | cut -d' ' -f1)
course_config "$R/root/bad-installer.json" "{\"anaconda\": {\"installer_sha256\": \"$WRONG_SHA\"}}"
ledger_mark
gets_before=$(data_gets "/files/$MINICONDA")
chroot_agent run --only user,apt-packages,anaconda,conda-env --yes --config /root/bad-installer.json --state-dir "$STATE"
assert_rc 7
closing=$(closing_line)
assert_contains "closing line" "failed: step anaconda failed:" "$closing"
assert_contains "closing line (the expected sha256)" "$WRONG_SHA" "$closing"
assert_contains "closing line (the actual sha256)" "$INSTALLER_SHA" "$closing"
[[ ! -e $R$PREFIX ]] || fail "a prefix was made from an unverified installer" "$(ls -la -- "$R$PREFIX")"
assert_eq "installer and conda calls" "" "$(ledger_new)"
assert_eq "anaconda" failed "$(step_status anaconda)"
assert_eq "conda-env" skipped "$(step_status conda-env)"
grep -qE '^conda-env +skipped' "$OUT" || fail "summary table" "expected: conda-env skipped" "got: $(cat -- "$OUT")"
[[ ! -e $R/var/cache/cs231n-agent/$MINICONDA ]] || fail "the unverified installer was kept in the cache"
# README: on a mismatch the data is discarded and downloaded once more, then the error names both.
assert_eq "downloads of the installer" 2 "$(($(data_gets "/files/$MINICONDA") - gets_before))"

#-----------------------------------------------------------------------------------------------
section "a conda create that cannot solve: exit 1, the closing line says so, the env is not done"
course_config "$R/root/unsolvable.json" '{"conda_env": {"packages": ["numpy", "unsolvable"]}}'
ledger_mark
chroot_agent run --only user,apt-packages,anaconda,conda-env --yes --config /root/unsolvable.json --state-dir "$STATE"
assert_rc 1
closing=$(closing_line)
assert_contains "closing line" "failed: step conda-env failed:" "$closing"
assert_contains "closing line" "create -y -n cs231n python=3.12 numpy unsolvable" "$closing"
assert_contains "closing line" "exited with status 1" "$closing"
[[ $closing == *PackagesNotFoundError* ]] ||
  fail_later "the closing line does not carry conda's error (PackagesNotFoundError), only its last output line" "got: $closing"
assert_eq "anaconda" "done" "$(step_status anaconda)"
assert_eq "conda-env" failed "$(step_status conda-env)"
[[ ! -e $R$PREFIX/envs/cs231n ]] || fail "an env was left behind by the failed create"
assert_contains "conda calls" "student	conda	create -y -n cs231n python=3.12 numpy unsolvable" "$(ledger_new)"
assert_contains "conda-env's log" "PackagesNotFoundError: The following packages are not available from current channels:" "$(attempt_log conda-env)"

section "too little disk for Anaconda and the env: exit 8 naming the need and the space, nothing downloaded"
course_config "$R/root/small-disk.json" '{"user": "dave"}'
chroot_agent run --only user --yes --config /root/small-disk.json --state-dir /var/lib/small-disk
assert_rc 0
DAVE_UID=$(uid_of dave)
# dave's home becomes a 64 MiB file system of his own (unmounted again below).
mount -t tmpfs -o "size=64m,uid=$DAVE_UID,gid=$DAVE_UID,mode=0755" cs231n-small-home "$R/home/dave"
server_gets_before=$(data_gets "/files/$MINICONDA")
chroot_agent run --only user,apt-packages,anaconda --yes --config /root/small-disk.json --state-dir /var/lib/small-disk
small_rc=$RC
closing=$(closing_line)
umount -- "$R/home/dave"
RC=$small_rc
assert_rc 8
assert_contains "closing line" "failed: step anaconda failed: Anaconda and the conda env need about 4.0 GiB, but /home/dave has only" "$closing"
assert_contains "closing line" "grow the disk and run again" "$closing"
assert_eq "installer downloads" "$server_gets_before" "$(data_gets "/files/$MINICONDA")"

section "a conda solve that does not end: the step's timeout stops it, and nothing of it is left running"
course_config "$R/root/slow.json" '{"conda_env": {"packages": ["numpy", "slow-to-solve"]}, "timeouts": {"conda-env": 3}}'
started=$SECONDS
chroot_agent run --only user,apt-packages,anaconda,conda-env --yes --config /root/slow.json --state-dir "$STATE"
assert_rc 1
((SECONDS - started < 30)) || fail "the timeout" "expected: the run to end soon after 3 s" "got:      $((SECONDS - started)) s"
closing=$(closing_line)
assert_contains "closing line" "failed: step conda-env failed:" "$closing"
assert_contains "closing line" "timed out (the step's time limit; see \"timeouts\")" "$closing"
# The phase it was in, and the way out of a solve that does not end.
assert_contains "closing line" "conda was in its \"Solving environment\" phase" "$closing"
assert_contains "closing line" "conda_env.explicit_file installs an @EXPLICIT list with no solve" "$closing"
assert_eq "conda-env" failed "$(step_status conda-env)"
[[ -z $(pgrep -f 'sleep 3600' || true) ]] || fail "the timed-out conda is still running"

section "a conda solve the kernel's OOM killer ends (signal 9): the phase, the likely cause, the way out"
course_config "$R/root/oom.json" '{"conda_env": {"packages": ["numpy", "exhausts-memory"]}}'
chroot_agent run --only user,apt-packages,anaconda,conda-env --yes --config /root/oom.json --state-dir "$STATE"
assert_rc 1
closing=$(closing_line)
assert_contains "closing line" "failed: step conda-env failed:" "$closing"
assert_contains "closing line" "was killed by signal 9" "$closing"
assert_contains "closing line" "killed: out of memory?" "$closing"
assert_contains "closing line" "conda was in its \"Solving environment\" phase" "$closing"
assert_contains "closing line" "conda_env.explicit_file installs an @EXPLICIT list with no solve" "$closing"
assert_not_contains "closing line (no time limit was reached)" "timed out" "$closing"
[[ ! -e $R$PREFIX/envs/cs231n ]] || fail "the killed create left an env"

section "with packages that solve, the next run makes the env"
ledger_mark
chroot_agent run --only user,apt-packages,anaconda,conda-env --yes --config /root/course.json --state-dir "$STATE"
assert_rc 0
assert_eq "installer runs" "" "$(ledger_new | grep -P '\tinstaller\t' || true)"
[[ -f $R$PREFIX/envs/cs231n/conda-meta/python-3.12.2-h0.json ]] || fail "no env cs231n"

#-----------------------------------------------------------------------------------------------
section "a repository that cannot be cloned: exit 1, the closing line names it"
course_config "$R/root/no-repo.json" '{"assignments": {"repo": "file:///srv/no-such-repo.git"}}'
chroot_agent run --only user,apt-packages,assignments --yes --config /root/no-repo.json --state-dir "$STATE"
assert_rc 1
closing=$(closing_line)
assert_contains "closing line" "failed: step assignments failed: cannot clone file:///srv/no-such-repo.git" "$closing"
assert_contains "closing line" "check assignments.repo" "$closing"
[[ ! -e $R$CLONE ]] || fail "a failed clone left $CLONE behind"
chroot_agent run --only user,apt-packages,assignments --yes --config /root/course.json --state-dir "$STATE"
assert_rc 0
[[ -f $R$CLONE/README.md ]] || fail "no clone after the repository was fixed"

section "a clone with local changes is left alone, with a warning in the step's log"
in_chroot su student -c "echo 'my notes' >>$CLONE/README.md"
cp -a -- "$R/srv/cs231n.git" "$R/srv/cs231n-mirror.git"
course_config "$R/root/mirror.json" '{"assignments": {"repo": "file:///srv/cs231n-mirror.git"}}'
readme_before=$(cat -- "$R$CLONE/README.md")
chroot_agent run --only user,apt-packages,assignments --yes --config /root/mirror.json --state-dir "$STATE"
dirty_rc=$RC
dirty_closing=$(closing_line)
assert_contains "assignments' log" "warning: $CLONE has local changes; leaving it as it is" "$(attempt_log assignments)"
assert_eq "README.md with the student's notes" "$readme_before" "$(cat -- "$R$CLONE/README.md")"
assert_eq "origin of the clone" "file:///srv/cs231n.git" "$(in_chroot su student -c "git -C $CLONE remote get-url origin")"
assert_eq "HEAD of the clone" "$MASTER_COMMIT" "$(in_chroot su student -c "git -C $CLONE rev-parse HEAD")"
# Either the run succeeds with the warning (what assignments' apply returns), or it fails saying why.
if [[ $dirty_rc != 0 && ( $dirty_rc != 1 || $dirty_closing != *"local changes"* ) ]]; then
  fail_later "a clone with local changes: the run should succeed with the warning, or fail saying the clone has local changes" \
    "got: exit $dirty_rc, $dirty_closing"
fi

section "once the changes are gone, the clone follows the new repository"
in_chroot su student -c "git -C $CLONE checkout -- README.md"
chroot_agent run --only user,apt-packages,assignments --yes --config /root/mirror.json --state-dir "$STATE"
assert_rc 0
assert_eq "origin of the clone" "file:///srv/cs231n-mirror.git" "$(in_chroot su student -c "git -C $CLONE remote get-url origin")"

section "assignments.ref names another branch: the clone moves to it"
course_config "$R/root/ref.json" '{"assignments": {"repo": "file:///srv/cs231n-mirror.git", "ref": "spring2019"}}'
chroot_agent run --only user,apt-packages,assignments --yes --config /root/ref.json --state-dir "$STATE"
assert_rc 0
ref_head=$(in_chroot su student -c "git -C $CLONE rev-parse HEAD")
if [[ $ref_head != "$SPRING_COMMIT" || ! -f $R$CLONE/CHANGELOG.md ]]; then
  fail_later "assignments.ref changed to spring2019, but the clone stayed where it was" \
    "expected: HEAD $SPRING_COMMIT (spring2019), with CHANGELOG.md" "got:      HEAD $ref_head; the step said: $(grep -E '^assignments ' "$OUT")"
fi

#-----------------------------------------------------------------------------------------------
section "a dataset whose sha256 is not the configured one: exit 7"
COCO_SHA=$(manifest_value coco_captioning.zip sha256)
BAD_COCO_SHA=$(manifest_value cifar-10-python.tar.gz sha256)
course_config "$R/root/bad-dataset.json" "{\"assignments\": {\"repo\": \"file:///srv/cs231n-mirror.git\"}}"
"$PYTHON" - "$R/root/bad-dataset.json" "$BAD_COCO_SHA" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
for item in config["datasets"]["items"]:
    if item["name"] == "coco-captioning":
        item["sha256"] = sys.argv[2]
json.dump(config, open(sys.argv[1], "w"), indent=1)
PY
chroot_agent run --only user,apt-packages,assignments,datasets --yes --config /root/bad-dataset.json --state-dir "$STATE"
assert_rc 7
closing=$(closing_line)
assert_contains "closing line" "failed: step datasets failed:" "$closing"
assert_contains "closing line (the expected sha256)" "$BAD_COCO_SHA" "$closing"
assert_contains "closing line (the actual sha256)" "$COCO_SHA" "$closing"
assert_eq "datasets" failed "$(step_status datasets)"
[[ ! -e $(cache_file "$R" coco_captioning.zip) ]] || fail "the unverified zip was kept in the cache"
[[ ! -e $R$CLONE/assignment3/cs231n/datasets/coco_captioning ]] || fail "the unverified zip was unpacked"

#-----------------------------------------------------------------------------------------------
section "the server cuts the CIFAR-10 download three times: the download resumes and completes"
CUT_QUERY="cut=400000&cut_times=3"
course_config "$R/root/cut.json" "{\"assignments\": {\"repo\": \"file:///srv/cs231n-mirror.git\"}}"
"$PYTHON" - "$R/root/cut.json" "$CUT_QUERY" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
for item in config["datasets"]["items"]:
    if item["name"].startswith("cifar-10-"):
        item["url"] += "?" + sys.argv[2]
json.dump(config, open(sys.argv[1], "w"), indent=1)
PY
started=$SECONDS
chroot_agent run --only user,apt-packages,assignments,datasets --yes --config /root/cut.json --state-dir "$STATE"
timed "datasets through a cutting server" "$started"
assert_rc 0
cifar_entries=$(_server_entries /files/cifar-10-python.tar.gz | grep -F "\"query\": \"$CUT_QUERY\"")
assert_eq "responses cut by the server" 3 "$(grep -c '"cut": true' <<<"$cifar_entries")"
resumed=$(grep -cE '"range": "bytes=[1-9][0-9]*-' <<<"$cifar_entries" || true)
((resumed >= 1)) || fail "no request resumed with a Range" "$cifar_entries"
assert_eq "CIFAR-10 body bytes sent (every byte once)" "$(manifest_value cifar-10-python.tar.gz size)" \
  "$("$PYTHON" -c 'import json, sys; print(sum(json.loads(line)["bytes"] for line in sys.stdin))' <<<"$cifar_entries")"
while read -r path sha; do
  for assignment in assignment1 assignment2; do
    assert_eq "sha256 of $assignment/.../$path" "$sha" "$(sha256_of "$R$CLONE/$assignment/cs231n/datasets/$path")"
  done
done < <("$PYTHON" -c 'import json, sys
for path, sha in sorted(json.load(open(sys.argv[1]))["cifar-10-python.tar.gz"]["members"].items()): print(path, sha)' "$MANIFEST")
cmp -s -- "$SERVE/imagenet_val_25.npz" "$R$CLONE/assignment3/cs231n/datasets/imagenet_val_25.npz" || fail "imagenet_val_25.npz"
PINNED_SHA=$(manifest_value imagenet_val_25.npz sha256)
JSON_FILE=$R/var/cache/cs231n-agent/datasets/pins.json assert_json "" "{\"$BASE/files/imagenet_val_25.npz\": \"$PINNED_SHA\"}"

#-----------------------------------------------------------------------------------------------
section "a file without a checksum that changed on the server after it was pinned: exit 7"
printf 'changed on the server\n' >>"$SERVE/imagenet_val_25.npz"
CHANGED_SHA=$(sha256_of "$SERVE/imagenet_val_25.npz")
rm -f -- "$(cache_file "$R" imagenet_val_25.npz)" "$R$CLONE/assignment3/cs231n/datasets/.cs231n-agent-imagenet-val-25" \
  "$R$CLONE/assignment3/cs231n/datasets/imagenet_val_25.npz"
chroot_agent reset datasets --state-dir "$STATE"
chroot_agent run --only user,apt-packages,assignments,datasets --yes --config /root/cut.json --state-dir "$STATE"
assert_rc 7
closing=$(closing_line)
assert_contains "closing line (the pinned sha256)" "$PINNED_SHA" "$closing"
assert_contains "closing line (the new sha256)" "$CHANGED_SHA" "$closing"
[[ ! -e $R$CLONE/assignment3/cs231n/datasets/imagenet_val_25.npz ]] || fail "the changed file was copied into the assignment"
JSON_FILE=$R/var/cache/cs231n-agent/datasets/pins.json assert_json "" "{\"$BASE/files/imagenet_val_25.npz\": \"$PINNED_SHA\"}"

#-----------------------------------------------------------------------------------------------
section "a .zip whose URL has a query string (?dl=1, as on file-sharing sites) is unpacked as a zip"
truncate -s "$(manifest_value imagenet_val_25.npz size)" -- "$SERVE/imagenet_val_25.npz"  # the pinned file again
course_config "$R/root/zip-query.json" '{"assignments": {"repo": "file:///srv/cs231n-mirror.git"}}'
"$PYTHON" - "$R/root/zip-query.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
for item in config["datasets"]["items"]:
    if item["name"] == "coco-captioning":
        item["url"] += "?dl=1"
json.dump(config, open(sys.argv[1], "w"), indent=1)
PY
rm -rf -- "$R$CLONE/assignment3/cs231n/datasets/coco_captioning"
chroot_agent run --only user,apt-packages,assignments,datasets --yes --config /root/zip-query.json --state-dir "$STATE"
if [[ $RC != 0 || ! -f $R$CLONE/assignment3/cs231n/datasets/coco_captioning/coco2014_vocab.json ]]; then
  fail_later "a zip URL with a query string was not unpacked" "expected: exit 0, coco_captioning/ unpacked" \
    "got:      exit $RC, $(closing_line)"
fi

section "two datasets whose URLs end in the same file name, from two servers, each get their own file"
first_server=("$BASE" "$SERVE" "$SERVER_LOG")
start_server server2
BASE2=$BASE
BASE=${first_server[0]} SERVE=${first_server[1]} SERVER_LOG=${first_server[2]}
"$PYTHON" - "$SERVE/notes.zip" "$TEST_TMP/server2/root/notes.zip" <<'PY'
import sys, zipfile
for path, tag in zip(sys.argv[1:], ("a", "b")):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes_%s/readme.txt" % tag, "notes %s\n" % tag * 1000)
PY
course_config "$R/root/same-name.json" "{\"assignments\": {\"repo\": \"file:///srv/cs231n-mirror.git\"},
  \"datasets\": {\"extra\": [
    {\"name\": \"notes-a\", \"url\": \"@BASE@/files/notes.zip\", \"sha256\": \"$(sha256_of "$SERVE/notes.zip")\",
     \"into\": \"assignment1/notes\", \"extract\": true},
    {\"name\": \"notes-b\", \"url\": \"$BASE2/files/notes.zip\", \"sha256\": \"$(sha256_of "$TEST_TMP/server2/root/notes.zip")\",
     \"into\": \"assignment2/notes\", \"extract\": true}]}}"
chroot_agent run --only user,apt-packages,assignments,datasets --yes --config /root/same-name.json --state-dir "$STATE"
if [[ $RC != 0 || ! -f $R$CLONE/assignment1/notes/notes_a/readme.txt || ! -f $R$CLONE/assignment2/notes/notes_b/readme.txt ]]; then
  fail_later "two dataset URLs with the same file name share one cache file" \
    "expected: exit 0, assignment1/notes/notes_a/ and assignment2/notes/notes_b/" \
    "got:      exit $RC, $(closing_line); $(find "$R$CLONE/assignment1/notes" "$R$CLONE/assignment2/notes" -name readme.txt 2>/dev/null | sed "s|^$R||" | xargs)"
fi

section "in a repository that does not ignore the datasets, the agent's own unpacked files are no local changes"
"$PYTHON" "$SOURCE_DIR/tests/support/course_fixtures.py" repo --no-gitignore "$R/srv/plain.git" >/dev/null
cp -a -- "$R/srv/plain.git" "$R/srv/plain-mirror.git"
course_config "$R/root/plain.json" '{"assignments": {"repo": "file:///srv/plain.git", "folder": "~/course2"}}'
chroot_agent run --only user,apt-packages,assignments,datasets --yes --config /root/plain.json --state-dir "$STATE"
assert_rc 0
[[ -f $R$HOME_DIR/course2/assignment1/cs231n/datasets/cifar-10-batches-py/data_batch_1 ]] || fail "no datasets in ~/course2"
course_config "$R/root/plain-mirror.json" '{"assignments": {"repo": "file:///srv/plain-mirror.git", "folder": "~/course2"}}'
chroot_agent run --only user,apt-packages,assignments --yes --config /root/plain-mirror.json --state-dir "$STATE"
plain_origin=$(in_chroot su student -c "git -C $HOME_DIR/course2 remote get-url origin")
if [[ $RC != 0 || $plain_origin != file:///srv/plain-mirror.git ]]; then
  fail_later "untracked files (the unpacked datasets, the agent's markers) count as local changes" \
    "expected: exit 0, origin file:///srv/plain-mirror.git" \
    "got:      exit $RC, origin $plain_origin; the step's log: $(attempt_log assignments | grep -m1 warning || true)"
fi

#-----------------------------------------------------------------------------------------------
(IFS=';' && echo "timings: ${TIMINGS[*]}; the whole test: $((SECONDS - TEST_STARTED)) s")
fail_at_end
echo "ok: invalid config, kill during dpkg, a held dpkg lock, checksum mismatches, a failed solve and clone, a dirty clone, resumed downloads, pins"
