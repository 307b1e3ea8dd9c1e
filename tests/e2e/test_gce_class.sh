#!/usr/bin/env bash
# A class for a whole term with scripts/class.sh against the stand-in gcloud
# (tests/fixtures/standin-gcloud): created with labels on every VM, disk and static IP; `status`
# as a table and as JSON from the agents' guest attributes; `stop` and `start` of the whole class
# or of named users; `delete` of one user (the disk kept and named), a re-run that makes only the
# missing VM on its kept disk, and `delete --delete-disks` of the whole class, after which nothing
# of it is left in the project (the agent in the bucket, which the README names, stays).
# The agent binary ($1) is not used: a small file stands in for it (only its sha256 matters).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=gce.sh
source "$SOURCE_DIR/tests/e2e/gce.sh"

ROSTER=$TEST_TMP/roster
printf 'alice\nbob_lee,bob@example.edu\ncarol\n' >"$ROSTER"
create=(--roster "$ROSTER" --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --source-range 171.64.0.0/14 --static-ips --prefix lab)

# left_in_cloud: every resource of the project, "kind/name", one a line.
left_in_cloud() {
  local kind file
  for kind in instances disks addresses firewall-rules instance-templates; do
    [[ -d $STANDIN_GCLOUD_DIR/$kind ]] || continue
    for file in "$STANDIN_GCLOUD_DIR/$kind"/*.json; do
      [[ -e $file ]] && printf '%s/%s\n' "$kind" "$(basename -- "$file" .json)"
    done
  done
  return 0
}

section "create: every VM, boot disk and static IP labelled with the class and the user"
new_cloud 0
run_script class.sh "${create[@]}"
assert_rc 0
for student in alice:alice bob_lee:bob-lee carol:carol; do
  vm=lab-${student#*:} labels="{\"cs231n-class\": \"lab\", \"cs231n-user\": \"${student%%:*}\"}"
  JSON_FILE=$STANDIN_GCLOUD_DIR/instances/$vm.json assert_json labels "$labels"
  JSON_FILE=$STANDIN_GCLOUD_DIR/disks/$vm.json assert_json labels "$labels"
  JSON_FILE=$STANDIN_GCLOUD_DIR/addresses/$vm-ip.json assert_json labels "$labels"
done
assert_contains "gcloud's own filter finds them" "lab-alice" \
  "$(STANDIN_GCLOUD_LEDGER=/dev/null gcloud compute instances list --filter=labels.cs231n-class=lab --format='value(name)')"

section "status: one table from the guest attributes; --json"
guest_attributes lab-alice "done"
guest_attributes lab-bob-lee "failed:conda-env:step conda-env failed: conda create exited 1"
: >"$STANDIN_GCLOUD_LEDGER"
run_script class.sh status --prefix lab
assert_rc 0
out=$(cat -- "$OUT")
grep -qE '^VM +USER +STATUS +STATE +STEP +IDLE +URL +ERROR$' <<<"$out" || fail "status header" "got: $out"
grep -qE '^lab-alice +alice +RUNNING +done +- +- +https://203\.0\.113\.11:8888 +-$' <<<"$out" || fail "alice's row" "got: $out"
grep -qE '^lab-bob-lee +bob_lee +RUNNING +failed +conda-env +- +- +step conda-env failed: conda create exited 1$' <<<"$out" ||
  fail "bob's row" "got: $out"
grep -qE '^lab-carol +carol +RUNNING +- +- +- +- +-$' <<<"$out" || fail "carol's row (nothing published yet)" "got: $out"
assert_no_call_matching ' (create|update|delete|stop|start) '
run_script class.sh status --prefix lab --json
assert_rc 0
assert_eq "status --json" '[["lab-alice", "alice", "done", "https://203.0.113.11:8888"], ["lab-bob-lee", "bob_lee", "failed", ""], ["lab-carol", "carol", "", ""]]' \
  "$("$PYTHON" -c 'import json, sys; print(json.dumps([[r["vm"], r["user"], r["state"], r["url"]] for r in json.load(open(sys.argv[1]))]))' "$OUT")"

section "stop one user, then the whole class; start it again"
run_script class.sh stop --prefix lab bob_lee
assert_rc 0
JSON_FILE=$STANDIN_GCLOUD_DIR/instances/lab-bob-lee.json assert_json status '"TERMINATED"'
JSON_FILE=$STANDIN_GCLOUD_DIR/instances/lab-alice.json assert_json status '"RUNNING"'
run_script class.sh stop --prefix lab
assert_rc 0
for vm in lab-alice lab-bob-lee lab-carol; do JSON_FILE=$STANDIN_GCLOUD_DIR/instances/$vm.json assert_json status '"TERMINATED"'; done
assert_contains "output" "lab-carol: stopped" "$(cat -- "$OUT")"
run_script class.sh start --prefix lab
assert_rc 0
for vm in lab-alice lab-bob-lee lab-carol; do JSON_FILE=$STANDIN_GCLOUD_DIR/instances/$vm.json assert_json status '"RUNNING"'; done
run_script class.sh stop --prefix lab nobody
assert_rc 1
assert_one_error_line class.sh "class lab has no VM of user nobody"

section "delete one user: the VM and its IP go, the disk with the student's files stays and is named"
run_script class.sh delete --prefix lab bob_lee
assert_rc 0
out=$(cat -- "$OUT")
assert_contains "named" "deleted VM lab-bob-lee ($ZONE)" "$out"
assert_contains "named" "deleted static IP lab-bob-lee-ip (us-west1)" "$out"
assert_contains "named" "kept disk lab-bob-lee ($ZONE): delete it with gcloud compute disks delete lab-bob-lee --zone=$ZONE --quiet" "$out"
[[ ! -e $STANDIN_GCLOUD_DIR/instances/lab-bob-lee.json && -e $STANDIN_GCLOUD_DIR/disks/lab-bob-lee.json ]] ||
  fail "bob's VM should be gone and his disk kept" "$(left_in_cloud)"
[[ -e $STANDIN_GCLOUD_DIR/instances/lab-alice.json ]] || fail "alice's VM was deleted too"

section "create again: only the missing VM is made, on its kept disk (--reuse-disk)"
: >"$STANDIN_GCLOUD_LEDGER"
run_script class.sh "${create[@]}"
assert_rc 1
assert_contains "refused without --reuse-disk" "a disk lab-bob-lee is left in $ZONE" "$(cat -- "$ERR")"
run_script class.sh "${create[@]}" --reuse-disk
assert_rc 0
creates=$(calls | grep 'compute instances create' | grep -- '--disk=' || true)
assert_eq "VMs made" 1 "$(grep -c . <<<"$creates")"
assert_contains "on the kept disk" "instances create lab-bob-lee --zone=$ZONE --source-instance-template=" "$creates"
assert_contains "on the kept disk" "--disk=name=lab-bob-lee,boot=yes,auto-delete=no" "$creates"
assert_contains "summary" "Class lab: 3 student(s), 2 VM(s) exist already, 1 to make" "$(cat -- "$OUT")"

section "delete the whole class with --delete-disks: each resource named, nothing left"
run_script class.sh delete --prefix lab --delete-disks
assert_rc 0
out=$(cat -- "$OUT")
for vm in lab-alice lab-bob-lee lab-carol; do
  assert_contains "named" "deleted VM $vm ($ZONE)" "$out"
  assert_contains "named" "deleted static IP $vm-ip (us-west1)" "$out"
done
assert_contains "named" "deleted firewall rule $(access_of lab 8888 171.64.0.0/14)" "$out"
assert_contains "named" "deleted instance template lab-template-" "$out"
assert_eq "deletes without --quiet (gcloud asks then)" "" "$(calls | grep ' delete ' | grep -v -- '--quiet' || true)"
assert_eq "left in the project" "" "$(left_in_cloud)"

echo "PASS $TEST_NAME"
