# shellcheck shell=bash
# Scenario 1 of tests/e2e/vm/run.sh, the happy path: the first boot runs until the one reboot,
# the second reaches `ready` while the CUDA toolkit still downloads (lib.sh serves it slowest, as
# it is in reality) and then finishes; then the user, conda, datasets, Jupyter (a real login over
# HTTPS), the GPU steps, the ready moment, guest attributes, status and the summary are checked,
# and the generated password is in no log, state or output. Its VM and its end state
# (vm1.end-state) are scenarios 2's and 3's.

scenario_happy_path() {
  scenario_start 1 "happy path"
  vm_create vm1
  write_metadata 1111 34.82.17.5
  local home=$R/home/$STUDENT uid out

  section "1. first boot: the startup script installs the agent, which runs until the one reboot"
  boot
  printf '   first boot: %s s\n' "$TOOK"
  assert_rc 0
  out=$(cat -- "$OUT")
  assert_contains "serial output" "cs231n-startup: installed cs231n-agent $AGENT_VERSION as /usr/local/bin/cs231n-agent" "$out"
  assert_contains "serial output" "cs231n-startup: cs231n-agent run: a reboot is under way" "$out"
  assert_contains "the run's closing line" "reboot-pending: rebooting (step nvidia-driver asked for it; reboot 1 of at most 3)" "$out"
  assert_eq "reboots asked for" 1 "$(reboot_calls)"
  assert_eq "run state" reboot-pending "$(state_json run.state)"
  agent_status
  assert_rc 3
  assert_json "steps[name=nvidia-driver].status" '"done"'
  assert_json "steps[name=cuda].status" '"pending"'
  assert_json ready_s null  # the driver loads only after the reboot
  assert_eq "guest attribute state" reboot-pending "$(guest state)"
  assert_eq "guest attribute ready" "" "$(guest ready)"

  section "1. the reboot (nouveau blacklisted, so gone; udev loads nvidia); the startup script finishes the run"
  gpu_fake_reboot
  assert_not_contains "modules after the reboot" nouveau "$(gpu_modules)"
  assert_contains "modules after the reboot" nvidia "$(gpu_modules)"
  local second_boot_started
  second_boot_started=$(date +%s)
  boot
  printf '   second boot: %s s\n' "$TOOK"
  assert_rc 0
  out=$(cat -- "$OUT")
  assert_contains "serial output" "cs231n-startup: cs231n-agent $AGENT_VERSION is installed and matches cs231n-agent-sha256" "$out"
  assert_contains "serial output" "cs231n-startup: cs231n-agent run: done" "$out"
  assert_contains "the run's summary" "Jupyter: https://34.82.17.5:8888/" "$out"
  assert_contains "the run's summary" "Its password: sudo cat /root/cs231n-jupyter-password" "$out"
  assert_contains "the run's closing line" "done: every selected step is done" "$out"
  assert_eq "reboots asked for" 1 "$(reboot_calls)"
  assert_eq "downloads of the agent" 1 "$(data_gets /files/cs231n-agent)"

  section "1. ready: said and recorded while the toolkit still downloads, before done"
  local found line_number ready_line ready_s started
  found=$(grep -n '^ready after [0-9]* s; still running: ' -- "$OUT" || true)
  [[ -n $found ]] || fail "serial output" "expected: a line 'ready after N s; still running: ...'" "got: $out"
  line_number=${found%%:*} ready_line=${found#*:}
  assert_contains "what still runs at ready" "cuda" "${ready_line#*still running: }"
  assert_contains "what still runs at ready" "verify" "${ready_line#*still running: }"
  # The ready block names Jupyter and its password at once, before the closing summary.
  assert_eq "the line after the ready line" "Jupyter: https://34.82.17.5:8888/" "$(sed -n "$((line_number + 1))p" -- "$OUT")"
  assert_eq "the line after that" "Its password: sudo cat /root/cs231n-jupyter-password" \
    "$(sed -n "$((line_number + 2))p" -- "$OUT")"
  (($(grep -n '^done: every selected step is done' -- "$OUT" | cut -d: -f1) > line_number)) ||
    fail "serial output" "expected: ready before the closing line done"
  # The run's clock starts at its first boot: the reboot and the first boot are in it.
  ready_s=${ready_line#ready after }
  ready_s=${ready_s%% *}
  started=$(date -d "$(state_json run.started)" +%s)
  ((ready_s >= second_boot_started - started)) ||
    fail "ready after $ready_s s" "expected: at least $((second_boot_started - started)) s, from the run's start in the first boot to the second boot"
  ((ready_s <= $(date +%s) - started)) || fail "ready after $ready_s s" "expected: no more than the run has lasted"
  [[ $(state_json run.ready) < $(state_json steps.cuda.finished) ]] ||
    fail "the ready moment" "expected: before cuda finished (it downloads for $TOOLKIT_SECONDS s)" \
      "got:      ready $(state_json run.ready), cuda finished $(state_json steps.cuda.finished)"

  section "1. status, guest attributes"
  agent_status
  assert_rc 0
  assert_json state '"done"'
  assert_json reboots 1
  local step
  for step in user apt-packages anaconda conda-env torch-wheels assignments datasets jupyter-password jupyter-cert jupyter-config \
    jupyter-service nvidia-repo nvidia-driver cuda pytorch gpu-persistence ready idle-shutdown verify; do
    assert_json "steps[name=$step].status" '"done"'
  done
  assert_json ready_s "$ready_s"
  assert_eq "guest attribute state" "done" "$(guest state)"
  assert_eq "guest attribute ready" "$ready_s" "$(guest ready)"
  assert_eq "guest attribute jupyter-url" "https://34.82.17.5:8888/" "$(guest jupyter-url)"
  in_chroot /usr/local/bin/cs231n-agent status >"$OUT" 2>"$ERR" </dev/null || true
  assert_contains "status" "; ready after $ready_s s" "$(head -n 1 -- "$OUT")"
  assert_eq "guest attribute error" "" "$(guest error)"

  section "1. the user, conda, the assignments and their datasets"
  grep -q "^$STUDENT:x:[0-9]*:[0-9]*::/home/$STUDENT:/bin/bash\$" "$R/etc/passwd" ||
    fail "/etc/passwd" "expected: a line for $STUDENT with home /home/$STUDENT and /bin/bash" "got:      $(grep "^$STUDENT:" "$R/etc/passwd" || true)"
  uid=$(uid_of "$STUDENT")
  assert_owned "$uid" "$home/$VM_PREFIX" "$home/.jupyter" "$home/cs231n-setup"
  [[ -x $home/$VM_PREFIX/envs/cs231n/bin/python ]] || fail "the conda env cs231n has no bin/python"
  assert_contains "conda env list in the student's login shell" "/home/$STUDENT/$VM_PREFIX/envs/cs231n" \
    "$(user_shell "$STUDENT" 'conda env list')"
  assert_eq "installer runs (ledger)" 1 "$(grep -c $'\tinstaller\t' "$R$COURSE_LEDGER")"
  assert_eq "conda create runs (ledger)" 1 "$(grep -c $'\tconda\tcreate ' "$R$COURSE_LEDGER")"
  assert_datasets
  local file
  for file in "$VM_INSTALLER" cifar-10-python.tar.gz coco_captioning.zip imagenet_val_25.npz; do
    assert_eq "body bytes sent of $file (one whole download)" "$(stat -c %s -- "$FILES_SERVE/$file")" "$(body_bytes "/files/$file")"
  done

  section "1. Jupyter: config, certificate for the metadata's external IP, a real login over HTTPS"
  assert_eq "owner and mode of jupyter_server_config.py" "$uid 600" "$(stat -c '%u %a' -- "$home/.jupyter/jupyter_server_config.py")"
  assert_contains "jupyter_server_config.py" "c.PasswordIdentityProvider.hashed_password = \"$(cat -- "$R$HASH_FILE")\"" \
    "$(cat -- "$home/.jupyter/jupyter_server_config.py")"
  assert_contains "jupyter_notebook_config.py" "c.NotebookApp.password = \"$(cat -- "$R$HASH_FILE")\"" \
    "$(cat -- "$home/.jupyter/jupyter_notebook_config.py")"
  assert_contains "the certificate's subjectAltName" "IP Address:34.82.17.5" \
    "$(openssl x509 -in "$home/.jupyter/certs/jupyter.pem" -noout -ext subjectAltName)"
  assert_eq "owner and mode of the key" "$uid 600" "$(stat -c '%u %a' -- "$home/.jupyter/certs/jupyter.key")"
  # The end state, for scenario 2, before a Jupyter server writes its runtime files in the home.
  vm_snapshot >"$TEST_TMP/vm1.end-state"
  cache_debs
  assert_jupyter_login

  section "1. the GPU: driver, CUDA, torch, persistence"
  assert_eq "cuda-drivers-535" "hold ok installed" "$(gpu_dpkg_status cuda-drivers-535)"
  assert_eq "cuda-toolkit-12-6" "install ok installed" "$(gpu_dpkg_status cuda-toolkit-12-6)"
  assert_contains "persistence mode" Enabled "$(in_chroot nvidia-smi --query-gpu=persistence_mode --format=csv,noheader)"
  # torchvision with torch (assignment 2's PyTorch.ipynb imports it), the one its index has for that torch.
  assert_contains "pip calls (ledger)" "torch==2.15.1+cu126 torchvision --index-url" "$(grep $'\tpip\t' "$R$COURSE_LEDGER")"
  in_chroot /usr/local/bin/cs231n-agent verify --json >"$OUT" 2>"$ERR" </dev/null || fail "cs231n-agent verify" "$(cat -- "$ERR")"
  assert_json ok true
  assert_json "checks[name=torch.cuda].ok" true
  assert_json "checks[name=torchvision].detail" '"torchvision 0.30.1+cu126"'

  section "1. the generated password is in no log, state, output or guest attribute"
  assert_no_password_leak
  scenario_end
}
