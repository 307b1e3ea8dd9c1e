# shellcheck shell=bash
# Scenario 3 of tests/e2e/vm/run.sh: the next boot of scenario 1's VM (still mounted: it runs
# right after scenario 1) changes nothing, and the agent's own time is under a second.

# What a finished VM's boot may change, each for a reason:
#   /tmp                        the metadata script runner's folder (made and removed: /tmp's time)
#   /var/log/cs231n-agent.log   the agent's log of the boot's run
#   /var/lib/cs231n-agent       the state (the boot's run, its times) and the logs of the steps that
#                               are checked at every run (nvidia-driver, gpu-persistence,
#                               assignments, jupyter-password, ready)
#   /var/lib/nvidia-standin     persistence mode (the stand-in driver's), off after the reboot, on
#                               again (nvidia-smi -pm 1)
BOOT_CHANGES=(/tmp /var/log/cs231n-agent.log /var/lib/cs231n-agent /var/lib/nvidia-standin)

scenario_second_boot() {
  scenario_start 3 "second boot"
  # Scenario 1's VM is still mounted: 3 runs right after 1.
  write_metadata 1111 34.82.17.5

  section "3. a reboot with the same kernel, then the startup script: nothing changes, the agent is quick"
  gpu_fake_reboot
  assert_contains "modules after the reboot" nvidia "$(gpu_modules)"
  upper_snapshot "${BOOT_CHANGES[@]}" >"$TEST_TMP/second-boot.before"
  local trace=/dev/shm/${TEST_TMP##*/}-trace
  upper_snapshot >"$TEST_TMP/second-boot.before-all"
  ledger_mark
  [[ -d /dev/shm ]] || fail "scenario 3 needs the host's /dev/shm (the VM sees it through /dev) for its trace"
  # xtrace with a time on every line, into the host's /dev/shm (the VM sees it as its own): the
  # agent's invocation is timed inside the real boot, and nothing is written into the VM.
  printf '%s\n' "PS4='+\${EPOCHREALTIME} '" "exec 9>>$trace.log" "BASH_XTRACEFD=9" "set -x" >"$trace.env"
  : >"$trace.log"
  boot "E2E_BASH_ENV=$trace.env"
  local agent_time
  agent_time=$("$PYTHON" - "$trace.log" <<'PY'
import re, sys
lines = [line for line in open(sys.argv[1]).read().splitlines() if re.match(r"^\++[0-9]+\.[0-9]+ ", line)]
for index, line in enumerate(lines):
    if re.match(r"^\++[0-9.]+ /usr/local/bin/cs231n-agent run --wait$", line):
        start = float(line.lstrip("+").split()[0])
        end = float(lines[index + 1].lstrip("+").split()[0])
        print("%.3f" % (end - start))
        break
else:
    print("none")
PY
)
  rm -f -- "$trace.env" "$trace.log"
  assert_rc 0
  assert_contains "serial output" "cs231n-startup: cs231n-agent $AGENT_VERSION is installed and matches cs231n-agent-sha256" "$(cat -- "$OUT")"
  assert_contains "serial output" "cs231n-startup: cs231n-agent run: done" "$(cat -- "$OUT")"
  assert_not_contains "serial output" "downloading" "$(cat -- "$OUT")"
  [[ $agent_time != none ]] || fail "no \`cs231n-agent run\` in the boot's trace"
  printf '   the boot took %s s, of which the agent (cs231n-agent run) %s s\n' "$TOOK" "$agent_time"
  # The summary table's rows with a duration are the steps this run checked (the others say
  # "done at <when>").
  printf '   what the agent did: %s\n' "$(sed -nE 's/^([a-z0-9-]+) +done +([0-9.]+ s) +(.*)$/\1 \2 (\3);/p' "$OUT" | xargs)"
  agent_status
  "$PYTHON" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)' "$agent_time" ||
    fail "the agent's time at a boot of a finished VM" "expected: under 1 s" "got:      $agent_time s"
  assert_json state '"done"'
  assert_eq "guest attribute state" "done" "$(guest state)"
  # This boot's run is ready again (a laptop waiting for `ready` after a restart gets it).
  [[ $(guest ready) =~ ^[0-9]+$ ]] || fail "guest attribute ready" "expected: whole seconds" "got:      $(guest ready)"
  assert_json ready_s "$(guest ready)"
  assert_contains "persistence mode, on again" Enabled "$(in_chroot nvidia-smi --query-gpu=persistence_mode --format=csv,noheader)"
  assert_eq "reboots asked for" 1 "$(reboot_calls)"
  assert_eq "downloads of the agent" 1 "$(data_gets /files/cs231n-agent)"
  assert_eq "the stand-in conda's ledger lines added by the boot (installer, conda, pip calls)" "" "$(ledger_new)"
  local difference
  if ! difference=$(upper_snapshot "${BOOT_CHANGES[@]}" | diff -- "$TEST_TMP/second-boot.before" -); then
    fail "the second boot changed the VM outside the agent's own records" "$(head -n 20 <<<"$difference")"
  fi
  printf '   changed, as allowed: %s\n' "$(upper_snapshot | diff -- "$TEST_TMP/second-boot.before-all" - |
    sed -n 's/^[<>] \.\([^ ]*\) .*/\1/p' | grep -v '^ ' | LC_ALL=C sort -u | xargs)"
  [[ -z $(find "$R/tmp" -mindepth 1 -print -quit) ]] || fail "the boot left files in /tmp" "$(ls -la "$R/tmp")"
  scenario_end
}
