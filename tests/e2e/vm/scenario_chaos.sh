# shellcheck shell=bash
# Scenario 2 of tests/e2e/vm/run.sh, chaos: a fresh VM whose boots are SIGKILLed at random moments
# (one while apt-get or dpkg runs; some kill only the agent, some the whole VM, which then
# reboots), with a download cut mid-way and a burst of HTTP 503; booted again until done: the
# same end state as scenario 1's, no step recorded done ran again, no verified file downloaded
# again. E2E_SEED replays a kill plan.

SEED=${E2E_SEED:-$(($(date +%s%N) % 1000000))}
MARKS=$TEST_TMP/chaos-marks.jsonl
KILLS_LANDED=()

# vm_pids_of NAME...: the VM's processes running a binary called one of NAMEs ("PID NAME" lines).
vm_pids_of() {
  local pid exe name
  for pid in $(chroot_pids); do
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
    exe=${exe% (deleted)}
    for name in "$@"; do
      if [[ ${exe##*/} == "$name" ]]; then printf '%s %s\n' "$pid" "$name"; fi
    done
  done
}

# agent_run_pids: the VM's `cs231n-agent run` processes (not `version`, which the script also runs).
agent_run_pids() {
  local pid name
  while read -r pid name; do
    [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *" run "* ]] && printf '%s\n' "$pid"
  done < <(vm_pids_of cs231n-agent)
  return 0
}

# The steps a step-triggered kill aims at, in the order of the plan (the others are done in a
# blink, or last).
KILL_TARGETS=(apt-packages anaconda conda-env assignments datasets jupyter-password jupyter-cert nvidia-repo nvidia-driver cuda
  pytorch gpu-persistence)

# steps_not_done: the KILL_TARGETS not recorded done yet.
steps_not_done() {
  "$PYTHON" - "$R$STATE_DIR/state.json" "${KILL_TARGETS[@]}" <<'PY'
import json, sys
try:
    steps = json.load(open(sys.argv[1]))["steps"]
except (OSError, ValueError, KeyError):
    steps = {}
print(" ".join(name for name in sys.argv[2:] if steps.get(name, {}).get("status") != "done"))
PY
}

# chaos_mark WHAT: after a boot, what is recorded done (with its attempts), which downloads are
# verified and which are only complete, with the file server's last request number: nothing
# verified must be fetched again. A download is renamed into the cache once complete (and checked
# against its checksum when it has one); one without a published checksum is verified once its
# sha256 is pinned (datasets/pins.json).
chaos_mark() {
  curl -sS --noproxy '*' "$FILES_BASE/_idle" >/dev/null
  "$PYTHON" - "$R" "$STATE_DIR/state.json" "$FILES_LOG" "$BOOT_NUMBER" "$1" "$VM_INSTALLER" "$COURSE_LEDGER" >>"$MARKS" <<'PY'
import glob, json, os, sys
root, state_path, log, boot, what, installer, ledger = sys.argv[1:8]
cache = root + "/var/cache/cs231n-agent"
try:
    state = json.load(open(root + state_path))
except FileNotFoundError:
    state = {"steps": {}, "run": {"state": "not-started"}}
try:
    pinned = {url.split("?")[0].rsplit("/", 1)[1] for url in json.load(open(cache + "/datasets/pins.json"))}
except FileNotFoundError:
    pinned = set()
done = {name: record.get("attempts", 0) for name, record in state["steps"].items() if record["status"] == "done"}
complete = [os.path.basename(path).split("-", 1)[1] for path in glob.glob(cache + "/datasets/*-*")
            if not path.endswith((".part", ".json"))]
if os.path.exists(cache + "/" + installer):
    complete.append(installer)
# The installer and two of the datasets have checksums in the config; imagenet_val_25.npz has none.
verified = [name for name in complete if name != "imagenet_val_25.npz" or name in pinned]
seq = max((json.loads(line)["seq"] for line in open(log)), default=0)
# The stand-in conda's ledger: how often the installer, conda create and pip install ran so far.
calls = [line.split("\t") for line in open(root + ledger).read().splitlines()]
ran = {step: sum(1 for fields in calls if fields[1] == kind and fields[2].startswith(words))
       for step, kind, words in (("anaconda", "installer", ""), ("conda-env", "conda", "create "), ("pytorch", "pip", "install "))}
print(json.dumps({"boot": int(boot), "what": what, "state": state["run"]["state"], "done": done, "verified": sorted(verified),
                  "unpinned": sorted(set(complete) - set(verified)), "seq": seq, "ran": ran}))
PY
}

# chaos_boot KIND TRIGGER ARG DELAY-MS: boots the VM in the background and, at the trigger, SIGKILLs
# the agent's run (KIND agent: its children live on, as after the OOM killer) or every process of
# the VM (KIND vm: a power loss; the VM then reboots). TRIGGER: `time` (ARG ms after the boot
# started), `step` (DELAY ms after step ARG started), `apt` (the ARG-th apt-get or dpkg process of
# this boot, if it still runs DELAY ms later). Sets KILLED (what was killed, or empty when the
# boot ended first) and RC; KIND none: no kill.
# shellcheck disable=SC2034,SC2153  # LAST_CMD is tests/e2e/lib.sh's, BOOTS vm/lib.sh's
chaos_boot() {
  local kind=$1 trigger=$2 arg=$3 delay=$4 pid started fired="" apt_seen=0 line err command_line
  local -A seen=()
  BOOT_NUMBER=$((BOOT_NUMBER + 1))
  err=$BOOTS/$BOOT_NUMBER.err
  started=$EPOCHREALTIME
  chroot_spawn "$BOOTS/$BOOT_NUMBER.out" "$err" /bin/sh -c "$BOOT_RUNNER"
  pid=$CHROOT_PID
  KILLED=""
  while [[ $kind != none && -z $fired ]] && kill -0 "$pid" 2>/dev/null; do
    case $trigger in
      time) (($(elapsed_ms "$started") < arg)) || fired="$arg ms after the boot started" ;;
      step)
        if grep -qE "^[0-9T:-]+ cs231n-agent: info: $arg: started" "$err"; then
          sleep "$(ms_to_s "$delay")"
          fired="$delay ms after step $arg started"
        fi
        ;;
      apt)
        while read -r line; do
          [[ -n $line && -z ${seen[${line%% *}]:-} ]] || continue
          seen[${line%% *}]=1
          apt_seen=$((apt_seen + 1))
          ((apt_seen >= arg)) || continue
          sleep "$(ms_to_s "$delay")"
          # Short-lived (dpkg --unpack of one group): it may be gone by now, which is no firing.
          if command_line=$(tr '\0' ' ' 2>/dev/null <"/proc/${line%% *}/cmdline") && [[ -n $command_line ]]; then
            fired="while ${line#* } ran (${command_line:0:80}), $delay ms after it started"
          fi
          break
        done < <(vm_pids_of apt-get dpkg)
        ;;
    esac
    [[ -n $fired ]] || sleep 0.01
  done
  if [[ -n $fired ]] && kill -0 "$pid" 2>/dev/null; then
    case $kind in
      agent)
        local agents
        agents=$(agent_run_pids | xargs)
        if [[ -n $agents ]]; then
          # shellcheck disable=SC2086  # one pid or several
          kill -KILL $agents 2>/dev/null || true
          KILLED="the agent $fired"
        fi
        ;;
      vm)
        chroot_kill_all
        KILLED="the whole VM $fired"
        ;;
    esac
  fi
  set +e
  { wait "$pid"; } 2>/dev/null
  RC=$?
  set -e
  if [[ $kind == agent && -n $KILLED ]]; then
    local left
    left=$(vm_pids_of apt-get dpkg http https git conda python sh bash nvidia-smi modprobe | cut -d' ' -f2 | sort -u | xargs)
    KILLED+="; left running: ${left:-nothing}"
  fi
  cp -- "$BOOTS/$BOOT_NUMBER.out" "$OUT"
  cp -- "$err" "$ERR"
  LAST_CMD="(VM boot $BOOT_NUMBER, chaos: $kind $trigger $arg +${delay}ms, seed $SEED) startup-script"
  if [[ $kind == vm && -n $KILLED ]]; then gpu_fake_reboot; fi
  return 0
}

elapsed_ms() {
  local now=$EPOCHREALTIME
  echo $(((${now/./} - ${1/./}) / 1000))
}
ms_to_s() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

scenario_chaos() {
  scenario_start 2 "chaos, seed $SEED"
  printf '   E2E_SEED=%s replays this kill plan\n' "$SEED"
  RANDOM=$SEED
  vm_create vm2
  # One dataset is cut off mid-way once; another meets a burst of three 503s (1 + 2 + 4 s of
  # backoff, in which kills can land).
  write_metadata 2222 34.82.17.6 "{}" '{"cifar-10-python.tar.gz": "cut=300000&cut_times=1", "coco_captioning.zip": "fail=503&fail_times=3"}'
  : >"$MARKS"
  local first_seq
  curl -sS --noproxy '*' "$FILES_BASE/_idle" >/dev/null
  first_seq=$("$PYTHON" -c 'import json, sys; print(max((json.loads(line)["seq"] for line in open(sys.argv[1])), default=0))' "$FILES_LOG")

  # The kill plan: first one while apt-get or dpkg runs, then five in random order: two at a
  # random time after a boot started, three shortly after one of the next steps not done yet
  # started (drawn when the kill comes up). Each kills the agent or the whole VM (at least one of
  # each). A kill whose boot ends first waits for the next boot (a timed one then at a step).
  local plan=() kinds=(agent vm) kind first_kind=$((RANDOM % 2)) index order other swap
  plan+=("${kinds[first_kind]} apt $((1 + RANDOM % 4)) $((RANDOM % 150))")
  order=(time time step step step)
  for ((index = ${#order[@]} - 1; index > 0; index--)); do
    other=$((RANDOM % (index + 1)))
    swap=${order[index]} order[index]=${order[other]} order[other]=$swap
  done
  for index in "${!order[@]}"; do
    kind=${kinds[RANDOM % 2]}
    ((index > 0)) || kind=${kinds[1 - first_kind]}
    case ${order[index]} in
      time) plan+=("$kind time $((100 + RANDOM % 1400)) 0") ;;
      step) plan+=("$kind step ? $((RANDOM % 150))") ;;
    esac
  done
  printf '   kill plan: %s\n' "$(printf '[%s] ' "${plan[@]}")"

  section "2. boots, killed at random moments, until the run is done"
  local boots=0 next=0 trigger arg delay state_now apt_landed=0 targets
  while :; do
    ((++boots <= 25)) || fail "the run is not done after 25 boots (seed $SEED)"
    if ((next < ${#plan[@]})); then
      read -r kind trigger arg delay <<<"${plan[next]}"
      if [[ $arg == "?" ]]; then
        # One of the next three steps not done yet, in the order of the plan: kills spread over
        # the whole run instead of jumping to its end.
        read -r -a targets <<<"$(steps_not_done)"
        ((${#targets[@]})) || targets=(gpu-persistence)
        targets=("${targets[@]:0:3}")
        arg=${targets[RANDOM % ${#targets[@]}]}
        plan[next]="$kind $trigger $arg $delay"
      fi
    else
      kind=none trigger=none arg=0 delay=0
    fi
    chaos_boot "$kind" "$trigger" "$arg" "$delay"
    state_now=$(state_json run.state)
    if [[ -n $KILLED ]]; then
      # A kill after the agent finished (the script was ending) does not count as one in the run.
      [[ $state_now == "done" ]] || KILLS_LANDED+=("boot $BOOT_NUMBER: killed $KILLED (run state then: $state_now)")
      printf '   boot %d: killed %s (the run then: %s)\n' "$BOOT_NUMBER" "$KILLED" "$state_now"
      [[ $trigger != apt ]] || apt_landed=1
      next=$((next + 1))
      chaos_mark "killed"
      continue
    fi
    # Not reached in this boot: in the next one, at its first apt-get or dpkg, or (a time the run
    # was quicker than) at the start of a step not done yet, which lands as long as steps remain.
    case $trigger in
      apt) plan[next]="$kind apt 1 $delay" ;;
      time) plan[next]="$kind step ? 0" ;;
    esac
    printf '   boot %d: ended by itself, exit %s, run %s\n' "$BOOT_NUMBER" "$RC" "$state_now"
    chaos_mark "ended"
    # A boot the harness did not kill hands on the run's own outcome (3 and 5 become 0).
    assert_rc 0
    case $state_now in
      done) break ;;
      reboot-pending) gpu_fake_reboot ;;
      *) fail "a boot that was not killed left the run $state_now (seed $SEED)" ;;
    esac
  done
  printf '   %d boots, %d kills landed during the run\n' "$((boots))" "${#KILLS_LANDED[@]}"
  ((apt_landed)) || fail "no kill landed while apt-get or dpkg ran (seed $SEED)"
  ((${#KILLS_LANDED[@]} >= 4)) || fail "only ${#KILLS_LANDED[@]} kills landed (seed $SEED)" "${KILLS_LANDED[@]}"
  assert_contains "the last boot's summary" "Jupyter: https://34.82.17.6:8888/" "$(cat -- "$OUT")"
  agent_status
  assert_rc 0
  assert_json state '"done"'
  assert_eq "guest attribute state" "done" "$(guest state)"
  assert_eq "processes left in the VM" "" "$(chroot_pids | xargs)"

  section "2. the end state equals scenario 1's"
  vm_snapshot >"$TEST_TMP/vm2.end-state"
  local difference
  if ! difference=$(diff -- "$TEST_TMP/vm1.end-state" "$TEST_TMP/vm2.end-state"); then
    fail "the VM after the kills differs from scenario 1's (seed $SEED; < scenario 1, > scenario 2)" "$(head -n 40 <<<"$difference")"
  fi
  assert_datasets

  section "2. nothing recorded done ran again; no verified file was downloaded again; one cut, one 503 burst"
  local problems
  problems=$("$PYTHON" - "$MARKS" "$R$STATE_DIR/state.json" "$FILES_LOG" "$first_seq" <<'PY'
import json, sys
marks = [json.loads(line) for line in open(sys.argv[1])]
final = json.load(open(sys.argv[2]))["steps"]
# This scenario's requests only.
log = sorted((entry for entry in map(json.loads, open(sys.argv[3])) if entry["seq"] > int(sys.argv[4])), key=lambda entry: entry["seq"])
problems, notes = [], []
def gets(name, after=0):
    return [entry for entry in log if entry["seq"] > after and entry["method"] == "GET" and entry["path"] == "/files/" + name]
def killed_between(first, last):
    return any(mark["what"] == "killed" and first <= mark["seq"] < last for mark in marks)
# Recorded done: never applied again. gpu-persistence is the exception by design: persistence mode
# does not survive a reboot, and a run checks it again.
for mark in marks:
    for step, attempts in mark["done"].items():
        if step != "gpu-persistence" and final[step]["attempts"] != attempts:
            problems.append("%s was done with %d attempt(s) after boot %d, and has %d at the end"
                            % (step, attempts, mark["boot"], final[step]["attempts"]))
    for name in mark["verified"]:
        if gets(name, mark["seq"]):
            problems.append("%s was verified after boot %d, yet fetched again: %s" % (name, mark["boot"], gets(name, mark["seq"])[0]))
# A file without a published checksum is pinned the moment it is complete (steps/datasets.cpp):
# once complete, it is never downloaded again.
unpinned = sorted({name for mark in marks for name in mark["unpinned"]})
for name in unpinned:
    whole = [entry for entry in gets(name) if entry["range"] != "bytes=0-0" and not entry.get("error")]
    if len(whole) > 1:
        problems.append("%s (no published checksum) was downloaded whole %d times: it was not pinned when it was complete"
                        % (name, len(whole)))
# One cut: the next request for that segment resumes at the byte where it stopped (the sidecar is
# written when a round of transfers ends, so even across a kill), unless a kill came before that.
cifar = gets("cifar-10-python.tar.gz")
cuts = [entry for entry in cifar if entry.get("cut")]
# A kill in the first milliseconds of the download can end the response the server meant to cut
# before it got to the cut (the fault is spent then).
spent = [entry for entry in cifar if entry.get("error") and entry["bytes"] < 300000 and entry["range"] != "bytes=0-0"]
if not cuts and spent:
    notes.append("the response meant to be cut was ended by a kill after %d bytes, before the cut" % spent[0]["bytes"])
elif len(cuts) != 1:
    problems.append("%d responses of cifar-10-python.tar.gz were cut, not 1" % len(cuts))
else:
    cut = cuts[0]
    start, end = (int(number) for number in cut["range"].split("=")[1].split("-"))
    following = [entry for entry in cifar if entry["seq"] > cut["seq"] and entry["range"] and entry["range"] != "bytes=0-0"
                 and start <= int(entry["range"].split("=")[1].split("-")[0]) <= end]
    across = " in the next boot, after a kill" if following and killed_between(cut["seq"], following[0]["seq"]) else ""
    if not following:
        problems.append("the cut segment %s of cifar-10-python.tar.gz was never asked for again" % cut["range"])
    elif following[0]["range"].startswith("bytes=%d-" % (start + cut["bytes"])):
        notes.append("the cut segment %s resumed at byte %d%s" % (cut["range"], start + cut["bytes"], across))
    elif across:
        notes.append("the cut download was killed before its sidecar was saved; the next boot asked for %s" % following[0]["range"])
    else:
        problems.append("the cut segment %s (cut after %d bytes) was asked for again as %s, not resumed"
                        % (cut["range"], cut["bytes"], following[0]["range"]))
failures = [entry for entry in gets("coco_captioning.zip") if entry["status"] == 503]
if len(failures) != 3:
    problems.append("%d answers 503 for coco_captioning.zip, not 3" % len(failures))
# The stand-in conda's ledger: the installer, conda create and pip install never ran again once
# their step was recorded done.
for step, runs in marks[-1]["ran"].items():
    if runs < 1:
        problems.append("step %s never ran its command (ledger)" % step)
    for mark in marks:
        if step in mark["done"] and mark["ran"][step] != runs:
            problems.append("step %s was done after boot %d with its command run %d time(s), and ran it %d time(s) in all"
                            % (step, mark["boot"], mark["ran"][step], runs))
    if runs > final[step]["attempts"]:
        problems.append("step %s ran its command %d time(s) (ledger) but records %d attempt(s): every apply must be counted"
                        % (step, runs, final[step]["attempts"]))
print("\n".join(problems))
sent = sum(entry["bytes"] for entry in cifar if entry["range"] != "bytes=0-0")
notes.append("cifar-10-python.tar.gz: %d requests, %d body bytes; coco_captioning.zip: %d x 503" % (len(cifar), sent, len(failures)))
notes.append("steps applied more than once (each time unfinished): " + (", ".join(
    "%s %d" % (name, record["attempts"]) for name, record in sorted(final.items()) if record["attempts"] > 1) or "none"))
for note in notes:
    print("   " + note, file=sys.stderr)
PY
)
  [[ -z $problems ]] || fail "no work done twice (seed $SEED)" "$problems" "kills: $(printf '%s; ' "${KILLS_LANDED[@]}")"
  assert_no_password_leak
  scenario_end
}
