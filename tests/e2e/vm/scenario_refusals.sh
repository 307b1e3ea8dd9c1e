# shellcheck shell=bash
# Scenario 4 of tests/e2e/vm/run.sh, refusals: an unsupported OS and a malformed cs231n-config
# change nothing (exit 4, exit 2); cs231n-cuda=10.0 on Debian 11 refuses the GPU branch before
# any of it is installed, the rest completes, exit 4.

scenario_refusals() {
  scenario_start 4 "refusals"
  local gets_before nvidia_before difference step

  section "4. an unsupported OS (CentOS 7): exit 4, said why, nothing changed"
  vm_create vm4
  # A VM made from an image that holds the agent already (scripts/bake-image.sh): the boots below
  # download nothing, so whatever changes in the VM is the agent's doing.
  install -m 0755 -- "$AGENT" "$R/usr/local/bin/cs231n-agent"
  rm -f -- "$R/etc/os-release"
  cp -- "$ROOTS/centos7/usr/lib/os-release" "$R/etc/os-release"
  write_metadata 4444 34.82.17.8
  gets_before=$(data_gets /files/cs231n-agent)
  # The agent may log a refused run (as tests/e2e/test_course_failures.sh allows): its log exists
  # already, so that only its own content may change.
  : >"$R/var/log/cs231n-agent.log"
  upper_snapshot /tmp /var/log/cs231n-agent.log >"$TEST_TMP/refusal.before"
  boot
  assert_rc 4
  assert_contains "the run's closing line" \
    "refused: CentOS Linux 7 (Core) is not supported; cs231n-agent supports Ubuntu 16.04, 18.04, 20.04, 22.04, 24.04, 26.04 and Debian 11, 12, 13" \
    "$(cat -- "$OUT")"
  assert_contains "serial output" "cs231n-startup: cs231n-agent run ended with exit status 4" "$(cat -- "$OUT")"
  assert_eq "guest attribute state" refused "$(guest state)"
  assert_eq "downloads of the agent (it was in the image)" "$gets_before" "$(data_gets /files/cs231n-agent)"
  if ! difference=$(upper_snapshot /tmp /var/log/cs231n-agent.log | diff -- "$TEST_TMP/refusal.before" -); then
    fail_later "a refused run on an unsupported OS changed the VM" "added or changed: $(sed -n 's/^> \.\([^ ]*\) .*/\1/p' <<<"$difference" | xargs)"
  fi

  section "4. a malformed cs231n-config: exit 2, naming the attribute, nothing changed"
  vm_create vm5
  install -m 0755 -- "$AGENT" "$R/usr/local/bin/cs231n-agent"
  write_metadata 5555 34.82.17.9 '{"cs231n-config": "{\"datasets\": {\"enabled\": tru"}'
  : >"$R/var/log/cs231n-agent.log"
  upper_snapshot /tmp /var/log/cs231n-agent.log >"$TEST_TMP/refusal.before"
  boot
  assert_rc 2
  assert_eq "the agent's error lines" 1 "$(grep -c '^cs231n-agent: error: ' "$ERR")"
  assert_contains "the agent's error" "cs231n-config" "$(grep '^cs231n-agent: error: ' "$ERR")"
  assert_contains "serial output" "cs231n-startup: cs231n-agent run ended with exit status 2" "$(cat -- "$OUT")"
  # The laptop waiting on the VM learns it too.
  assert_eq "guest attribute state" refused "$(guest state)"
  assert_contains "guest attribute error" "cs231n-config" "$(guest error)"
  if ! difference=$(upper_snapshot /tmp /var/log/cs231n-agent.log | diff -- "$TEST_TMP/refusal.before" -); then
    fail_later "a run with a malformed cs231n-config changed the VM" "added or changed: $(sed -n 's/^> \.\([^ ]*\) .*/\1/p' <<<"$difference" | xargs)"
  fi
  printf '   %s\n' "$(grep -h '^cs231n-agent: error' "$ERR" | head -n 1)"

  section "4. cs231n-cuda=10.0 on Debian 11: the GPU branch refused before any of it, the rest done, exit 4"
  write_metadata 5555 34.82.17.9 '{"cs231n-cuda": "10.0"}'
  # NVIDIA's repo's Packages index is read (to know what it has); nothing else may be fetched from it.
  nvidia_before=$(grep '/compute/cuda/repos/' "$GPU_SERVER_LOG" | grep -cv '/x86_64/Packages' || true)
  boot
  assert_rc 4
  assert_contains "serial output" "cs231n-startup: cs231n-agent run ended with exit status 4" "$(cat -- "$OUT")"
  assert_contains "nvidia-repo's reason (from the repo's own package list)" "NVIDIA's debian11 repository has no cuda-toolkit-10-0" "$(cat -- "$OUT")"
  agent_status
  assert_rc 4
  assert_json state '"refused"'
  assert_json "steps[name=nvidia-repo].status" '"refused"'
  for step in nvidia-driver cuda torch-wheels pytorch gpu-persistence ready; do assert_json "steps[name=$step].status" '"skipped"'; done
  # Without torch, nothing a student could use: never ready.
  assert_json ready_s null
  assert_eq "guest attribute ready" "" "$(guest ready)"
  for step in user apt-packages anaconda conda-env assignments datasets jupyter-password jupyter-cert jupyter-config \
    jupyter-service idle-shutdown; do
    assert_json "steps[name=$step].status" '"done"'
  done
  assert_eq "guest attribute state" refused "$(guest state)"
  assert_eq "cuda-keyring" "" "$(gpu_dpkg_status cuda-keyring)"
  # Its Packages index is read (to know what the repo has); nothing is fetched to install.
  assert_eq "requests to NVIDIA's repo, its index aside" "$nvidia_before" \
    "$(grep '/compute/cuda/repos/' "$GPU_SERVER_LOG" | grep -cv '/x86_64/Packages' || true)"
  [[ ! -e $R/etc/modprobe.d/blacklist-nouveau-cs231n-agent.conf ]] || fail "nouveau was blacklisted although the GPU branch was refused"
  assert_eq "reboots asked for" 0 "$(reboot_calls)"
  assert_contains "modules" nouveau "$(gpu_modules)"
  assert_datasets
  scenario_end
}
