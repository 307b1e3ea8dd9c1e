#!/usr/bin/env bash
# The shipped static binary starts and works inside a debootstrapped Debian 11 minbase (glibc
# 2.31, nothing extra installed), entered with unshare + chroot. The tree is cached outside the
# clone (tests/e2e/chroot.sh) so a second run on the same machine skips debootstrap; this test
# works on its own overlay of it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"

file "$AGENT" | grep -q 'statically linked' || { echo "FAIL: $AGENT is not statically linked"; exit 1; }

chroot_start "$TEST_TMP/chroot"
work=$TEST_TMP
install -m 0755 "$AGENT" "$CHROOT_ROOT/usr/local/bin/cs231n-agent"

in_chroot /usr/local/bin/cs231n-agent version -v >"$work/version"
grep -Eq '^cs231n-agent [0-9]+\.[0-9]+\.[0-9]+$' "$work/version" || { cat "$work/version"; echo "FAIL: version"; exit 1; }
# Only the minimal libcurl built from Debian's source is linked in.
grep -q 'protocols: http https)' "$work/version" || { cat "$work/version"; echo "FAIL: libcurl protocols"; exit 1; }

in_chroot /usr/local/bin/cs231n-agent detect --json >"$work/detect.json"
"$PYTHON" - "$work/detect.json" "$(cat "$CHROOT_ROOT/etc/debian_version")" <<'PY'
import json, sys
facts = json.load(open(sys.argv[1]))
problems = []
def expect(what, got, want):
    if got != want:
        problems.append(f"{what}: expected {want!r}, got {got!r}")
expect("os.id", facts["os"]["id"], "debian")
expect("os.version_id", facts["os"]["version_id"], "11")
expect("os.codename", facts["os"]["codename"], "bullseye")
expect("os.supported", facts["os"]["supported"], True)
expect("arch", facts["arch"], "x86_64")
expect("gpus", facts["gpus"], [])
if not isinstance(facts["memory_bytes"], int) or facts["memory_bytes"] <= 0:
    problems.append(f"memory_bytes not read from the chroot's /proc: {facts['memory_bytes']!r}")
if not facts["boot_id"]:
    problems.append("boot_id is empty")
# A minbase has no regular account: the user is unknown, and the error says which key to set.
if facts["user"]["name"] is not None or "user" not in (facts["user"]["error"] or ""):
    problems.append(f"user: {facts['user']!r}")
if problems:
    print("FAIL:", *problems, sep="\n  ")
    sys.exit(1)
print(f"ok: static binary works in Debian {sys.argv[2]} minbase")
PY

# Name resolution in the static binary: glibc's built-in files and dns lookups, with the chroot's
# own /etc/nsswitch.conf and resolv.conf (Debian's archive is the one outside host tests may reach).
release=http://deb.debian.org/debian/dists/bullseye/Release
in_chroot /usr/local/bin/cs231n-agent fetch "$release" -o /root/Release --retries 2 >/dev/null 2>"$work/fetch.err" ||
  { cat -- "$work/fetch.err"; echo "FAIL: fetch of $release by name inside the chroot"; exit 1; }
grep -q '^Codename: bullseye$' "$CHROOT_ROOT/root/Release" || { echo "FAIL: the Release file fetched by name is not bullseye's"; exit 1; }
echo "ok: the static binary resolves and fetches $release inside the chroot"
