#!/usr/bin/env bash
# The command line: help texts, version, errors for bad usage, option handling, and the schema
# table that the README must carry.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$ROOTS/ubuntu2204-nogpu

# assert_exit_code_table: $OUT lists every exit status with its meaning.
assert_exit_code_table() {
  local text code
  text=$(cat -- "$OUT")
  assert_contains "help" "Exit codes:" "$text"
  for code in 0 1 2 3 4 5 6 7 8 9; do
    grep -qE "^ +$code  +[a-z]" -- "$OUT" || fail "exit code table" "expected: a line for exit status $code" "got:      $text"
  done
  assert_contains "exit code table" "0  success" "$text"
  assert_contains "exit code table" "2  usage or config error" "$text"
  assert_contains "exit code table" "3  reboot pending" "$text"
  assert_contains "exit code table" "4  unsupported or refused" "$text"
}

# assert_options OPTION...: the help text in $OUT lists every OPTION.
assert_options() {
  local option
  for option in "$@"; do
    grep -qE -- "(^|[ ,])$option([ ,=]|$)" "$OUT" || fail "help" "expected to list option: $option" "got:      $(cat -- "$OUT")"
  done
}

# ---------------------------------------------------------------------------------------------
section "cs231n-agent --help"
run_agent --help
assert_rc 0
assert_stderr_empty
assert_contains "help" "Usage: cs231n-agent" "$(cat -- "$OUT")"
for command in detect plan schema version; do
  grep -qE "^ +$command +[A-Z]" -- "$OUT" || fail "help" "expected to list command: $command" "got:      $(cat -- "$OUT")"
done
assert_exit_code_table

section "cs231n-agent -h"
run_agent -h
assert_rc 0
assert_contains "help" "Usage: cs231n-agent" "$(cat -- "$OUT")"

section "cs231n-agent plan --help"
run_agent plan --help
assert_rc 0
assert_stderr_empty
assert_contains "help" "Usage: cs231n-agent plan" "$(cat -- "$OUT")"
assert_options --root --config --state-dir --cache-dir --json --log-file -v --verbose
assert_exit_code_table

section "cs231n-agent plan -h (after other options)"
run_agent plan --root "$ROOT" -h
assert_rc 0
assert_contains "help" "Usage: cs231n-agent plan" "$(cat -- "$OUT")"

section "cs231n-agent detect --help"
run_agent detect --help
assert_rc 0
assert_stderr_empty
assert_contains "help" "Usage: cs231n-agent detect" "$(cat -- "$OUT")"
assert_options --root --config --json --log-file -v --verbose
assert_exit_code_table

section "cs231n-agent schema --help and version --help"
for command in schema version; do
  run_agent "$command" --help
  assert_rc 0
  assert_contains "help" "Usage: cs231n-agent $command" "$(cat -- "$OUT")"
  assert_exit_code_table
done

# ---------------------------------------------------------------------------------------------
section "cs231n-agent version"
run_agent version
assert_rc 0
assert_stderr_empty
version=$(cat -- "$OUT")
[[ $version =~ ^cs231n-agent\ [0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  fail "version output" "expected: one line like 'cs231n-agent 0.1.0'" "got:      $version"
project_version=$(sed -nE 's/^project\(cs231n-agent VERSION ([0-9.]+).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
if [[ -n $project_version ]]; then
  assert_eq "version (as in CMakeLists.txt)" "cs231n-agent $project_version" "$version"
fi

section "cs231n-agent version -v: also the TLS stack"
run_agent version -v
assert_rc 0
assert_eq "first line" "$version" "$(head -n 1 -- "$OUT")"
assert_contains "version -v" "libcurl" "$(cat -- "$OUT")"
assert_contains "version -v" "OpenSSL" "$(cat -- "$OUT")"

# ---------------------------------------------------------------------------------------------
section "an unknown option"
run_agent detect --bogus
assert_rc 2
assert_error_line "--bogus"

section "an unknown option of another command (--state-dir is plan's, not detect's)"
run_agent detect --state-dir "$TEST_TMP/state"
assert_rc 2
assert_error_line "--state-dir"

section "an unknown command"
run_agent bogus
assert_rc 2
assert_error_line

section "no command"
run_agent
assert_rc 2
assert_error_line "--help"

section "an option without its value"
run_agent detect --root
assert_rc 2
assert_error_line "--root"

section "--root that does not exist"
run_agent detect --root "$TEST_TMP/no-such-root"
assert_rc 2
assert_error_line "--root" "$TEST_TMP/no-such-root"
run_agent plan --json --root "$TEST_TMP/no-such-root"
assert_rc 2
assert_error_line "--root" "$TEST_TMP/no-such-root"

section "--root that is a file"
run_agent plan --root "$ROOT/etc/passwd"
assert_rc 2
assert_error_line "--root" "$ROOT/etc/passwd"

# ---------------------------------------------------------------------------------------------
section "plan with every option after the command, in any order"
take_snapshot "$ROOT" root
state=$TEST_TMP/state/does-not-exist-yet
run_agent plan --json --root "$ROOT" --config "$CONFIGS/valid-user.json" --state-dir "$state"
assert_rc 0
assert_stderr_empty
assert_json config.user '"alice"'
assert_json "steps[name=user].action" '"run"'
cp -- "$OUT" "$TEST_TMP/plan-first-order.json"
[[ ! -e $state ]] || fail "plan must only read: it created its --state-dir $state"
run_agent plan --state-dir "$state" --config "$CONFIGS/valid-user.json" --root "$ROOT" --json
assert_rc 0
cmp -s -- "$OUT" "$TEST_TMP/plan-first-order.json" || fail "plan --json should not depend on the order of the options"
run_agent plan --json --root="$ROOT" --config="$CONFIGS/valid-user.json" --state-dir="$state"
assert_rc 0
cmp -s -- "$OUT" "$TEST_TMP/plan-first-order.json" || fail "plan --json with --option=value should give the same plan"
assert_unchanged "$ROOT" root

section "--json -v: the JSON on stdout stays clean, the log goes to stderr and the log file"
mkdir -p "$TEST_TMP/logs"
log=$TEST_TMP/logs/agent.log
run_agent detect --json -v --root "$ROOT" --config "$CONFIGS/valid-user.json" --log-file "$log"
assert_rc 0
assert_json user.name '"alice"'
[[ -s $ERR ]] || fail "-v" "expected: more detail on stderr" "got:      nothing"
[[ -f $log ]] || fail "--log-file" "expected: $log to be written" "got:      no such file"
# Every message shown on stderr is also in the log file.
while IFS= read -r message; do
  # stderr: "[time ]cs231n-agent: LEVEL: text"; the file has its own prefix. The text must match.
  assert_contains "log file" "${message#*cs231n-agent: *: }" "$(cat -- "$log")"
done <"$ERR"
run_agent plan --json -vv --root "$ROOT"
assert_rc 0
assert_json refusal null

section "without -v nothing is logged on stderr"
run_agent plan --json --root "$ROOT" --config "$CONFIGS/valid-user.json"
assert_rc 0
assert_stderr_empty

# ---------------------------------------------------------------------------------------------
section "cs231n-agent schema"
run_agent schema
assert_rc 0
assert_stderr_empty
cp -- "$OUT" "$TEST_TMP/schema.md"
assert_eq "schema header" "| key | type | seed default | current default | metadata attribute | meaning |" \
  "$(head -n 1 -- "$OUT")"
assert_eq "schema separator" "| --- | --- | --- | --- | --- | --- |" "$(sed -n 2p -- "$OUT")"
# The backticks below are Markdown, not command substitutions.
# shellcheck disable=SC2016
bad_rows=$(tail -n +3 -- "$OUT" | grep -vE '^\| `[a-z0-9_.]+` \| [^|]+ \|' || true)
assert_eq "schema rows that are not '| \`key\` | type | ...'" "" "$bad_rows"
for key in profile user anaconda.prefix conda_env.python jupyter.port gpu.cuda pytorch.version \
  idle_shutdown.minutes steps timeouts; do
  grep -q "^| \`$key\` |" -- "$OUT" || fail "schema" "expected a row for \`$key\`"
done
# shellcheck disable=SC2016
grep -q '^| `jupyter.port` | an integer | `8888` | same |' -- "$OUT" ||
  fail "schema row of jupyter.port" "expected: | \`jupyter.port\` | an integer | \`8888\` | same | ..." \
    "got:      $(grep '`jupyter.port`' -- "$OUT")"
# shellcheck disable=SC2016
grep -q '^| `gpu.cuda` | a string | `"10.0"` | `"auto"` | `cs231n-cuda` |' -- "$OUT" ||
  fail "schema row of gpu.cuda" "expected: seed \"10.0\", current \"auto\", metadata cs231n-cuda" \
    "got:      $(grep '`gpu.cuda`' -- "$OUT")"

# ---------------------------------------------------------------------------------------------
section "cs231n-agent gpus: one row per GPU of the table, a column per reference machine"
run_agent gpus
assert_rc 0
assert_stderr_empty
cp -- "$OUT" "$TEST_TMP/gpus.md"
assert_contains "gpus header" "| GPU | tutorial VM (\`seed\`: Ubuntu 18.04" "$(head -n 1 -- "$OUT")"
assert_contains "the T4's row" "| Tesla T4 (\`10de:1eb8\`, Turing, sm_75) | CUDA 10.0, driver 470, DKMS, torch 1.2.0+cu100 |" \
  "$(cat -- "$OUT")"
assert_contains "the K80's row" "retired from GCE" "$(grep 'Tesla K80' -- "$OUT")"

# The README documents the config schema and the GPU choices; they must match the binary.
# readme_table NAME FILE: the README's lines between <!-- NAME:begin --> and <!-- NAME:end --> are
# FILE (the output of `cs231n-agent NAME`), apart from blank lines at either end.
readme_table() {
  local name=$1 expected=$2 readme=$SOURCE_DIR/README.md marker difference
  section "README.md carries the $name table between <!-- $name:begin --> and <!-- $name:end -->"
  LAST_CMD=""
  [[ -f $readme ]] || fail "README $name table" "expected: $readme with the output of 'cs231n-agent $name'" \
    "got:      no README.md"
  for marker in "<!-- $name:begin -->" "<!-- $name:end -->"; do
    grep -qxF -- "$marker" "$readme" ||
      fail "README $name table" "expected: a line '$marker' in $readme (the table goes between" \
        "          '<!-- $name:begin -->' and '<!-- $name:end -->')" "got:      no such line"
  done
  sed -n "/^<!-- $name:begin -->\$/,/^<!-- $name:end -->\$/p" -- "$readme" | sed '1d;$d' |
    sed -e '/./,$!d' | tac | sed -e '/./,$!d' | tac >"$TEST_TMP/readme-$name.md"
  if ! difference=$(diff -u --label "README.md (between the markers)" --label "cs231n-agent $name" \
    "$TEST_TMP/readme-$name.md" "$expected"); then
    fail "README $name table is out of date: run scripts/update-readme-tables.sh" \
      "$(printf '%s\n' "$difference" | head -n 40)"
  fi
}
readme_table schema "$TEST_TMP/schema.md"
readme_table gpus "$TEST_TMP/gpus.md"

section "passwd makes an argon2 hash unless --algorithm sha1 is asked for"
# A sha1 hash (one salted SHA-1) in metadata is cheap to brute-force for anyone who reads it.
LAST_CMD="cs231n-agent passwd (password on stdin)"
set +e
printf 'correct horse\n' | "$AGENT" passwd >"$OUT" 2>"$ERR"
RC=$?
set -e
assert_rc 0
assert_contains "passwd's default hash" "argon2:\$argon2id\$" "$(cat -- "$OUT")"
LAST_CMD="cs231n-agent passwd --algorithm sha1 (password on stdin)"
set +e
printf 'correct horse\n' | "$AGENT" passwd --algorithm sha1 >"$OUT" 2>"$ERR"
RC=$?
set -e
assert_rc 0
[[ $(cat -- "$OUT") =~ ^sha1:[0-9a-f]{12}:[0-9a-f]{40}$ ]] || fail "passwd --algorithm sha1" "expected: sha1:<12 hex>:<40 hex>" "got:      $(cat -- "$OUT")"

# ---------------------------------------------------------------------------------------------
# Edge cases that once failed; kept last so that they do not hide the checks above.

section "an unknown command is named in the error"
run_agent bogus
assert_rc 2
assert_error_line "bogus"

section "unexpected arguments are quoted in the order given"
run_agent detect first second
assert_rc 2
assert_error_line "first second"

section "modes do not depend on the caller's umask"
# The agent sets umask 022 at start: a folder it creates is 0755 and its log 0644 even when it is
# started with umask 077 (folders private to root) or 000 (a world-writable log).
for mask in 077 000; do
  (umask "$mask" && run_agent cert --out "$TEST_TMP/umask-$mask/certs" --log-file "$TEST_TMP/umask-$mask.log")
  [[ -f $TEST_TMP/umask-$mask/certs/jupyter.pem ]] || fail "cert with umask $mask made no jupyter.pem"
  assert_eq "mode of the folder cert made (umask $mask)" 755 "$(stat -c %a -- "$TEST_TMP/umask-$mask")"
  assert_eq "mode of the certificate (umask $mask)" 644 "$(stat -c %a -- "$TEST_TMP/umask-$mask/certs/jupyter.pem")"
  assert_eq "mode of the log (umask $mask)" 644 "$(stat -c %a -- "$TEST_TMP/umask-$mask.log")"
done

section "status: the ready moment, and a running step's download progress as the running agent writes it"
STATUS_DIR=$TEST_TMP/status-state
mkdir -p -- "$STATUS_DIR"
# The golden state file (started 20:31:05, ready 20:38:17) with nvidia-driver running, and the
# progress file the engine writes beside it (agent/engine/engine.cpp, write_progress).
"$PYTHON" - "$SOURCE_DIR/tests/fixtures/state/state.json" "$STATUS_DIR" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
state["run"]["state"] = "running"
state["steps"]["nvidia-driver"]["status"] = "running"
json.dump(state, open(sys.argv[2] + "/state.json", "w"))
progress = {"run": state["run"]["id"], "steps": {"nvidia-driver": {"bytes": 400, "total": 1000, "files": 2, "sizes_unknown": 0}}}
json.dump(progress, open(sys.argv[2] + "/progress.json", "w"))
PY
# A running agent holds the lock with its pid in it (agent/engine/lock.cpp).
exec {lock_fd}>"$STATUS_DIR/lock"
flock "$lock_fd"
printf '%s\n' "$$" >&"$lock_fd"
run_agent status --state-dir "$STATUS_DIR"
assert_rc 5
assert_contains "status" "State: running (run 3f9a1c2b7d4e, updated 2026-11-29T20:47:12Z), pid $$; ready after 432 s" "$(head -n 1 -- "$OUT")"
grep -qE '^nvidia-driver +running +[0-9.]+ s +downloaded 400 B of 1000 B \(2 files\)$' -- "$OUT" ||
  fail "status" "expected: nvidia-driver's row with its downloads" "got: $(cat -- "$OUT")"
run_agent status --json --state-dir "$STATUS_DIR"
assert_json ready_s 432
assert_json 'steps[name=nvidia-driver].downloads' '{"bytes": 400, "total": 1000, "files": 2, "sizes_unknown": 0}'
assert_json 'steps[name=user].downloads' null
# A progress file of another run (one that died before removing it) is not this run's.
"$PYTHON" -c 'import json, sys; json.dump({"run": "other", "steps": {"nvidia-driver": {"bytes": 1}}}, open(sys.argv[1], "w"))' \
  "$STATUS_DIR/progress.json"
run_agent status --json --state-dir "$STATUS_DIR"
assert_json 'steps[name=nvidia-driver].downloads' null
exec {lock_fd}>&-
# Without the lock the run's process is gone: no progress, and a step left running is interrupted.
run_agent status --json --state-dir "$STATUS_DIR"
assert_json state '"interrupted"'
assert_json 'steps[name=nvidia-driver].status' '"interrupted"'
assert_json 'steps[name=nvidia-driver].downloads' null
"$PYTHON" - "$STATUS_DIR/state.json" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
state["run"]["ready"] = ""
json.dump(state, open(sys.argv[1], "w"))
PY
run_agent status --state-dir "$STATUS_DIR"
assert_contains "status" "; not ready yet" "$(head -n 1 -- "$OUT")"
run_agent status --json --state-dir "$STATUS_DIR"
assert_json ready_s null

echo "PASS $TEST_NAME"
