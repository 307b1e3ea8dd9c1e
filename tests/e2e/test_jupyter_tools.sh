#!/usr/bin/env bash
# The agent's Jupyter tools on the host, no run and no chroot: `cs231n-agent passwd` (both
# algorithms, checked by Debian's notebook 6 and jupyter_server passwd_check) and `cs231n-agent cert`
# (files, modes, names; what it refuses), why an RSA-1024 certificate is refused (the host's REAL
# notebook 6 serving one fails every handshake), and the password in none of the agent's outputs.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../support/jupyter.sh
source "$SOURCE_DIR/tests/support/jupyter.sh"

jupyter_require_host
trap 'jupyter_stop_all; rm -rf -- "$TEST_TMP"' EXIT
# notebook 6 of the RSA-1024 section runs as nobody (uid and gid 65534), in a home of its own.
NOBODY=65534
HOME_DIR=$TEST_TMP/home
PORT=$(jupyter_free_port)

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
printf '%s' "$JUPYTER_PASSWORD" >"$TEST_TMP/password"
printf '%s' "$JUPYTER_WRONG_PASSWORD" >"$TEST_TMP/wrong"
printf '%s\n' "$JUPYTER_PASSWORD" >"$TEST_TMP/password-newline"
for algorithm in sha1 argon2; do
  AGENT_STDIN=$TEST_TMP/password jupyter_host_agent passwd --algorithm "$algorithm"
  assert_rc 0
  assert_stderr_empty
  hash=$(cat -- "$OUT")
  assert_eq "lines printed by passwd --algorithm $algorithm" 1 "$(wc -l <"$OUT")"
  case $algorithm in
    sha1) [[ $hash =~ ^sha1:[0-9a-f]{12}:[0-9a-f]{40}$ ]] || fail "passwd --algorithm sha1" "expected: sha1:<12 hex>:<40 hex>" "got:      $hash" ;;
    argon2) [[ $hash == "$JUPYTER_ARGON2_PREFIX"* ]] || fail "passwd --algorithm argon2" "expected: argon2:\$argon2id\$..." "got:      $hash" ;;
  esac
  assert_eq "passwd_check (notebook, jupyter_server) of the right password, $algorithm" "True True" "$(passwd_checks "$hash" "$TEST_TMP/password")"
  assert_eq "passwd_check (notebook, jupyter_server) of a wrong password, $algorithm" "False False" "$(passwd_checks "$hash" "$TEST_TMP/wrong")"
  # One trailing newline on stdin (echo ... | cs231n-agent passwd) is not part of the password.
  AGENT_STDIN=$TEST_TMP/password-newline jupyter_host_agent passwd --algorithm "$algorithm"
  assert_rc 0
  assert_eq "passwd_check of the password piped with a newline, $algorithm" "True True" "$(passwd_checks "$(cat -- "$OUT")" "$TEST_TMP/password")"
done
: >"$TEST_TMP/empty"
AGENT_STDIN=$TEST_TMP/empty jupyter_host_agent passwd
assert_rc 2
assert_error_line "an empty password is refused"
printf '\n' >"$TEST_TMP/empty-newline"
AGENT_STDIN=$TEST_TMP/empty-newline jupyter_host_agent passwd --algorithm argon2
assert_rc 2
assert_error_line "an empty password is refused"
jupyter_host_agent passwd --algorithm md5
assert_rc 2

#-----------------------------------------------------------------------------------------------
section "cs231n-agent cert: files, modes, names; RSA under 2048 bits and 900 days refused"
jupyter_host_agent cert --out "$TEST_TMP/cert" --ip 10.1.2.3 --dns vm.example
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
jupyter_host_agent cert --out "$TEST_TMP/cert-rsa" --key rsa-3072 --days 825
assert_rc 0
assert_contains "key" "Public-Key: (3072 bit)" "$(openssl x509 -in "$TEST_TMP/cert-rsa/jupyter.pem" -noout -text)"
jupyter_host_agent cert --out "$TEST_TMP/cert-1024" --key rsa-1024
assert_rc 2
assert_error_line "RSA keys under 2048 bits are refused" "Python >= 3.10"
[[ ! -e $TEST_TMP/cert-1024 ]] || fail "a refused cert command made $TEST_TMP/cert-1024"
jupyter_host_agent cert --out "$TEST_TMP/cert-900" --days 900
assert_rc 2
assert_error_line "1 to 825 days"
[[ ! -e $TEST_TMP/cert-900 ]] || fail "a refused cert command made $TEST_TMP/cert-900"
jupyter_host_agent cert --out "$TEST_TMP/cert-bad-ip" --ip 10.1.2.300
assert_rc 2
assert_error_line '"10.1.2.300" is not an IP address'

#-----------------------------------------------------------------------------------------------
section "why RSA-1024 is refused: real notebook 6 with an openssl-made RSA-1024 certificate fails every handshake"
mkdir -p -- "$HOME_DIR/rsa1024"
chmod 0700 -- "$HOME_DIR"
openssl req -x509 -newkey rsa:1024 -nodes -sha256 -days 30 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$HOME_DIR/rsa1024/key.pem" -out "$HOME_DIR/rsa1024/cert.pem" 2>"$TEST_TMP/openssl.err" ||
  fail "openssl req -newkey rsa:1024" "$(cat -- "$TEST_TMP/openssl.err")"
chown -R -- "$NOBODY:$NOBODY" "$HOME_DIR"
# The notebook folder is named: the test's working folder may be one nobody cannot reach.
jupyter_start nb-rsa1024 notebook "$HOME_DIR" "$NOBODY" "$NOBODY" --port="$PORT" \
  --NotebookApp.notebook_dir=/home/student \
  --NotebookApp.certfile=/home/student/rsa1024/cert.pem --NotebookApp.keyfile=/home/student/rsa1024/key.pem
RSA1024=$JUPYTER_PID
jupyter_wait_listening "$RSA1024" "$PORT" ||
  fail "notebook with the RSA-1024 certificate did not listen on $PORT" "$(tail -n 30 -- "$TEST_TMP/nb-rsa1024.log")"
# Tornado builds the TLS context at each accepted connection and Python >= 3.10 (OpenSSL security
# level 2) refuses to load the key (EE_KEY_TOO_SMALL): no connection ever gets a TLS reply. curl
# ends with 35 when the server closes the connection, or 28 when it is left open, as tornado 6.2
# leaves it; either way there is no HTTP answer.
for attempt in 1 2; do
  JUPYTER_CA=$HOME_DIR/rsa1024/cert.pem jupyter_http GET "https://127.0.0.1:$PORT" /login "$TEST_TMP/rsa1024.jar" --max-time 4
  [[ $CURL_RC == 35 || $CURL_RC == 28 ]] ||
    fail "curl against the RSA-1024 server, attempt $attempt" "expected: exit 35 (TLS handshake failed) or 28 (no TLS reply)" \
      "got:      exit $CURL_RC, HTTP $HTTP_CODE: $(cat -- "$TEST_TMP/curl.err")"
  assert_eq "HTTP status from the RSA-1024 server, attempt $attempt" 000 "$HTTP_CODE"
done
assert_eq "EE_KEY_TOO_SMALL errors in the server's log (one per connection)" 2 \
  "$(grep -c 'SSLError: \[SSL: EE_KEY_TOO_SMALL\] ee key too small' "$TEST_TMP/nb-rsa1024.log")"
jupyter_stop "$RSA1024"

#-----------------------------------------------------------------------------------------------
section "the passwords are in none of the agent's outputs"
assert_eq "agent outputs holding the password given to passwd" "" "$(jupyter_leaks "$JUPYTER_PASSWORD")"
assert_eq "agent outputs holding the wrong password given to passwd" "" "$(jupyter_leaks "$JUPYTER_WRONG_PASSWORD")"

echo "ok: cs231n-agent passwd and cert, and RSA-1024 refused by real notebook 6"
