#!/usr/bin/env bash
# Config files (tests/fixtures/configs): a broken one stops detect and plan with exit status 2
# and one error line naming the file and the key; a valid one is used.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$ROOTS/ubuntu2204-nogpu
take_snapshot "$ROOT" root

# rejected COMMAND FILE NEEDLE...: COMMAND with --config FILE exits 2, prints nothing on stdout
# and one "cs231n-agent: error:" line on stderr that names the file and holds every NEEDLE.
rejected() {
  local command=$1 file=$CONFIGS/$2
  shift 2
  run_agent "$command" --root "$ROOT" --config "$file"
  assert_rc 2
  assert_error_line "$file" "$@"
  run_agent "$command" --json --root "$ROOT" --config "$file"
  assert_rc 2
  assert_error_line "$file" "$@"
}

# rejected_by_both FILE NEEDLE...: detect and plan both reject FILE.
rejected_by_both() {
  section "config $1"
  rejected detect "$@"
  rejected plan "$@"
}

rejected_by_both bad-json.json "not valid JSON" "line 5"
rejected_by_both unknown-key-typo.json "jupyter.prot" "unknown key" '"port"'
rejected_by_both unknown-section-typo.json "jupiter" "unknown key" '"jupyter"'
rejected_by_both wrong-type-port.json "jupyter.port" "integer" '"8888"'
rejected_by_both wrong-type-section.json "gpu" "object"
rejected_by_both bad-enum-profile.json "profile" '"latest"' '"auto"' '"seed"' '"current"'
rejected_by_both bad-enum-cert-key.json "jupyter.certificate_key" '"rsa-1024"' '"ec-p256"'
rejected_by_both port-out-of-range.json "jupyter.port" "65535" "70000"
rejected_by_both bad-user-name.json "user" '"Student Name"'
rejected_by_both not-an-object.json "JSON object"
rejected_by_both step-missing-run.json "steps[0].run" "required"
rejected_by_both dataset-bad-sha.json "datasets.extra[0].sha256" "sha256" '"ABC"'
# A value that becomes a program's argument and would be read as an option.
rejected_by_both option-conda-package.json "conda_env.packages" '"--override-channels"' 'starts with "-"'
rejected_by_both option-assignments-ref.json "assignments.ref" 'must not start with "-"'
# Three problems: one is named, the others counted, still on one line.
rejected_by_both several-problems.json "2 more problems"
line=$(cat -- "$ERR")
[[ $line == *jupyter.port* || $line == *gpu.cuda* || $line == *idle_shutdown.minutes* ]] ||
  fail "several problems" "expected: one of jupyter.port, gpu.cuda, idle_shutdown.minutes named" "got:      $line"

# The order of the steps is only known to plan.
section "config step-cycle.json (plan)"
run_agent plan --root "$ROOT" --config "$CONFIGS/step-cycle.json"
assert_rc 2
assert_error_line "cycle" "one" "two" '"steps"'

section "config step-name-clash.json (plan)"
run_agent plan --root "$ROOT" --config "$CONFIGS/step-name-clash.json"
assert_rc 2
assert_error_line 'steps[0].name' '"verify"' "already a step"

section "config step-after-missing.json (plan)"
run_agent plan --json --root "$ROOT" --config "$CONFIGS/step-after-missing.json"
assert_rc 2
assert_error_line 'steps[0].after' '"jupyter-servce"' 'did you mean "jupyter-service"'

section "a config file that does not exist"
for command in detect plan; do
  run_agent "$command" --root "$ROOT" --config "$TEST_TMP/no-such-config.json"
  assert_rc 2
  assert_error_line "$TEST_TMP/no-such-config.json"
done

section "a config file that is not readable"
if [[ $(id -u) != 0 ]]; then
  cp -- "$CONFIGS/valid-user.json" "$TEST_TMP/private.json"
  chmod 000 "$TEST_TMP/private.json"
  run_agent detect --root "$ROOT" --config "$TEST_TMP/private.json"
  assert_rc 2
  assert_error_line "$TEST_TMP/private.json"
else
  echo "   (skipped: root can read any file)"
fi

# ---------------------------------------------------------------------------------------------
section "a valid config that sets the user: detect reports it as coming from the config"
run_agent detect --json --root "$ROOTS/debian12-unknown-gpu" --config "$CONFIGS/valid-user.json"
assert_rc 0
assert_stderr_empty
assert_json user '{"name": "alice", "source": "config", "exists": true, "uid": 1000, "home": "/home/alice", "error": null}'
run_agent detect --root "$ROOTS/debian12-unknown-gpu" --config "$CONFIGS/valid-user.json"
assert_rc 0
assert_eq "User row" "alice (from config, home /home/alice)" "$(table_value User)"

section "the config's user wins over SUDO_USER"
SUDO_USER=bob run_agent detect --json --root "$ROOTS/debian12-unknown-gpu" --config "$CONFIGS/valid-user.json"
assert_rc 0
assert_json user.name '"alice"'
assert_json user.source '"config"'

section "a config user without an account yet: reported, and plan creates it"
run_agent detect --json --root "$ROOT" --config "$CONFIGS/valid-user-new-account.json"
assert_rc 0
assert_json user '{"name": "newstudent", "source": "config", "exists": false, "uid": null, "home": null, "error": null}'
run_agent plan --json --root "$ROOT" --config "$CONFIGS/valid-user-new-account.json"
assert_rc 0
assert_json "steps[name=user].action" '"run"'
assert_json_contains "steps[name=user].summary" "newstudent" "/home/newstudent"
assert_json_contains "steps[name=anaconda].summary" "/home/newstudent/miniforge3"

section "a valid config's values reach the plan"
run_agent plan --json --root "$ROOTS/debian12-unknown-gpu" --config "$CONFIGS/valid-user.json"
assert_rc 0
assert_stderr_empty
assert_json config.jupyter.port 9999
assert_json_contains "steps[name=jupyter-config].summary" "port 9999"

assert_unchanged "$ROOT" root

# ---------------------------------------------------------------------------------------------
# Edge cases that once failed; kept last so that they do not hide the checks above.

section "config step-after-missing.json names the file and the key (steps[0].after)"
run_agent plan --root "$ROOT" --config "$CONFIGS/step-after-missing.json"
assert_rc 2
assert_error_line "$CONFIGS/step-after-missing.json" "steps[0].after" '"jupyter-servce"'

section "a folder given as --config is reported as unreadable, not as bad JSON"
run_agent detect --root "$ROOT" --config "$CONFIGS"
assert_rc 2
assert_error_line "$CONFIGS"
assert_not_contains "error message" "not valid JSON" "$(cat -- "$ERR")"

section "a very long value (100000 characters) is rejected or accepted, never a crash"
for key in conda_env.packages assignments.repo; do
  "$PYTHON" - "$TEST_TMP/long-$key.json" "$key" <<'PY'
import json, sys
long = "a" * 100000
document = {"conda_env": {"packages": [long]}} if sys.argv[2] == "conda_env.packages" \
    else {"assignments": {"repo": "https://example.org/" + long}}
json.dump(document, open(sys.argv[1], "w"))
PY
  run_agent detect --root "$ROOT" --config "$TEST_TMP/long-$key.json"
  [[ $RC == 0 || $RC == 2 ]] ||
    fail "config with a 100000-character $key" "expected: exit status 0 (accepted) or 2 (rejected)" \
      "got:      exit status $RC (killed by signal $((RC - 128)) if above 128)"
  [[ $RC == 0 ]] || assert_error_line "$TEST_TMP/long-$key.json" "$key"
done

echo "PASS $TEST_NAME"
