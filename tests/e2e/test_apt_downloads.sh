#!/usr/bin/env bash
# apt's .debs come through the agent's downloader: real apt and dpkg in a Debian 11 chroot overlay,
# NVIDIA's repo and the OS archive as signed apt repositories on 127.0.0.1 (the stand-ins of
# tests/support/make_nvidia_repo.sh, served by tests/support/http_server.py, which logs each
# request's User-Agent), a fake T4 and kernel (tests/e2e/gpu.sh). The steps nvidia-repo,
# nvidia-driver and cuda install their packages with apt_install (steps/apt.cpp):
#   1. every .deb is fetched by the agent (its User-Agent), none by apt ("Debian APT-HTTP"), and
#      apt installs them from its archive folder
#   2. the agent's fetch of one .deb comes back corrupt (same size, other bytes): nothing of it
#      stays in apt's folder, apt downloads that one itself, the install works
#   3. downloads.accelerate_pip_apt false: apt downloads everything itself, as before
#   4. the toolkit's .debs (here cuda-toolkit-12-6 and the payload packages it depends on, one of
#      them slow to download) are unpacked by dpkg as they arrive, while the slow one downloads;
#      apt configures them and installs the rest; what it pulled in is marked automatic
#   5. one of the toolkit's .debs cannot be had (404 for the agent and apt): the install fails with
#      the network's exit code, naming the file, and dpkg purges what it unpacked ahead, so apt sees
#      no broken package; the next run installs
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=gpu.sh
source "$SOURCE_DIR/tests/e2e/gpu.sh"

KERNEL=5.10.0-cs231n-1-cloud-amd64
STATE=/var/lib/cs231n-agent
STEPS=apt-packages,nvidia-repo,nvidia-driver,cuda
AGENT_UA="cs231n-agent/"
APT_UA="Debian APT-HTTP/"

# cuda-toolkit-12-6 depends on these packages of zero bytes (make_nvidia_repo.sh
# NVIDIA_REPO_PAYLOADS), as the real one depends on its ~50 (scripts/bench/ready.sh): the quick
# ones arrive and are unpacked while the slow one downloads (3 s, http_server.py --slow).
PAYLOAD_NAMES=(cuda-standin-cudart cuda-standin-nvcc cuda-standin-cublas cuda-standin-missing cuda-standin-slow)
printf '%s 1000000 cuda-toolkit-12-6\n' "${PAYLOAD_NAMES[@]:0:4}" >"$TEST_TMP/toolkit-payloads"
printf 'cuda-standin-slow 4000000 cuda-toolkit-12-6\n' >>"$TEST_TMP/toolkit-payloads"
export NVIDIA_REPO_PAYLOADS=$TEST_TMP/toolkit-payloads
GPU_REPO_SERVER_ARGS=(--slow '*/cuda-standin-slow_*=3')

# overlay NAME: a fresh overlay with the agent, its base packages, a T4 on a fake kernel without
# nouveau (no reboot needed), an account, and the stand-in repos as the only apt sources.
overlay() {
  chroot_cleanup
  chroot_start "$TEST_TMP/$1"
  R=$CHROOT_ROOT
  chroot_install_agent "$AGENT"
  # The agent's base packages (apt-packages, which nvidia-repo comes after), from Debian's archive.
  chroot_apt_install "$CHROOT_CACHE/debs-apt-downloads" bzip2 ca-certificates git unzip
  gpu_fake_kernel "$KERNEL"
  gpu_add_pci_gpu 1eb8
  gpu_secure_boot off
  if [[ -z $GPU_SERVE ]]; then gpu_make_repos debian11 "$KERNEL"; else gpu_install_repo_lists; fi
  rm -f -- "$R/etc/apt/sources.list"
  in_chroot useradd -m -s /bin/bash student
}

# debs_by AGENT-PREFIX: the .deb files whose bodies clients with that User-Agent fetched (the
# downloader's one-byte probes left out), one per line, sorted and unique.
debs_by() {
  curl -fsS "$GPU_BASE/_idle" >/dev/null || true
  "$PYTHON" - "$GPU_SERVER_LOG" "$1" <<'PY'
import json, sys
log, prefix = sys.argv[1:3]
names = set()
for line in open(log):
    entry = json.loads(line)
    if not entry["path"].endswith(".deb") or entry["method"] != "GET" or entry["status"] not in (200, 206):
        continue
    if not (entry.get("user_agent") or "").startswith(prefix) or entry["range"] == "bytes=0-0":
        continue
    names.add(entry["path"].rsplit("/", 1)[1])
print("\n".join(sorted(names)))
PY
}
log_mark() { LOG_MARK=$(wc -l <"$GPU_SERVER_LOG"); }
log_since_mark() { tail -n "+$((LOG_MARK + 1))" -- "$GPU_SERVER_LOG"; }

run_steps() { # CONFIG-JSON
  printf '%s\n' "$1" >"$R/root/config.json"
  chroot_agent run --only "$STEPS" --yes --config /root/config.json --state-dir "$STATE"
}
config() { # [EXTRA JSON members]
  printf '{"user": "student", "gpu": {%s, "repo_url": "%s"}%s}' "$GPU_KEYRING_PIN" "$GPU_CUDA_REPOS" "${1:+, $1}"
}
installed() { for package in "${PACKAGES[@]}"; do printf '%s: %s\n' "$package" "$(gpu_dpkg_status "$package")"; done; }
PACKAGES=(cuda-keyring "linux-headers-$KERNEL" cuda-drivers-535 cuda-toolkit-12-6)
INSTALLED="cuda-keyring: install ok installed
linux-headers-$KERNEL: install ok installed
cuda-drivers-535: hold ok installed
cuda-toolkit-12-6: install ok installed"

# Nothing half-downloaded or unverified is left where apt would take it as fetched.
assert_no_part_files() {
  assert_eq "part files in apt's folder" "" "$(find "$R/var/cache/apt/archives" -maxdepth 1 -name '*.part*' -printf '%f ')"
}

#-----------------------------------------------------------------------------------------------
section "1. every .deb through the agent; apt installs them with nothing left to download"
overlay vm1
: >"$GPU_SERVER_LOG"
run_steps "$(config)"
assert_rc 0
assert_eq "packages" "$INSTALLED" "$(installed)"
by_agent=$(debs_by "$AGENT_UA")
assert_contains "the agent fetched cuda-drivers-535" "cuda-drivers-535_" "$by_agent"
assert_contains "the agent fetched the toolkit" "cuda-toolkit-12-6_" "$by_agent"
assert_contains "the agent fetched the kernel headers" "linux-headers-${KERNEL}_" "$by_agent"
assert_eq ".debs apt fetched itself" "" "$(debs_by "$APT_UA")"
chroot_agent logs cuda --state-dir "$STATE"
assert_contains "cuda log" "the agent downloads $((${#PAYLOAD_NAMES[@]} + 1)) .debs" "$(cat "$OUT")"
assert_not_contains "cuda log" "apt downloads" "$(cat "$OUT")"
assert_no_part_files

#-----------------------------------------------------------------------------------------------
section "2. the agent gets a corrupt toolkit .deb: apt downloads that one itself"
overlay vm2
printf '[{"path": "cuda-toolkit-12-6_.*\\\\.deb$", "user_agent": "%s", "answer": "corrupt"}]\n' "$AGENT_UA" >"$GPU_FAULTS"
: >"$GPU_SERVER_LOG"
run_steps "$(config)"
assert_rc 0
: >"$GPU_FAULTS"
assert_eq "packages" "$INSTALLED" "$(installed)"
by_apt=$(debs_by "$APT_UA")
assert_eq ".debs apt fetched itself" "$(debs_by "$AGENT_UA" | grep cuda-toolkit-12-6_)" "$by_apt"
assert_not_contains "the agent's .debs" "cuda-drivers-535_" "$by_apt"
assert_eq "toolkit sha256 (as the repo has it)" \
  "$(sha256sum <"$(find "$GPU_SERVE" -name 'cuda-toolkit-12-6_*.deb' -print -quit)" | cut -d' ' -f1)" \
  "$(sha256sum <"$(find "$R/var/cache/apt/archives" -name 'cuda-toolkit-12-6_*.deb' -print -quit)" | cut -d' ' -f1)"
chroot_agent logs cuda --state-dir "$STATE"
assert_contains "cuda log" "sha256 mismatch" "$(cat "$OUT")"
assert_contains "cuda log" "apt downloads cuda-toolkit-12-6_" "$(cat "$OUT")"
assert_no_part_files

#-----------------------------------------------------------------------------------------------
section "3. downloads.accelerate_pip_apt false: apt downloads by itself"
overlay vm3
: >"$GPU_SERVER_LOG"
run_steps "$(config '"downloads": {"accelerate_pip_apt": false}')"
assert_rc 0
assert_eq "packages" "$INSTALLED" "$(installed)"
assert_eq ".debs the agent fetched" "" "$(debs_by "$AGENT_UA" | grep -v cuda-keyring_ || true)"
assert_contains ".debs apt fetched" "cuda-toolkit-12-6_" "$(debs_by "$APT_UA")"

# dpkg's packages that are unpacked but not configured (dpkg -l's "iU", "iF", ...), space separated.
# shellcheck disable=SC2016  # dpkg-query's format, not the shell's
not_configured() { in_chroot dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^.[^inc]/ { print $2 }' | xargs; }
# The payload packages' dpkg status, one "NAME: STATUS" line each.
payloads_installed() { for package in "${PAYLOAD_NAMES[@]}"; do printf '%s: %s\n' "$package" "$(gpu_dpkg_status "$package")"; done; }
PAYLOADS_INSTALLED=$(printf '%s: install ok installed\n' "${PAYLOAD_NAMES[@]}")

#-----------------------------------------------------------------------------------------------
section "4. the toolkit's .debs are unpacked as they arrive; apt configures them"
overlay vm4
run_steps "$(config)"
assert_rc 0
assert_eq "packages" "$INSTALLED" "$(installed)"
assert_eq "payload packages" "$PAYLOADS_INSTALLED" "$(payloads_installed)"
chroot_agent logs cuda --state-dir "$STATE"
cuda_log=$(cat "$OUT")
assert_contains "cuda log" "while the rest download" "$cuda_log"
assert_not_contains "cuda log: every .deb unpacked ahead" "apt installs what it left" "$cuda_log"
# dpkg took the quick ones, in groups as they arrived, before the slow one was there.
slow_arrived=$(grep -n -m1 '^cuda-standin-slow_.*: .*downloaded, verified' <<<"$cuda_log" | cut -d: -f1)
unpacked_before=$(head -n "${slow_arrived:-0}" <<<"$cuda_log" | grep -- '--unpack ' || true)
for package in "${PAYLOAD_NAMES[@]:0:4}" cuda-toolkit-12-6; do
  assert_contains "unpacked before the slow .deb was there" "/${package}_" "$unpacked_before"
done
auto=$(in_chroot apt-mark showauto)
for package in "${PAYLOAD_NAMES[@]}"; do assert_contains "automatically installed" "$package" "$auto"; done
assert_contains "installed by hand" "cuda-toolkit-12-6" "$(in_chroot apt-mark showmanual)"
assert_eq "unconfigured packages" "" "$(not_configured)"

#-----------------------------------------------------------------------------------------------
section "5. a toolkit .deb nobody can fetch: the install fails, what dpkg unpacked ahead is purged"
overlay vm5
printf '[{"path": "cuda-standin-missing_.*\\\\.deb$", "answer": 404}]\n' >"$GPU_FAULTS"
run_steps "$(config)"
assert_rc 6  # network failure after retries (README "Exit codes"): apt could not fetch it either
assert_contains "the error" "apt could not download what it needs: Failed to fetch http://127.0.0.1" "$(cat "$ERR")"
assert_contains "the error" "cuda-standin-missing_" "$(cat "$ERR")"
chroot_agent logs cuda --state-dir "$STATE"
cuda_log=$(cat "$OUT")

assert_contains "cuda log" "while the rest download" "$cuda_log"
assert_contains "cuda log" "dpkg purges the" "$cuda_log"
assert_eq "unconfigured packages" "" "$(not_configured)"
assert_eq "the toolkit" "" "$(gpu_dpkg_status cuda-toolkit-12-6)"
assert_eq "a payload unpacked ahead" "" "$(gpu_dpkg_status cuda-standin-cudart)"
in_chroot apt-get check >"$TEST_TMP/apt-check.out" 2>&1 || fail "apt-get check after the failed install" "$(cat "$TEST_TMP/apt-check.out")"
: >"$GPU_FAULTS"
run_steps "$(config)"
assert_rc 0
assert_eq "packages" "$INSTALLED" "$(installed)"
assert_eq "payload packages" "$PAYLOADS_INSTALLED" "$(payloads_installed)"
chroot_agent logs cuda --state-dir "$STATE"
# The failed run's .debs stayed in apt's folder, so only the missing one is fetched.
assert_contains "cuda log, second attempt" "the agent downloads 1 .debs" "$(sed -n '/ attempt 2, /,$p' "$OUT")"

echo "PASS $TEST_NAME"
