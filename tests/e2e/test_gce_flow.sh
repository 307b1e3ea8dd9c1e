#!/usr/bin/env bash
# Issue 16's "done when" as one flow in which the laptop's scripts and the VM's startup script meet.
# The stand-in gcloud (tests/fixtures/standin-gcloud, no real GCE here) writes each VM's metadata for
# a metadata server on 127.0.0.1 (tests/support/http_server.py's GCE emulation, guest attributes on
# only with enable-guest-attributes=TRUE) and boots the VM: the startup script the scripts put into
# the metadata runs as GCE runs it (root, at boot) in a Debian chroot overlay (tests/e2e/chroot.sh),
# fetching gs:// objects from the stand-in's storage (storage_server.py), which answers by the
# bucket's IAM policy; what it publishes is what `get-guest-attributes` reads. Shown:
#   1. a new project with the Compute Engine API off: a clear message within seconds, nothing made;
#      --yes enables it and waits until it is in effect;
#   2. a course's bucket that is not the student's: a warning at creation; the VM's HTTP 403
#      (published by the startup script) reported at the first poll with the grant that fixes it;
#      an agent URL whose file is not the --agent given: the wrong sha256, at the first poll too;
#   3. the clean-up commands create-instance.sh printed, run, leave nothing of those VMs;
#   4. a class created (its VMs read the agent from the student's bucket: the grant is made), listed,
#      stopped, one VM baked into an image, the class deleted; then every resource the stand-in
#      holds (of every kind it keeps, bucket objects and bindings included) is one the README's
#      clean-up block names, and running that block's commands for them leaves the project empty.
# The agent binary ($1) is the file published; the VMs stop before it runs.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=gce.sh
source "$SOURCE_DIR/tests/e2e/gce.sh"

SA=123456789012-compute@developer.gserviceaccount.com

section "fixtures: a VM's root (a Debian overlay with curl), the storage stand-in, the boot hook"
chroot_start "$TEST_TMP/chroot"
CHROOT_EXIT_HOOKS+=(stop_servers)
R=$CHROOT_ROOT
# curl from the debs other tests keep (read only), else from Debian's archive.
cp -- "$CHROOT_CACHE"/debs-startup-script/*.deb "$CHROOT_CACHE"/debs-e2e/*.deb "$R/var/cache/apt/archives/" 2>/dev/null || true
install_curl() { in_chroot env DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Options::=--force-unsafe-io install -y -qq --no-install-recommends curl ca-certificates; }
if ! install_curl >"$TEST_TMP/apt.log" 2>&1; then
  in_chroot apt-get update -qq >>"$TEST_TMP/apt.log" 2>&1 || fail "apt-get update in the overlay failed" "$(tail -n 20 -- "$TEST_TMP/apt.log")"
  install_curl >>"$TEST_TMP/apt.log" 2>&1 || fail "apt-get install curl in the overlay failed" "$(tail -n 20 -- "$TEST_TMP/apt.log")"
fi
new_cloud 0
STORAGE_DIR=$TEST_TMP/storage-server
mkdir -p "$STORAGE_DIR"
"$PYTHON" "$STANDIN/storage_server.py" --cloud "$STANDIN_GCLOUD_DIR" --port-file "$STORAGE_DIR/port" --log "$STORAGE_DIR/log" \
  >"$STORAGE_DIR/stderr" 2>&1 </dev/null &
SERVER_PIDS+=("$!")
for _ in $(seq 1 300); do [[ -s $STORAGE_DIR/port ]] && break; sleep 0.02; done
[[ -s $STORAGE_DIR/port ]] || fail "the storage stand-in did not start" "$(cat -- "$STORAGE_DIR/stderr")"
STORAGE_URL=http://127.0.0.1:$(tr -d '[:space:]' <"$STORAGE_DIR/port")

# new_vm NAME: the metadata server VM NAME will have (its metadata: the file the stand-in writes at
# create), found by the stand-in through DIR/vm-metadata/NAME.host.
new_vm() {
  mkdir -p "$STANDIN_GCLOUD_DIR/vm-metadata"
  start_server "meta-$1" --metadata "$STANDIN_GCLOUD_DIR/vm-metadata/$1.json" --guest-attributes-by-metadata
  printf '%s\n' "${BASE#http://}" >"$STANDIN_GCLOUD_DIR/vm-metadata/$1.host"
}
# The boot: the startup-script attribute of the VM's metadata, run as root in the overlay.
# shellcheck disable=SC2016  # the hook expands them
write_boot_hook() {
  mkdir -p "$STANDIN_GCLOUD_DIR/hooks"
  {
    printf '#!/usr/bin/env bash\nset -euo pipefail\nvm=$1 cloud=%q\n' "$STANDIN_GCLOUD_DIR"
    printf '%q -c %q "$cloud/vm-metadata/$vm.json" >%q\n' "$PYTHON" \
      'import json, sys; print(json.load(open(sys.argv[1]))["instance"]["attributes"]["startup-script"], end="")' "$R/root/startup-script.sh"
    printf 'host=$(cat -- "$cloud/vm-metadata/$vm.host")\n'
    printf '%s"GCE_METADATA_HOST=$host" %q /bin/bash /root/startup-script.sh\n' "$(chroot_command_line env)" "CS231N_STORAGE_URL=$STORAGE_URL"
  } >"$STANDIN_GCLOUD_DIR/hooks/boot"
  chmod +x -- "$STANDIN_GCLOUD_DIR/hooks/boot"
}


# printed_cleanup: the clean-up commands create-instance.sh printed (stdout), one a line.
printed_cleanup() { sed -n '/^To delete all of it later/,$ s/^  \(gcloud .*\)$/\1/p' "$OUT" | sed 's/   (.*)$//'; }

# left_in_cloud: every resource the stand-in holds, "kind/name" one a line, the bucket (made by
# the student before the scripts) not among them; a folder of a kind this does not know fails.
left_in_cloud() {
  "$PYTHON" - "$STANDIN_GCLOUD_DIR" <<'PY'
import json, os, sys
cloud = sys.argv[1]
resources = ("instances", "disks", "addresses", "firewall-rules", "instance-templates", "images")
# Not resources: the stand-in's own answers and records.
other = {"config", "services", "regions", "fail", "guest-attributes", "vm-metadata", "hooks", "tokens", "ssh", ".counters"}
for kind in sorted(os.listdir(cloud)):
    folder = os.path.join(cloud, kind)
    if kind in resources:
        for file in sorted(os.listdir(folder)):
            print("%s/%s" % (kind, file[:-len(".json")]))
    elif kind == "storage":
        for bucket in sorted(os.listdir(folder)):
            for top, _, files in os.walk(os.path.join(folder, bucket)):
                for file in sorted(files):
                    print("object/gs://%s" % os.path.relpath(os.path.join(top, file), folder))
    elif kind == "storage-iam":
        for file in sorted(f for f in os.listdir(folder) if f.endswith(".json")):
            for binding in json.load(open(os.path.join(folder, file))).get("bindings", []):
                for member in binding["members"]:
                    print("binding/gs://%s %s %s" % (file[:-len(".json")], member, binding["role"]))
    elif kind not in other and not kind.endswith(".json"):
        print("UNKNOWN-KIND/%s" % kind)
PY
}

#-----------------------------------------------------------------------------------------------
section "1. a new project, the Compute Engine API off: a clear message within seconds, nothing made"
new_cloud 0
: >"$STANDIN_GCLOUD_DIR/services/enabled"
mkdir -p "$STANDIN_GCLOUD_DIR/storage/course-bucket"
cp -- "$AGENT" "$STANDIN_GCLOUD_DIR/storage/course-bucket/cs231n-agent"
# The course staff's bucket: its policy is not the student's to read or change.
mkdir -p "$STANDIN_GCLOUD_DIR/storage-iam"
: >"$STANDIN_GCLOUD_DIR/storage-iam/course-bucket.forbidden"
course=(--zone "$ZONE" --agent "$AGENT" --agent-url gs://course-bucket/cs231n-agent --my-ip 198.51.100.7 --poll-seconds 0)
run_script_waiting create-instance.sh "${course[@]}"
((RC != 124)) || fail "create-instance.sh hung on gcloud's hidden enable-API question (killed after 20 s)"
assert_rc 1
((TOOK <= 10)) || fail "it took $TOOK s to say the API is off"
assert_one_error_line create-instance.sh "the Compute Engine API is not enabled in project cs231n-test" "--yes"
assert_eq "resources made" "" "$(left_in_cloud | grep -v '^object/' || true)"

section "2. --yes: enabled, waited for; the course bucket warned about; the VM's 403 at the first poll, with the grant"
new_vm cs231n
write_boot_hook
: >"$STANDIN_GCLOUD_LEDGER"
run_script create-instance.sh "${course[@]}" --yes
assert_rc 1
err=$(cat -- "$ERR")
assert_contains "the API's arrival, waited for" "create-instance.sh: waiting for the Compute Engine API of project cs231n-test" "$err"
assert_contains "the bucket, warned about" "Warning: cannot tell whether the VMs may read gs://course-bucket (its policy is not yours to read)" "$err"
assert_contains "the VM's failure" "create-instance.sh: error: the agent on cs231n failed: cs231n-startup: this VM's service account $SA may not read gs://course-bucket/cs231n-agent (HTTP 403): let it read the bucket: gcloud storage buckets add-iam-policy-binding gs://course-bucket --member=serviceAccount:$SA --role=roles/storage.objectViewer" "$err"
assert_contains "its console" "gcloud compute instances get-serial-port-output cs231n --zone=$ZONE" "$err"
assert_contains "its log" "gcloud compute ssh cs231n --zone=$ZONE --command='sudo journalctl -u google-startup-scripts.service'" "$err"
assert_eq "polls" 1 "$(calls | grep -c get-guest-attributes)"
assert_contains "storage was asked with the VM's own token" '"caller": "'"$SA"'", "path": "/course-bucket/cs231n-agent", "status": 403' \
  "$("$PYTHON" -c 'import json, sys; [print(json.dumps(json.loads(l), sort_keys=True)) for l in open(sys.argv[1])]' "$STORAGE_DIR/log")"
[[ ! -e $R/usr/local/bin/cs231n-agent ]] || fail "an agent was installed from a refused download"
cp -- "$OUT" "$TEST_TMP/cs231n.out"

section "2. an --agent-url whose file is not the --agent given: the wrong sha256 at the first poll"
start_server files
printf 'an older agent\n' >"$SERVE/cs231n-agent"
FILES_URL=$BASE/files/cs231n-agent
new_vm other
: >"$STANDIN_GCLOUD_LEDGER"
run_script create-instance.sh --name other --no-static-ip --zone "$ZONE" --agent "$AGENT" --agent-url "$FILES_URL" --my-ip 198.51.100.7 --poll-seconds 0
assert_rc 1
assert_contains "the VM's failure" "create-instance.sh: error: the agent on other failed: cs231n-startup: the file at $FILES_URL has sha256 $(printf 'an older agent\n' | sha256sum | cut -d' ' -f1), but metadata cs231n-agent-sha256 says $(sha256sum -- "$AGENT" | cut -d' ' -f1): nothing was installed" "$(cat -- "$ERR")"
assert_eq "polls" 1 "$(calls | grep -c get-guest-attributes)"
cp -- "$OUT" "$TEST_TMP/other.out"

section "3. the clean-up commands create-instance.sh printed leave nothing of its VMs"
rm -f -- "$STANDIN_GCLOUD_DIR/hooks/boot"
mapfile -t commands < <(OUT=$TEST_TMP/cs231n.out printed_cleanup; OUT=$TEST_TMP/other.out printed_cleanup)
((${#commands[@]} >= 7)) || fail "printed clean-up commands" "got: ${commands[*]}"
declare -A seen=()
for command in "${commands[@]}"; do
  [[ -z ${seen[$command]:-} ]] || continue
  seen[$command]=1
  read -r -a words <<<"$command"
  LAST_CMD=$command
  "${words[@]}" >"$OUT" 2>"$ERR" </dev/null || { RC=$?; fail "a printed clean-up command failed"; }
done
assert_eq "left in the project (the course's agent is not the student's)" "object/gs://course-bucket/cs231n-agent" "$(left_in_cloud)"

#-----------------------------------------------------------------------------------------------
section "4. a class: created, listed, stopped, one VM baked, deleted"
new_cloud 0
printf 'alice\nbob,bob@example.edu\n' >"$TEST_TMP/roster"
run_script class.sh --roster "$TEST_TMP/roster" --prefix lab --zone "$ZONE" --agent "$AGENT" --bucket gs://my-bucket \
  --source-range 171.64.0.0/14 --static-ips
assert_rc 0
guest_attributes lab-alice "running:datasets@1500"
guest_attributes lab-bob "done@1320"
run_script class.sh status --prefix lab
assert_rc 0
grep -qE '^lab-alice +alice +RUNNING +running +datasets +1500 ' "$OUT" || fail "status: alice" "got: $(cat -- "$OUT")"
grep -qE '^lab-bob +bob +RUNNING +done +- +1320 ' "$OUT" || fail "status: bob" "got: $(cat -- "$OUT")"
run_script class.sh stop --prefix lab
assert_rc 0
run_script class.sh start --prefix lab alice
assert_rc 0
mkdir -p "$STANDIN_GCLOUD_DIR/ssh"
run_script bake-image.sh lab-alice --zone "$ZONE" --image cs231n-2026 --family cs231n
assert_rc 0
run_script class.sh delete --prefix lab
assert_rc 0
assert_contains "the disks, kept and named" "kept disk lab-alice ($ZONE): delete it with gcloud compute disks delete lab-alice --zone=$ZONE --quiet" "$(cat -- "$OUT")"

section "4. what is left is named by the README's clean-up block, and its commands remove it"
left=$(left_in_cloud)
expected="disks/lab-alice
disks/lab-bob
images/cs231n-2026
object/gs://my-bucket/cs231n-agent/$(sha256sum -- "$AGENT" | cut -d' ' -f1)/cs231n-agent
binding/gs://my-bucket serviceAccount:$SA roles/storage.objectViewer"
assert_eq "left after class.sh delete" "$expected" "$left"
# The README's block, each command for this leftover's names (its example names: cs231n, us-west1-b,
# my-bucket, cs231n-2026, PROJECT_NUMBER).
mapfile -t readme < <(awk '/^```sh cleanup$/ { inside = 1; next } /^```/ { inside = 0 } inside' "$SOURCE_DIR/README.md" | sed 's/ *#.*$//')
((${#readme[@]} >= 8)) || fail "the README's clean-up block" "got: ${readme[*]}"
# readme_command PATTERN: COMMAND, the README's clean-up command matching PATTERN.
readme_command() {
  local line
  for line in "${readme[@]}"; do
    if [[ $line =~ $1 ]]; then
      COMMAND=$line
      return 0
    fi
  done
  fail "the README's clean-up block names no command for $1" "$(printf '%s\n' "${readme[@]}")"
}
while read -r kind rest; do
  case $kind in
    disks/*) readme_command '^gcloud compute disks delete ' && COMMAND=${COMMAND/ cs231n / ${kind#disks/} } ;;
    images/*) readme_command '^gcloud compute images delete ' && COMMAND=${COMMAND/ cs231n-2026 / ${kind#images/} } ;;
    object/*) readme_command '^gcloud storage rm ' ;;
    binding/*) readme_command '^gcloud storage buckets remove-iam-policy-binding ' && COMMAND=${COMMAND//PROJECT_NUMBER/123456789012} ;;
    *) fail "no README clean-up command is known for $kind $rest" ;;
  esac
  read -r -a words <<<"$COMMAND"
  LAST_CMD="(README) $COMMAND"
  set +e
  "${words[@]}" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
  assert_rc 0
done <<<"$left"
assert_eq "left in the project after the README's commands" "" "$(left_in_cloud)"

echo "PASS $TEST_NAME"
