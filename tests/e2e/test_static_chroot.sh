#!/usr/bin/env bash
# The shipped static binary starts and works inside a debootstrapped Debian 11 minbase (glibc
# 2.31, nothing extra installed), entered with unshare + chroot. The tree is cached outside the
# clone so a second run on the same machine skips debootstrap.
set -euo pipefail
agent=$1
cache=${CS231N_TEST_CACHE:-/var/cache/cs231n-agent-tests}
tree=$cache/bullseye-minbase

[[ $(id -u) == 0 ]] || { echo "this test needs root (debootstrap, chroot)"; exit 1; }
file "$agent" | grep -q 'statically linked' || { echo "FAIL: $agent is not statically linked"; exit 1; }

if [[ ! -x $tree/bin/bash ]]; then
  mkdir -p "$cache"
  rm -rf "$tree.tmp"
  debootstrap --variant=minbase bullseye "$tree.tmp" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
    { tail -n 20 "$cache/debootstrap.log"; echo "FAIL: debootstrap failed"; exit 1; }
  mv "$tree.tmp" "$tree"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"; rm -f "$tree/usr/local/bin/cs231n-agent"' EXIT
install -m 0755 "$agent" "$tree/usr/local/bin/cs231n-agent"
in_chroot() { unshare --mount --pid --fork --mount-proc="$tree/proc" chroot "$tree" "$@"; }

in_chroot /usr/local/bin/cs231n-agent version -v >"$work/version"
grep -Eq '^cs231n-agent [0-9]+\.[0-9]+\.[0-9]+$' "$work/version" || { cat "$work/version"; echo "FAIL: version"; exit 1; }
# Only the minimal libcurl built from Debian's source is linked in.
grep -q 'protocols: http https)' "$work/version" || { cat "$work/version"; echo "FAIL: libcurl protocols"; exit 1; }

in_chroot /usr/local/bin/cs231n-agent detect --json >"$work/detect.json"
/usr/bin/python3 - "$work/detect.json" "$(cat "$tree/etc/debian_version")" <<'PY'
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
