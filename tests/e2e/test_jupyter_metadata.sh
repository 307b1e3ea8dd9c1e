#!/usr/bin/env bash
# The Jupyter steps on a (fake) GCE VM: the password from the jupyter-password metadata attribute
# (hashed at once, with a warning, stored nowhere), and a certificate for the external IP the
# metadata server gives, made again when that IP changes. The agent runs in a chroot overlay and
# finds the metadata server on 127.0.0.1 through GCE_METADATA_HOST.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"

# shellcheck disable=SC2016  # a literal $ in the password, on purpose
PASSWORD='metä data pässword $1 "x"'
write_metadata() {
  "$PYTHON" - "$TEST_TMP/metadata.json" "$1" "$PASSWORD" <<'PY'
import json, sys
json.dump({"instance": {"attributes": {"jupyter-password": sys.argv[3]}, "id": "7",
                        "network-interfaces": [{"ip": "10.128.0.9", "access-configs": [{"external-ip": sys.argv[2]}]}]}},
          open(sys.argv[1], "w"))
PY
}

chroot_start "$TEST_TMP/chroot"
CHROOT_EXIT_HOOKS+=(stop_servers)
chroot_install_agent "$AGENT"
R=$CHROOT_ROOT
write_metadata 34.90.1.2
start_server meta --metadata "$TEST_TMP/metadata.json"
CHROOT_ENV+=("GCE_METADATA_HOST=${BASE#http://}")
printf '{"user": "student", "jupyter": {"hash_algorithm": "argon2"}}\n' >"$R/root/config.json"
STEPS=user,jupyter-password,jupyter-cert,jupyter-config
CERT=$R/home/student/.jupyter/certs/jupyter.pem

section "the password comes from the jupyter-password attribute, with a warning"
chroot_agent run --only "$STEPS" --yes --config /root/config.json --state-dir /var/lib/meta
assert_rc 0
assert_contains "warning" "the Jupyter password comes from the jupyter-password metadata attribute" "$(cat -- "$ERR")"
HASH=$(cat -- "$R/var/lib/meta/jupyter/password.hash")
/usr/bin/python3 -c '
import sys
from jupyter_server.auth.security import passwd_check
sys.exit(0 if passwd_check(sys.argv[1], sys.argv[2]) and not passwd_check(sys.argv[1], "wrong") else 1)' "$HASH" "$PASSWORD" ||
  fail "the stored hash" "expected: an argon2 hash of the metadata password" "got:      $HASH"
[[ $HASH == argon2:* ]] || fail "the stored hash" "expected: argon2:..." "got:      $HASH"
[[ ! -e $R/root/cs231n-jupyter-password ]] || fail "a random password was made although metadata gave one"
leaks=$(grep -rlF -- "$PASSWORD" "$TEST_TMP/chroot/upper" "$OUT" "$ERR" || true)
assert_eq "files holding the plaintext password" "" "$leaks"

section "the certificate names the external and internal IPs from the metadata server"
sans=$(openssl x509 -in "$CERT" -noout -ext subjectAltName)
assert_contains "subjectAltName" "IP Address:34.90.1.2" "$sans"
assert_contains "subjectAltName" "IP Address:10.128.0.9" "$sans"
assert_contains "summary" "https://34.90.1.2:8888" "$(chroot_agent plan --config /root/config.json --state-dir /var/lib/meta; cat -- "$OUT")"

section "a second run changes nothing"
before=$(sha256sum -- "$CERT" "$R/var/lib/meta/jupyter/password.hash")
chroot_agent run --only "$STEPS" --yes --config /root/config.json --state-dir /var/lib/meta
assert_rc 0
assert_eq "certificate and hash" "$before" "$(sha256sum -- "$CERT" "$R/var/lib/meta/jupyter/password.hash")"

section "a new external IP (a VM stopped and started without a static IP) makes a new certificate"
write_metadata 35.1.2.3
chroot_agent run --only "$STEPS" --yes --config /root/config.json --state-dir /var/lib/meta
assert_rc 0
sans=$(openssl x509 -in "$CERT" -noout -ext subjectAltName)
assert_contains "subjectAltName" "IP Address:35.1.2.3" "$sans"
assert_not_contains "subjectAltName" "34.90.1.2" "$sans"
assert_eq "certificate owner" "$(awk -F: '$1 == "student" { print $3 }' "$R/etc/passwd")" "$(stat -c %u -- "$CERT")"

section "a changed password in metadata makes a new hash"
PASSWORD='another one'
write_metadata 35.1.2.3
chroot_agent run --only "$STEPS" --yes --config /root/config.json --state-dir /var/lib/meta
assert_rc 0
NEW_HASH=$(cat -- "$R/var/lib/meta/jupyter/password.hash")
[[ $NEW_HASH != "$HASH" ]] || fail "the hash" "expected: a new hash for the new password"
assert_contains "notebook config" "$NEW_HASH" "$(cat -- "$R/home/student/.jupyter/jupyter_notebook_config.py")"

echo "PASS $TEST_NAME"
