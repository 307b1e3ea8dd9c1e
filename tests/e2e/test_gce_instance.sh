#!/usr/bin/env bash
# The agent on a (fake) GCE VM, in a chroot overlay, with the metadata server on 127.0.0.1
# (GCE_METADATA_HOST): progress as guest attributes (namespace cs231n-agent) that a laptop can
# read, the Jupyter URL and where the password is in the summary, per-instance steps made again
# on a VM cloned from another's image (a new instance id), and a VM without guest attributes
# whose run still succeeds. Then `resume` at a boot after a finished run re-checks and is done.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"

write_metadata() { # INSTANCE-ID
  "$PYTHON" - "$TEST_TMP/metadata.json" "$1" <<'PY'
import json, sys
json.dump({"instance": {"id": sys.argv[2], "attributes": {"cs231n-user": "student"},
                        "network-interfaces": [{"ip": "10.128.0.9", "access-configs": [{"external-ip": "34.90.1.2"}]}]}},
          open(sys.argv[1], "w"))
PY
}
# guest KEY: the guest attribute as a laptop reads it (gcloud ... get-guest-attributes).
guest() {
  curl -sS -H 'Metadata-Flavor: Google' "$BASE/computeMetadata/v1/instance/guest-attributes/cs231n-agent/$1"
}
# put_values KEY: every value PUT for KEY, in order, space separated.
put_values() {
  curl -sS "$BASE/_idle" >/dev/null
  "$PYTHON" - "$SERVER_LOG" "$1" <<'PY'
import json, sys
entries = sorted((json.loads(line) for line in open(sys.argv[1])), key=lambda entry: entry["seq"])
print(" ".join(e.get("body") or "-" for e in entries
               if e["method"] == "PUT" and e["path"].endswith("/cs231n-agent/" + sys.argv[2])))
PY
}

chroot_start "$TEST_TMP/chroot"
CHROOT_EXIT_HOOKS+=(stop_servers)
chroot_install_agent "$AGENT"
R=$CHROOT_ROOT
write_metadata 1111
start_server meta --metadata "$TEST_TMP/metadata.json"
CHROOT_ENV+=("GCE_METADATA_HOST=${BASE#http://}")
STEPS=user,jupyter-password,jupyter-cert
KEY=$R/home/student/.jupyter/certs/jupyter.key

section "a run publishes its progress and ends with the URL and where the password is"
chroot_agent run --only "$STEPS" --yes --state-dir /var/lib/gce
assert_rc 0
assert_eq "guest attribute state" "done" "$(guest state)"
assert_eq "guest attribute jupyter-url" "https://34.90.1.2:8888/" "$(guest jupyter-url)"
assert_eq "guest attribute error" "" "$(guest error)"
assert_eq "states published, in order" "running done" "$(put_values state)"
steps_published=$(put_values step)
for step in ${STEPS//,/ }; do assert_contains "steps published" "$step" "$steps_published"; done
assert_contains "summary" "Jupyter: https://34.90.1.2:8888/" "$(cat -- "$OUT")"
assert_contains "summary" "Its password: sudo cat /root/cs231n-jupyter-password" "$(cat -- "$OUT")"
password=$(cat -- "$R/root/cs231n-jupyter-password")
assert_not_contains "published values" "$password" "$(put_values step) $(put_values error) $(put_values state)"
JSON_FILE=$R/var/lib/gce/state.json assert_json run.instance_id '"1111"'
key_before=$(sha256sum <"$KEY")

section "the same instance again: per-instance steps stay done"
chroot_agent run --only "$STEPS" --yes --state-dir /var/lib/gce
assert_rc 0
assert_eq "certificate key" "$key_before" "$(sha256sum <"$KEY")"

section "a VM made from this one's image (a new instance id): the certificate and password run again"
write_metadata 2222
chroot_agent run --only "$STEPS" --yes --state-dir /var/lib/gce
assert_rc 0
assert_contains "log" "step jupyter-cert was done on instance 1111, this is instance 2222: it runs again" "$(cat -- "$ERR")"
assert_contains "log" "step jupyter-password was done on instance 1111, this is instance 2222: it runs again" "$(cat -- "$ERR")"
[[ $(sha256sum <"$KEY") != "$key_before" ]] || fail "the certificate key was not made again on the new instance"
JSON_FILE=$R/var/lib/gce/state.json assert_json run.instance_id '"2222"'

section "resume at a boot after a finished run: re-checks, stays done, changes nothing"
key_before=$(sha256sum <"$KEY")
chroot_agent resume --state-dir /var/lib/gce
assert_rc 0
assert_eq "certificate key" "$key_before" "$(sha256sum <"$KEY")"
JSON_FILE=$R/var/lib/gce/state.json assert_json run.state '"done"'

section "a failed run says so, with its error, as guest attributes"
printf '{"steps": [{"name": "boom", "after": [], "user": "root", "run": ["false"]}]}\n' >"$R/root/boom.json"
chroot_agent run --only boom --yes --config /root/boom.json --state-dir /var/lib/gce-failed
assert_rc 1
assert_eq "guest attribute state" failed "$(guest state)"
assert_contains "guest attribute error" "boom" "$(guest error)"
assert_eq "guest attribute step" boom "$(guest step)"

section "a VM without enable-guest-attributes: the run still succeeds, and says so once"
stop_servers
start_server meta2 --metadata "$TEST_TMP/metadata.json" --no-guest-attributes
CHROOT_ENV=("${CHROOT_ENV[@]/GCE_METADATA_HOST=*/GCE_METADATA_HOST=${BASE#http://}}")
chroot_agent run --only "$STEPS" --yes --state-dir /var/lib/gce-noguest
assert_rc 0
assert_eq "mentions of guest attributes in the log" 1 "$(grep -c 'not published as guest attributes' "$ERR" || true)"
assert_contains "why" "HTTP 403" "$(cat -- "$ERR")"
echo "PASS"
