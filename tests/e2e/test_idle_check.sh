#!/usr/bin/env bash
# Idle shutdown end to end, on a (fake) GCE VM in a chroot overlay: the agent's user, Jupyter and
# idle-shutdown steps run; then the host's REAL notebook 6 (Debian's) serves the student's home
# with the agent's certificate, password and API token (read from the root-only EnvironmentFile
# as root, as systemd does, before dropping to the student), and the real binary's `idle-check`
# runs in the chroot with a fake clock (--now), a stand-in `wall` and nvidia-smi, a fake power-off
# command and a fake /proc/loadavg. Asserted: the token reads /api/kernels and /api/status, the
# password still logs in, the token is in no log, argv or output; a kernel made busy through its
# websocket keeps the VM on; idle past the window warns (wall, message on stdin) and only then
# powers off, once, with the configured argv and the reason in the log; a held run lock, a busy
# GPU, CPU load and recent terminal input (utmp) are activity; jupyter_server 1.x reads the token
# too; a Jupyter that does not answer just after the agent gave it a new certificate counts as
# active for 15 minutes (the agent's record, not the file's time); the units pass systemd-analyze
# verify; disabling (metadata, config) stops it all.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=../support/jupyter.sh
source "$SOURCE_DIR/tests/support/jupyter.sh"

for tool in /usr/bin/python3 openssl curl ss setpriv unshare timeout flock systemd-analyze; do
  command -v "$tool" >/dev/null || { echo "FAIL: this test needs $tool on the host" >&2; exit 1; }
done
/usr/bin/python3 -c 'import notebook, jupyter_server, websocket' 2>/dev/null ||
  { echo "FAIL: this test needs Debian's python3-notebook, python3-jupyter-server and python3-websocket" >&2; exit 1; }

# Before chroot.sh's cleanup: the servers (they hold a bind mount of the overlay) and the helpers.
idle_cleanup() {
  jupyter_stop_all
  local pid
  for pid in "${HOLDER:-}" "${SESSION:-}" "${MUTE:-}"; do
    [[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  done
  stop_servers
}

chroot_start "$TEST_TMP/chroot"
CHROOT_EXIT_HOOKS+=(idle_cleanup)
chroot_install_agent "$AGENT"
R=$CHROOT_ROOT
STATE=/var/lib/idle
# The agent's API token lives in its --state-dir.
TOKEN_FILE=$R$STATE/jupyter/api-token.env
CERT=$R/home/student/.jupyter/certs/jupyter.pem
JUPYTER_CA=$CERT
PORT=$(jupyter_free_port)
BASE=""
# Every output of the agent is kept (jupyter_keep_output) for the final token scan.
RUNS=$JUPYTER_OUTPUTS

# A GCE VM: the DMI name, and a metadata server of our own (GCE_METADATA_HOST).
mkdir -p -- "$R/sys/class/dmi/id"
echo "Google Compute Engine" >"$R/sys/class/dmi/id/product_name"
# write_metadata ATTRIBUTES-JSON [EXTERNAL-IP]
write_metadata() {
  "$PYTHON" - "$TEST_TMP/metadata.json" "$1" "${2:-34.90.1.2}" <<'PY'
import json, sys
json.dump({"instance": {"attributes": json.loads(sys.argv[2]), "id": "7", "zone": "projects/1/zones/us-west1-b",
                        "network-interfaces": [{"ip": "10.128.0.9", "access-configs": [{"external-ip": sys.argv[3]}]}]}},
          open(sys.argv[1], "w"))
PY
}
write_metadata '{}'
start_server meta --metadata "$TEST_TMP/metadata.json"
META_BASE=$BASE
CHROOT_ENV+=("GCE_METADATA_HOST=${BASE#http://}")
BASE=https://127.0.0.1:$PORT

# Stand-ins. Every call of wall and of the power-off command goes to one events file, in order.
cat >"$R/usr/bin/wall" <<'SH'
#!/bin/sh
{ printf 'wall%s\n' "${1:+ ARGS: $*}"; cat; printf '\n'; } >>/root/events
SH
cat >"$R/root/fake-poweroff" <<'SH'
#!/bin/sh
printf 'poweroff' >>/root/events
for argument in "$@"; do printf ' [%s]' "$argument" >>/root/events; done
printf '\n' >>/root/events
SH
cat >"$R/usr/bin/nvidia-smi" <<'SH'
#!/bin/sh
[ "$*" = "--query-gpu=utilization.gpu --format=csv,noheader,nounits" ] || { echo "unexpected: $*" >&2; exit 2; }
cat /root/gpu-utilization
SH
chmod 0755 -- "$R/usr/bin/wall" "$R/root/fake-poweroff" "$R/usr/bin/nvidia-smi"
echo 0 >"$R/root/gpu-utilization"
: >"$R/root/events"
LOADAVG=$TEST_TMP/loadavg
echo "0.00 0.01 0.00 1/100 100" >"$LOADAVG"

# _IDLE_ENTER: like chroot.sh's entry, with $LOADAVG over /proc/loadavg (the host's load is
# whatever the other tests make it).
# shellcheck disable=SC2016  # expanded by that sh, not here
_IDLE_ENTER='
root=$1 loadavg=$2
shift 2
mount --rbind /proc "$root/proc" && mount --bind "$loadavg" "$root/proc/loadavg" && mount --rbind /dev "$root/dev" ||
  { echo "test_idle_check.sh: cannot mount /proc, /proc/loadavg and /dev in $root" >&2; exit 125; }
exec chroot "$root" "$@"
'

# idle_check ARG...: the agent's idle-check in the chroot (state dir $STATE), killed after 60 s.
idle_check() {
  LAST_CMD="(chroot) cs231n-agent idle-check --state-dir $STATE $*"
  set +e
  timeout --kill-after=5 60 env -i "${CHROOT_ENV[@]}" unshare --mount /bin/sh -c "$_IDLE_ENTER" sh "$R" "$LOADAVG" \
    /usr/local/bin/cs231n-agent idle-check --state-dir "$STATE" "$@" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
  jupyter_keep_output
}

agent_run() {
  chroot_agent run --only "$1" --config "$2" --state-dir "$STATE"
  jupyter_keep_output
}

# The fake clock: a day ahead of the real one, so that the real server's own timestamps (kernel
# starts, the test's own requests) lie far outside any idle window. at M: M minutes after it.
T0=$(date -u -d '+1 day' +%s)
at() { date -u -d "@$((T0 + $1 * 60))" +%Y-%m-%dT%H:%M:%SZ; }

events() { cat -- "$R/root/events"; }

# The token as the agent made it; requests carry it from a 0600 header file, never in argv.
header_file() {
  local token
  token=$(sed -n 's/^CS231N_JUPYTER_API_TOKEN=//p' "$TOKEN_FILE")
  (umask 077 && printf 'Authorization: token %s\n' "$token" >"$TEST_TMP/auth-header")
}

# api METHOD PATH [CURL-ARG...]: a request with the agent's token; HTTP_CODE, body in $TEST_TMP/body.
api() {
  local method=$1 path=$2
  shift 2
  jupyter_http "$method" "$BASE" "$path" "$TEST_TMP/api.jar" -H "@$TEST_TMP/auth-header" "$@"
}

#-----------------------------------------------------------------------------------------------
section "the agent's steps: user, Jupyter with a root-only API token, the idle-shutdown timer"
# pytorch.index_url: on a (fake) GCE VM the agent reads PyTorch's index; a loopback port nothing
# listens on keeps the test off the internet.
printf 'the password\n' >"$R/root/jupyter-password"
chmod 0600 -- "$R/root/jupyter-password"
printf '{"user": "student", "conda_env": {"packages": []}, "jupyter": {"port": %s, "password_file": "/root/jupyter-password"}, "pytorch": {"index_url": "http://127.0.0.1:9/whl"},
  "assignments": {"repo": "https://github.com/jinh0park/cs231n-setup.git", "folder": "~/cs231n-setup"},
  "idle_shutdown": {"minutes": 60, "busy_max_minutes": 2880, "command": ["/root/fake-poweroff", "--now", "two words"]}}\n' \
  "$PORT" >"$R/root/idle.json"
agent_run user /root/idle.json
assert_rc 0
STUDENT_UID=$(awk -F: '$1 == "student" { print $3 }' "$R/etc/passwd")
STUDENT_GID=$(awk -F: '$1 == "student" { print $4 }' "$R/etc/passwd")
# jupyter-service comes after conda-env and assignments: stand-ins their checks find done (an env
# with the configured python, a conda that lists it, a clone of the configured repository).
ENV_DIR=/home/student/miniforge3/envs/cs231n
mkdir -p -- "$R$ENV_DIR/conda-meta" "$R/home/student/miniforge3/bin" "$R/home/student/cs231n-setup/.git"
: >"$R$ENV_DIR/conda-meta/history"
echo '{}' >"$R$ENV_DIR/conda-meta/python-3.12.0-0.json"
printf '#!/bin/sh\necho %s\n' "'{\"envs\": [\"$ENV_DIR\"]}'" >"$R/home/student/miniforge3/bin/conda"
chmod 0755 -- "$R/home/student/miniforge3/bin/conda"
printf '[remote "origin"]\n\turl = https://github.com/jinh0park/cs231n-setup.git\n' >"$R/home/student/cs231n-setup/.git/config"
chown -R "$STUDENT_UID:$STUDENT_GID" -- "$R/home/student/miniforge3" "$R/home/student/cs231n-setup"
agent_run user,jupyter-password,jupyter-cert,jupyter-config,jupyter-service,idle-shutdown /root/idle.json
assert_rc 0
assert_eq "token file: mode, owner, folder mode" "600 0 700" \
  "$(stat -c '%a %u' -- "$TOKEN_FILE") $(stat -c '%a' -- "${TOKEN_FILE%/*}")"
grep -qE '^CS231N_JUPYTER_API_TOKEN=[0-9a-f]{64}$' "$TOKEN_FILE" || fail "the token file" "got: $(wc -c <"$TOKEN_FILE") bytes"
# For the leak checks: grep -f reads it from a file, so not even the test puts it in an argv.
(umask 077 && sed -n 's/^CS231N_JUPYTER_API_TOKEN=//p' "$TOKEN_FILE" >"$TEST_TMP/token")
assert_contains "cs231n-jupyter.service" "EnvironmentFile=$STATE/jupyter/api-token.env" \
  "$(cat -- "$R/etc/systemd/system/cs231n-jupyter.service")"
assert_contains "notebook config" 'c.NotebookApp.token = sys._cs231n_api_token' \
  "$(cat -- "$R/home/student/.jupyter/jupyter_notebook_config.py")"
assert_contains "server config" 'c.ServerApp.token = sys._cs231n_api_token' \
  "$(cat -- "$R/home/student/.jupyter/jupyter_server_config.py")"
UNITS=$R/etc/systemd/system
assert_contains "service" "ExecStart=/usr/local/bin/cs231n-agent idle-check" "$(cat -- "$UNITS/cs231n-agent-idle.service")"
assert_contains "timer" "OnUnitActiveSec=5min" "$(cat -- "$UNITS/cs231n-agent-idle.timer")"
assert_eq "timer enable link" /etc/systemd/system/cs231n-agent-idle.timer \
  "$(readlink -- "$UNITS/timers.target.wants/cs231n-agent-idle.timer")"

section "systemd-analyze verify of the idle service and timer"
# The units name /usr/local/bin/cs231n-agent, which exists only in the overlay: verify copies.
mkdir -p -- "$TEST_TMP/unit"
for unit in cs231n-agent-idle.service cs231n-agent-idle.timer; do
  sed "s|/usr/local/bin/cs231n-agent|$R/usr/local/bin/cs231n-agent|g" "$UNITS/$unit" >"$TEST_TMP/unit/$unit"
done
verify_output=$(cd "$TEST_TMP/unit" && systemd-analyze verify --man=no "$TEST_TMP/unit/cs231n-agent-idle.service" \
  "$TEST_TMP/unit/cs231n-agent-idle.timer" 2>&1) || fail "systemd-analyze verify" "$verify_output"
assert_eq "systemd-analyze verify output" "" "$verify_output"

#-----------------------------------------------------------------------------------------------
# serve NAME MODULE: the real server as the student over the overlay's home, in the assignments
# folder (the unit's WorkingDirectory=); the token file is read by the root shell (set -a; .), like
# systemd's EnvironmentFile=, then privileges drop.
# shellcheck disable=SC2016  # expanded by that sh, not here
_SERVE_ENTER='
home=$1 uid=$2 gid=$3 envfile=$4 module=$5
mount -t tmpfs -o mode=0755 cs231n-test-home /home && mkdir /home/student && mount --bind "$home" /home/student ||
  { echo "test_idle_check.sh: cannot mount the home" >&2; exit 125; }
set -a
. "$envfile"
set +a
cd /home/student/cs231n-setup || exit 125
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups /usr/bin/python3 -m "$module" --no-browser
'
serve() {
  timeout --kill-after=5 150 unshare --mount --propagation private env -i HOME=/home/student USER=student LOGNAME=student \
    PATH=/usr/bin:/bin LANG=C.UTF-8 /bin/sh -c "$_SERVE_ENTER" sh "$R/home/student" "$STUDENT_UID" "$STUDENT_GID" \
    "$TOKEN_FILE" "$2" >"$TEST_TMP/$1.log" 2>&1 </dev/null &
  SERVER=$!
  JUPYTER_PIDS+=("$SERVER")
  jupyter_wait_listening "$SERVER" "$PORT" || fail "the real $2 server did not listen on $PORT" "$(tail -n 30 -- "$TEST_TMP/$1.log")"
}

section "real notebook 6 with the token: the token reads /api/kernels and /api/status, the password still logs in"
serve notebook notebook
header_file
api GET /api/kernels
assert_eq "GET /api/kernels with the token" "0 200 []" "$CURL_RC $HTTP_CODE $(cat -- "$TEST_TMP/body")"
api GET /api/status
assert_eq "GET /api/status with the token" "0 200" "$CURL_RC $HTTP_CODE"
jupyter_http GET "$BASE" /api/kernels "$TEST_TMP/none.jar"
assert_eq "GET /api/kernels without the token" "0 403" "$CURL_RC $HTTP_CODE"
jupyter_http GET "$BASE" /api/kernels "$TEST_TMP/none.jar" -H "Authorization: token $(printf '%064d' 0)"
assert_eq "GET /api/kernels with a wrong token" "0 403" "$CURL_RC $HTTP_CODE"
jupyter_login "$BASE" "the password" "$TEST_TMP/login.jar"
assert_eq "POST /login with the password" 302 "$HTTP_CODE"
jupyter_http GET "$BASE" /api/status "$TEST_TMP/login.jar"
assert_eq "GET /api/status after logging in" "0 200" "$CURL_RC $HTTP_CODE"
assert_contains "the server's log shows no token in its URL" "/?token=..." "$(cat -- "$TEST_TMP/notebook.log")"

#-----------------------------------------------------------------------------------------------
section "the first check: Jupyter answers the agent, nothing is busy, the idle time starts"
idle_check --json --now "$(at 0)"
assert_rc 0
assert_json action '"none"'
assert_json last_active "\"$(at 0)\""
assert_json 'signals[name=jupyter].state' '"quiet"'
assert_json 'signals[name=jupyter].detail' '"no kernel running"'
assert_json 'signals[name=gpu].detail' '"GPU utilisation 0%, below 10%"'
assert_json 'signals[name=cpu].detail' '"5-minute load 0.01, below 0.50"'
assert_json 'signals[name=ssh].state' '"quiet"'
assert_json 'signals[name=agent-run].state' '"quiet"'
assert_eq "the idle state file: mode" 600 "$(stat -c '%a' -- "$R$STATE/idle.json")"

section "a kernel made busy through its websocket (time.sleep) keeps the VM on"
api POST /api/kernels -d '{"name": "python3"}'
assert_eq "POST /api/kernels" "0 201" "$CURL_RC $HTTP_CODE"
KERNEL=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$TEST_TMP/body")
# execute_request on the kernel's channels; returns once Jupyter itself reports the kernel busy (the
# cell goes on running after the socket closes). The token comes from the header file.
/usr/bin/python3 - "$BASE" "$KERNEL" "$JUPYTER_CA" "$TEST_TMP/auth-header" <<'PY' || fail "the kernel did not become busy"
import json, ssl, sys, time, urllib.request, uuid
import websocket
base, kernel, ca, header_file = sys.argv[1:5]
name, value = open(header_file).read().strip().split(": ", 1)
context = ssl.create_default_context(cafile=ca)

def server_state():
    request = urllib.request.Request(base + "/api/kernels/" + kernel, headers={name: value})
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        return json.load(answer)["execution_state"]

ws = websocket.create_connection(base.replace("https://", "wss://") + "/api/kernels/%s/channels" % kernel,
                                 header=["%s: %s" % (name, value)], sslopt={"ca_certs": ca}, timeout=30)
session = uuid.uuid4().hex

def send(msg_type, content):
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({"header": {"msg_id": msg_id, "username": "test", "session": session, "msg_type": msg_type,
                                   "version": "5.3", "date": ""},
                        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [], "content": content}))
    return msg_id

def wait_status(msg_id, state):
    deadline = time.time() + 30
    while time.time() < deadline:
        message = json.loads(ws.recv())
        if (message.get("parent_header", {}).get("msg_id") == msg_id and message["msg_type"] == "status"
                and message["content"]["execution_state"] == state):
            return
    sys.exit("no %s status for %s" % (state, msg_id))

# Jupyter learns a kernel's state from the status messages its own IOPub subscription sees, which
# can miss the first ones (and a late "idle" of the handshake's kernel_info would hide our "busy"):
# ask for kernel_info until Jupyter itself reports the kernel idle, then run the cell.
for _ in range(30):
    wait_status(send("kernel_info_request", {}), "idle")
    if server_state() == "idle":
        break
    time.sleep(0.5)
else:
    sys.exit("Jupyter never saw the kernel idle: %s" % server_state())
wait_status(send("execute_request", {"code": "import time; time.sleep(120)", "silent": False, "store_history": False,
                                     "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}), "busy")
ws.close()
for _ in range(50):
    if server_state() == "busy":
        sys.exit(0)
    time.sleep(0.2)
sys.exit("Jupyter never saw the kernel busy: %s" % server_state())
PY
api GET "/api/kernels/$KERNEL"
assert_contains "the kernel, as Jupyter reports it" '"execution_state": "busy"' "$(cat -- "$TEST_TMP/body")"
# 90 minutes after the first check: idle long enough, were the kernel not busy.
idle_check --json --now "$(at 90)"
assert_rc 0
assert_json action '"none"'
assert_json active true
assert_json 'signals[name=jupyter].state' '"active"'
assert_json_contains 'signals[name=jupyter].detail' "1 kernel: python3 busy"
assert_json last_active "\"$(at 90)\""
assert_eq "wall and power-off calls" "" "$(events)"

section "busy without a message for idle_shutdown.busy_max_minutes, with quiet CPU and GPU: counted as idle"
# The kernel's last message came about a day before T0; 2880 minutes after it, it is still busy.
idle_check --json --dry-run --now "$(at 3000)"
assert_json 'signals[name=jupyter].state' '"quiet"'
assert_json_contains 'signals[name=jupyter].detail' \
  "busy without a message for idle_shutdown.busy_max_minutes (2880) or more, with quiet CPU and GPU: counted as idle"
echo "0.20 1.50 1.00 3/100 100" >"$LOADAVG"
idle_check --json --dry-run --now "$(at 3000)"
assert_json 'signals[name=jupyter].state' '"active"'
assert_json 'signals[name=cpu].state' '"active"'
echo "0.00 0.01 0.00 1/100 100" >"$LOADAVG"

section "the kernel interrupted: idle again, counted from the last busy check"
api POST "/api/kernels/$KERNEL/interrupt"
assert_eq "POST .../interrupt" "0 204" "$CURL_RC $HTTP_CODE"
for _ in $(seq 1 100); do
  api GET "/api/kernels/$KERNEL"
  grep -q '"execution_state": "idle"' "$TEST_TMP/body" && break
  sleep 0.2
done
assert_contains "the kernel, as Jupyter reports it" '"execution_state": "idle"' "$(cat -- "$TEST_TMP/body")"
idle_check --now "$(at 120)"
assert_rc 0
assert_contains "text output" "idle for 30 min (since $(at 90), power-off after 60 idle minutes)" "$(cat -- "$OUT")"
assert_contains "text output" "jupyter    quiet    1 kernel, none busy" "$(cat -- "$OUT")"

section "5 minutes before the deadline: logged-in users are warned (wall, the message on stdin), nothing is powered off"
idle_check --json --now "$(at 146)"
assert_rc 0
assert_json action '"warn"'
assert_json power_off_at "\"$(at 151)\""
assert_eq "first event" "wall" "$(head -n 1 -- "$R/root/events")"
assert_contains "the warning" "this VM has been idle since $(at 90)" "$(events)"
assert_contains "the warning" "powers off in about 5 minutes, at $(at 151)" "$(events)"
assert_not_contains "events" "poweroff" "$(events)"
assert_contains "the log" "warned logged-in users (wall)" "$(cat -- "$ERR")"
# The laptop's `class.sh status` reads how long the VM has been idle from a guest attribute.
assert_eq "guest attribute idle-minutes" 56 "$(curl -sS --noproxy '*' -H 'Metadata-Flavor: Google' \
  "$META_BASE/computeMetadata/v1/instance/guest-attributes/cs231n-agent/idle-minutes")"
# Browser users: the same message as a file in Jupyter's folder, the student's own, in the file browser.
WARNING_FILE=$R/home/student/cs231n-setup/IDLE-SHUTDOWN-WARNING.txt
assert_eq "the warning in Jupyter's folder: owner, mode" "$STUDENT_UID 644" "$(stat -c '%u %a' -- "$WARNING_FILE")"
assert_contains "the warning file" "powers off in about 5 minutes, at $(at 151)" "$(cat -- "$WARNING_FILE")"
api GET /api/contents
assert_contains "Jupyter's file browser (GET /api/contents, Jupyter's folder)" '"name": "IDLE-SHUTDOWN-WARNING.txt"' \
  "$(cat -- "$TEST_TMP/body")"

idle_check --json --now "$(at 149)"
assert_json action '"none"'
assert_eq "wall calls" 1 "$(grep -c '^wall' "$R/root/events")"
assert_not_contains "events" "poweroff" "$(events)"

section "idle past the deadline, after the warning: the power-off command runs once, with its argv, the reason logged"
idle_check --now "$(at 150)"
assert_rc 0
assert_eq "power-off calls" "poweroff [--now] [two words]" "$(grep '^poweroff' "$R/root/events")"
assert_eq "the warning came first" "wall" "$(grep -E '^(wall|poweroff)' "$R/root/events" | head -n 1)"
log=$(cat -- "$ERR")
assert_contains "the log" "idle for 60 min (since $(at 90), power-off after 60 idle minutes), warned at $(at 146): powering the VM off with: /root/fake-poweroff --now two words" "$log"
assert_contains "the log names the quiet signals" "Signals: jupyter: 1 kernel, none busy" "$log"
assert_contains "the log names the quiet signals" "cpu: 5-minute load 0.01, below 0.50" "$log"

section "never while an agent run holds the run lock"
# As a run holds it: flock on <state-dir>/lock, its pid written into the file.
/usr/bin/python3 - "$R$STATE/lock" "$TEST_TMP/locked" <<'PY' &
import fcntl, os, sys, time
with open(sys.argv[1], "r+") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    lock.truncate(0)
    lock.write("%d\n" % os.getpid())
    lock.flush()
    open(sys.argv[2], "w").close()
    time.sleep(120)
PY
HOLDER=$!
for _ in $(seq 1 100); do [[ -e $TEST_TMP/locked ]] && break; sleep 0.1; done
idle_check --json --now "$(at 151)"
assert_rc 0
assert_json action '"none"'
assert_json 'signals[name=agent-run].state' '"active"'
assert_json 'signals[name=agent-run].detail' "\"a cs231n-agent run is in progress (pid $HOLDER)\""
assert_eq "power-off calls" 1 "$(grep -c '^poweroff' "$R/root/events")"
[[ ! -e $WARNING_FILE ]] || fail "the warning file is still in Jupyter's folder after activity"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null || true
HOLDER=""

section "a busy GPU (nvidia-smi) and CPU load are activity"
echo 87 >"$R/root/gpu-utilization"
idle_check --json --now "$(at 160)"
assert_json action '"none"'
assert_json 'signals[name=gpu].state' '"active"'
assert_json 'signals[name=gpu].detail' '"GPU utilisation 87%, at or above 10%"'
echo 0 >"$R/root/gpu-utilization"
echo "0.20 1.50 1.00 3/100 100" >"$LOADAVG"
idle_check --json --now "$(at 170)"
assert_json 'signals[name=cpu].state' '"active"'
assert_json last_active "\"$(at 170)\""
echo "0.00 0.01 0.00 1/100 100" >"$LOADAVG"

section "a login session's recent terminal input (utmp, the terminal's atime) counts inside the window"
# A real pseudo-terminal, a utmp record for it with this live process, its atime set to at 175.
/usr/bin/python3 - "$R/run/utmp" "$((T0 + 175 * 60))" "$TEST_TMP/session" <<'PY' &
import os, struct, sys, time
utmp, when, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
master, slave = os.openpty()
line = os.ttyname(slave)[len("/dev/"):]
record = struct.pack("hi32s4s32s256shhiii4i20s", 7, os.getpid(), line.encode(), b"ts/0", b"student", b"203.0.113.9",
                     0, 0, 0, int(time.time()), 0, 0, 0, 0, 0, b"")
assert len(record) == 384
os.makedirs(os.path.dirname(utmp), exist_ok=True)
with open(utmp, "wb") as stream:
    stream.write(record)
os.utime(os.ttyname(slave), (when, when))
with open(ready, "w") as stream:
    stream.write(line)
time.sleep(60)
PY
SESSION=$!
for _ in $(seq 1 100); do [[ -s $TEST_TMP/session ]] && break; sleep 0.1; done
PTS=$(cat -- "$TEST_TMP/session")
idle_check --json --now "$(at 180)"
assert_json action '"none"'
assert_json 'signals[name=ssh].state' '"quiet"'
assert_json 'signals[name=ssh].detail' "\"1 login session: student on $PTS, last input $(at 175)\""
assert_json last_active "\"$(at 175)\""
kill "$SESSION"
wait "$SESSION" 2>/dev/null || true
SESSION=""
rm -f -- "$R/run/utmp"

section "jupyter_server 1.x reads the same token"
jupyter_stop "$SERVER"
serve server jupyter_server
idle_check --json --dry-run --now "$(at 181)"
assert_json 'signals[name=jupyter].state' '"quiet"'
assert_json 'signals[name=jupyter].detail' '"no kernel running"'
jupyter_login "$BASE" "the password" "$TEST_TMP/login2.jar"
assert_eq "POST /login with the password (jupyter_server)" 302 "$HTTP_CODE"
assert_contains "the server's log shows no token in its URL" "/?token=..." "$(cat -- "$TEST_TMP/server.log")"

section "the agent's new certificate (a new IP), then a Jupyter that does not answer: active for 15 minutes, then unknown"
# jupyter-cert records the change with the certificate, in root's state. What then fails is a
# server that takes connections and answers nothing (hung, or starting up): a stand-in on
# Jupyter's port. Dry runs with the real clock. The certificate's time is the student's to set:
# touched later, it keeps nothing up.
write_metadata '{}' 34.90.1.3
agent_run jupyter-cert /root/idle.json
assert_rc 0
assert_contains "the new certificate" "IP Address:34.90.1.3" "$(openssl x509 -noout -ext subjectAltName -in "$CERT")"
jupyter_stop "$SERVER"
"$PYTHON" -c '
import socket, sys
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    listener.accept()[0].close()' "$PORT" &
MUTE=$!
for _ in $(seq 1 100); do ss -Hltn "sport = :$PORT" | grep -q . && break; sleep 0.1; done
idle_check --json --dry-run --now "$(date -u -d '+5 min' +%Y-%m-%dT%H:%M:%SZ)"
assert_json 'signals[name=jupyter].state' '"active"'
assert_json_contains 'signals[name=jupyter].detail' "Jupyter does not answer" \
  "min after the agent gave Jupyter a new certificate or token at" "(Jupyter restarts)"
assert_contains "the log warns" "idle check: jupyter cannot tell: Jupyter does not answer" "$(cat -- "$ERR")"
idle_check --json --dry-run --now "$(date -u -d '+20 min' +%Y-%m-%dT%H:%M:%SZ)"
assert_json 'signals[name=jupyter].state' '"unknown"'
touch -d "@$(date -d '+19 min' +%s)" -- "$CERT"
idle_check --json --dry-run --now "$(date -u -d '+20 min' +%Y-%m-%dT%H:%M:%SZ)"
assert_json 'signals[name=jupyter].state' '"unknown"'
kill "$MUTE"
wait "$MUTE" 2>/dev/null || true
MUTE=""
write_metadata '{}'

section "the token is in no output, log, argv or world-readable file"
# The state dir holds the step logs and, since it is the run's --state-dir, the token file itself.
leaks=$(grep -rlF -f "$TEST_TMP/token" -- "$RUNS" "$TEST_TMP/notebook.log" "$TEST_TMP/server.log" "$R/root/events" "$R$STATE" |
  grep -vxF -- "$TOKEN_FILE" || true)
assert_eq "outputs and logs holding the token" "" "$leaks"
in_argv=$(for cmdline in /proc/[0-9]*/cmdline; do
  tr '\0' ' ' <"$cmdline" 2>/dev/null | grep -qF -f "$TEST_TMP/token" && echo "$cmdline"
done || true)
assert_eq "processes with the token in their argv" "" "$in_argv"
# Jupyter keeps it (as it does any token) in its runtime files only: the student's, in a folder
# only the student can enter (mode 1700: Jupyter sets the sticky bit).
holders=$(grep -rlF -f "$TEST_TMP/token" -- "$TEST_TMP/chroot/upper" | sed "s|^$TEST_TMP/chroot/upper||" |
  grep -v '^/home/student/.local/share/jupyter/runtime/' || true)
assert_eq "files holding the token" "$STATE/jupyter/api-token.env" "$holders"
assert_eq "Jupyter's runtime folder: mode, owner" "1700 $STUDENT_UID" "$(stat -c '%a %u' -- "$R/home/student/.local/share/jupyter/runtime")"

section "Jupyter stopped: not running, quiet (nothing asked, nothing to warn about)"
jupyter_stop "$SERVER"
idle_check --json --dry-run --now "$(at 182)"
assert_json 'signals[name=jupyter].state' '"quiet"'
assert_json 'signals[name=jupyter].detail' "\"Jupyter is not running (nothing listens on port $PORT)\""
assert_stderr_empty

section "disabled through metadata (cs231n-idle-shutdown=false): says so, exit 0, nothing done"
write_metadata '{"cs231n-idle-shutdown": "false"}'
idle_check --now "$(at 1000)"
assert_rc 0
assert_eq "stdout" "idle shutdown is disabled (idle_shutdown.enabled is false): nothing to check" "$(cat -- "$OUT")"
assert_eq "power-off calls" 1 "$(grep -c '^poweroff' "$R/root/events")"

section "idle_shutdown.enabled false: the step stops and removes the timer and its service"
write_metadata '{}'
printf '{"user": "student", "conda_env": {"packages": []}, "jupyter": {"port": %s, "password_file": "/root/jupyter-password"}, "pytorch": {"index_url": "http://127.0.0.1:9/whl"},
  "assignments": {"repo": "https://github.com/jinh0park/cs231n-setup.git", "folder": "~/cs231n-setup"},
  "idle_shutdown": {"enabled": false}}\n' \
  "$PORT" >"$R/root/off.json"
agent_run idle-shutdown /root/off.json
assert_rc 0
for path in cs231n-agent-idle.service cs231n-agent-idle.timer timers.target.wants/cs231n-agent-idle.timer; do
  [[ ! -e $UNITS/$path && ! -L $UNITS/$path ]] || fail "still there after disabling: /etc/systemd/system/$path"
done
idle_check --json --now "$(at 1001)"
assert_json action '"disabled"'

echo "PASS $TEST_NAME"
