# shellcheck shell=bash
# Shared by tests/e2e/test_jupyter*.sh and the tests that log in to Jupyter, sourced after
# tests/e2e/lib.sh: the host's real Jupyter (Debian's notebook 6 and jupyter_server 1.x, run with
# /usr/bin/python3) serving a home folder (the chroot overlay's student's, or a temp folder), and a
# browser's login done with curl.
#
#   jupyter_require_host            fails unless the host has the tools, Debian's notebook 6,
#                                   jupyter_server and argon2
#   jupyter_free_port               a TCP port free on 0.0.0.0 (prints it)
#   jupyter_start NAME KIND HOME UID GID [ARG...]
#                                   starts the real server (KIND: notebook or server) in a private
#                                   mount namespace: a tmpfs on /home, HOME (a folder of the overlay)
#                                   bind-mounted on /home/student, run as UID:GID (no other groups)
#                                   with HOME=/home/student and no --config: it finds ~/.jupyter by
#                                   itself. Bounded (killed after 150 s). Output: $TEST_TMP/NAME.log;
#                                   JUPYTER_PID is the pid to stop.
#   jupyter_wait_listening PID PORT waits until something listens on PORT (fails when PID ends)
#   jupyter_listeners PORT          the local addresses listening on PORT, one a line
#   jupyter_stop PID                stops one server (TERM, then KILL) and reaps it
#   jupyter_stop_all                stops every server started (for the EXIT trap)
#   jupyter_http METHOD BASE PATH JAR [CURL-ARG...]
#                                   one HTTPS request verified against $JUPYTER_CA (never -k), with
#                                   the cookie jar JAR; sets HTTP_CODE and CURL_RC, body in
#                                   $TEST_TMP/body
#   jupyter_login BASE PASSWORD JAR GET /login (takes the _xsrf cookie), POST /login; sets HTTP_CODE
#   jupyter_has_session JAR         whether JAR holds a login cookie (username-...)
#
# For the password tests (test_jupyter_login.sh, test_jupyter_tools.sh), which check that no
# password leaks into the agent's outputs:
#   JUPYTER_PASSWORD, JUPYTER_WRONG_PASSWORD, JUPYTER_ARGON2_PREFIX
#                                   the test password, one that is not it, the start of the argon2
#                                   hashes jupyter_server's own passwd() makes
#   jupyter_keep_output             copies $OUT and $ERR into $JUPYTER_OUTPUTS (N.stdout, N.stderr)
#   jupyter_host_agent ARG...       the agent on the host, killed after 60 s, stdin from $AGENT_STDIN
#                                   (a file; default /dev/null): stdout $OUT, stderr $ERR, status $RC,
#                                   both outputs kept
#   jupyter_leaks TEXT [TREE]       the files holding TEXT, sorted, on one line: under TREE (named by
#                                   their path inside it) and among the kept outputs (named
#                                   "(agent output) N.stdout")

JUPYTER_PIDS=()
JUPYTER_PID=""
JUPYTER_CA=""
HTTP_CODE=""
CURL_RC=0

# Non-ASCII, a space, both quotes and a dollar: `pä$s w"rd'`.
# shellcheck disable=SC2034  # the three are for the tests that source this file
JUPYTER_PASSWORD=$'p\xc3\xa4$s w"rd\''
# shellcheck disable=SC2034
JUPYTER_WRONG_PASSWORD='not the password'
# shellcheck disable=SC2034
JUPYTER_ARGON2_PREFIX="argon2:\$argon2id\$v=19\$m=10240,t=10,p=8\$"
JUPYTER_OUTPUTS=$TEST_TMP/agent-outputs
_JUPYTER_OUTPUT_COUNT=0

jupyter_require_host() {
  local tool
  for tool in /usr/bin/python3 openssl curl ss setpriv unshare timeout; do
    command -v "$tool" >/dev/null || { echo "FAIL: this test needs $tool on the host" >&2; exit 1; }
  done
  /usr/bin/python3 -c 'import notebook.auth.security, jupyter_server.auth.security, argon2' 2>/dev/null ||
    { echo "FAIL: this test needs Debian's python3-notebook, python3-jupyter-server and python3-argon2" >&2; exit 1; }
}

jupyter_free_port() {
  /usr/bin/python3 -c '
import socket
with socket.socket() as s:
    s.bind(("0.0.0.0", 0))
    print(s.getsockname()[1])'
}

# Runs on the host inside the new mount namespace: $1 the home to serve, $2 uid, $3 gid, $4 the
# python module, the rest its arguments.
# shellcheck disable=SC2016  # expanded by that sh, not here
_JUPYTER_ENTER='
home=$1 uid=$2 gid=$3 module=$4
shift 4
mount -t tmpfs -o mode=0755 cs231n-test-home /home && mkdir /home/student && mount --bind "$home" /home/student ||
  { echo "jupyter.sh: cannot mount the home" >&2; exit 125; }
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups \
  env -i HOME=/home/student USER=student LOGNAME=student PATH=/usr/bin:/bin LANG=C.UTF-8 \
  /usr/bin/python3 -m "$module" --no-browser "$@"
'

jupyter_start() {
  local name=$1 kind=$2 home=$3 uid=$4 gid=$5 module
  shift 5
  case $kind in
    notebook) module=notebook ;;
    server) module=jupyter_server ;;
    *) echo "jupyter.sh: unknown server kind $kind" >&2; exit 2 ;;
  esac
  # --propagation private: the mounts never reach the host's namespace.
  timeout --kill-after=5 150 unshare --mount --propagation private /bin/sh -c "$_JUPYTER_ENTER" sh \
    "$home" "$uid" "$gid" "$module" "$@" >"$TEST_TMP/$name.log" 2>&1 </dev/null &
  JUPYTER_PID=$!
  JUPYTER_PIDS+=("$JUPYTER_PID")
}

jupyter_listeners() {
  ss -Hltn "sport = :$1" | awk '{print $4}'
}

jupyter_wait_listening() {
  local pid=$1 port=$2 deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    [[ -n $(jupyter_listeners "$port") ]] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

jupyter_stop() {
  local pid=$1 tries=0 kept=() other
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((++tries < 100)); do sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  { wait "$pid"; } 2>/dev/null || true
  for other in "${JUPYTER_PIDS[@]}"; do [[ $other == "$pid" ]] || kept+=("$other"); done
  JUPYTER_PIDS=("${kept[@]}")
}

jupyter_stop_all() {
  local pid
  for pid in "${JUPYTER_PIDS[@]}"; do jupyter_stop "$pid"; done
}

jupyter_http() {
  local method=$1 base=$2 path=$3 jar=$4
  shift 4
  [[ -e $jar ]] || : >"$jar"
  set +e
  curl -sS --noproxy '*' --max-time 15 --cacert "$JUPYTER_CA" -X "$method" -b "$jar" -c "$jar" \
    -o "$TEST_TMP/body" -w '%{http_code}' "$@" "$base$path" >"$TEST_TMP/http_code" 2>"$TEST_TMP/curl.err"
  CURL_RC=$?
  set -e
  HTTP_CODE=$(cat -- "$TEST_TMP/http_code")
}

# _xsrf of JAR (the Netscape cookie-jar format: domain, flag, path, secure, expiry, name, value).
jupyter_xsrf() {
  awk -F'\t' '$6 == "_xsrf" { print $7 }' "$1"
}

jupyter_has_session() {
  awk -F'\t' '$6 ~ /^username-/ { found = 1 } END { exit !found }' "$1"
}

jupyter_login() {
  local base=$1 password=$2 jar=$3 xsrf
  : >"$jar"
  jupyter_http GET "$base" /login "$jar"
  [[ $CURL_RC == 0 && $HTTP_CODE == 200 ]] ||
    fail "GET $base/login" "expected: 200" "got:      HTTP $HTTP_CODE, curl exit $CURL_RC: $(cat -- "$TEST_TMP/curl.err")"
  xsrf=$(jupyter_xsrf "$jar")
  [[ -n $xsrf ]] || fail "GET $base/login set no _xsrf cookie" "cookie jar: $(cat -- "$jar")"
  jupyter_http POST "$base" /login "$jar" --data-urlencode "_xsrf=$xsrf" --data-urlencode "password=$password"
  [[ $CURL_RC == 0 ]] || fail "POST $base/login" "curl exit $CURL_RC: $(cat -- "$TEST_TMP/curl.err")"
}

jupyter_keep_output() {
  mkdir -p -- "$JUPYTER_OUTPUTS"
  _JUPYTER_OUTPUT_COUNT=$((_JUPYTER_OUTPUT_COUNT + 1))
  cp -- "$OUT" "$JUPYTER_OUTPUTS/$_JUPYTER_OUTPUT_COUNT.stdout"
  cp -- "$ERR" "$JUPYTER_OUTPUTS/$_JUPYTER_OUTPUT_COUNT.stderr"
}

# shellcheck disable=SC2034  # LAST_CMD and RC are lib.sh's, read by its fail and assert_rc
jupyter_host_agent() {
  LAST_CMD="cs231n-agent $*"
  set +e
  timeout --kill-after=5 60 "$AGENT" "$@" >"$OUT" 2>"$ERR" <"${AGENT_STDIN:-/dev/null}"
  RC=$?
  set -e
  jupyter_keep_output
}

jupyter_leaks() {
  local text=$1 tree=${2:-}
  # A check over no outputs at all would pass whatever the agent printed.
  [[ -d $JUPYTER_OUTPUTS ]] || fail "test bug: no agent output was kept in $JUPYTER_OUTPUTS"
  grep -rlF -e "$text" -- ${tree:+"$tree"} "$JUPYTER_OUTPUTS" |
    sed "${tree:+s|^$tree||; }s|^$JUPYTER_OUTPUTS/|(agent output) |" | LC_ALL=C sort | xargs || true
}
