#!/usr/bin/env bash
# The GCE scripts where a first-time student or a TA meets the real gcloud (issue 16), against the
# stand-in gcloud (tests/fixtures/standin-gcloud) acting as gcloud 578.0.0 does: a new project whose
# Compute Engine API is off (gcloud asks on stderr and waits on stdin), gcloud's own errors, a
# startup script that fails before the agent, the VMs' read grant on the bucket, a kept boot disk,
# firewall rules per range, Local SSD, a baked image larger than the disk, the quota of VMs that
# exist, K80, 63-character names, rate limits and a zone out of GPUs.
# The agent binary ($1) is not used: a small file stands in for it (only its sha256 matters).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=gce.sh
source "$SOURCE_DIR/tests/e2e/gce.sh"

base=(--zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --my-ip 198.51.100.7)


#-----------------------------------------------------------------------------------------------
section "first contact: the Compute Engine API is off; a clear message within seconds, nothing changed"
new_cloud 1
: >"$STANDIN_GCLOUD_DIR/services/enabled"
run_script_waiting create-instance.sh "${base[@]}"
((RC != 124)) || fail "create-instance.sh hung on gcloud's hidden enable-API question (killed after 20 s)"
assert_rc 1
((TOOK <= 10)) || fail "it took $TOOK s to say the API is off"
assert_one_error_line create-instance.sh "the Compute Engine API is not enabled in project cs231n-test" "--yes" \
  "gcloud services enable compute.googleapis.com --project=cs231n-test"
assert_no_call_matching ' (create|update|cp|enable) '
assert_no_call_matching 'compute '

section "first contact: class.sh too"
printf 'alice\nbob\n' >"$TEST_TMP/roster"
run_script_waiting class.sh --roster "$TEST_TMP/roster" "${base[@]}"
((RC != 124)) || fail "class.sh hung on gcloud's hidden enable-API question (killed after 20 s)"
assert_rc 1
assert_one_error_line class.sh "the Compute Engine API is not enabled in project cs231n-test"

section "first contact: --yes enables the API, waits (bounded, said on stderr) until it is in effect, and goes on"
# The stand-in's API stays SERVICE_DISABLED for the next 3 calls after enabling, as GCE's does for minutes.
new_cloud 1
: >"$STANDIN_GCLOUD_DIR/services/enabled"
echo 3 >"$STANDIN_GCLOUD_DIR/services/propagation-calls"
run_script create-instance.sh "${base[@]}" --yes --no-wait
assert_rc 0
assert_contains "calls" "gcloud services enable compute.googleapis.com" "$(calls)"
assert_contains "output" "Enabling the Compute Engine API in project cs231n-test" "$(cat -- "$OUT")"
assert_contains "the wait, said" "create-instance.sh: waiting for the Compute Engine API of project cs231n-test: Google enables it within a few minutes (gcloud: SERVICE_DISABLED)" "$(cat -- "$ERR")"
assert_eq "times compute was asked until it answered (3 refusals, then the answer)" 4 "$(calls | grep -c 'compute project-info describe')"
[[ -f $STANDIN_GCLOUD_DIR/instances/cs231n.json ]] || fail "no VM was made after enabling the API"

section "first contact: an API that is not in effect within the bound: one clear line, nothing made"
new_cloud 1
: >"$STANDIN_GCLOUD_DIR/services/enabled"
echo 100 >"$STANDIN_GCLOUD_DIR/services/propagation-calls"
CS231N_PROPAGATION_SECONDS=0 run_script create-instance.sh "${base[@]}" --yes --no-wait
assert_rc 1
assert_eq "last stderr line" "create-instance.sh: error: the Compute Engine API of project cs231n-test is enabled but still not in effect after 0 min: run this again in a few minutes (nothing was made yet)" "$(tail -n 1 -- "$ERR")"
assert_no_call_matching ' (create|update|cp) '

section "the API enabled by hand moments ago (listed, not in effect yet): wait, not --yes"
new_cloud 1
mkdir -p "$STANDIN_GCLOUD_DIR/.counters"
echo 5 >"$STANDIN_GCLOUD_DIR/.counters/propagation"
run_script create-instance.sh "${base[@]}" --no-wait
assert_rc 1
assert_contains "hint" "The Compute Engine API is enabled in this project but not in effect yet (it takes a few minutes after enabling): run this again in a few minutes" "$(cat -- "$ERR")"
assert_not_contains "hint" "--yes" "$(cat -- "$ERR")"
assert_no_call_matching ' (create|update|cp) '

section "first contact: at a terminal it asks, and y enables it"
new_cloud 1
: >"$STANDIN_GCLOUD_DIR/services/enabled"
LAST_CMD="(pty, answers y) scripts/create-instance.sh ${base[*]} --no-wait"
set +e
printf 'y\n' | timeout 20 script -qec "$(printf '%q ' "$SCRIPTS/create-instance.sh" "${base[@]}" --no-wait)" /dev/null >"$OUT" 2>"$ERR"
RC=$?
set -e
assert_rc 0
assert_contains "question" "Enable it now (gcloud services enable compute.googleapis.com, a few minutes)? [y/N]" "$(cat -- "$OUT")"
[[ -f $STANDIN_GCLOUD_DIR/instances/cs231n.json ]] || fail "no VM was made after the user said y"

section "gcloud's own error is said, not taken for \"does not exist\""
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/fail"
printf '%s\n' "ERROR: (gcloud.compute.instances.describe) Could not fetch resource:" \
  " - Required 'compute.instances.get' permission for 'projects/cs231n-test/zones/$ZONE/instances/cs231n'" \
  >"$STANDIN_GCLOUD_DIR/fail/compute-instances-describe"
run_script create-instance.sh "${base[@]}"
assert_rc 1
err=$(cat -- "$ERR")
assert_contains "error" "create-instance.sh: error: gcloud compute instances describe cs231n --zone=$ZONE --format=json failed; gcloud said:" "$err"
assert_contains "gcloud's message" "Required 'compute.instances.get' permission for 'projects/cs231n-test/zones/$ZONE/instances/cs231n'" "$err"
assert_contains "hint" "ask its owner" "$err"
assert_no_call_matching ' (create|update|cp) '

section "no account: gcloud auth login"
new_cloud 0
rm -f -- "$STANDIN_GCLOUD_DIR/config/account"
run_script create-instance.sh "${base[@]}"
assert_rc 1
assert_one_error_line create-instance.sh "gcloud has no account" "gcloud auth login"

section "no project: --project or gcloud config set project"
new_cloud 0
rm -f -- "$STANDIN_GCLOUD_DIR/config/project"
run_script create-instance.sh "${base[@]}"
assert_rc 2
assert_one_error_line create-instance.sh "no project: pass --project PROJECT or set one with gcloud config set project PROJECT"
run_script class.sh status
assert_rc 2
assert_one_error_line class.sh "no project: pass --project PROJECT"

section "an expired login: gcloud's own message, and log in again"
new_cloud 0
: >"$STANDIN_GCLOUD_DIR/config/expired"
run_script create-instance.sh "${base[@]}"
assert_rc 1
err=$(cat -- "$ERR")
assert_contains "what failed" "create-instance.sh: error: reading the enabled APIs of project cs231n-test (gcloud services list --enabled) failed; gcloud said:" "$err"
assert_contains "gcloud's message" "There was a problem refreshing your current auth tokens: Reauthentication failed." "$err"
assert_eq "hint" "Log in first: gcloud auth login (or gcloud init)" "$(tail -n 1 -- "$ERR")"
assert_no_call_matching 'compute '

section "the API off: status, stop, start, delete and bake-image give advice they accept (no --yes)"
new_cloud 0
: >"$STANDIN_GCLOUD_DIR/services/enabled"
for action in status stop start delete; do
  run_script class.sh "$action" --prefix lab
  assert_rc 1
  assert_one_error_line class.sh "the Compute Engine API is not enabled in project cs231n-test, so it has no VMs yet" \
    "gcloud services enable compute.googleapis.com --project=cs231n-test"
  assert_not_contains "advice of class.sh $action" "--yes" "$(cat -- "$ERR")"
done
run_script bake-image.sh cs231n --zone "$ZONE" --image img
assert_rc 1
assert_contains "hint" "The Compute Engine API is off in this project, so it has no VMs yet" "$(cat -- "$ERR")"
assert_not_contains "advice of bake-image.sh" "--yes" "$(cat -- "$ERR")"

#-----------------------------------------------------------------------------------------------
section "a startup script that fails before the agent: reported at the first poll, with the console and its log"
new_cloud 0
guest_attributes cs231n "failed:startup-script:cs231n-startup: the file at gs://my-bucket/x has sha256 0a, but metadata cs231n-agent-sha256 says 0b: nothing was installed"
run_script create-instance.sh "${base[@]}" --poll-seconds 0
assert_rc 1
err=$(cat -- "$ERR")
assert_contains "error" "create-instance.sh: error: the agent on cs231n failed: cs231n-startup: the file at gs://my-bucket/x has sha256 0a" "$err"
assert_contains "console" "gcloud compute instances get-serial-port-output cs231n --zone=$ZONE" "$err"
assert_contains "log" "gcloud compute ssh cs231n --zone=$ZONE --command='sudo journalctl -u google-startup-scripts.service'" "$err"
assert_eq "polls" 1 "$(calls | grep -c get-guest-attributes)"

section "guest attributes forbidden by the organisation: said at the first poll, not after 90 minutes"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/guest-attributes/cs231n"
# A real transcript's text (docs/sources/gcloud-and-gce.md section 3).
echo "ERROR: (gcloud.compute.instances.get-guest-attributes) HTTPError 412: Constraint constraints/compute.disableGuestAttributesAccess violated for project 000000000000." \
  >"$STANDIN_GCLOUD_DIR/guest-attributes/cs231n/1.err"
run_script create-instance.sh "${base[@]}" --poll-seconds 0
assert_rc 1
assert_contains "error" "cannot follow cs231n: the organisation policy constraints/compute.disableGuestAttributesAccess forbids guest attributes" "$(cat -- "$ERR")"
assert_eq "polls" 1 "$(calls | grep -c get-guest-attributes)"

section "the bucket: the VMs' service account may read it already: no new grant"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/storage-iam"
printf '{"bindings": [{"role": "roles/storage.objectViewer", "members": ["serviceAccount:%s"]}]}\n' "$SERVICE_ACCOUNT" \
  >"$STANDIN_GCLOUD_DIR/storage-iam/my-bucket.json"
run_script create-instance.sh "${base[@]}" --no-wait
assert_rc 0
assert_no_call_matching 'add-iam-policy-binding'
assert_contains "output" "The VMs' service account $SERVICE_ACCOUNT may read gs://my-bucket" "$(cat -- "$OUT")"

section "the bucket: its policy cannot be read: the error names the grant to ask for, before the VM"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/storage-iam"
: >"$STANDIN_GCLOUD_DIR/storage-iam/my-bucket.forbidden"
run_script create-instance.sh "${base[@]}" --no-wait
assert_rc 1
assert_contains "error" "the VMs need: gcloud storage buckets add-iam-policy-binding gs://my-bucket --member=serviceAccount:$SERVICE_ACCOUNT --role=roles/storage.objectViewer" "$(cat -- "$ERR")"
assert_contains "gcloud's message" "HTTPError 403" "$(cat -- "$ERR")"
assert_no_call_matching 'instances create'

section "the bucket of a gs:// --agent-url: the VMs may read it too"
new_cloud 0
course=(--zone "$ZONE" --agent "$AGENT_FILE" --agent-url gs://course-bucket/agents/cs231n-agent --my-ip 198.51.100.7 --no-wait)
mkdir -p "$STANDIN_GCLOUD_DIR/storage/course-bucket"
run_script create-instance.sh "${course[@]}"
assert_rc 0
assert_contains "grant" "gcloud storage buckets add-iam-policy-binding gs://course-bucket --member=serviceAccount:$SERVICE_ACCOUNT --role=roles/storage.objectViewer" "$(calls)"

section "a course's bucket whose policy is not yours to read: a warning with the owner's grant, and the VM is made"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/storage/course-bucket" "$STANDIN_GCLOUD_DIR/storage-iam"
: >"$STANDIN_GCLOUD_DIR/storage-iam/course-bucket.forbidden"
run_script create-instance.sh "${course[@]}"
assert_rc 0
err=$(cat -- "$ERR")
assert_contains "warning" "Warning: cannot tell whether the VMs may read gs://course-bucket (its policy is not yours to read); gcloud said:" "$err"
assert_contains "gcloud's message" "HTTPError 403: Alice.Smith@example.edu does not have storage.buckets.getIamPolicy access" "$err"
assert_contains "the owner's grant" "The bucket's owner can let them: gcloud storage buckets add-iam-policy-binding gs://course-bucket --member=serviceAccount:$SERVICE_ACCOUNT --role=roles/storage.objectViewer" "$err"
assert_no_call_matching 'add-iam-policy-binding'
[[ -f $STANDIN_GCLOUD_DIR/instances/cs231n.json ]] || fail "no VM was made for a course bucket"
assert_not_contains "clean-up commands" "remove-iam-policy-binding" "$(cat -- "$OUT")"

section "a course's public bucket: read by everyone, no grant asked for"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/storage/course-bucket" "$STANDIN_GCLOUD_DIR/storage-iam"
echo '{"bindings": [{"role": "roles/storage.objectViewer", "members": ["allUsers"]}]}' >"$STANDIN_GCLOUD_DIR/storage-iam/course-bucket.json"
run_script create-instance.sh "${course[@]}"
assert_rc 0
assert_contains "output" "The VMs' service account $SERVICE_ACCOUNT may read gs://course-bucket" "$(cat -- "$OUT")"
assert_no_call_matching 'add-iam-policy-binding'

section "a course's bucket whose policy you may read but not change: a warning, not an end"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/storage/course-bucket" "$STANDIN_GCLOUD_DIR/fail"
echo "ERROR: (gcloud.storage.buckets.add-iam-policy-binding) HTTPError 403: Alice.Smith@example.edu does not have storage.buckets.setIamPolicy access to the Google Cloud Storage bucket." \
  >"$STANDIN_GCLOUD_DIR/fail/storage-buckets-add-iam-policy-binding"
run_script create-instance.sh "${course[@]}"
assert_rc 0
assert_contains "warning" "Warning: could not let the VMs read gs://course-bucket; gcloud said:" "$(cat -- "$ERR")"
assert_contains "gcloud's message" "storage.buckets.setIamPolicy" "$(cat -- "$ERR")"
[[ -f $STANDIN_GCLOUD_DIR/instances/cs231n.json ]] || fail "no VM was made"
run_script create-instance.sh "${base[@]}" --name own --no-wait
assert_rc 1
assert_contains "own bucket: the end" "create-instance.sh: error: letting the VMs read gs://my-bucket" "$(cat -- "$ERR")"

#-----------------------------------------------------------------------------------------------
section "a boot disk kept from a deleted VM of that name: refused before any change, with both ways out"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/disks"
printf '{"name": "cs231n", "sizeGb": "40", "users": [], "labels": {}}\n' >"$STANDIN_GCLOUD_DIR/disks/cs231n.json"
run_script create-instance.sh "${base[@]}"
assert_rc 1
assert_one_error_line create-instance.sh "a disk cs231n is left in $ZONE" "--reuse-disk" "gcloud compute disks delete cs231n --zone=$ZONE"
assert_no_call_matching ' (create|update|cp) '

section "--reuse-disk starts the VM from it"
run_script create-instance.sh "${base[@]}" --reuse-disk --no-wait
assert_rc 0
create=$(calls | grep 'instances create')
assert_contains "instance create" "--disk=name=cs231n,boot=yes,auto-delete=no --tags=" "$create"
assert_not_contains "instance create" "--boot-disk-size" "$create"
JSON_FILE=$STANDIN_GCLOUD_DIR/disks/cs231n.json assert_json users "[\"https://www.googleapis.com/compute/v1/projects/cs231n-test/zones/$ZONE/instances/cs231n\"]"

section "firewall: class.sh for a campus range, then create-instance.sh for one IP and one --allow-anywhere: the class's access is unchanged; an older version's shared rule reaches none of them"
new_cloud 0
# What versions before 2026-12 left: VM "old" tagged cs231n-jupyter and the one rule cs231n-jupyter-8888 open to all.
mkdir -p "$STANDIN_GCLOUD_DIR/firewall-rules" "$STANDIN_GCLOUD_DIR/instances"
echo '{"name": "cs231n-jupyter-8888", "sourceRanges": ["0.0.0.0/0"], "targetTags": ["cs231n-jupyter"]}' >"$STANDIN_GCLOUD_DIR/firewall-rules/cs231n-jupyter-8888.json"
echo '{"name": "old", "status": "RUNNING", "tags": {"items": ["cs231n-jupyter"]}}' >"$STANDIN_GCLOUD_DIR/instances/old.json"
run_script class.sh --roster "$TEST_TMP/roster" --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --source-range 171.64.0.0/14
assert_rc 0
CAMPUS=$(access_of cs231n 8888 171.64.0.0/14)
for warned in "$(cat -- "$ERR")" "$(run_script create-instance.sh "${base[@]}" --name solo --no-wait; cat -- "$ERR")"; do
  assert_contains "the old rule, said" "Warning: firewall rule cs231n-jupyter-8888 (made by an older version of these scripts) lets 0.0.0.0/0 reach tcp:8888 on every VM tagged cs231n-jupyter." "$warned"
  assert_contains "how to delete it" "gcloud compute firewall-rules delete cs231n-jupyter-8888 --quiet" "$warned"
done
[[ -f $STANDIN_GCLOUD_DIR/instances/solo.json ]] || fail "solo was not made"
run_script create-instance.sh --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --allow-anywhere --name open --no-wait
assert_rc 0
JSON_FILE=$STANDIN_GCLOUD_DIR/firewall-rules/$CAMPUS.json assert_json sourceRanges '["171.64.0.0/14"]'
assert_no_call_matching 'firewall-rules update'
"$PYTHON" - "$STANDIN_GCLOUD_DIR" <<'PY' || fail "firewall rules reach other VMs than their own" "$(cat -- "$TEST_TMP/reach")"
import json, os, sys
cloud = sys.argv[1]
rules = [json.load(open(os.path.join(cloud, "firewall-rules", f))) for f in os.listdir(os.path.join(cloud, "firewall-rules"))]
reach = {}
for f in os.listdir(os.path.join(cloud, "instances")):
    vm = json.load(open(os.path.join(cloud, "instances", f)))
    reach[vm["name"]] = sorted(r for rule in rules if set(rule["targetTags"]) & set(vm["tags"]["items"]) for r in rule["sourceRanges"])
expected = {"cs231n-alice": ["171.64.0.0/14"], "cs231n-bob": ["171.64.0.0/14"], "solo": ["198.51.100.7/32"], "open": ["0.0.0.0/0"],
            "old": ["0.0.0.0/0"]}
open(os.environ["TEST_TMP"] + "/reach", "w").write("expected: %s\ngot:      %s\n" % (expected, reach))
sys.exit(0 if reach == expected else 1)
PY

section "Local SSD (a2-ultragpu): bake-image.sh stops it with --discard-local-ssd=true; the hint says so too"
new_cloud 4
guest_attributes cs231n "done"
run_script create-instance.sh "${base[@]}" --gpu a100-80gb --no-static-ip --poll-seconds 0 --skip-quota-check
assert_rc 0
assert_contains "stop hint" "gcloud compute instances stop cs231n --zone=$ZONE --discard-local-ssd=true" "$(cat -- "$OUT")"
mkdir -p "$STANDIN_GCLOUD_DIR/ssh"
run_script bake-image.sh cs231n --zone "$ZONE" --image cs231n-a100
assert_rc 0
assert_contains "stop" "gcloud compute instances stop cs231n --zone=$ZONE --discard-local-ssd=true" "$(calls)"
[[ -f $STANDIN_GCLOUD_DIR/images/cs231n-a100.json ]] || fail "no image was made"

section "a baked image larger than --disk-size: the disk is made as large as the image"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/images"
printf '{"name": "cs231n-2026", "family": "cs231n", "diskSizeGb": "60"}\n' >"$STANDIN_GCLOUD_DIR/images/cs231n-2026.json"
run_script create-instance.sh "${base[@]}" --image-family cs231n --image-project cs231n-test --no-wait
assert_rc 0
assert_contains "instance create" "--image-family=cs231n --image-project=cs231n-test --boot-disk-size=60GB" "$(calls | grep 'instances create')"
assert_contains "output" "is 60 GB: the boot disk is 60 GB, not 40" "$(cat -- "$OUT")"

section "class.sh: the quota check counts only the VMs still to make"
new_cloud 2
printf 'alice\nbob\ncarol\n' >"$TEST_TMP/roster3"
mkdir -p "$STANDIN_GCLOUD_DIR/instances"
printf '{"name": "cs231n-alice", "zone": "https://www.googleapis.com/compute/v1/projects/cs231n-test/zones/%s", "status": "RUNNING"}\n' "$ZONE" \
  >"$STANDIN_GCLOUD_DIR/instances/cs231n-alice.json"
run_script class.sh --roster "$TEST_TMP/roster3" --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --gpu t4 --my-ip 198.51.100.7
assert_rc 0
assert_eq "VMs made" "cs231n-bob cs231n-carol" "$(calls | awk '/compute instances create/ { print $5 }' | sort | tr '\n' ' ' | sed 's/ $//')"

section "K80: GCE retired it; refused before anything"
new_cloud 8
run_script create-instance.sh "${base[@]}" --gpu k80
assert_rc 2
assert_one_error_line create-instance.sh "--gpu k80: GCE retired the K80" "t4"
assert_eq "gcloud calls" "" "$(calls)"

section "names that would pass GCE's 63 characters once derived: refused before anything"
long=n$(printf '%061d' 0)
run_script create-instance.sh "${base[@]}" --name "$long"
assert_rc 2
assert_one_error_line create-instance.sh "its static IP $long-ip must fit GCE's 63 characters"
run_script create-instance.sh "${base[@]}" --tag "t$(printf '%055d' 0)"
assert_rc 2
assert_one_error_line create-instance.sh "is too long: the firewall rule"
run_script class.sh --roster "$TEST_TMP/roster" "${base[@]}" --prefix "p$(printf "%043d" 0)"
assert_rc 2
assert_one_error_line class.sh "-template-HASH must fit GCE's 63 characters (at most 43 for --prefix)"
printf '%s\n' "u$(printf '%031d' 0)" >"$TEST_TMP/long-roster"
run_script class.sh --roster "$TEST_TMP/long-roster" "${base[@]}" --prefix "p$(printf "%039d" 0)"
assert_rc 2
assert_one_error_line class.sh "line 1: p$(printf "%039d" 0)-u$(printf '%031d' 0), made for u$(printf '%031d' 0), would pass GCE's 63 characters: with --prefix p$(printf "%039d" 0) a user may have at most 22 characters"
# A 63-character VM name fits; its static IP does not.
printf '%s\n' "u$(printf '%019d' 0)" >"$TEST_TMP/long-roster"
run_script class.sh --roster "$TEST_TMP/long-roster" "${base[@]}" --prefix "p$(printf "%041d" 0)" --static-ips
assert_rc 2
assert_one_error_line class.sh "-u$(printf '%019d' 0)-ip, made for u$(printf '%019d' 0), would pass GCE's 63 characters"
assert_eq "gcloud calls" "" "$(calls)"
run_script class.sh --roster "$TEST_TMP/roster" "${base[@]}" --tag lab
assert_rc 2
assert_one_error_line class.sh "--tag lab: class.sh names the class's firewall rule and network tag after --prefix (PREFIX-PORT-HASH)"
new_cloud 0
run_script class.sh --roster "$TEST_TMP/roster" "${base[@]}" --prefix "p$(printf "%042d" 0)"
assert_rc 0
assert_contains "a 43-character prefix: its template" "instance-templates create p$(printf "%042d" 0)-template-" "$(calls)"

#-----------------------------------------------------------------------------------------------
section "class.sh: GCE's rate limit is waited out; a zone out of GPUs says which zones have them"
new_cloud 8
mkdir -p "$STANDIN_GCLOUD_DIR/fail"
echo @rate-limit >"$STANDIN_GCLOUD_DIR/fail/compute-instances-create@cs231n-alice"
echo 2 >"$STANDIN_GCLOUD_DIR/fail/compute-instances-create@cs231n-alice.times"
echo @zone-exhausted >"$STANDIN_GCLOUD_DIR/fail/compute-instances-create@cs231n-bob"
run_script class.sh --roster "$TEST_TMP/roster" --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --gpu t4 --my-ip 198.51.100.7
assert_rc 1
assert_eq "create calls for alice" 3 "$(calls | grep -c 'instances create cs231n-alice')"
[[ -f $STANDIN_GCLOUD_DIR/instances/cs231n-alice.json ]] || fail "alice's VM was not made after the rate limit"
err=$(cat -- "$ERR")
assert_contains "bob" "cs231n-bob: FAILED" "$err"
assert_contains "zones" "class.sh: zone $ZONE has no nvidia-tesla-t4 free right now (GCE capacity, not your quota; it changes by the hour): try --zone with one of: us-west1-a us-west1-c" "$err"
assert_contains "summary" "1 of 2 VM(s) were not created: cs231n-bob" "$err"

section "class.sh: a zone out of GPUs whose error names no zones: the zones GCE lists with that GPU"
new_cloud 8
mkdir -p "$STANDIN_GCLOUD_DIR/fail"
# The older one-line form of the error (docs/sources/gcloud-and-gce.md section 10).
printf '%s\n' "ERROR: (gcloud.compute.instances.create) Could not fetch resource:" \
  " - The zone 'projects/cs231n-test/zones/$ZONE' does not have enough resources available to fulfill the request.  Try a different zone, or try again later." \
  >"$STANDIN_GCLOUD_DIR/fail/compute-instances-create"
run_script class.sh --roster "$TEST_TMP/roster" --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --gpu t4 --my-ip 198.51.100.7
assert_rc 1
assert_contains "zones" "class.sh: zone $ZONE has no nvidia-tesla-t4 free right now (GCE capacity, not your quota; it changes by the hour): try --zone with one of: us-central1-a us-west1-a" "$(cat -- "$ERR")"
assert_contains "asked GCE" "gcloud compute accelerator-types list --filter=name=nvidia-tesla-t4 '--format=value(zone.basename())'" "$(calls)"

section "the stand-in: VMs created in parallel get distinct IPs and none fails"
new_cloud 0
pids=()
for i in $(seq 1 24); do
  gcloud compute instances create "vm$i" --zone="$ZONE" --image-family=ubuntu-2404-lts-amd64 --image-project=ubuntu-os-cloud >"$TEST_TMP/create$i.out" 2>"$TEST_TMP/create$i.err" </dev/null &
  pids+=("$!")
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || fail "parallel create vm$((i + 1)) failed" "$(cat -- "$TEST_TMP/create$((i + 1)).err")"
done
assert_eq "distinct external IPs" 24 "$(cat "$STANDIN_GCLOUD_DIR"/instances/vm*.json | grep -o '"natIP": "[^"]*"' | sort -u | wc -l)"

echo "PASS $TEST_NAME"
