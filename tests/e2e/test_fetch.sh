#!/usr/bin/env bash
# `cs231n-agent fetch` against tests/support/http_server.py on 127.0.0.1: exit codes and messages
# (success, checksum, HTTP and connection errors, a full disk, bad arguments, signals), progress
# lines without a terminal, resuming after SIGKILL from FILE.part + FILE.part.json, offsets
# beyond 4 GiB, and TLS with --ca-file.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

MIB=1048576
trap 'stop_servers; rm -rf -- "$TEST_TMP"' EXIT

# server_log PATH [QUERY]: the server's log entries for PATH (and QUERY), one JSON object per line
# in the order the requests arrived, once every request so far is answered and logged (/_idle).
server_log() {
  "$PYTHON" - "$BASE" "$SERVER_LOG" "$@" <<'PY'
import json, ssl, sys, urllib.request
base, log, path = sys.argv[1], sys.argv[2], sys.argv[3]
query = sys.argv[4] if len(sys.argv) > 4 else None
context = ssl._create_unverified_context()  # our own test server
urllib.request.urlopen(base + "/_idle", timeout=15, context=context).read()
entries = sorted((json.loads(line) for line in open(log)), key=lambda entry: entry["seq"])
for entry in entries:
    if entry["path"] == path and (query is None or entry["query"] == query):
        print(json.dumps(entry, sort_keys=True))
PY
}

# field NAME: the NAME of every JSON line on stdin, one per line ("null" when missing).
field() {
  "$PYTHON" -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line).get(sys.argv[1]))' "$1"
}

# data_requests: the GET requests on stdin (server_log lines) but the agent's one-byte probe.
data_requests() {
  "$PYTHON" -c '
import json, sys
for line in sys.stdin:
    entry = json.loads(line)
    if entry["method"] == "GET" and entry["range"] != "bytes=0-0":
        print(line, end="")'
}

# random_file PATH BYTES: pseudo-random content.
random_file() {
  head -c "$2" /dev/urandom >"$1"
}

sha256() {
  sha256sum -- "$1" | cut -d' ' -f1
}

assert_no_leftovers() {
  [[ ! -e $1 ]] || fail "$1 should not exist"
  [[ ! -e $1.part ]] || fail "$1.part should not exist"
  [[ ! -e $1.part.json ]] || fail "$1.part.json should not exist"
}

# run_agent_background ARG...: starts the binary; AGENT_PID, output to $OUT and $ERR.
run_agent_background() {
  LAST_CMD="cs231n-agent $*"
  "$AGENT" "$@" >"$OUT" 2>"$ERR" </dev/null &
  AGENT_PID=$!
}

# signal_agent SIGNAL: sends SIGNAL to run_agent_background's process and waits for it; sets RC.
signal_agent() {
  set +e
  {
    kill -"$1" "$AGENT_PID"
    wait "$AGENT_PID"
    RC=$?
  } 2>/dev/null # no "Killed" notice from bash
  set -e
}

# sidecar_done FILE.part.json: the bytes the sidecar says are on disk (0 while it is missing).
sidecar_done() {
  "$PYTHON" -c '
import json, sys
try:
    print(sum(segment["done"] for segment in json.load(open(sys.argv[1]))["segments"]))
except (OSError, ValueError):
    print(0)' "$1"
}

# wait_for_progress FILE.part.json BYTES: until the sidecar records at least BYTES (10 s at most).
wait_for_progress() {
  local tries=0
  until (($(sidecar_done "$1") >= $2)); do
    ((++tries < 200)) || fail "no progress recorded in $1 after 10 s"
    sleep 0.05
  done
}

DL=$TEST_TMP/downloads
mkdir -p -- "$DL"
start_server files
PLAIN_BASE=$BASE

# ---------------------------------------------------------------------------------------------
section "success: the file arrives, verified, and nothing else is left"
random_file "$SERVE/a.bin" $((5 * MIB + 17))
SUM=$(sha256 "$SERVE/a.bin")
run_agent fetch "$BASE/files/a.bin" -o "$DL/a.bin" --sha256 "$SUM"
assert_rc 0
assert_stdout_empty
assert_eq "sha256 of the download" "$SUM" "$(sha256 "$DL/a.bin")"
[[ ! -e $DL/a.bin.part && ! -e $DL/a.bin.part.json ]] || fail "the part file and its sidecar should be gone"
assert_contains "summary line" "$DL/a.bin: 5.0 MiB in 1 attempt(s) over 4 connection(s), sha256 $SUM" "$(cat -- "$ERR")"
grep -qE '^[^ ]+ cs231n-agent: info: a\.bin: 5\.0 MiB of 5\.0 MiB \(100%\)' "$ERR" || fail "a final 100% progress line"

section "success again: a file that is already there and matches is not downloaded"
BEFORE=$(server_log /files/a.bin | wc -l)
run_agent fetch "$BASE/files/a.bin" -o "$DL/a.bin" --sha256 "$SUM"
assert_rc 0
assert_contains "message" "already there and matches its checksum" "$(cat -- "$ERR")"
assert_eq "requests" "$BEFORE" "$(server_log /files/a.bin | wc -l)"

section "progress without a terminal: lines with rising percentages, the last at 100%"
random_file "$SERVE/slow.bin" $((4 * MIB))
run_agent fetch "$BASE/files/slow.bin?rate=4000000" -o "$DL/slow.bin" --connections 1
assert_rc 0
PERCENTS=$(sed -nE 's/.* slow\.bin: .* of 4\.0 MiB \(([0-9]+)%\), .*/\1/p' "$ERR")
(($(wc -l <<<"$PERCENTS") >= 4)) || fail "at least 4 progress lines" "got: $PERCENTS"
sort -n -c <<<"$PERCENTS" 2>/dev/null || fail "percentages should rise" "got: $PERCENTS"
assert_eq "last percentage" 100 "$(tail -n 1 <<<"$PERCENTS")"
assert_eq "sha256" "$(sha256 "$SERVE/slow.bin")" "$(sha256 "$DL/slow.bin")"

# ---------------------------------------------------------------------------------------------
section "checksum mismatch: exit 7, expected and actual named, nothing left"
WRONG=$(printf '0%.0s' {1..64})
run_agent fetch "$BASE/files/a.bin" -o "$DL/wrong.bin" --sha256 "$WRONG"
assert_rc 7
assert_contains "error" "cs231n-agent: error: $BASE/files/a.bin: sha256 mismatch: expected $WRONG, got $SUM" "$(tail -n 1 -- "$ERR")"
assert_no_leftovers "$DL/wrong.bin"

section "md5 mismatch: exit 7"
run_agent fetch "$BASE/files/a.bin" -o "$DL/wrong.bin" --md5 "$(printf 'f%.0s' {1..32})"
assert_rc 7
assert_contains "error" "md5 mismatch: expected ffffffffffffffffffffffffffffffff, got $(md5sum "$SERVE/a.bin" | cut -d' ' -f1)" "$(tail -n 1 -- "$ERR")"
assert_no_leftovers "$DL/wrong.bin"

section "404: exit 6 at once, URL and status named"
run_agent fetch "$BASE/files/missing.bin" -o "$DL/missing.bin"
assert_rc 6
assert_error_line "$BASE/files/missing.bin" "HTTP 404"
assert_eq "requests" 1 "$(server_log /files/missing.bin | wc -l)"
assert_no_leftovers "$DL/missing.bin"

section "connection refused: exit 6 after --retries 1"
DEAD_PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
START=$SECONDS
run_agent fetch "http://127.0.0.1:$DEAD_PORT/files/a.bin" -o "$DL/dead.bin" --retries 1
assert_rc 6
assert_contains "error" "cs231n-agent: error: http://127.0.0.1:$DEAD_PORT/files/a.bin:" "$(tail -n 1 -- "$ERR")"
assert_contains "error" "gave up after 2 attempts" "$(tail -n 1 -- "$ERR")"
((SECONDS - START < 10)) || fail "giving up should be quick with --retries 1" "took $((SECONDS - START)) s"
assert_no_leftovers "$DL/dead.bin"

section "503 twice: retried, then success"
run_agent fetch "$BASE/files/a.bin?fail=503&fail_times=2" -o "$DL/retried.bin" --sha256 "$SUM"
assert_rc 0
assert_eq "statuses" "503 503 206" "$(server_log /files/a.bin 'fail=503&fail_times=2' | field status | head -n 3 | xargs)"

# ---------------------------------------------------------------------------------------------
section "bad arguments: exit 2"
run_agent fetch "$BASE/files/a.bin" -o "$DL/x.bin" --sha256 "$(printf 'g%.0s' {1..64})"
assert_rc 2
assert_error_line "--sha256 takes 64 lowercase hex digits"
run_agent fetch "$BASE/files/a.bin" -o "$DL/x.bin" --sha256 "${SUM^^}"
assert_rc 2
run_agent fetch "$BASE/files/a.bin" -o "$DL/x.bin" --sha256 "$SUM" --md5 "$(printf 'a%.0s' {1..32})"
assert_rc 2
assert_contains "error" "excludes" "$(cat -- "$ERR")"
run_agent fetch "$BASE/files/a.bin" -o "$DL"
assert_rc 2
assert_error_line "-o $DL is a folder"
run_agent fetch "ftp://127.0.0.1/a.bin" -o "$DL/x.bin"
assert_rc 2
assert_error_line "http:// and https://"
run_agent fetch "$BASE/files/a.bin"
assert_rc 2
assert_no_leftovers "$DL/x.bin"

# ---------------------------------------------------------------------------------------------
section "a full disk: exit 8 (a 4 MiB tmpfs in a private mount namespace)"
random_file "$SERVE/big.bin" $((8 * MIB))
SMALL=$TEST_TMP/small
mkdir -p -- "$SMALL"
# run_on_small_disk ARG...: the binary with a 4 MiB tmpfs on $SMALL, visible to it alone.
run_on_small_disk() {
  LAST_CMD="unshare --mount (tmpfs 4 MiB on $SMALL) cs231n-agent $*"
  set +e
  # shellcheck disable=SC2016  # $1 and $@ are the inner bash's
  unshare --mount -- bash -c 'mount -t tmpfs -o size=4m tmpfs "$1" && shift && exec "$@"' \
    unshare-mount "$SMALL" "$AGENT" "$@" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
}
if unshare --mount -- true 2>/dev/null; then
  run_on_small_disk fetch "$BASE/files/big.bin" -o "$SMALL/big.bin"
  assert_rc 8
  assert_error_line "needs 8.0 MiB, but only 4.0 MiB is free in $SMALL" "free some space"
  # Without a size in advance (chunked), the disk fills up while writing.
  run_on_small_disk fetch "$BASE/files/big.bin?chunked=1" -o "$SMALL/big.bin"
  assert_rc 8
  assert_error_line "cannot write $SMALL/big.bin.part" "No space left on device"
  findmnt -- "$SMALL" >/dev/null && fail "the tmpfs leaked out of its mount namespace"
else
  echo "SKIP: unshare --mount is not permitted here"
fi

# ---------------------------------------------------------------------------------------------
section "SIGTERM: exit 9, the part file is kept"
random_file "$SERVE/seg.bin" $((16 * MIB))
SEG_SUM=$(sha256 "$SERVE/seg.bin")
SLOW_URL="$BASE/files/seg.bin?rate=600000"
run_agent_background fetch "$SLOW_URL" -o "$DL/term.bin" --sha256 "$SEG_SUM"
wait_for_progress "$DL/term.bin.part.json" 1
signal_agent TERM
assert_rc 9
assert_contains "error" "interrupted; run again to resume" "$(tail -n 1 -- "$ERR")"
[[ -e $DL/term.bin.part && -e $DL/term.bin.part.json && ! -e $DL/term.bin ]] || fail "FILE.part and FILE.part.json should be kept"

section "SIGKILL in a segmented download: FILE.part and FILE.part.json stay, and a re-run resumes"
run_agent_background fetch "$SLOW_URL" -o "$DL/seg.bin" --connections 4 --sha256 "$SEG_SUM"
wait_for_progress "$DL/seg.bin.part.json" $((2 * MIB))
signal_agent KILL
assert_rc 137
[[ -e $DL/seg.bin.part && -e $DL/seg.bin.part.json && ! -e $DL/seg.bin ]] || fail "FILE.part and FILE.part.json should be left"
# What the second run must ask for: from where each unfinished segment stopped, to its end.
EXPECTED_RANGES=$("$PYTHON" -c '
import json, sys
sidecar = json.load(open(sys.argv[1]))
for segment in sidecar["segments"]:
    if not segment["complete"]:
        print("bytes=%d-%d" % (segment["start"] + segment["done"], segment["end"] - 1))' "$DL/seg.bin.part.json" | sort)
assert_eq "segments in the sidecar" 4 "$("$PYTHON" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["segments"]))' "$DL/seg.bin.part.json")"
REMAINING=$((16 * MIB - $(sidecar_done "$DL/seg.bin.part.json")))
FIRST_RUN=$(server_log /files/seg.bin "rate=600000" | wc -l)
run_agent fetch "$SLOW_URL" -o "$DL/seg.bin" --connections 4 --sha256 "$SEG_SUM"
assert_rc 0
assert_contains "log" "resuming at" "$(cat -- "$ERR")"
assert_eq "sha256" "$SEG_SUM" "$(sha256 "$DL/seg.bin")"
[[ ! -e $DL/seg.bin.part && ! -e $DL/seg.bin.part.json ]] || fail "the part file and its sidecar should be gone"
SECOND_RUN=$(server_log /files/seg.bin "rate=600000" | tail -n +$((FIRST_RUN + 1)))
ASKED=$(data_requests <<<"$SECOND_RUN" | field range | sort)
assert_eq "ranges the second run asked for" "$EXPECTED_RANGES" "$ASKED"
SENT=$(($(field bytes <<<"$SECOND_RUN" | paste -sd+)))
assert_eq "bytes sent in the second run (the missing ones and the probe's one)" $((REMAINING + 1)) "$SENT"

# ---------------------------------------------------------------------------------------------
section "offsets beyond 4 GiB: a resume of a 4 GiB + 3 MiB file fetches only the end"
HUGE_SIZE=$((4 * 1024 * MIB + 3 * MIB))
FOUR_GIB=$((4 * 1024 * MIB))
truncate -s "$HUGE_SIZE" "$SERVE/huge.bin"
# Sparse, with random bytes from 1 MiB below 4 GiB to the end.
head -c $((4 * MIB)) /dev/urandom | dd of="$SERVE/huge.bin" bs=1M seek=$((4 * 1024 - 1)) conv=notrunc status=none
HUGE_URL=$BASE/files/huge.bin
# The part file: all zero (sparse) but for what the sidecar says is there: everything below
# 4 GiB (zero in the source too, except its last MiB) and the first MiB above it.
truncate -s "$HUGE_SIZE" "$DL/huge.bin.part"
dd if="$SERVE/huge.bin" of="$DL/huge.bin.part" bs=1M skip=$((4 * 1024 - 1)) seek=$((4 * 1024 - 1)) count=2 conv=notrunc status=none
"$PYTHON" - "$HUGE_URL" "$HUGE_SIZE" "$FOUR_GIB" "$MIB" "$DL/huge.bin.part.json" <<'PY'
import json, ssl, sys, urllib.request
url, size, four, mib, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
request = urllib.request.Request(url, method="HEAD")
headers = urllib.request.urlopen(request, timeout=15).headers
sidecar = {"format": 1, "url": url, "etag": headers["ETag"], "last_modified": headers["Last-Modified"],
           "size": size, "ranges": True,
           "segments": [{"start": 0, "end": four, "done": four, "complete": True},
                        {"start": four, "end": size, "done": mib, "complete": False}]}
json.dump(sidecar, open(out, "w"))
PY
START=$SECONDS
run_agent fetch "$HUGE_URL" -o "$DL/huge.bin"
assert_rc 0
echo "   (took $((SECONDS - START)) s)"
assert_eq "size" "$HUGE_SIZE" "$(stat -c %s -- "$DL/huge.bin")"
HUGE_RUN=$(server_log /files/huge.bin | data_requests)
assert_eq "ranges asked for (after the probe)" "bytes=$((FOUR_GIB + MIB))-$((HUGE_SIZE - 1))" "$(field range <<<"$HUGE_RUN" | xargs)"
assert_eq "bytes sent" $((2 * MIB)) "$(field bytes <<<"$HUGE_RUN" | xargs)"
assert_eq "the last 3 MiB" "$(tail -c $((3 * MIB)) -- "$SERVE/huge.bin" | sha256sum)" "$(tail -c $((3 * MIB)) -- "$DL/huge.bin" | sha256sum)"
assert_eq "the MiB below 4 GiB" "$(dd if="$SERVE/huge.bin" bs=1M skip=$((4 * 1024 - 1)) count=1 status=none | sha256sum)" \
  "$(dd if="$DL/huge.bin" bs=1M skip=$((4 * 1024 - 1)) count=1 status=none | sha256sum)"
rm -f -- "$DL/huge.bin" "$SERVE/huge.bin"

# ---------------------------------------------------------------------------------------------
section "TLS: --ca-file trusts a private CA; without it the certificate is refused (exit 6, no retry)"
TLS=$TEST_TMP/tls
mkdir -p -- "$TLS"
(
  cd -- "$TLS"
  printf 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj /CN=cs231n-test-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext
) >"$TLS/openssl.log" 2>&1 || fail "openssl could not make the test certificates" "$(cat -- "$TLS/openssl.log")"
PLAIN_REQUESTS=$(BASE=$PLAIN_BASE SERVER_LOG=$TEST_TMP/files/log server_log /files/a.bin | wc -l)
start_server tls --cert "$TLS/server.pem" --key "$TLS/server.key"
cp -- "$TEST_TMP/files/root/a.bin" "$SERVE/a.bin"
run_agent fetch "$BASE/files/a.bin" -o "$DL/tls.bin" --sha256 "$SUM" --ca-file "$TLS/ca.pem"
assert_rc 0
assert_eq "sha256" "$SUM" "$(sha256 "$DL/tls.bin")"
run_agent fetch "$BASE/files/a.bin" -o "$DL/untrusted.bin" --sha256 "$SUM"
assert_rc 6
assert_error_line "$BASE/files/a.bin" "certificate"
assert_not_contains "retries" "trying again" "$(cat -- "$ERR")"
assert_no_leftovers "$DL/untrusted.bin"

section "an https:// URL redirected to http:// is refused (exit 6, said so), nothing is fetched over http"
run_agent fetch "$BASE/redirect-to?to=$PLAIN_BASE/files/a.bin" -o "$DL/downgraded.bin" --sha256 "$SUM" --ca-file "$TLS/ca.pem"
assert_rc 6
assert_error_line "$BASE/redirect-to" "an https:// URL is never followed to http://"
assert_no_leftovers "$DL/downgraded.bin"
BASE=$PLAIN_BASE SERVER_LOG=$TEST_TMP/files/log server_log /files/a.bin >"$TEST_TMP/plain-after.log"
assert_eq "requests for a.bin on the http server after the redirect" "$PLAIN_REQUESTS" "$(wc -l <"$TEST_TMP/plain-after.log")"
# The same redirect from an http:// URL is followed: only https:// is held to https://.
run_agent fetch "$PLAIN_BASE/redirect-to?to=$PLAIN_BASE/files/a.bin" -o "$DL/plain.bin" --sha256 "$SUM"
assert_rc 0

section "credentials in a URL (user:password@, ?token=, &sig=) reach no log line, stderr included"
# A 503 first: the retry is logged with the URL.
LOG=$TEST_TMP/credentials.log
SECRET_URL="https://student:hunter2pw@127.0.0.1:${BASE##*:}/files/a.bin?fail=503&token=tok3n&sig=s1gnature"
run_agent fetch -v --log-file "$LOG" "$SECRET_URL" -o "$DL/credentials.bin" --sha256 "$SUM" --ca-file "$TLS/ca.pem" --retries 1
assert_rc 0
assert_contains "the retry line in the log" \
  "https://***@127.0.0.1:${BASE##*:}/files/a.bin?fail=503&token=***&sig=***: HTTP 503; trying again" "$(cat -- "$LOG")"
for secret in hunter2pw tok3n s1gnature; do
  if grep -h -- "$secret" "$LOG" "$ERR" "$OUT"; then fail "a credential ($secret) is in the log or on stderr"; fi
done
run_agent fetch "${SECRET_URL/a.bin/missing.bin}" -o "$DL/missing.bin" --ca-file "$TLS/ca.pem" --retries 0
assert_rc 6
assert_error_line "https://***@127.0.0.1:${BASE##*:}/files/missing.bin?fail=503&token=***&sig=***: HTTP"

echo "PASS $TEST_NAME"
