# shellcheck shell=bash
# Shared helpers of the end-to-end tests. Sourced by tests/e2e/test_*.sh, which ctest runs as
#   bash tests/e2e/test_x.sh PATH-TO-cs231n-agent
# with CS231N_SOURCE_DIR (the repository root) and CS231N_BUILD_DIR in the environment.
#
# Every assert_* helper prints what was expected, what came out and the command that produced
# it, then exits 1. The first failure ends the test.

set -euo pipefail

if [[ $# -lt 1 || -z $1 ]]; then
  echo "usage: bash $0 PATH-TO-cs231n-agent" >&2
  exit 2
fi
AGENT=$(realpath -- "$1")
if [[ ! -x $AGENT ]]; then
  echo "$0: $1 is not an executable cs231n-agent binary" >&2
  exit 2
fi

TEST_NAME=$(basename -- "$0" .sh)
SOURCE_DIR=${CS231N_SOURCE_DIR:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)}
FIXTURES=$SOURCE_DIR/tests/fixtures
ROOTS=$FIXTURES/roots
CONFIGS=$FIXTURES/configs
export AGENT TEST_NAME SOURCE_DIR FIXTURES ROOTS CONFIGS

# The python3 stdlib does the JSON parsing (jq is not always installed).
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=$(command -v python3)

# Results must not depend on who runs the tests: SUDO_USER picks the target user, and the
# message texts are compared byte for byte.
unset SUDO_USER
export LC_ALL=C

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cs231n-e2e.XXXXXX")
trap 'rm -rf -- "$TEST_TMP"' EXIT
OUT=$TEST_TMP/stdout
ERR=$TEST_TMP/stderr
RC=0
LAST_CMD=""
CONTEXT=""
export TEST_TMP OUT ERR

# section TEXT: names what the following assertions are about, in failure messages.
section() {
  CONTEXT=$*
  printf '== %s\n' "$*"
}

# fail MESSAGE [DETAIL...]: reports a failed expectation and ends the test.
fail() {
  {
    printf 'FAIL [%s] %s: %s\n' "$TEST_NAME" "${CONTEXT:-}" "$1"
    shift
    local detail
    for detail in "$@"; do printf '%s\n' "$detail" | sed 's/^/  /'; done
    if [[ -n $LAST_CMD ]]; then
      printf '  command:  %s\n' "$LAST_CMD"
      printf '  exit:     %s\n' "$RC"
      if [[ -s $ERR ]]; then
        printf '  stderr:\n'
        head -n 20 -- "$ERR" | sed 's/^/    /'
      fi
      if [[ -s $OUT ]]; then
        printf '  stdout (first 30 lines):\n'
        head -n 30 -- "$OUT" | sed 's/^/    /'
      fi
    fi
  } >&2
  exit 1
}

# run_agent ARG...: runs the binary; its stdout goes to $OUT, stderr to $ERR, exit status to $RC.
# Environment assignments in front (VAR=x run_agent ...) reach the binary.
run_agent() {
  LAST_CMD="cs231n-agent $*"
  set +e
  "$AGENT" "$@" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
}

assert_rc() {
  local expected=$1
  [[ $RC == "$expected" ]] || fail "exit status" "expected: $expected" "got:      $RC"
}

# assert_eq WHAT EXPECTED GOT
assert_eq() {
  [[ $2 == "$3" ]] || fail "$1" "expected: $2" "got:      $3"
}

# assert_contains WHAT NEEDLE HAYSTACK
assert_contains() {
  [[ $3 == *"$2"* ]] || fail "$1" "expected to contain: $2" "got:                 $3"
}

# assert_not_contains WHAT NEEDLE HAYSTACK
assert_not_contains() {
  [[ $3 != *"$2"* ]] || fail "$1" "expected NOT to contain: $2" "got:                     $3"
}

assert_stdout_empty() {
  [[ ! -s $OUT ]] || fail "stdout" "expected: nothing" "got:      $(head -c 300 -- "$OUT")"
}

assert_stderr_empty() {
  [[ ! -s $ERR ]] || fail "stderr" "expected: nothing" "got:      $(head -c 300 -- "$ERR")"
}

# assert_error_line NEEDLE...: stderr is exactly one line, "cs231n-agent: error: ...", holding
# every NEEDLE; stdout is empty.
assert_error_line() {
  local lines line needle
  lines=$(wc -l <"$ERR")
  line=$(head -n 1 -- "$ERR")
  [[ $lines == 1 ]] || fail "stderr should be exactly one line" "expected: 1 line" "got:      $lines lines"
  [[ $line == "cs231n-agent: error: "* ]] ||
    fail "stderr line prefix" "expected: cs231n-agent: error: ..." "got:      $line"
  for needle in "$@"; do
    [[ $line == *"$needle"* ]] || fail "error message" "expected to contain: $needle" "got:                 $line"
  done
  assert_stdout_empty
}

# ---------------------------------------------------------------------------------------------
# JSON, read from $OUT (the last run's stdout) unless JSON_FILE is set.
#
# A PATH is dotted keys with list indexes and list lookups:
#   os.version_id   gpus[0].name   steps[name=cuda].action   gpus   (whole value)

_JSON_PY='
import json, re, sys
path, mode = sys.argv[2], sys.argv[3]
try:
    with open(sys.argv[1]) as stream:
        node = json.load(stream)
except ValueError as error:
    print("<stdout is not JSON: %s>" % error)
    sys.exit(3)
try:
    for token in re.findall(r"\[[^\]]*\]|[^.\[\]]+", path):
        if token.startswith("["):
            inner = token[1:-1]
            if "=" in inner:
                key, value = inner.split("=", 1)
                found = [item for item in node if isinstance(item, dict) and str(item.get(key)) == value]
                if len(found) != 1:
                    print("<%d list items with %s=%s>" % (len(found), key, value))
                    sys.exit(3)
                node = found[0]
            else:
                node = node[int(inner)]
        else:
            node = node[token]
except (KeyError, IndexError, TypeError, ValueError):
    print("<no %s in the output>" % path)
    sys.exit(3)
if mode == "raw" and isinstance(node, str):
    print(node)
elif mode == "names":
    print(" ".join(str(item.get("name")) for item in node))
else:
    print(json.dumps(node, sort_keys=True))
'

# json_get PATH: the value at PATH as compact JSON (strings quoted).
json_get() {
  "$PYTHON" -c "$_JSON_PY" "${JSON_FILE:-$OUT}" "$1" json || true
}

# json_raw PATH: like json_get, but a string comes out unquoted.
json_raw() {
  "$PYTHON" -c "$_JSON_PY" "${JSON_FILE:-$OUT}" "$1" raw || true
}

# json_names PATH: the "name" of every item of the list at PATH, space separated.
json_names() {
  "$PYTHON" -c "$_JSON_PY" "${JSON_FILE:-$OUT}" "$1" names || true
}

# assert_json PATH EXPECTED-JSON: the value at PATH equals EXPECTED-JSON (compared as JSON).
assert_json() {
  local path=$1 expected got
  expected=$("$PYTHON" -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True))' "$2") ||
    fail "test bug: expected value of $path is not JSON: $2"
  got=$(json_get "$path")
  [[ $got == "$expected" ]] || fail "$path" "expected: $expected" "got:      $got"
}

# assert_json_contains PATH NEEDLE...: the string at PATH contains every NEEDLE.
assert_json_contains() {
  local path=$1 got needle
  shift
  got=$(json_raw "$path")
  for needle in "$@"; do
    [[ $got == *"$needle"* ]] || fail "$path" "expected to contain: $needle" "got:                 $got"
  done
}

# assert_json_not_contains PATH NEEDLE: the string at PATH does not contain NEEDLE.
assert_json_not_contains() {
  local got
  got=$(json_raw "$1")
  [[ $got != *"$2"* ]] || fail "$1" "expected NOT to contain: $2" "got:                     $got"
}

# ---------------------------------------------------------------------------------------------
# Text tables (detect and plan without --json).

# table_value LABEL: the value column of the row whose label is LABEL, from $OUT. Rows are
# "LABEL<spaces>VALUE"; the label may itself hold single spaces ("Secure Boot").
table_value() {
  "$PYTHON" - "$OUT" "$1" <<'PY'
import re, sys
label = sys.argv[2]
for line in open(sys.argv[1]).read().splitlines():
    match = re.match(r"(\S+(?: \S+)*)  +(.*)$", line)
    if match and match.group(1) == label:
        print(match.group(2))
        sys.exit(0)
print("<no row labelled %s>" % label)
PY
}

# assert_table_aligned: every row of $OUT that starts with a label (or with spaces, for a
# continuation row) has its value starting in the same column, with at least two spaces before.
assert_table_aligned() {
  local problem
  problem=$("$PYTHON" - "$OUT" <<'PY'
import re, sys
lines = [line for line in open(sys.argv[1]).read().splitlines() if line.strip()]
columns = set()
for line in lines:
    match = re.match(r"(\S+(?: \S+)*)?(  +)\S", line)
    if not match:
        print("row without a label/value gap: %r" % line)
        sys.exit(0)
    columns.add(match.end() - 1)
if len(columns) != 1:
    print("values start in different columns %s:\n    %s" % (sorted(columns), "\n    ".join(lines)))
PY
)
  [[ -z $problem ]] || fail "table alignment" "$problem"
}

# assert_plan_table_aligned: in the step rows of `plan` ($OUT, the block after the first blank
# line, up to the next blank line) the actions all start in one column and the reasons/summaries
# in another.
assert_plan_table_aligned() {
  local problem
  problem=$("$PYTHON" - "$OUT" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rows = [line for line in text.split("\n\n")[1].splitlines() if line.strip()]
actions, texts = set(), set()
for line in rows:
    match = re.match(r"(\S+)(  +)(run|done|skip|refuse)( +)\S", line)
    if not match:
        print("not a step row: %r" % line)
        sys.exit(0)
    actions.add(match.start(3))
    texts.add(match.end() - 1)
if not rows:
    print("no step rows")
elif len(actions) != 1 or len(texts) != 1:
    print("columns differ (actions at %s, reasons at %s):\n    %s" % (sorted(actions), sorted(texts), "\n    ".join(rows)))
PY
)
  [[ -z $problem ]] || fail "plan table alignment" "$problem"
}

# ---------------------------------------------------------------------------------------------
# Root snapshots: detect and plan only read, so a root must be byte for byte the same after.

# snapshot_tree DIR: one line per entry (path, type, mode, owner, size, mtime, symlink target), then
# the sha256 of every regular file; paths relative to DIR, sorted.
snapshot_tree() {
  (
    cd -- "$1"
    find . -printf '%p  %y %m %U:%G %s %T@ -> %l\n' | LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum --
  )
}

# take_snapshot DIR NAME: remembers DIR's snapshot as NAME.
take_snapshot() {
  snapshot_tree "$1" >"$TEST_TMP/snapshot.$2"
}

# assert_unchanged DIR NAME: DIR is exactly as it was at take_snapshot DIR NAME.
assert_unchanged() {
  local now=$TEST_TMP/snapshot.$2.now difference
  snapshot_tree "$1" >"$now"
  if ! difference=$(diff -- "$TEST_TMP/snapshot.$2" "$now"); then
    fail "the root $1 changed, but detect and plan must only read it" "$(printf '%s\n' "$difference" | head -n 20)"
  fi
}

# copy_root NAME: a private copy of fixture root NAME, for tests that change it; prints its path.
copy_root() {
  local copy=$TEST_TMP/roots/$1
  mkdir -p -- "$TEST_TMP/roots"
  rm -rf -- "$copy"
  cp -a -- "$ROOTS/$1" "$copy"
  printf '%s\n' "$copy"
}

# Test servers (tests/support/http_server.py on 127.0.0.1); a test that starts one sets
# trap 'stop_servers; rm -rf -- "$TEST_TMP"' EXIT.
SERVER_SCRIPT=$SOURCE_DIR/tests/support/http_server.py
SERVER_PIDS=()

stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
# start_server NAME [ARG...]: a server with its root in $TEST_TMP/NAME/root; sets BASE (its URL),
# SERVE (its root) and SERVER_LOG.
start_server() {
  local dir=$TEST_TMP/$1 tries=0
  shift
  mkdir -p -- "$dir/root"
  "$PYTHON" "$SERVER_SCRIPT" --root "$dir/root" --port-file "$dir/port" --log "$dir/log" "$@" \
    >"$dir/stderr" 2>&1 </dev/null &
  SERVER_PIDS+=("$!")
  until [[ -s $dir/port ]]; do
    ((++tries < 300)) || fail "the test server did not start" "$(cat -- "$dir/stderr")"
    sleep 0.02
  done
  # shellcheck disable=SC2034  # read by the test that started the server
  SERVE=$dir/root
  # shellcheck disable=SC2034
  SERVER_LOG=$dir/log
  local scheme=http
  [[ " $* " == *" --cert "* ]] && scheme=https
  # shellcheck disable=SC2034
  BASE=$scheme://127.0.0.1:$(cat -- "$dir/port")
}
