#!/usr/bin/env bash
# Jupyter login, end to end: the agent's user, jupyter-password, jupyter-cert and jupyter-config
# steps run in a chroot overlay (tests/e2e/chroot.sh); then the host's REAL notebook 6 and
# jupyter_server (Debian's, /usr/bin/python3) run as the student over the overlay's home, find the
# agent's ~/.jupyter files by themselves, and a browser's login is done with curl, verifying the
# agent's certificate: right password 302 + /api/status 200, wrong password 401, for sha1 and
# argon2 hashes, EC and RSA keys, a generated password and a hash from `cs231n-agent passwd`.
# Also: modes and owners of what the agent wrote, the user's own config lines, no duplicated
# block, the password in no file or output, .json override warnings, refused injection attempts,
# the passwd and cert commands, and why an RSA-1024 certificate is refused (handshakes fail).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=../support/jupyter.sh
source "$SOURCE_DIR/tests/support/jupyter.sh"

for tool in /usr/bin/python3 openssl curl ss setpriv unshare timeout; do
  command -v "$tool" >/dev/null || { echo "FAIL: this test needs $tool on the host" >&2; exit 1; }
done
/usr/bin/python3 -c 'import notebook.auth.security, jupyter_server.auth.security, argon2' 2>/dev/null ||
  { echo "FAIL: this test needs Debian's python3-notebook, python3-jupyter-server and python3-argon2" >&2; exit 1; }

# The servers first (they hold a bind mount of the overlay), then chroot.sh's cleanup.
chroot_start "$TEST_TMP/chroot"
CHROOT_EXIT_HOOKS+=(jupyter_stop_all)
chroot_install_agent "$AGENT"
R=$CHROOT_ROOT
UPPER=$TEST_TMP/chroot/upper
HOME_DIR=$R/home/student
JUPYTER_DIR=$HOME_DIR/.jupyter
NB_CONFIG=$JUPYTER_DIR/jupyter_notebook_config.py
SERVER_CONFIG=$JUPYTER_DIR/jupyter_server_config.py
CERT=$JUPYTER_DIR/certs/jupyter.pem
KEY=$JUPYTER_DIR/certs/jupyter.key
GENERATED=$R/root/cs231n-jupyter-password
JUPYTER_CA=$CERT

# Non-ASCII, a space, both quotes and a dollar: `pä$s w"rd'`.
PASSWORD=$'p\xc3\xa4$s w"rd\''
# For `cs231n-agent passwd` and jupyter.password_hash: `kürbis "3" \ ok`.
PASSWORD3=$'k\xc3\xbcrbis "3" \\ ok'
WRONG='not the password'
# What jupyter_server's own passwd() makes: argon2id with its parameters.
ARGON2_PREFIX="argon2:\$argon2id\$v=19\$m=10240,t=10,p=8\$"

PORT=$(jupyter_free_port)
PORT2=$(jupyter_free_port)
while [[ $PORT2 == "$PORT" ]]; do PORT2=$(jupyter_free_port); done
BASE=https://127.0.0.1:$PORT
ONLY=user,jupyter-password,jupyter-cert,jupyter-config
RUNS=$TEST_TMP/runs
mkdir -p -- "$RUNS"
RUN_NUMBER=0

# agent_run CONFIG STATE-DIR [ARG...]: `run --only $ONLY --yes` in the chroot, killed after 120 s;
# stdout $OUT, stderr $ERR, status $RC; a copy of both kept in $RUNS (for the secret checks).
# HASH_FILE: the password hash of STATE-DIR (it follows --state-dir).
agent_run() {
  local config=$1 state=$2
  shift 2
  HASH_FILE=$R$state/jupyter/password.hash
  LAST_CMD="(chroot) cs231n-agent run --only $ONLY --yes --config $config --state-dir $state $*"
  set +e
  timeout --kill-after=5 120 env -i "${CHROOT_ENV[@]}" unshare --mount /bin/sh -c "$_CHROOT_ENTER" sh "$CHROOT_ROOT" \
    /root/cs231n-agent run --only "$ONLY" --yes --config "$config" --state-dir "$state" "$@" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
  RUN_NUMBER=$((RUN_NUMBER + 1))
  cp -- "$OUT" "$RUNS/$RUN_NUMBER.stdout"
  cp -- "$ERR" "$RUNS/$RUN_NUMBER.stderr"
}

# host_agent ARG...: the agent on the host, stdin from $AGENT_STDIN (a file; default /dev/null).
host_agent() {
  LAST_CMD="cs231n-agent $*"
  set +e
  timeout --kill-after=5 60 "$AGENT" "$@" >"$OUT" 2>"$ERR" <"${AGENT_STDIN:-/dev/null}"
  RC=$?
  set -e
  RUN_NUMBER=$((RUN_NUMBER + 1))
  cp -- "$OUT" "$RUNS/$RUN_NUMBER.stdout"
  cp -- "$ERR" "$RUNS/$RUN_NUMBER.stderr"
}

# as_student SCRIPT: sh -c SCRIPT in the chroot as the student (uid, gid and groups).
as_student() {
  in_chroot setpriv --reuid=student --regid=student --init-groups env HOME=/home/student /bin/sh -c "$1"
}

# config FILE JSON: writes a config file into the overlay (FILE is a path inside it).
config() {
  printf '%s\n' "$2" >"$R$1"
}

assert_mode_owner() {
  local path=$1 mode=$2 uid=$3 got
  got=$(stat -c '%a %u' -- "$path" 2>&1) || fail "$path" "expected: a file with mode $mode, owner uid $uid" "got:      $got"
  assert_eq "mode and owner uid of ${path#"$R"}" "$mode $uid" "$got"
}

# config_values FILE: the file's settings as JSON {"App": {"key": value}}, read with Python's ast
# (never executed); fails unless every statement is `c.App.key = <literal>` or, exactly, one of the
# agent's lines that take its API token out of the environment (jupyter/config_file.cpp).
config_values() {
  "$PYTHON" - "$1" <<'PY'
import ast, json, sys
path = sys.argv[1]
source = open(path, encoding="utf-8").read()
tree = ast.parse(source, path)
TOKEN_LINES = {
    "import os, sys",
    'sys._cs231n_api_token = os.environ.pop("CS231N_JUPYTER_API_TOKEN", getattr(sys, "_cs231n_api_token", ""))',
    "if sys._cs231n_api_token:\n    c.NotebookApp.token = sys._cs231n_api_token",
    "if sys._cs231n_api_token:\n    c.ServerApp.token = sys._cs231n_api_token",
}
values = {}
for node in tree.body:
    if ast.get_source_segment(source, node) in TOKEN_LINES:
        continue
    target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute)
            and isinstance(target.value.value, ast.Name) and target.value.value.id == "c"):
        try:
            values.setdefault(target.value.attr, {})[target.attr] = ast.literal_eval(node.value)
            continue
        except ValueError:
            pass
    print("line %d of %s is not `c.App.key = <literal>`: %s" % (node.lineno, path, ast.dump(node)))
    sys.exit(3)
print(json.dumps(values))
PY
}

assert_valid_python() {
  local problem
  problem=$(/usr/bin/python3 -c "import ast,sys; ast.parse(open(sys.argv[1]).read())" "$1" 2>&1) ||
    fail "${1#"$R"} is not valid Python" "$problem"
}

# assert_config_files PORT FOLDER HASH: both config files hold the managed block once, with these
# values, and parse as Python.
assert_config_files() {
  local port=$1 folder=$2 hash=$3 file values
  for file in "$NB_CONFIG" "$SERVER_CONFIG"; do
    assert_valid_python "$file"
    assert_eq "managed blocks in ${file#"$R"}" "1 1" \
      "$(grep -c '^# >>> cs231n-agent >>>' "$file") $(grep -c '^# <<< cs231n-agent <<<' "$file")"
    values=$TEST_TMP/values.json
    config_values "$file" >"$values" || fail "${file#"$R"}" "$(cat -- "$values")"
  done
  config_values "$NB_CONFIG" >"$values"
  JSON_FILE=$values assert_json NotebookApp.certfile "\"/home/student/.jupyter/certs/jupyter.pem\""
  JSON_FILE=$values assert_json NotebookApp.keyfile "\"/home/student/.jupyter/certs/jupyter.key\""
  JSON_FILE=$values assert_json NotebookApp.ip '"0.0.0.0"'
  JSON_FILE=$values assert_json NotebookApp.port "$port"
  JSON_FILE=$values assert_json NotebookApp.port_retries 0
  JSON_FILE=$values assert_json NotebookApp.open_browser false
  JSON_FILE=$values assert_json NotebookApp.notebook_dir "\"$folder\""
  JSON_FILE=$values assert_json NotebookApp.password "\"$hash\""
  config_values "$SERVER_CONFIG" >"$values"
  JSON_FILE=$values assert_json ServerApp.certfile "\"/home/student/.jupyter/certs/jupyter.pem\""
  JSON_FILE=$values assert_json ServerApp.keyfile "\"/home/student/.jupyter/certs/jupyter.key\""
  JSON_FILE=$values assert_json ServerApp.ip '"0.0.0.0"'
  JSON_FILE=$values assert_json ServerApp.port "$port"
  JSON_FILE=$values assert_json ServerApp.port_retries 0
  JSON_FILE=$values assert_json ServerApp.open_browser false
  JSON_FILE=$values assert_json ServerApp.root_dir "\"$folder\""
  JSON_FILE=$values assert_json ServerApp.password "\"$hash\""
  JSON_FILE=$values assert_json PasswordIdentityProvider.hashed_password "\"$hash\""
}

# assert_cert KEY-TYPE: the agent's certificate and key (modes, owner, names, signature, key).
assert_cert() {
  local text san
  assert_mode_owner "$JUPYTER_DIR/certs" 700 "$STUDENT_UID"
  assert_mode_owner "$KEY" 600 "$STUDENT_UID"
  assert_mode_owner "$CERT" 644 "$STUDENT_UID"
  san=$(openssl x509 -in "$CERT" -noout -ext subjectAltName)
  assert_contains "subjectAltName" "IP Address:127.0.0.1" "$san"
  assert_contains "subjectAltName" "DNS:localhost" "$san"
  text=$(openssl x509 -in "$CERT" -noout -text)
  case $1 in
    ec-p256)
      assert_contains "signature" "Signature Algorithm: ecdsa-with-SHA256" "$text"
      assert_contains "key" "Public Key Algorithm: id-ecPublicKey" "$text"
      assert_contains "curve" "NIST CURVE: P-256" "$text"
      ;;
    rsa-2048)
      assert_contains "signature" "Signature Algorithm: sha256WithRSAEncryption" "$text"
      assert_contains "key" "Public-Key: (2048 bit)" "$text"
      ;;
  esac
  # The key is the certificate's.
  assert_eq "public key of the key file = the certificate's" \
    "$(openssl x509 -in "$CERT" -noout -pubkey)" "$(openssl pkey -in "$KEY" -pubout)"
}

# serve NAME KIND: starts the real server KIND over the overlay's /home/student, waits for its port.
serve() {
  jupyter_start "$1" "$2" "$HOME_DIR" "$STUDENT_UID" "$STUDENT_GID"
  SERVER=$JUPYTER_PID
  jupyter_wait_listening "$SERVER" "$PORT" ||
    fail "the real $2 server ($1) did not listen on port $PORT" "$(tail -n 30 -- "$TEST_TMP/$1.log")"
}

# assert_login NAME PASSWORD: logging in with PASSWORD gives 302, a session, /api/status 200.
assert_login() {
  local jar=$TEST_TMP/$1.good.jar
  jupyter_login "$BASE" "$2" "$jar"
  [[ $HTTP_CODE == 302 ]] || fail "POST /login with the right password ($1)" "expected: 302" "got:      $HTTP_CODE" \
    "server log: $(tail -n 15 -- "$TEST_TMP/$1.log")"
  jupyter_has_session "$jar" || fail "a login cookie after the right password ($1)" "cookie jar: $(cat -- "$jar")"
  jupyter_http GET "$BASE" /api/status "$jar"
  assert_eq "GET /api/status after logging in ($1)" "0 200" "$CURL_RC $HTTP_CODE"
}

# assert_login_refused NAME PASSWORD: logging in with PASSWORD gives 401, no session, /api/status 403.
assert_login_refused() {
  local jar=$TEST_TMP/$1.bad.jar
  jupyter_login "$BASE" "$2" "$jar"
  assert_eq "POST /login with a wrong password ($1)" 401 "$HTTP_CODE"
  ! jupyter_has_session "$jar" || fail "a wrong password gave a login cookie ($1)" "cookie jar: $(cat -- "$jar")"
  jupyter_http GET "$BASE" /api/status "$jar"
  assert_eq "GET /api/status without a login ($1)" "0 403" "$CURL_RC $HTTP_CODE"
}

# assert_server_logins NAME KIND: the whole login check against one real server.
assert_server_logins() {
  local name=$1 kind=$2 jar=$TEST_TMP/$1.noxsrf.jar
  serve "$name" "$kind"
  # Port and address: 0.0.0.0:PORT, nothing else.
  assert_eq "addresses listening on port $PORT ($name)" "0.0.0.0:$PORT" "$(jupyter_listeners "$PORT")"
  # POST /login with the _xsrf cookie but without the _xsrf field: refused, no session.
  : >"$jar"
  jupyter_http GET "$BASE" /login "$jar"
  jupyter_http POST "$BASE" /login "$jar" --data-urlencode "password=$PASSWORD"
  assert_eq "POST /login without _xsrf ($name)" "0 403" "$CURL_RC $HTTP_CODE"
  ! jupyter_has_session "$jar" || fail "a POST without _xsrf gave a login cookie ($name)" "cookie jar: $(cat -- "$jar")"
  assert_login "$name" "$PASSWORD"
  # The notebook folder is the configured one (marker file made in it before).
  jupyter_http GET "$BASE" /api/contents "$TEST_TMP/$name.good.jar"
  assert_eq "GET /api/contents ($name)" "0 200" "$CURL_RC $HTTP_CODE"
  assert_contains "the notebook folder's listing ($name)" '"name": "marker.txt"' "$(cat -- "$TEST_TMP/body")"
  assert_login_refused "$name" "$WRONG"
}

STUDENT_UID=""
STUDENT_GID=""
SECONDS=0
timing() { printf '   (%s s)\n' "$SECONDS"; }

#-----------------------------------------------------------------------------------------------
section "the user step; the student's own config lines and notebook folder before the run"
printf '%s\n' "$PASSWORD" >"$R/root/jupyter-password"
chown 0:0 -- "$R/root/jupyter-password"
chmod 0600 -- "$R/root/jupyter-password"
SHA1_CONFIG=$(printf '{"user": "student", "jupyter": {"port": %s, "password_file": "/root/jupyter-password", "hash_algorithm": "sha1"}}' "$PORT")
ARGON2_CONFIG=$(printf '{"user": "student", "jupyter": {"port": %s, "password_file": "/root/jupyter-password", "hash_algorithm": "argon2"}}' "$PORT")
config /root/sha1.json "$SHA1_CONFIG"
config /root/argon2.json "$ARGON2_CONFIG"
ONLY=user agent_run /root/sha1.json /var/lib/agent-sha1
assert_rc 0
STUDENT_UID=$(awk -F: '$1 == "student" { print $3 }' "$R/etc/passwd")
STUDENT_GID=$(awk -F: '$1 == "student" { print $4 }' "$R/etc/passwd")
[[ -n $STUDENT_UID && -n $STUDENT_GID ]] || fail "the user step made no account student" "$(cat -- "$R/etc/passwd")"
as_student 'mkdir -p /home/student/.jupyter /home/student/cs231n-setup &&
  echo hello >/home/student/cs231n-setup/marker.txt &&
  printf "%s\n" "# my own settings" "c.NotebookApp.iopub_data_rate_limit = 12345678.0" >/home/student/.jupyter/jupyter_notebook_config.py'
USER_LINES=$(cat -- "$NB_CONFIG")

#-----------------------------------------------------------------------------------------------
section "run with a root-only password file and sha1: the files the agent wrote"
agent_run /root/sha1.json /var/lib/agent-sha1
assert_rc 0
timing
assert_mode_owner "$HASH_FILE" 600 0
assert_mode_owner "${HASH_FILE%/*}" 700 0
SHA1_HASH=$(cat -- "$HASH_FILE")
[[ $SHA1_HASH =~ ^sha1:[0-9a-f]{12}:[0-9a-f]{40}$ ]] || fail "password.hash" "expected: sha1:<12 hex>:<40 hex>" "got:      $SHA1_HASH"
assert_mode_owner "$NB_CONFIG" 600 "$STUDENT_UID"
assert_mode_owner "$SERVER_CONFIG" 600 "$STUDENT_UID"
assert_config_files "$PORT" /home/student/cs231n-setup "$SHA1_HASH"
assert_eq "the student's own lines, kept at the top" "$USER_LINES" "$(head -n 2 -- "$NB_CONFIG")"
assert_cert ec-p256
[[ ! -e $GENERATED ]] || fail "a password file was given, yet $GENERATED was made"

section "real notebook 6, sha1: 302 + /api/status 200 with the password, 401 without"
assert_server_logins nb-sha1 notebook
# DNS:localhost is in the certificate too.
jupyter_http GET "https://localhost:$PORT" /login "$TEST_TMP/localhost.jar"
assert_eq "GET https://localhost:$PORT/login (certificate verified)" "0 200" "$CURL_RC $HTTP_CODE"
FIRST=$SERVER

section "port_retries = 0: a second server on the busy port fails instead of moving"
jupyter_start nb-second notebook "$HOME_DIR" "$STUDENT_UID" "$STUDENT_GID"
SECOND=$JUPYTER_PID
set +e
wait "$SECOND"
second_rc=$?
set -e
jupyter_stop "$SECOND"
[[ $second_rc != 0 && $second_rc != 124 && $second_rc != 137 ]] ||
  fail "the second server on port $PORT" "expected: it exits with an error" "got:      exit $second_rc" \
    "log: $(tail -n 10 -- "$TEST_TMP/nb-second.log")"
assert_contains "the second server's log" "port $PORT is not available" "$(cat -- "$TEST_TMP/nb-second.log")"
assert_not_contains "the second server's log" "is running at" "$(cat -- "$TEST_TMP/nb-second.log")"
assert_not_contains "the first server's log" "trying another port" "$(cat -- "$TEST_TMP/nb-sha1.log")"
jupyter_stop "$FIRST"
timing

section "real jupyter_server 1.x, sha1"
assert_server_logins js-sha1 server
jupyter_stop "$SERVER"
timing

#-----------------------------------------------------------------------------------------------
section "argon2, a fresh state dir: the block is rewritten in place, never duplicated"
as_student 'echo "c.NotebookApp.shutdown_no_activity_timeout = 0  # after the block" >>/home/student/.jupyter/jupyter_notebook_config.py'
# A fresh state dir holds no hash: as on a machine set up with argon2 from the start (switching an
# existing sha1 hash to argon2 is checked at the end).
agent_run /root/argon2.json /var/lib/agent-argon2
assert_rc 0
ARGON2_HASH=$(cat -- "$HASH_FILE")
[[ $ARGON2_HASH == "$ARGON2_PREFIX"* ]] ||
  fail "password.hash" "expected: argon2:\$argon2id\$v=19\$m=10240,t=10,p=8\$..." "got:      $ARGON2_HASH"
assert_mode_owner "$HASH_FILE" 600 0
assert_config_files "$PORT" /home/student/cs231n-setup "$ARGON2_HASH"
assert_eq "the student's own lines, kept at the top" "$USER_LINES" "$(head -n 2 -- "$NB_CONFIG")"
assert_eq "the student's line after the block, kept" "c.NotebookApp.shutdown_no_activity_timeout = 0  # after the block" \
  "$(tail -n 1 -- "$NB_CONFIG")"
cp -- "$NB_CONFIG" "$TEST_TMP/nb-config.before"
agent_run /root/argon2.json /var/lib/agent-argon2
assert_rc 0
cmp -s -- "$TEST_TMP/nb-config.before" "$NB_CONFIG" || fail "a second run changed jupyter_notebook_config.py" \
  "$(diff -- "$TEST_TMP/nb-config.before" "$NB_CONFIG" | head -n 20)"
timing

section "real notebook 6, argon2"
assert_server_logins nb-argon2 notebook
jupyter_stop "$SERVER"
section "real jupyter_server 1.x, argon2"
assert_server_logins js-argon2 server
jupyter_stop "$SERVER"
timing

#-----------------------------------------------------------------------------------------------
section "jupyter.certificate_key rsa-2048: a new RSA 2048 certificate, and notebook 6 serves it"
config /root/rsa.json "$(printf '{"user": "student", "jupyter": {"port": %s, "password_file": "/root/jupyter-password", "hash_algorithm": "argon2", "certificate_key": "rsa-2048"}}' "$PORT")"
agent_run /root/rsa.json /var/lib/agent-argon2
assert_rc 0
assert_cert rsa-2048
serve nb-rsa notebook
assert_login nb-rsa "$PASSWORD"
assert_login_refused nb-rsa "$WRONG"
jupyter_stop "$SERVER"
timing

#-----------------------------------------------------------------------------------------------
section "no password_file, no hash: a generated root-only password, and it logs in"
config /root/generated.json "$(printf '{"user": "student", "jupyter": {"port": %s, "hash_algorithm": "argon2"}}' "$PORT")"
agent_run /root/generated.json /var/lib/agent-generated
assert_rc 0
assert_mode_owner "$GENERATED" 600 0
GENERATED_PASSWORD=$(tr -d '\n' <"$GENERATED")
((${#GENERATED_PASSWORD} >= 16)) || fail "the generated password" "expected: 16 characters or more" "got:      ${#GENERATED_PASSWORD}"
assert_contains "the step's log" "sudo cat /root/cs231n-jupyter-password" "$(cat -- "$R/var/lib/agent-generated/logs/jupyter-password.log")"
assert_config_files "$PORT" /home/student/cs231n-setup "$(cat -- "$HASH_FILE")"
assert_cert ec-p256
serve nb-generated notebook
assert_login nb-generated "$GENERATED_PASSWORD"
assert_login_refused nb-generated "$PASSWORD"
jupyter_stop "$SERVER"
timing

#-----------------------------------------------------------------------------------------------
section "jupyter.password_hash made by \`cs231n-agent passwd\` logs in with its password"
printf '%s' "$PASSWORD3" >"$TEST_TMP/password3"
AGENT_STDIN=$TEST_TMP/password3 host_agent passwd --algorithm argon2
assert_rc 0
HASH3=$(cat -- "$OUT")
config /root/hash.json "$(printf '{"user": "student", "jupyter": {"port": %s, "password_hash": "%s"}}' "$PORT" "$HASH3")"
agent_run /root/hash.json /var/lib/agent-hash
assert_rc 0
assert_eq "password.hash" "$HASH3" "$(cat -- "$HASH_FILE")"
assert_config_files "$PORT" /home/student/cs231n-setup "$HASH3"
serve js-hash server
assert_login js-hash "$PASSWORD3"
assert_login_refused js-hash "$GENERATED_PASSWORD"
jupyter_stop "$SERVER"
timing

#-----------------------------------------------------------------------------------------------
section "a .json config beside the .py: a warning in the step's log"
as_student 'echo "{}" >/home/student/.jupyter/jupyter_notebook_config.json &&
  echo "{}" >/home/student/.jupyter/jupyter_server_config.json && mkdir -p "/home/student/cs231n+work.v2_x-y"'
config /root/json.json "$(printf '{"user": "student", "assignments": {"folder": "~/cs231n+work.v2_x-y"}, "jupyter": {"port": %s, "password_hash": "%s"}}' "$PORT" "$HASH3")"
agent_run /root/json.json /var/lib/agent-json
assert_rc 0
log=$(cat -- "$R/var/lib/agent-json/logs/jupyter-config.log")
assert_contains "the jupyter-config log" "warning: /home/student/.jupyter/jupyter_notebook_config.json overrides settings of jupyter_notebook_config.py" "$log"
assert_contains "the jupyter-config log" "warning: /home/student/.jupyter/jupyter_server_config.json overrides settings of jupyter_server_config.py" "$log"
assert_config_files "$PORT" "/home/student/cs231n+work.v2_x-y" "$HASH3"
rm -f -- "$JUPYTER_DIR/jupyter_notebook_config.json" "$JUPYTER_DIR/jupyter_server_config.json"

#-----------------------------------------------------------------------------------------------
section "config values that try to break out of the Python strings are refused (exit 2)"
cp -- "$NB_CONFIG" "$TEST_TMP/nb.before"
cp -- "$SERVER_CONFIG" "$TEST_TMP/server.before"
GOOD_HASH_FILE=$HASH_FILE
cp -- "$GOOD_HASH_FILE" "$TEST_TMP/hash.before"
# "key path<TAB>JSON of the jupyter/assignments part"
while IFS=$'\t' read -r key json; do
  config /root/inject.json "$json"
  agent_run /root/inject.json /var/lib/agent-inject
  assert_rc 2
  assert_error_line "$key"
  [[ ! -e $R/var/lib/agent-inject/state.json ]] || fail "a refused config wrote a state file"
  [[ ! -e $HASH_FILE ]] || fail "a refused config wrote ${HASH_FILE#"$R"}"
done <<'EOF'
assignments.folder	{"user": "student", "assignments": {"folder": "~/x\"\nimport os\nos.system(\"id\")\n#"}}
assignments.folder	{"user": "student", "assignments": {"folder": "/home/student/a\" + __import__('os').getcwd() + \""}}
assignments.folder	{"user": "student", "assignments": {"folder": "~/a\\"}}
jupyter.password_file	{"user": "student", "jupyter": {"password_file": "/root/p\"; import os; #"}}
jupyter.password_hash	{"user": "student", "jupyter": {"password_hash": "sha1:abc:\" + open('/etc/shadow').read() + \""}}
jupyter.password_hash	{"user": "student", "jupyter": {"password_hash": "argon2:$argon2id$v=19$\"\nimport os"}}
jupyter.password_hash	{"user": "student", "jupyter": {"password_hash": "argon2:$argon2id$x\\"}}
jupyter.port	{"user": "student", "jupyter": {"port": "8888\nimport os"}}
jupyter.port	{"user": "student", "jupyter": {"port": 70000}}
jupyter.hash_algorithm	{"user": "student", "jupyter": {"hash_algorithm": "md5"}}
jupyter.certificate_key	{"user": "student", "jupyter": {"certificate_key": "rsa-1024"}}
jupyter.certificate_days	{"user": "student", "jupyter": {"certificate_days": 900}}
user	{"user": "student\"x"}
EOF
cmp -s -- "$TEST_TMP/nb.before" "$NB_CONFIG" || fail "a refused config changed jupyter_notebook_config.py"
cmp -s -- "$TEST_TMP/server.before" "$SERVER_CONFIG" || fail "a refused config changed jupyter_server_config.py"
cmp -s -- "$TEST_TMP/hash.before" "$GOOD_HASH_FILE" || fail "a refused config changed password.hash"
assert_valid_python "$NB_CONFIG"
assert_valid_python "$SERVER_CONFIG"
timing

#-----------------------------------------------------------------------------------------------
section "cs231n-agent passwd: both algorithms, checked by notebook's and jupyter_server's passwd_check"
# passwd_checks HASH PASSWORD-FILE: "notebook jupyter_server" verdicts, each True or False.
passwd_checks() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
from notebook.auth.security import passwd_check as notebook_check
from jupyter_server.auth.security import passwd_check as server_check
hashed = sys.argv[1]
password = open(sys.argv[2], encoding="utf-8").read()
print(notebook_check(hashed, password), server_check(hashed, password))
PY
}
printf '%s' "$PASSWORD" >"$TEST_TMP/password"
printf '%s' "$WRONG" >"$TEST_TMP/wrong"
printf '%s\n' "$PASSWORD" >"$TEST_TMP/password-newline"
for algorithm in sha1 argon2; do
  AGENT_STDIN=$TEST_TMP/password host_agent passwd --algorithm "$algorithm"
  assert_rc 0
  assert_stderr_empty
  hash=$(cat -- "$OUT")
  assert_eq "lines printed by passwd --algorithm $algorithm" 1 "$(wc -l <"$OUT")"
  case $algorithm in
    sha1) [[ $hash =~ ^sha1:[0-9a-f]{12}:[0-9a-f]{40}$ ]] || fail "passwd --algorithm sha1" "expected: sha1:<12 hex>:<40 hex>" "got:      $hash" ;;
    argon2) [[ $hash == "$ARGON2_PREFIX"* ]] || fail "passwd --algorithm argon2" "expected: argon2:\$argon2id\$..." "got:      $hash" ;;
  esac
  assert_eq "passwd_check (notebook, jupyter_server) of the right password, $algorithm" "True True" "$(passwd_checks "$hash" "$TEST_TMP/password")"
  assert_eq "passwd_check (notebook, jupyter_server) of a wrong password, $algorithm" "False False" "$(passwd_checks "$hash" "$TEST_TMP/wrong")"
  # One trailing newline on stdin (echo ... | cs231n-agent passwd) is not part of the password.
  AGENT_STDIN=$TEST_TMP/password-newline host_agent passwd --algorithm "$algorithm"
  assert_rc 0
  assert_eq "passwd_check of the password piped with a newline, $algorithm" "True True" "$(passwd_checks "$(cat -- "$OUT")" "$TEST_TMP/password")"
done
: >"$TEST_TMP/empty"
AGENT_STDIN=$TEST_TMP/empty host_agent passwd
assert_rc 2
assert_error_line "an empty password is refused"
printf '\n' >"$TEST_TMP/empty-newline"
AGENT_STDIN=$TEST_TMP/empty-newline host_agent passwd --algorithm argon2
assert_rc 2
assert_error_line "an empty password is refused"
host_agent passwd --algorithm md5
assert_rc 2

#-----------------------------------------------------------------------------------------------
section "cs231n-agent cert: files, modes, names; RSA under 2048 bits and 900 days refused"
host_agent cert --out "$TEST_TMP/cert" --ip 10.1.2.3 --dns vm.example
assert_rc 0
assert_eq "cert's stdout" "$TEST_TMP/cert/jupyter.pem"$'\n'"$TEST_TMP/cert/jupyter.key" "$(cat -- "$OUT")"
assert_eq "mode and owner of jupyter.key" "600 0" "$(stat -c '%a %u' -- "$TEST_TMP/cert/jupyter.key")"
assert_eq "mode and owner of jupyter.pem" "644 0" "$(stat -c '%a %u' -- "$TEST_TMP/cert/jupyter.pem")"
san=$(openssl x509 -in "$TEST_TMP/cert/jupyter.pem" -noout -ext subjectAltName)
for name in "IP Address:10.1.2.3" "IP Address:127.0.0.1" "DNS:vm.example"; do assert_contains "subjectAltName" "$name" "$san"; done
text=$(openssl x509 -in "$TEST_TMP/cert/jupyter.pem" -noout -text)
assert_contains "signature" "Signature Algorithm: ecdsa-with-SHA256" "$text"
assert_contains "curve" "NIST CURVE: P-256" "$text"
openssl verify -CAfile "$TEST_TMP/cert/jupyter.pem" -purpose sslserver "$TEST_TMP/cert/jupyter.pem" >/dev/null 2>&1 ||
  fail "openssl verify -purpose sslserver of the certificate" "$(openssl verify -CAfile "$TEST_TMP/cert/jupyter.pem" -purpose sslserver "$TEST_TMP/cert/jupyter.pem" 2>&1)"
host_agent cert --out "$TEST_TMP/cert-rsa" --key rsa-3072 --days 825
assert_rc 0
assert_contains "key" "Public-Key: (3072 bit)" "$(openssl x509 -in "$TEST_TMP/cert-rsa/jupyter.pem" -noout -text)"
host_agent cert --out "$TEST_TMP/cert-1024" --key rsa-1024
assert_rc 2
assert_error_line "RSA keys under 2048 bits are refused" "Python >= 3.10"
[[ ! -e $TEST_TMP/cert-1024 ]] || fail "a refused cert command made $TEST_TMP/cert-1024"
host_agent cert --out "$TEST_TMP/cert-900" --days 900
assert_rc 2
assert_error_line "1 to 825 days"
[[ ! -e $TEST_TMP/cert-900 ]] || fail "a refused cert command made $TEST_TMP/cert-900"
host_agent cert --out "$TEST_TMP/cert-bad-ip" --ip 10.1.2.300
assert_rc 2
assert_error_line '"10.1.2.300" is not an IP address'

#-----------------------------------------------------------------------------------------------
section "why RSA-1024 is refused: real notebook 6 with an openssl-made RSA-1024 certificate fails every handshake"
mkdir -p -- "$HOME_DIR/rsa1024"
openssl req -x509 -newkey rsa:1024 -nodes -sha256 -days 30 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$HOME_DIR/rsa1024/key.pem" -out "$HOME_DIR/rsa1024/cert.pem" 2>"$TEST_TMP/openssl.err" ||
  fail "openssl req -newkey rsa:1024" "$(cat -- "$TEST_TMP/openssl.err")"
chown -R -- "$STUDENT_UID:$STUDENT_GID" "$HOME_DIR/rsa1024"
jupyter_start nb-rsa1024 notebook "$HOME_DIR" "$STUDENT_UID" "$STUDENT_GID" --port="$PORT2" \
  --NotebookApp.certfile=/home/student/rsa1024/cert.pem --NotebookApp.keyfile=/home/student/rsa1024/key.pem
RSA1024=$JUPYTER_PID
jupyter_wait_listening "$RSA1024" "$PORT2" ||
  fail "notebook with the RSA-1024 certificate did not listen on $PORT2" "$(tail -n 30 -- "$TEST_TMP/nb-rsa1024.log")"
# Tornado builds the TLS context at each accepted connection and Python >= 3.10 (OpenSSL security
# level 2) refuses to load the key (EE_KEY_TOO_SMALL): no connection ever gets a TLS reply. curl
# ends with 35 when the server closes the connection, or 28 when it is left open, as tornado 6.2
# leaves it; either way there is no HTTP answer.
for attempt in 1 2; do
  JUPYTER_CA=$HOME_DIR/rsa1024/cert.pem jupyter_http GET "https://127.0.0.1:$PORT2" /login "$TEST_TMP/rsa1024.jar" --max-time 4
  [[ $CURL_RC == 35 || $CURL_RC == 28 ]] ||
    fail "curl against the RSA-1024 server, attempt $attempt" "expected: exit 35 (TLS handshake failed) or 28 (no TLS reply)" \
      "got:      exit $CURL_RC, HTTP $HTTP_CODE: $(cat -- "$TEST_TMP/curl.err")"
  assert_eq "HTTP status from the RSA-1024 server, attempt $attempt" 000 "$HTTP_CODE"
done
assert_eq "EE_KEY_TOO_SMALL errors in the server's log (one per connection)" 2 \
  "$(grep -c 'SSLError: \[SSL: EE_KEY_TOO_SMALL\] ee key too small' "$TEST_TMP/nb-rsa1024.log")"
jupyter_stop "$RSA1024"
timing

#-----------------------------------------------------------------------------------------------
section "the plaintext passwords are in no file and no output"
# Every file the test's runs added or changed in the overlay (its upper layer: the state dirs,
# /var/log/cs231n-agent.log, /var/lib/cs231n-agent, the student's home, the servers' files), and
# every stdout and stderr of the agent. Only the password files themselves may hold them.
leaks() {
  grep -rlF -e "$1" -- "$UPPER" "$RUNS" | sed "s|^$UPPER||; s|^$RUNS|(agent output) |" | LC_ALL=C sort | xargs || true
}
[[ -s $R/var/log/cs231n-agent.log ]] || fail "/var/log/cs231n-agent.log is empty or missing"
assert_eq "files holding the password of /root/jupyter-password" "/root/jupyter-password" "$(leaks "$PASSWORD")"
assert_eq "files holding the generated password" "/root/cs231n-jupyter-password" "$(leaks "$GENERATED_PASSWORD")"
assert_eq "files holding the password given to passwd" "" "$(leaks "$PASSWORD3")"
timing

#-----------------------------------------------------------------------------------------------
section "a changed password reaches the config files (same state dir)"
# A student's machine set up with a password file, then the config gives a hash of another
# password: the next run must make Jupyter take the new password.
agent_run /root/sha1.json /var/lib/agent-change
assert_rc 0
assert_config_files "$PORT" /home/student/cs231n-setup "$(cat -- "$HASH_FILE")"
agent_run /root/hash.json /var/lib/agent-change
assert_rc 0
assert_eq "password.hash" "$HASH3" "$(cat -- "$HASH_FILE")"
assert_config_files "$PORT" /home/student/cs231n-setup "$HASH3"
serve nb-change notebook
assert_login nb-change "$PASSWORD3"
assert_login_refused nb-change "$PASSWORD"
jupyter_stop "$SERVER"
timing

#-----------------------------------------------------------------------------------------------
section "a changed jupyter.hash_algorithm re-hashes the password (same state dir)"
agent_run /root/sha1.json /var/lib/agent-algorithm
assert_rc 0
[[ $(cat -- "$HASH_FILE") == sha1:* ]] || fail "password.hash" "expected: sha1:..." "got:      $(cat -- "$HASH_FILE")"
agent_run /root/argon2.json /var/lib/agent-algorithm
assert_rc 0
ARGON2_HASH=$(cat -- "$HASH_FILE")
[[ $ARGON2_HASH == "$ARGON2_PREFIX"* ]] ||
  fail "password.hash after switching jupyter.hash_algorithm from sha1 to argon2" "expected: $ARGON2_PREFIX..." "got:      $ARGON2_HASH"
assert_config_files "$PORT" /home/student/cs231n-setup "$ARGON2_HASH"
timing

echo "ok: Jupyter login over HTTPS with the agent's files, on real notebook 6 and jupyter_server"
