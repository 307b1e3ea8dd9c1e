#!/usr/bin/env bash
# Crash safety of `run`, in a chroot overlay (tests/e2e/chroot.sh): a graph of custom steps is
# run over and over and the agent is SIGKILLed at a random moment each time. After every kill the
# state file must parse and be consistent; a step recorded done must never run again; processes
# that a killed run left behind must be ended before their step runs again; and a run to the end
# must leave the same result as an uninterrupted run.
#
# Every step's "run" appends "<step> start <pid>" to a ledger, sleeps, appends "<step> end <pid>"
# and creates its marker; its "check" tests the marker. CS231N_TEST_SEED replays a seed.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"

SEED=${CS231N_TEST_SEED:-$(( $(date +%s%N) % 1000000 ))}
RANDOM=$SEED
echo "random seed: $SEED (CS231N_TEST_SEED=$SEED replays it)"

KILLS_WANTED=30
MAX_TRIALS=80
STEPS=(fetch unpack build docs lint slow package release)

chroot_start "$TEST_TMP/chroot"
chroot_install_agent "$AGENT"

# markers DIR: the marker files in DIR, sorted, space separated.
markers() { find "$1" -mindepth 1 -printf '%f\n' | sort | xargs; }

# seconds MS: "0.123" for 123 ms.
seconds() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# The step sleeps, drawn once from the seed (the config, and so every fingerprint, stays the same
# for the whole test). "slow" sleeps long, so kills often leave it running.
declare -A SLEEP
for step in "${STEPS[@]}"; do SLEEP[$step]=$(seconds $((50 + RANDOM % 351))); done
SLEEP[slow]=1.000

# write_config FILE DIR: the graph, with its ledger at DIR/ledger and markers in DIR/markers.
write_config() {
  local file=$1 dir=$2 sleeps=""
  for step in "${STEPS[@]}"; do sleeps+="$step=${SLEEP[$step]} "; done
  "$PYTHON" - "$file" "$dir" "$sleeps" <<'PY'
import json, sys
path, folder, sleeps = sys.argv[1], sys.argv[2], dict(item.split("=") for item in sys.argv[3].split())
after = {"fetch": [], "unpack": ["fetch"], "build": ["unpack"], "docs": ["fetch"], "lint": [], "slow": [],
         "package": ["build", "docs"], "release": ["package", "lint"]}
steps = []
for name, predecessors in after.items():
    script = (f'echo "{name} start $$" >> {folder}/ledger; sleep {sleeps[name]}; '
              f'echo "{name} end $$" >> {folder}/ledger; touch {folder}/markers/{name}')
    steps.append({"name": name, "after": predecessors, "user": "root",
                  "run": ["sh", "-c", script], "check": ["test", "-e", f"{folder}/markers/{name}"]})
json.dump({"steps": steps}, open(path, "w"), indent=1)
PY
}

ONLY=$(IFS=,; echo "${STEPS[*]}")
mkdir -p "$CHROOT_ROOT/root/ref/markers" "$CHROOT_ROOT/root/crash/markers"
write_config "$CHROOT_ROOT/root/ref.json" /root/ref
write_config "$CHROOT_ROOT/root/crash.json" /root/crash
LEDGER=$CHROOT_ROOT/root/crash/ledger
STATE=$CHROOT_ROOT/var/lib/crash/state.json
: >"$LEDGER"

# state_summary FILE: checks that the state file parses and is consistent, and prints the steps
# recorded done (space separated). Exits 1 with the problem otherwise.
STATE_PY='
import json, sys
after = {"fetch": [], "unpack": ["fetch"], "build": ["unpack"], "docs": ["fetch"], "lint": [], "slow": [],
         "package": ["build", "docs"], "release": ["package", "lint"]}
try:
    state = json.load(open(sys.argv[1]))
except ValueError as error:
    print("state.json does not parse: %s" % error)
    sys.exit(1)
steps = state["steps"]
done = sorted(name for name, record in steps.items() if record["status"] == "done")
for name in done:
    for predecessor in after[name]:
        if steps.get(predecessor, {}).get("status") != "done":
            print("%s is recorded done but its predecessor %s is %s" % (name, predecessor, steps.get(predecessor, {}).get("status")))
            sys.exit(1)
print(" ".join(done))
'

section "an uninterrupted run (the reference)"
chroot_agent run --config /root/ref.json --only "$ONLY" --yes --state-dir /var/lib/ref
assert_rc 0
REF_DONE=$("$PYTHON" -c "$STATE_PY" "$CHROOT_ROOT/var/lib/ref/state.json") || fail "reference state" "$REF_DONE"
assert_eq "steps done by an uninterrupted run" "$(printf '%s\n' "${STEPS[@]}" | sort | xargs)" "$REF_DONE"
REF_MARKERS=$(markers "$CHROOT_ROOT/root/ref/markers")
for step in "${STEPS[@]}"; do
  assert_eq "times $step started in an uninterrupted run" 1 "$(grep -c "^$step start " "$CHROOT_ROOT/root/ref/ledger")"
done

section "SIGKILL at random moments"
KILLS=0
EPOCH=0
TRIALS=0
: >"$TEST_TMP/kills"
: >"$TEST_TMP/ended"
while ((KILLS < KILLS_WANTED)); do
  ((TRIALS += 1))
  ((TRIALS <= MAX_TRIALS)) || fail "only $KILLS kills in $MAX_TRIALS trials: runs end before the kill"
  trial_started=$EPOCHREALTIME
  delay=$(seconds $((50 + RANDOM % 1450)))
  chroot_spawn "$TEST_TMP/trial.out" "$TEST_TMP/trial.err" /root/cs231n-agent run --config /root/crash.json --only "$ONLY" \
    --yes --state-dir /var/lib/crash
  pid=$CHROOT_PID
  sleep "$delay"
  kill -KILL "$pid" 2>/dev/null || true
  set +e
  { wait "$pid"; } 2>/dev/null  # not bash's "Killed" line
  status=$?
  set -e
  LAST_CMD="(chroot) cs231n-agent run --config /root/crash.json --only $ONLY --yes --state-dir /var/lib/crash (trial $TRIALS, killed after $delay s)"
  RC=$status
  cp -- "$TEST_TMP/trial.out" "$OUT"
  cp -- "$TEST_TMP/trial.err" "$ERR"
  grep -h 'left behind by step' "$ERR" >>"$TEST_TMP/ended" || true
  if ((status == 137)); then
    ((KILLS += 1))
    ledger_lines=$(wc -l <"$LEDGER")
    if [[ -e $STATE ]]; then
      done_steps=$("$PYTHON" -c "$STATE_PY" "$STATE") || fail "state after kill $KILLS (trial $TRIALS, after $delay s)" "$done_steps"
    else
      # Killed before the first state was written: only possible before any step ran.
      assert_eq "ledger lines of this epoch before its first state file" 0 \
        "$(awk '/^epoch /{n = 0; next} {n++} END {print n + 0}' "$LEDGER")"
      done_steps=""
    fi
    printf '%s %s %s\n' "$EPOCH" "$ledger_lines" "$done_steps" >>"$TEST_TMP/kills"
    printf "  kill %2d after %s s: done: %s (trial took %s s)\n" "$KILLS" "$delay" "${done_steps:-(none)}" "$(seconds $(((${EPOCHREALTIME/./} - ${trial_started/./}) / 1000)))"
  elif ((status == 0)); then
    # The run ended before the kill: check it, then start over so the kills go on hitting steps.
    done_steps=$("$PYTHON" -c "$STATE_PY" "$STATE") || fail "state after a completed run" "$done_steps"
    assert_eq "steps done after a completed run (epoch $EPOCH)" "$REF_DONE" "$done_steps"
    assert_eq "markers after a completed run (epoch $EPOCH)" "$REF_MARKERS" "$(markers "$CHROOT_ROOT/root/crash/markers")"
    printf '  run completed within %s s: starting over (epoch %d)\n' "$delay" $((EPOCH + 1))
    chroot_agent reset --all --state-dir /var/lib/crash
    assert_rc 0
    rm -f -- "$CHROOT_ROOT/root/crash/markers/"*
    ((EPOCH += 1))
    echo "epoch $EPOCH" >>"$LEDGER"
  else
    fail "a run that was not killed must succeed"
  fi
done
echo "$KILLS kills in $TRIALS trials, $EPOCH completed runs"

section "a run to the end after the kills"
chroot_agent run --config /root/crash.json --only "$ONLY" --yes --state-dir /var/lib/crash
assert_rc 0
JSON_FILE=$STATE assert_json run.state '"done"'
done_steps=$("$PYTHON" -c "$STATE_PY" "$STATE") || fail "final state" "$done_steps"
assert_eq "steps done (as in the uninterrupted run)" "$REF_DONE" "$done_steps"
assert_eq "markers (as in the uninterrupted run)" "$REF_MARKERS" "$(markers "$CHROOT_ROOT/root/crash/markers")"
corrupt=$(find "$CHROOT_ROOT/var/lib/crash" -name 'state.json.corrupt-*')
assert_eq "state files moved aside as corrupt" "" "$corrupt"
echo "temp files that killed state writes left behind: $(find "$CHROOT_ROOT/var/lib/crash" -name '.state.json.tmp.*' | wc -l)"

section "left-behind processes"
# Anything a killed run left running and that was not ended would append its "end" line later.
ledger_before=$(cat -- "$LEDGER")
sleep "$(seconds $((${SLEEP[slow]%.*} * 1000 + 300)))"
assert_eq "ledger lines written after the final run ended" "$ledger_before" "$(cat -- "$LEDGER")"
assert_eq "processes left in the chroot" "" "$(chroot_pids | xargs)"

ended=$(grep -c . "$TEST_TMP/ended" || true)
echo "runs ended processes that killed runs had left behind $ended time(s)"
((ended > 0)) || fail "no run ever found processes left behind by a killed run: the kills never hit a running step"

section "the ledger"
problems=$("$PYTHON" - "$LEDGER" "$TEST_TMP/kills" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
problems = []
# Epoch boundaries: line indexes of "epoch N".
epoch_start = {0: 0}
for index, line in enumerate(lines):
    if line.startswith("epoch "):
        epoch_start[int(line.split()[1])] = index + 1
def epoch_end(epoch):
    return epoch_start.get(epoch + 1, len(lines))
# 1. A step recorded done at a kill never started again in that epoch.
for kill, entry in enumerate(open(sys.argv[2]).read().splitlines(), 1):
    fields = entry.split()
    epoch, length, done = int(fields[0]), int(fields[1]), set(fields[2:])
    for index in range(length, epoch_end(epoch)):
        words = lines[index].split()
        if len(words) == 3 and words[1] == "start" and words[0] in done:
            problems.append("kill %d: %s was recorded done, yet started again (ledger line %d: %r)"
                            % (kill, words[0], index + 1, lines[index]))
# 2. No two runs of a step overlap: between "S start P" and "S end P" no other "S start".
open_runs = {}
for index, line in enumerate(lines):
    words = line.split()
    if len(words) != 3:
        open_runs.clear()
        continue
    step, what, pid = words
    if what == "start":
        open_runs.setdefault(step, {})[pid] = index
    else:
        started = open_runs.get(step, {}).get(pid)
        if started is None:
            problems.append("ledger line %d: %r without its start" % (index + 1, line))
            continue
        later = [other for other, at in open_runs[step].items() if at > started]
        if later:
            problems.append("%s (pid %s) finished at ledger line %d after the step had started again (pid %s): "
                            "a killed run's process was not ended" % (step, pid, index + 1, later[0]))
        del open_runs[step][pid]
print("\n".join(problems[:10]))
PY
)
[[ -z $problems ]] || fail "ledger of $KILLS kills (seed $SEED)" "$problems" "ledger: $(wc -l <"$LEDGER") lines in $LEDGER"
echo "ok: $KILLS kills, $(grep -c ' start ' "$LEDGER") step starts, no step ran again after done, no stale processes"
