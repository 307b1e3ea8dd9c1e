# shellcheck shell=bash
# Shared by tests/e2e/test_jupyter*.sh, sourced after tests/e2e/lib.sh and tests/e2e/chroot.sh:
# the host's real Jupyter (Debian's notebook 6 and jupyter_server 1.x, run with /usr/bin/python3)
# serving the home of an account of the chroot overlay, and a browser's login done with curl.
#
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

JUPYTER_PIDS=()
JUPYTER_PID=""
JUPYTER_CA=""
HTTP_CODE=""
CURL_RC=0

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
