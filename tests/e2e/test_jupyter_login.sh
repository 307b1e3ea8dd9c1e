#!/usr/bin/env bash
# Jupyter login, end to end: the agent's user, jupyter-password, jupyter-cert and jupyter-config
# steps run in a chroot overlay (tests/e2e/chroot.sh); then the host's REAL notebook 6 and
# jupyter_server (Debian's, /usr/bin/python3) run as the student over the overlay's home, find the
# agent's ~/.jupyter files by themselves, and a browser's login is done with curl, verifying the
# agent's certificate: right password 302 + /api/status 200, wrong password 401, for sha1 and
# argon2 hashes, EC and RSA keys, a generated password and a hash from `cs231n-agent passwd`.
# Also: modes and owners of what the agent wrote, the user's own config lines, no duplicated
# block, the password in no file or output, .json override warnings, refused injection attempts,
# a changed password or hash algorithm. The passwd and cert commands on their own, and why an
# RSA-1024 certificate is refused: test_jupyter_tools.sh.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=../support/jupyter.sh
source "$SOURCE_DIR/tests/support/jupyter.sh"

jupyter_require_host

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

# For `cs231n-agent passwd` and jupyter.password_hash: `kürbis "3" \ ok` (JUPYTER_PASSWORD is the
# one of the password files).
PASSWORD3=$'k\xc3\xbcrbis "3" \\ ok'

PORT=$(jupyter_free_port)
BASE=https://127.0.0.1:$PORT
ONLY=user,jupyter-password,jupyter-cert,jupyter-config

# agent_run CONFIG STATE-DIR [ARG...]: `run --only $ONLY --yes` in the chroot, killed after 120 s;
# stdout $OUT, stderr $ERR, status $RC; both kept for the secret checks (jupyter_keep_output).
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
  jupyter_keep_output
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

# config_values FILE: the file's settings as JSON (tests/support/jupyter_config_values.py).
config_values() {
  "$PYTHON" "$SOURCE_DIR/tests/support/jupyter_config_values.py" "$1"
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
  jupyter_http POST "$BASE" /login "$jar" --data-urlencode "password=$JUPYTER_PASSWORD"
  assert_eq "POST /login without _xsrf ($name)" "0 403" "$CURL_RC $HTTP_CODE"
  ! jupyter_has_session "$jar" || fail "a POST without _xsrf gave a login cookie ($name)" "cookie jar: $(cat -- "$jar")"
  assert_login "$name" "$JUPYTER_PASSWORD"
  # The notebook folder is the configured one (marker file made in it before).
  jupyter_http GET "$BASE" /api/contents "$TEST_TMP/$name.good.jar"
  assert_eq "GET /api/contents ($name)" "0 200" "$CURL_RC $HTTP_CODE"
  assert_contains "the notebook folder's listing ($name)" '"name": "marker.txt"' "$(cat -- "$TEST_TMP/body")"
  assert_login_refused "$name" "$JUPYTER_WRONG_PASSWORD"
}

STUDENT_UID=""
STUDENT_GID=""
SECONDS=0
timing() { printf '   (%s s)\n' "$SECONDS"; }

#-----------------------------------------------------------------------------------------------
section "the user step; the student's own config lines and notebook folder before the run"
printf '%s\n' "$JUPYTER_PASSWORD" >"$R/root/jupyter-password"
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
as_student 'mkdir -p /home/student/.jupyter /home/student/cs231n &&
  echo hello >/home/student/cs231n/marker.txt &&
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
assert_config_files "$PORT" /home/student/cs231n "$SHA1_HASH"
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
[[ $ARGON2_HASH == "$JUPYTER_ARGON2_PREFIX"* ]] ||
  fail "password.hash" "expected: argon2:\$argon2id\$v=19\$m=10240,t=10,p=8\$..." "got:      $ARGON2_HASH"
assert_mode_owner "$HASH_FILE" 600 0
assert_config_files "$PORT" /home/student/cs231n "$ARGON2_HASH"
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
assert_login nb-rsa "$JUPYTER_PASSWORD"
assert_login_refused nb-rsa "$JUPYTER_WRONG_PASSWORD"
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
assert_config_files "$PORT" /home/student/cs231n "$(cat -- "$HASH_FILE")"
assert_cert ec-p256
serve nb-generated notebook
assert_login nb-generated "$GENERATED_PASSWORD"
assert_login_refused nb-generated "$JUPYTER_PASSWORD"
jupyter_stop "$SERVER"
timing

#-----------------------------------------------------------------------------------------------
section "jupyter.password_hash made by \`cs231n-agent passwd\` logs in with its password"
printf '%s' "$PASSWORD3" >"$TEST_TMP/password3"
AGENT_STDIN=$TEST_TMP/password3 jupyter_host_agent passwd --algorithm argon2
assert_rc 0
HASH3=$(cat -- "$OUT")
config /root/hash.json "$(printf '{"user": "student", "jupyter": {"port": %s, "password_hash": "%s"}}' "$PORT" "$HASH3")"
agent_run /root/hash.json /var/lib/agent-hash
assert_rc 0
assert_eq "password.hash" "$HASH3" "$(cat -- "$HASH_FILE")"
assert_config_files "$PORT" /home/student/cs231n "$HASH3"
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
section "the plaintext passwords are in no file and no output"
# Every file the test's runs added or changed in the overlay (its upper layer: the state dirs,
# /var/log/cs231n-agent.log, /var/lib/cs231n-agent, the student's home, the servers' files), and
# every stdout and stderr of the agent. Only the password files themselves may hold them.
leaks() { jupyter_leaks "$1" "$UPPER"; }
[[ -s $R/var/log/cs231n-agent.log ]] || fail "/var/log/cs231n-agent.log is empty or missing"
assert_eq "files holding the password of /root/jupyter-password" "/root/jupyter-password" "$(leaks "$JUPYTER_PASSWORD")"
assert_eq "files holding the generated password" "/root/cs231n-jupyter-password" "$(leaks "$GENERATED_PASSWORD")"
assert_eq "files holding the password given to passwd" "" "$(leaks "$PASSWORD3")"
timing

#-----------------------------------------------------------------------------------------------
section "a changed password reaches the config files (same state dir)"
# A student's machine set up with a password file, then the config gives a hash of another
# password: the next run must make Jupyter take the new password.
agent_run /root/sha1.json /var/lib/agent-change
assert_rc 0
assert_config_files "$PORT" /home/student/cs231n "$(cat -- "$HASH_FILE")"
agent_run /root/hash.json /var/lib/agent-change
assert_rc 0
assert_eq "password.hash" "$HASH3" "$(cat -- "$HASH_FILE")"
assert_config_files "$PORT" /home/student/cs231n "$HASH3"
serve nb-change notebook
assert_login nb-change "$PASSWORD3"
assert_login_refused nb-change "$JUPYTER_PASSWORD"
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
[[ $ARGON2_HASH == "$JUPYTER_ARGON2_PREFIX"* ]] ||
  fail "password.hash after switching jupyter.hash_algorithm from sha1 to argon2" "expected: $JUPYTER_ARGON2_PREFIX..." "got:      $ARGON2_HASH"
assert_config_files "$PORT" /home/student/cs231n "$ARGON2_HASH"
timing

echo "ok: Jupyter login over HTTPS with the agent's files, on real notebook 6 and jupyter_server"
