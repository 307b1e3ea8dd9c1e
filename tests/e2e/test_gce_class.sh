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
guest_attributes lab-alice "done@1500"
guest_attributes lab-bob-lee "failed:conda-env:step conda-env failed: conda create exited 1"
: >"$STANDIN_GCLOUD_LEDGER"
run_script class.sh status --prefix lab
assert_rc 0
out=$(cat -- "$OUT")
grep -qE '^VM +USER +STATUS +STATE +STEP +READY +IDLE +URL +ERROR$' <<<"$out" || fail "status header" "got: $out"
grep -qE '^lab-alice +alice +RUNNING +done +- +1500 +- +https://203\.0\.113\.11:8888 +-$' <<<"$out" || fail "alice's row" "got: $out"
grep -qE '^lab-bob-lee +bob_lee +RUNNING +failed +conda-env +- +- +- +step conda-env failed: conda create exited 1$' <<<"$out" ||
  fail "bob's row" "got: $out"
grep -qE '^lab-carol +carol +RUNNING +- +- +- +- +- +-$' <<<"$out" || fail "carol's row (nothing published yet)" "got: $out"
assert_no_call_matching ' (create|update|delete|stop|start) '
run_script class.sh status --prefix lab --json
assert_rc 0
assert_eq "status --json" '[["lab-alice", "alice", "done", 1500, "https://203.0.113.11:8888"], ["lab-bob-lee", "bob_lee", "failed", null, ""], ["lab-carol", "carol", "", null, ""]]' \
  "$("$PYTHON" -c 'import json, sys; print(json.dumps([[r["vm"], r["user"], r["state"], r["ready"], r["url"]] for r in json.load(open(sys.argv[1]))]))' "$OUT")"

section "status: guest attributes that cannot be read say so (STATE ?), not \"nothing published\""
mkdir -p "$STANDIN_GCLOUD_DIR/guest-attributes/lab-carol"
echo "ERROR: (gcloud.compute.instances.get-guest-attributes) HTTPError 403: Required 'compute.instances.getGuestAttributes' permission for 'projects/cs231n-test/zones/$ZONE/instances/lab-carol'" \
  >"$STANDIN_GCLOUD_DIR/guest-attributes/lab-carol/1.err"
run_script class.sh status --prefix lab
assert_rc 0
grep -qE "^lab-carol +carol +RUNNING +\\? +- +- +- +- +cannot read its guest attributes: your account may not read its guest attributes \\(compute.instances.getGuestAttributes\\)$" "$OUT" ||
  fail "carol's row (guest attributes unreadable)" "got: $(cat -- "$OUT")"
rm -rf -- "$STANDIN_GCLOUD_DIR/guest-attributes/lab-carol"

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

section "create again: a kept disk is refused before anything changes; --reuse-disk makes only the missing VM, on it"
: >"$STANDIN_GCLOUD_LEDGER"
run_script class.sh "${create[@]}"
assert_rc 1
assert_one_error_line class.sh "1 disk(s) are left in $ZONE from earlier VMs of these students (their files are on them): lab-bob-lee; run again with --reuse-disk" \
  "gcloud compute disks delete lab-bob-lee --zone=$ZONE --quiet"
assert_no_call_matching ' (create|update|cp|add-iam-policy-binding|add-labels) '
run_script class.sh "${create[@]}" --reuse-disk
assert_rc 0
creates=$(calls | grep 'compute instances create' | grep -- '--disk=' || true)
assert_eq "VMs made" 1 "$(grep -c . <<<"$creates")"
assert_contains "on the kept disk" "instances create lab-bob-lee --zone=$ZONE --source-instance-template=" "$creates"
assert_contains "on the kept disk" "--disk=name=lab-bob-lee,boot=yes,auto-delete=no" "$creates"
assert_contains "summary" "Class lab: 3 student(s), 2 VM(s) exist already, 1 to make" "$(cat -- "$OUT")"

section "delete the whole class without --delete-disks: each resource named, the disks kept and listed with their command"
run_script class.sh delete --prefix lab
assert_rc 0
out=$(cat -- "$OUT")
for vm in lab-alice lab-bob-lee lab-carol; do
  assert_contains "named" "deleted VM $vm ($ZONE)" "$out"
  assert_contains "named" "deleted static IP $vm-ip (us-west1)" "$out"
  assert_contains "named" "kept disk $vm ($ZONE): delete it with gcloud compute disks delete $vm --zone=$ZONE --quiet" "$out"
done
assert_contains "named" "deleted firewall rule $(access_of lab 8888 171.64.0.0/14)" "$out"
assert_eq "left in the project" "$(printf 'disks/%s\n' lab-alice lab-bob-lee lab-carol)" "$(left_in_cloud)"

section "the class again on its kept disks, then delete --delete-disks: each VM named with its disk, nothing left"
: >"$STANDIN_GCLOUD_LEDGER"
run_script class.sh "${create[@]}" --reuse-disk
assert_rc 0
assert_eq "VMs made on kept disks" 3 "$(calls | grep 'compute instances create' | grep -c -- '--disk=name=lab-')"
run_script class.sh delete --prefix lab --delete-disks
assert_rc 0
out=$(cat -- "$OUT")
for vm in lab-alice lab-bob-lee lab-carol; do
  assert_contains "named" "deleted VM $vm ($ZONE) and its disk $vm" "$out"
  assert_contains "named" "deleted static IP $vm-ip (us-west1)" "$out"
done
assert_contains "named" "deleted firewall rule $(access_of lab 8888 171.64.0.0/14)" "$out"
assert_contains "named" "deleted instance template lab-template-" "$out"
assert_eq "deletes without --quiet (gcloud asks then)" "" "$(calls | grep ' delete ' | grep -v -- '--quiet' || true)"
assert_eq "left in the project" "" "$(left_in_cloud)"

section "stop a class with Local SSD (a2-ultragpu): --discard-local-ssd=true"
new_cloud 4
printf 'alice\n' >"$TEST_TMP/one"
run_script class.sh --roster "$TEST_TMP/one" --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --my-ip 198.51.100.7 \
  --prefix big --gpu a100-80gb --skip-quota-check
assert_rc 0
run_script class.sh stop --prefix big
assert_rc 0
assert_contains "stop" "gcloud compute instances stop big-alice --zone=$ZONE --discard-local-ssd=true" "$(calls)"
JSON_FILE=$STANDIN_GCLOUD_DIR/instances/big-alice.json assert_json status '"TERMINATED"'

section "create --wait: returns when every Jupyter is ready (the runs go on); a VM whose guest attributes are forbidden is said at its first poll"
new_cloud 0
printf 'alice\nbob\ncarol\n' >"$TEST_TMP/three"
guest_attributes w-alice - running:conda-env "running:datasets@1260"
guest_attributes w-bob "running:torch@900"
mkdir -p "$STANDIN_GCLOUD_DIR/guest-attributes/w-carol"
echo "ERROR: (gcloud.compute.instances.get-guest-attributes) HTTPError 412: Constraint constraints/compute.disableGuestAttributesAccess violated for project 000000000000." \
  >"$STANDIN_GCLOUD_DIR/guest-attributes/w-carol/1.err"
started=$SECONDS
run_script class.sh --roster "$TEST_TMP/three" --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --my-ip 198.51.100.7 \
  --prefix w --wait --poll-seconds 1 --timeout 30
assert_rc 1
((SECONDS - started < 60)) || fail "class.sh --wait took $((SECONDS - started)) s: it waited for the timeout"
out=$(cat -- "$OUT") err=$(cat -- "$ERR")
grep -qE '^w-alice +alice .* https://203\.0\.113\.11:8888 +ready$' <<<"$out" || fail "alice's row" "got: $out"
grep -qE '^w-bob +bob .* ready$' <<<"$out" || fail "bob's row" "got: $out"
grep -qE '^w-carol +carol .* unfollowable$' <<<"$out" || fail "carol's row" "got: $out"
assert_contains "carol, said" "class.sh: error: cannot follow w-carol: the organisation policy constraints/compute.disableGuestAttributesAccess forbids guest attributes" "$err"
assert_contains "carol's console" "gcloud compute instances get-serial-port-output w-carol --zone=$ZONE" "$err"
assert_eq "polls of carol" 1 "$(calls | grep -c 'get-guest-attributes w-carol')"
assert_eq "polls of alice (until ready)" 3 "$(calls | grep -c 'get-guest-attributes w-alice')"
assert_contains "summary" "class.sh: error: not every VM is ready" "$err"

echo "PASS $TEST_NAME"
