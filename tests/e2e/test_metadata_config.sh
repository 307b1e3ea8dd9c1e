#!/usr/bin/env bash
# Config and facts from a (fake) GCE metadata server on 127.0.0.1, found through
# GCE_METADATA_HOST: detect reports the instance, plan takes the attributes with their sources,
# malformed attributes are errors naming them, and without GCE_METADATA_HOST a fixture root that
# says "GCE" makes the agent ask nobody.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
trap 'stop_servers; rm -rf -- "$TEST_TMP"' EXIT

ROOT=$ROOTS/ubuntu2204-nogpu
write_metadata() {
  "$PYTHON" - "$TEST_TMP/metadata.json" "$@" <<'PY'
import json, sys
attributes = dict(pair.split("=", 1) for pair in sys.argv[2:])
json.dump({"instance": {"attributes": attributes, "id": "4815162342",
                        "zone": "projects/12/zones/europe-west4-a",
                        "machine-type": "projects/12/machineTypes/n1-standard-8",
                        "network-interfaces": [{"ip": "10.164.0.5", "access-configs": [{"external-ip": "34.90.1.2"}]}]}},
          open(sys.argv[1], "w"))
PY
}

# assert_source KEY SOURCE: plan --json ($OUT) says KEY (a dotted path) came from SOURCE.
assert_source() {
  local got
  got=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["config_sources"].get(sys.argv[2], "<none>"))' "$OUT" "$1")
  [[ $got == "$2" ]] || fail "config_sources[$1]" "expected: $2" "got:      $got"
}

section "detect on GCE reports the instance from the metadata server"
write_metadata 'cs231n-config={"jupyter": {"port": 9443}, "user": "bob"}' "cs231n-user=ubuntu" "cs231n-idle-minutes=45"
start_server meta --metadata "$TEST_TMP/metadata.json"
export GCE_METADATA_HOST=${BASE#http://}
take_snapshot "$ROOT" root
run_agent detect --json --root "$ROOT"
assert_rc 0
assert_json instance.external_ip '"34.90.1.2"'
assert_json instance.internal_ip '"10.164.0.5"'
assert_json instance.zone '"europe-west4-a"'
assert_json instance.machine_type '"n1-standard-8"'
assert_json instance.id '"4815162342"'
assert_json user.name '"ubuntu"'
assert_json user.source '"config"'
run_agent detect --root "$ROOT"
assert_contains "detect table" "n1-standard-8 in europe-west4-a, instance 4815162342, external IP 34.90.1.2" "$(cat -- "$OUT")"

section "plan takes config from metadata and says where each value came from"
run_agent plan --json --root "$ROOT"
assert_rc 0
assert_json config.jupyter.port 9443
assert_json config.idle_shutdown.minutes 45
assert_source user "metadata attribute cs231n-user"
assert_source jupyter.port "metadata attribute cs231n-config"
assert_source idle_shutdown.minutes "metadata attribute cs231n-idle-minutes"
assert_source anaconda.prefix "default (current profile)"
assert_contains "jupyter-cert summary" "34.90.1.2" "$(json_raw 'steps[name=jupyter-cert].summary')"

section "a config file wins over metadata"
printf '{"jupyter": {"port": 8443}}\n' >"$TEST_TMP/config.json"
run_agent plan --json --root "$ROOT" --config "$TEST_TMP/config.json"
assert_rc 0
assert_json config.jupyter.port 8443
assert_source jupyter.port "config file $TEST_TMP/config.json"
run_agent plan --root "$ROOT" --config "$TEST_TMP/config.json"
assert_contains "plan table" "jupyter.port = 8443  (config file $TEST_TMP/config.json)" "$(cat -- "$OUT")"
assert_unchanged "$ROOT" root

section "malformed metadata is an error naming the attribute"
write_metadata 'cs231n-config={"jupyter": {"prot": 1}}'
run_agent plan --root "$ROOT"
assert_rc 2
assert_error_line "metadata attribute cs231n-config" "jupyter.prot" 'did you mean "port"'
write_metadata "cs231n-idle-minutes=soon"
run_agent plan --root "$ROOT"
assert_rc 2
assert_error_line "metadata attribute cs231n-idle-minutes" '"soon" is not an integer'

section "OS Login: without a configured user the user step refuses and says which key to set"
write_metadata "enable-oslogin=TRUE"
run_agent plan --json --root "$ROOT"
assert_rc 4
assert_json 'steps[name=user].action' '"refuse"'
assert_contains "user step" "OS Login is enabled on this VM" "$(json_raw 'steps[name=user].reason')"
assert_contains "user step" "cs231n-user" "$(json_raw 'steps[name=user].reason')"
run_agent detect --json --root "$ROOT"
assert_json instance.os_login true
write_metadata "enable-oslogin=TRUE" "cs231n-user=ubuntu"
run_agent plan --json --root "$ROOT"
assert_json 'steps[name=user].action' '"done"'

section "a fixture root that says GCE makes the agent ask nobody without GCE_METADATA_HOST"
unset GCE_METADATA_HOST
started=$(date +%s%N)
run_agent detect --json --root "$ROOT"
assert_rc 0
assert_json gce true
assert_json instance null
((($(date +%s%N) - started) / 1000000 < 1000)) || fail "detect off the metadata server" "took over a second"

echo "PASS $TEST_NAME"
