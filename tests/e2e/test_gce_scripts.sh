#!/usr/bin/env bash
# The off-instance GCE scripts (scripts/create-instance.sh, class.sh, bake-image.sh) against the
# stand-in gcloud and gsutil (tests/fixtures/standin-gcloud), asserting the exact commands they
# run: the GPU quota refusal that changes nothing, the firewall rule's source range and target tag,
# GPU flags only with a GPU, the metadata (agent URL and sha256, user, guest attributes, startup
# script), the disk kept on delete, waiting on the agent's guest attributes until done or failed,
# one cs231n-user per student, and the scrub strictly before the VM is stopped and imaged. Also
# --help and bad options of every script. No network: the caller's IP is given with --my-ip.
# The agent binary ($1) is not used: a small file stands in for it (only its sha256 matters).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

# shellcheck source=gce.sh
source "$SOURCE_DIR/tests/e2e/gce.sh"

#-----------------------------------------------------------------------------------------------
section "--help of every script"
for script in create-instance.sh class.sh bake-image.sh startup-script.sh scrub-for-image.sh; do
  new_cloud 0
  run_script "$script" --help
  assert_rc 0
  assert_stderr_empty
  assert_contains "$script --help" "Usage: " "$(cat -- "$OUT")"
  assert_eq "gcloud calls of $script --help" "" "$(calls)"
done
run_script create-instance.sh --help
for option in --gpu --bucket --agent-url --agent --my-ip --source-range --allow-anywhere --no-wait --machine-type; do
  assert_contains "create-instance.sh --help" "$option" "$(cat -- "$OUT")"
done

section "bad options: one clear line, non-zero, no gcloud call"
new_cloud 0
base=(--zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --my-ip 198.51.100.7)
run_script create-instance.sh --frobnicate
assert_rc 2
assert_one_error_line create-instance.sh "unknown option --frobnicate" "--help"
run_script create-instance.sh "${base[@]}" --gpu nvidia-tesla-x9
assert_rc 2
assert_one_error_line create-instance.sh "--gpu nvidia-tesla-x9 is not a GPU" "nvidia-tesla-t4"
run_script create-instance.sh "${base[@]}" --gpu t4:0
assert_rc 2
assert_one_error_line create-instance.sh "--gpu t4:0" "positive number"
run_script create-instance.sh "${base[@]}" --gpu t4:3
assert_rc 2
assert_one_error_line create-instance.sh "no machine type with 3 nvidia-tesla-t4" "ask for 1, 2, 4 or 8"
run_script create-instance.sh "${base[@]}" --disk-size 30
assert_rc 2
assert_one_error_line create-instance.sh "--disk-size 30" "at least 40"
run_script create-instance.sh "${base[@]}" --port 70000
assert_rc 2
assert_one_error_line create-instance.sh "--port 70000"
run_script create-instance.sh --zone "$ZONE" --agent "$AGENT_FILE"
assert_rc 2
assert_one_error_line create-instance.sh "--bucket gs://YOUR-BUCKET" "--agent-url"
run_script create-instance.sh "${base[@]}" --source-range 10.0.0.0/33
assert_rc 2
assert_one_error_line create-instance.sh "--source-range 10.0.0.0/33"
run_script create-instance.sh --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --allow-anywhere --my-ip 198.51.100.7
assert_rc 2
assert_one_error_line create-instance.sh "--allow-anywhere"
run_script create-instance.sh --zone "$ZONE" --agent "$TEST_TMP/missing" --bucket gs://my-bucket
assert_rc 2
assert_one_error_line create-instance.sh "no agent binary at $TEST_TMP/missing"
run_script create-instance.sh "${base[@]}" --name Bad_Name
assert_rc 2
assert_one_error_line create-instance.sh "--name Bad_Name"
run_script class.sh --zone "$ZONE" --bucket gs://my-bucket
assert_rc 2
assert_one_error_line class.sh "--roster FILE is required"
run_script bake-image.sh --zone "$ZONE" cs231n
assert_rc 2
assert_one_error_line bake-image.sh "--image IMAGE is required"
run_script bake-image.sh cs231n --image x --oops
assert_rc 2
assert_one_error_line bake-image.sh "unknown option --oops"
run_script startup-script.sh --now
assert_rc 2
assert_one_error_line cs231n-startup "unknown argument --now"
run_script scrub-for-image.sh
assert_rc 2
assert_one_error_line scrub-for-image "add --yes"
assert_eq "gcloud calls of bad command lines" "" "$(calls)"

#-----------------------------------------------------------------------------------------------
section "create-instance.sh: too little GPU quota in the region refuses before any change"
new_cloud 0
run_script create-instance.sh "${base[@]}" --gpu nvidia-tesla-t4
assert_rc 1
err=$(cat -- "$ERR")
assert_contains "refusal" "create-instance.sh: error: not enough GPU quota: region us-west1 needs 1 nvidia-tesla-t4 GPU(s), but NVIDIA_T4_GPUS allows 0 and 0 are in use" "$err"
assert_contains "refusal" "start at 0" "$err"
assert_contains "refusal" "a day or more" "$err"
assert_contains "refusal" "IAM & Admin > Quotas & System Limits" "$err"
assert_contains "refusal" "GPUS_ALL_REGIONS" "$err"
assert_calls \
  "${PREAMBLE[@]}" \
  "gcloud compute instances describe cs231n --zone=$ZONE --format=json" \
  "gcloud compute disks describe cs231n --zone=$ZONE --format=json" \
  "$IMAGE_SIZE" \
  "gcloud compute regions describe us-west1 --format=json"
assert_no_call_matching ' (create|update|cp) '

section "create-instance.sh: too little project-wide GPU quota (GPUS_ALL_REGIONS) refuses too"
new_cloud 4 0
run_script create-instance.sh "${base[@]}" --gpu t4:2
assert_rc 1
assert_contains "refusal" "the project needs 2 nvidia-tesla-t4 GPU(s), but GPUS_ALL_REGIONS allows 0" "$(cat -- "$ERR")"
assert_no_call_matching ' (create|update|cp) '
assert_no_call_matching 'firewall-rules|addresses'

#-----------------------------------------------------------------------------------------------
section "create-instance.sh with a T4: quota, agent, firewall, static IP, instance, wait until done"
new_cloud 1
guest_attributes cs231n - not-started running:apt-packages running:anaconda reboot-pending:nvidia-driver running:cuda "done"
run_script create-instance.sh "${base[@]}" --gpu nvidia-tesla-t4 --poll-seconds 0
assert_rc 0
URL=gs://my-bucket/cs231n-agent/$SHA/cs231n-agent
metadata="--metadata=enable-guest-attributes=TRUE,cs231n-user=alice_smith,cs231n-agent-url=$URL,cs231n-agent-sha256=$SHA"
wait_calls=()
for _ in 1 2 3 4 5 6 7; do
  wait_calls+=("gcloud compute instances get-guest-attributes cs231n --zone=$ZONE --query-path=cs231n-agent/ --format=json")
done
LABELS=cs231n-vm=cs231n,cs231n-user=alice_smith
assert_calls \
  "${PREAMBLE[@]}" \
  "gcloud compute instances describe cs231n --zone=$ZONE --format=json" \
  "gcloud compute disks describe cs231n --zone=$ZONE --format=json" \
  "$IMAGE_SIZE" \
  "gcloud compute regions describe us-west1 --format=json" \
  "gcloud compute project-info describe --format=json" \
  "gcloud storage cp $AGENT_FILE $URL" \
  "gcloud projects describe cs231n-test '--format=value(projectNumber)'" \
  "gcloud storage buckets get-iam-policy gs://my-bucket --format=json" \
  "gcloud storage buckets add-iam-policy-binding gs://my-bucket --member=serviceAccount:$SERVICE_ACCOUNT --role=roles/storage.objectViewer" \
  "gcloud compute firewall-rules describe cs231n-jupyter-8888 --format=json" \
  "gcloud compute firewall-rules describe $MY_ACCESS --format=json" \
  "gcloud compute firewall-rules create $MY_ACCESS --direction=INGRESS --action=allow --rules=tcp:8888 --source-ranges=198.51.100.7/32 --target-tags=$MY_ACCESS '$DESCRIPTION'" \
  "gcloud compute addresses describe cs231n-ip --region=us-west1 --format=json" \
  "gcloud compute addresses create cs231n-ip --region=us-west1" \
  "gcloud compute addresses update cs231n-ip --region=us-west1 --update-labels=$LABELS" \
  "gcloud compute addresses describe cs231n-ip --region=us-west1 --format=json" \
  "gcloud compute instances create cs231n --zone=$ZONE --machine-type=n1-standard-8 --accelerator=type=nvidia-tesla-t4,count=1 --maintenance-policy=TERMINATE --image-family=ubuntu-2404-lts-amd64 --image-project=ubuntu-os-cloud --boot-disk-size=40GB --boot-disk-type=pd-balanced --no-boot-disk-auto-delete --tags=$MY_ACCESS --labels=$LABELS --address=203.0.113.11 $metadata --metadata-from-file=startup-script=$STARTUP" \
  "gcloud compute disks add-labels cs231n --zone=$ZONE --labels=$LABELS" \
  "${wait_calls[@]}"
cmp -s -- "$AGENT_FILE" "$STANDIN_GCLOUD_DIR/storage/my-bucket/cs231n-agent/$SHA/cs231n-agent" ||
  fail "the binary in the bucket is not the one given with --agent"
startup_sent=$(call_matching files gcloud compute instances create)
assert_eq "--metadata-from-file keys" '["startup-script"]' "$("$PYTHON" -c 'import json, sys; print(json.dumps(sorted(json.loads(sys.argv[1]))))' "$startup_sent")"
[[ $("$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["startup-script"], end="")' "$startup_sent") == "$(cat -- "$STARTUP")" ]] ||
  fail "the startup-script metadata is not scripts/startup-script.sh"
out=$(cat -- "$OUT")
assert_contains "progress" "cs231n: waiting for the agent to start" "$out"
assert_contains "progress" "cs231n: running (step anaconda)" "$out"
assert_contains "progress" "cs231n: reboot-pending (step nvidia-driver)" "$out"
assert_contains "result" "Jupyter:  https://203.0.113.11:8888" "$out"
assert_contains "result" "Password: gcloud compute ssh cs231n --zone=$ZONE --command='sudo cat /root/cs231n-jupyter-password'" "$out"
assert_contains "result" "gcloud compute instances stop cs231n --zone=$ZONE" "$out"
JSON_FILE=$STANDIN_GCLOUD_DIR/firewall-rules/$MY_ACCESS.json assert_json sourceRanges '["198.51.100.7/32"]'
JSON_FILE=$STANDIN_GCLOUD_DIR/storage-iam/my-bucket.json assert_json bindings \
  "[{\"members\": [\"serviceAccount:$SERVICE_ACCOUNT\"], \"role\": \"roles/storage.objectViewer\"}]"
for kind in instances disks addresses; do
  file=$STANDIN_GCLOUD_DIR/$kind/cs231n.json
  [[ $kind != addresses ]] || file=$STANDIN_GCLOUD_DIR/addresses/cs231n-ip.json
  JSON_FILE=$file assert_json labels '{"cs231n-user": "alice_smith", "cs231n-vm": "cs231n"}'
done

section "create-instance.sh without a GPU: no quota call, no GPU flags; another range gets its own rule, the first is untouched; the IP is reused"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/firewall-rules" "$STANDIN_GCLOUD_DIR/addresses"
printf '{"name": "%s", "sourceRanges": ["198.51.100.7/32"], "targetTags": ["%s"]}\n' "$MY_ACCESS" "$MY_ACCESS" \
  >"$STANDIN_GCLOUD_DIR/firewall-rules/$MY_ACCESS.json"
printf '{"name": "lab-ip", "address": "203.0.113.99", "status": "RESERVED"}\n' >"$STANDIN_GCLOUD_DIR/addresses/lab-ip.json"
run_script create-instance.sh --name lab --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --source-range 171.64.0.0/14 --no-wait
assert_rc 0
CAMPUS=$(access_of cs231n-jupyter 8888 171.64.0.0/14)
assert_no_call_matching 'regions describe|project-info'
assert_no_call_matching '--accelerator|--maintenance-policy'
assert_no_call_matching 'addresses create|firewall-rules update'
JSON_FILE=$STANDIN_GCLOUD_DIR/firewall-rules/$MY_ACCESS.json assert_json sourceRanges '["198.51.100.7/32"]'
JSON_FILE=$STANDIN_GCLOUD_DIR/firewall-rules/$CAMPUS.json assert_json sourceRanges '["171.64.0.0/14"]'
JSON_FILE=$STANDIN_GCLOUD_DIR/firewall-rules/$CAMPUS.json assert_json targetTags "[\"$CAMPUS\"]"
assert_contains "instance create" "--machine-type=n1-standard-8 --image-family=ubuntu-2404-lts-amd64" "$(calls | grep 'instances create')"
assert_contains "instance create" "--no-boot-disk-auto-delete --tags=$CAMPUS --labels=cs231n-vm=lab,cs231n-user=alice_smith --address=203.0.113.99 " "$(calls | grep 'instances create')"
assert_no_call_matching 'get-guest-attributes'
assert_contains "--no-wait" "Then Jupyter: https://203.0.113.99:8888" "$(cat -- "$OUT")"
assert_contains "--no-wait" "gcloud compute instances get-guest-attributes lab --zone=$ZONE --query-path=cs231n-agent/" "$(cat -- "$OUT")"
out=$(cat -- "$OUT")
for cleanup in "gcloud compute instances delete lab --zone=$ZONE --quiet" "gcloud compute disks delete lab --zone=$ZONE --quiet" \
  "gcloud compute addresses delete lab-ip --region=us-west1 --quiet" "gcloud compute firewall-rules delete $CAMPUS --quiet"; do
  assert_contains "the clean-up commands name every resource with its zone or region" "$cleanup" "$out"
done

section "create-instance.sh with an L4: g2-standard-8 carries the GPU (no --accelerator); anywhere; another port; a given URL"
new_cloud 1
run_script create-instance.sh --name l4 --zone "$ZONE" --agent "$AGENT_FILE" --agent-url https://example.org/cs231n-agent \
  --gpu l4 --allow-anywhere --no-static-ip --port 9443 --user bob --no-wait
assert_rc 0
assert_contains "warning" "open to the whole internet" "$(cat -- "$ERR")"
assert_no_call_matching 'addresses|storage cp|--accelerator'
ANYWHERE=$(access_of cs231n-jupyter 9443 0.0.0.0/0)
assert_contains "firewall" "firewall-rules create $ANYWHERE --direction=INGRESS --action=allow --rules=tcp:9443 --source-ranges=0.0.0.0/0 --target-tags=$ANYWHERE" "$(calls)"
create=$(calls | grep 'instances create')
assert_contains "instance create" "--machine-type=g2-standard-8 --maintenance-policy=TERMINATE --image-family" "$create"
assert_contains "instance create" "--metadata=enable-guest-attributes=TRUE,cs231n-user=bob,cs231n-agent-url=https://example.org/cs231n-agent,cs231n-agent-sha256=$SHA " "$create"
assert_contains "instance create" "--metadata-from-file=startup-script=$STARTUP,cs231n-config=" "$create"
assert_eq "cs231n-config" '{"jupyter": {"port": 9443}}' "$("$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["cs231n-config"].strip())' \
  "$(call_matching files gcloud compute instances create)")"
assert_contains "--no-wait" "Then Jupyter: https://198.51.100.11:9443" "$(cat -- "$OUT")"

section "create-instance.sh with GCE's newer GPUs: the machine type that carries them, no --accelerator"
for case in b200:8:a4-highgpu-8g h200:8:a3-ultragpu-8g h100-mega:8:a3-megagpu-8g nvidia-rtx-pro-6000:1:g4-standard-48 \
  rtx-pro-6000:4:g4-standard-192 a100-80gb:1:a2-ultragpu-1g; do
  IFS=: read -r gpu count machine <<<"$case"
  new_cloud 8
  run_script create-instance.sh --name big --zone "$ZONE" --agent "$AGENT_FILE" --agent-url https://example.org/cs231n-agent \
    --gpu "$gpu:$count" --my-ip 198.51.100.7 --no-static-ip --skip-quota-check --no-wait
  assert_rc 0
  assert_contains "--gpu $gpu:$count" "--machine-type=$machine --maintenance-policy=TERMINATE " "$(calls | grep 'instances create')"
  assert_no_call_matching '--accelerator'
done
new_cloud 8
run_script create-instance.sh "${base[@]}" --gpu b200:1
assert_rc 2
assert_one_error_line create-instance.sh "--gpu b200:1: GCE has no machine type with 1 nvidia-b200 GPU(s); ask for 8 (the only size of that series)"
new_cloud 8
run_script create-instance.sh "${base[@]}" --gpu h200:8
assert_rc 1
assert_contains "quota" "region us-west1 lists no NVIDIA_H200_GPUS quota, so it likely has no nvidia-h200-141gb" "$(cat -- "$ERR")"
assert_no_call_matching ' (create|update|cp) '

section "create-instance.sh: the agent fails; the error, the status and the log command"
new_cloud 0
guest_attributes cs231n running:conda-env "failed:conda-env:step conda-env failed: conda create exited 1 (see its log)"
run_script create-instance.sh "${base[@]}" --poll-seconds 0
assert_rc 1
err=$(cat -- "$ERR")
assert_contains "failure" "create-instance.sh: error: the agent on cs231n failed: step conda-env failed: conda create exited 1 (see its log)" "$err"
assert_contains "failure" "gcloud compute ssh cs231n --zone=$ZONE --command='sudo cs231n-agent logs conda-env'" "$err"
assert_contains "failure" "gcloud compute ssh cs231n --zone=$ZONE --command='sudo cs231n-agent status'" "$err"
assert_not_contains "failure" "Jupyter:" "$(cat -- "$OUT")"

section "create-instance.sh: the wait ends when Jupyter is ready (the agent's ready attribute), saying what still runs"
new_cloud 0
guest_attributes cs231n - running:anaconda "running:datasets@1500" "done"
run_script create-instance.sh "${base[@]}" --poll-seconds 0
assert_rc 0
assert_eq "polls" 3 "$(calls | grep -c get-guest-attributes)"
out=$(cat -- "$OUT")
assert_contains "progress" "cs231n: running (step datasets), Jupyter ready" "$out"
assert_contains "result" "Jupyter:  https://203.0.113.11:8888" "$out"
assert_contains "result" "Password: gcloud compute ssh cs231n --zone=$ZONE --command='sudo cat /root/cs231n-jupyter-password'" "$out"
assert_contains "what still runs" "Jupyter was ready 25 min after the agent started; the rest of its run goes on by itself (now: step datasets); follow it with:" "$out"
assert_contains "how to follow it" "gcloud compute instances get-guest-attributes cs231n --zone=$ZONE --query-path=cs231n-agent/" "$out"

section "create-instance.sh --wait-done: the wait goes on to the end of the run"
new_cloud 0
guest_attributes cs231n - running:anaconda "running:datasets@1500" "done"
run_script create-instance.sh "${base[@]}" --poll-seconds 0 --wait-done
assert_rc 0
assert_eq "polls" 4 "$(calls | grep -c get-guest-attributes)"
assert_contains "progress" "cs231n: done" "$(cat -- "$OUT")"
assert_not_contains "result" "the rest of its run" "$(cat -- "$OUT")"

section "create-instance.sh: a refused run ends the wait too"
new_cloud 0
guest_attributes cs231n "refused:user:OS Login is enabled on this VM; set cs231n-user"
run_script create-instance.sh "${base[@]}" --poll-seconds 0
assert_rc 1
assert_contains "refusal" "the agent on cs231n refused: OS Login is enabled on this VM; set cs231n-user" "$(cat -- "$ERR")"

section "create-instance.sh: an instance of that name exists: nothing is changed"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/instances"
printf '{"name": "cs231n", "status": "RUNNING"}\n' >"$STANDIN_GCLOUD_DIR/instances/cs231n.json"
run_script create-instance.sh "${base[@]}"
assert_rc 1
assert_one_error_line create-instance.sh "an instance cs231n already exists in $ZONE"
assert_no_call_matching ' (create|update|cp) '

#-----------------------------------------------------------------------------------------------
section "class.sh: three students, each VM with its own cs231n-user"
ROSTER=$TEST_TMP/roster.txt
printf 'alice\nbob_lee,bob@example.edu\n\n# dropped the course: dave\ncarol , carol@example.edu\n' >"$ROSTER"
new_cloud 2
run_script class.sh --roster "$ROSTER" --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --gpu t4 --my-ip 198.51.100.7
assert_rc 1
assert_contains "refusal" "region us-west1 needs 3 nvidia-tesla-t4 GPU(s), but NVIDIA_T4_GPUS allows 2" "$(cat -- "$ERR")"
assert_no_call_matching ' (create|update|cp) '

new_cloud 4
run_script class.sh --roster "$ROSTER" --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --gpu t4 --my-ip 198.51.100.7
assert_rc 0
templates=$(calls | grep 'instance-templates create' || true)
[[ $(grep -c . <<<"$templates") == 1 ]] || fail "instance templates made" "expected: 1" "got: $templates"
TEMPLATE=$(awk '{print $5}' <<<"$templates")
[[ $TEMPLATE =~ ^cs231n-template-[0-9a-f]{10}$ ]] || fail "template name" "got: $TEMPLATE"
CLASS_ACCESS=$(access_of cs231n 8888 198.51.100.7/32)
assert_eq "template" "gcloud compute instance-templates create $TEMPLATE --machine-type=n1-standard-8 --accelerator=type=nvidia-tesla-t4,count=1 --maintenance-policy=TERMINATE --image-family=ubuntu-2404-lts-amd64 --image-project=ubuntu-os-cloud --boot-disk-size=40GB --boot-disk-type=pd-balanced --no-boot-disk-auto-delete --tags=$CLASS_ACCESS --labels=cs231n-class=cs231n --metadata=enable-guest-attributes=TRUE,cs231n-agent-url=$URL,cs231n-agent-sha256=$SHA --metadata-from-file=startup-script=$STARTUP" "$templates"
creates=$(calls | grep 'compute instances create' | sort)
expected_creates=""
for student in alice:alice bob_lee:bob-lee carol:carol; do
  expected_creates+="gcloud compute instances create cs231n-${student#*:} --zone=$ZONE --source-instance-template=$TEMPLATE --labels=cs231n-class=cs231n,cs231n-user=${student%%:*} --metadata=enable-guest-attributes=TRUE,cs231n-agent-url=$URL,cs231n-agent-sha256=$SHA,cs231n-user=${student%%:*} --metadata-from-file=startup-script=$STARTUP"$'\n'
done
assert_eq "one create per student, each with its own cs231n-user" "${expected_creates%$'\n'}" "$creates"
for student in alice bob_lee carol; do
  vm=cs231n-${student//_/-}
  JSON_FILE=$STANDIN_GCLOUD_DIR/instances/$vm.json assert_json 'metadata.cs231n-user' "\"$student\""
  JSON_FILE=$STANDIN_GCLOUD_DIR/instances/$vm.json assert_json labels "{\"cs231n-class\": \"cs231n\", \"cs231n-user\": \"$student\"}"
  JSON_FILE=$STANDIN_GCLOUD_DIR/disks/$vm.json assert_json labels "{\"cs231n-class\": \"cs231n\", \"cs231n-user\": \"$student\"}"
done
assert_eq "firewall rules made" 1 "$(calls | grep -c "firewall-rules create .*--source-ranges=198.51.100.7/32 --target-tags=$CLASS_ACCESS")"
out=$(cat -- "$OUT")
grep -qE '^VM +USER +EMAIL +IP +JUPYTER$' <<<"$out" || fail "table header" "got: $out"
for row in "cs231n-alice +alice +- +198\.51\.100\.[0-9]+ +https://198\.51\.100\.[0-9]+:8888" \
  "cs231n-bob-lee +bob_lee +bob@example\.edu +198\.51\.100\.[0-9]+ +https://198\.51\.100\.[0-9]+:8888" \
  "cs231n-carol +carol +carol@example\.edu +198\.51\.100\.[0-9]+ +https://198\.51\.100\.[0-9]+:8888"; do
  grep -qE "^$row\$" <<<"$out" || fail "table" "expected a row: $row" "got: $out"
done
assert_contains "password command" "gcloud compute ssh VM --zone=$ZONE --command='sudo cat /root/cs231n-jupyter-password'" "$out"

section "class.sh again: the template is reused and existing VMs are kept"
: >"$STANDIN_GCLOUD_LEDGER"
run_script class.sh --roster "$ROSTER" --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --gpu t4 --my-ip 198.51.100.7 --skip-quota-check
assert_rc 0
assert_no_call_matching 'instance-templates create|instances create|regions describe'
assert_contains "kept" "Class cs231n: 3 student(s), 3 VM(s) exist already, 0 to make" "$(cat -- "$OUT")"

section "class.sh: one VM fails to be made; the others are, and the exit status says which"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/fail"
echo "ERROR: (gcloud.compute.instances.create) Quota 'CPUS' exceeded. Limit: 24.0 in region us-west1." \
  >"$STANDIN_GCLOUD_DIR/fail/compute-instances-create@cs231n-carol"
run_script class.sh --roster "$ROSTER" --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket --allow-anywhere
assert_rc 1
assert_contains "failure" "cs231n-carol: FAILED: ERROR: (gcloud.compute.instances.create) Quota 'CPUS' exceeded." "$(cat -- "$ERR")"
assert_contains "failure" "class.sh: error: 1 of 3 VM(s) were not created: cs231n-carol" "$(cat -- "$ERR")"
[[ -f $STANDIN_GCLOUD_DIR/instances/cs231n-alice.json && -f $STANDIN_GCLOUD_DIR/instances/cs231n-bob-lee.json ]] ||
  fail "the other students' VMs were not made"
grep -qE '^cs231n-carol +carol +carol@example\.edu +- +-$' "$OUT" || fail "table row of the VM that failed" "got: $(cat -- "$OUT")"
assert_contains "firewall" "--source-ranges=0.0.0.0/0 --target-tags=$(access_of cs231n 8888 0.0.0.0/0)" "$(calls)"

section "class.sh --wait: each agent's state in the table; a failed agent is said with its commands and fails the whole"
new_cloud 0
guest_attributes cs231n-alice running:anaconda "done"
guest_attributes cs231n-bob-lee - "done"
guest_attributes cs231n-carol running:conda-env "failed:conda-env:step conda-env failed"
run_script class.sh --roster "$ROSTER" --zone "$ZONE" --agent "$AGENT_FILE" --agent-url https://example.org/a --my-ip 198.51.100.7 \
  --wait --poll-seconds 0
assert_rc 1
out=$(cat -- "$OUT")
grep -qE '^VM +USER +EMAIL +IP +JUPYTER +STATE$' <<<"$out" || fail "table header" "got: $out"
grep -qE '^cs231n-alice +alice .* done$' <<<"$out" || fail "alice's row" "got: $out"
grep -qE '^cs231n-carol +carol .* failed$' <<<"$out" || fail "carol's row" "got: $out"
assert_contains "progress" "cs231n-carol: failed (step conda-env)" "$out"
err=$(cat -- "$ERR")
assert_contains "error" "class.sh: error: the agent on cs231n-carol failed: step conda-env failed" "$err"
assert_contains "console" "gcloud compute instances get-serial-port-output cs231n-carol --zone=$ZONE" "$err"
assert_contains "log" "gcloud compute ssh cs231n-carol --zone=$ZONE --command='sudo cs231n-agent logs conda-env'" "$err"
assert_contains "error" "class.sh: error: not every VM is ready" "$err"

section "class.sh: a bad roster line is one clear error"
printf 'alice\nBob Smith\n' >"$TEST_TMP/bad-roster.txt"
new_cloud 0
run_script class.sh --roster "$TEST_TMP/bad-roster.txt" --zone "$ZONE" --agent "$AGENT_FILE" --bucket gs://my-bucket
assert_rc 2
assert_one_error_line class.sh "line 2" '"Bob Smith" is not an account name'
assert_eq "gcloud calls" "" "$(calls)"

#-----------------------------------------------------------------------------------------------
section "bake-image.sh: scrub on the VM, then stop it, then image its boot disk"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/instances" "$STANDIN_GCLOUD_DIR/ssh"
printf '{"name": "cs231n", "status": "RUNNING", "disks": [{"boot": true, "source": "https://www.googleapis.com/compute/v1/projects/cs231n-test/zones/%s/disks/cs231n-boot"}]}\n' \
  "$ZONE" >"$STANDIN_GCLOUD_DIR/instances/cs231n.json"
echo "scrub-for-image: done (12 item(s) removed); stop the VM now and image its disk" >"$STANDIN_GCLOUD_DIR/ssh/cs231n.out"
run_script bake-image.sh cs231n --zone "$ZONE" --image cs231n-2025-spring
assert_rc 0
assert_calls \
  "gcloud compute instances describe cs231n --zone=$ZONE --format=json" \
  "gcloud --quiet compute ssh cs231n --zone=$ZONE '--command=sudo bash -s -- --yes'" \
  "gcloud compute instances stop cs231n --zone=$ZONE" \
  "gcloud compute images create cs231n-2025-spring --source-disk=cs231n-boot --source-disk-zone=$ZONE --family=cs231n --labels=cs231n-vm=cs231n '--description=cs231n VM made by cs231n-agent, scrubbed by scripts/scrub-for-image.sh, from cs231n'"
[[ $(call_matching stdin gcloud --quiet compute ssh) == "$(cat -- "$SCRIPTS/scrub-for-image.sh")" ]] ||
  fail "the script piped to the VM is not scripts/scrub-for-image.sh"
[[ -f $STANDIN_GCLOUD_DIR/images/cs231n-2025-spring.json ]] || fail "no image was made"
assert_contains "output" "scrub-for-image: done" "$(cat -- "$OUT")"
assert_contains "output" "Image cs231n-2025-spring is ready (family cs231n)" "$(cat -- "$OUT")"

section "bake-image.sh: a failed scrub stops everything"
new_cloud 0
mkdir -p "$STANDIN_GCLOUD_DIR/instances" "$STANDIN_GCLOUD_DIR/ssh"
printf '{"name": "cs231n", "status": "RUNNING", "disks": [{"boot": true, "source": "zones/%s/disks/cs231n"}]}\n' "$ZONE" \
  >"$STANDIN_GCLOUD_DIR/instances/cs231n.json"
echo 1 >"$STANDIN_GCLOUD_DIR/ssh/cs231n.rc"
run_script bake-image.sh cs231n --zone "$ZONE" --image img --family course --force
assert_rc 1
assert_contains "error" "the scrub on cs231n failed" "$(cat -- "$ERR")"
assert_contains "scrub flags" "'--command=sudo bash -s -- --yes --force'" "$(calls)"
assert_no_call_matching 'instances stop|images create'

section "bake-image.sh: a stopped VM cannot be scrubbed: nothing happens"
sed -i 's/"RUNNING"/"TERMINATED"/' "$STANDIN_GCLOUD_DIR/instances/cs231n.json"
: >"$STANDIN_GCLOUD_LEDGER"
run_script bake-image.sh cs231n --zone "$ZONE" --image img
assert_rc 1
assert_one_error_line bake-image.sh "VM cs231n is TERMINATED" "gcloud compute instances start cs231n --zone=$ZONE"
assert_calls "gcloud compute instances describe cs231n --zone=$ZONE --format=json"

section "README: every laptop command (\`\`\`sh laptop blocks) runs as written"
# From a copy of the repository whose build/cs231n-agent is the stand-in binary, with a roster and
# the caller's IP served on 127.0.0.1 (the scripts ask CS231N_MY_IP_URL, checkip.amazonaws.com in life).
REPO=$TEST_TMP/repo
mkdir -p "$REPO/build"
cp -r -- "$SCRIPTS" "$REPO/scripts"
cp -- "$AGENT_FILE" "$REPO/build/cs231n-agent"
printf 'alice\nbob,bob@example.edu\n' >"$REPO/students.txt"
start_server myip
printf '198.51.100.7\n' >"$SERVE/myip"
export CS231N_MY_IP_URL=$BASE/files/myip
mapfile -t README_COMMANDS < <(awk '/^```sh laptop$/ { inside = 1; next } /^```/ { inside = 0 } inside && NF && !/^#/' "$SOURCE_DIR/README.md")
((${#README_COMMANDS[@]} >= 4)) || fail "README's laptop commands" "expected: at least 4" "got: ${#README_COMMANDS[@]}"
for command in "${README_COMMANDS[@]}"; do
  read -r -a words <<<"$command"
  if [[ ${words[0]} == scripts/create-instance.sh ]]; then
    new_cloud 4
    guest_attributes cs231n running:apt-packages "done"
  fi
  LAST_CMD="(README) $command"
  set +e
  (cd "$REPO" && "${words[@]}") >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
  assert_rc 0
done
unset CS231N_MY_IP_URL

echo "PASS $TEST_NAME"
