#!/usr/bin/env bash
# `plan` on the fixture roots: the profile it picks, what each step would do and why, refusals
# and their exit status, custom steps, and that planning changes nothing in the root.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

# plan_root EXPECTED-RC DIR [ARG...]: plan (table) and plan --json on DIR; both must exit with
# EXPECTED-RC, print nothing on stderr and leave DIR untouched. $OUT keeps the JSON, and
# $TEST_TMP/table the table.
plan_root() {
  local expected_rc=$1 root=$2
  shift 2
  take_snapshot "$root" plan
  run_agent plan --root "$root" "$@"
  assert_rc "$expected_rc"
  assert_stderr_empty
  assert_plan_table_aligned
  cp -- "$OUT" "$TEST_TMP/table"
  run_agent plan --json --root "$root" "$@"
  assert_rc "$expected_rc"
  assert_stderr_empty
  assert_plan_consistent
  assert_unchanged "$root" plan
}

# assert_plan_consistent: properties every plan --json must have. Every step comes after the
# steps in its "after" list; a step that runs says what it does; a step that does not run says why.
assert_plan_consistent() {
  local problem
  problem=$("$PYTHON" - "$OUT" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
seen = []
for step in plan["steps"]:
    for predecessor in step["after"]:
        if predecessor not in seen:
            print("step %s is listed before %s, which it comes after" % (step["name"], predecessor))
    if step["action"] not in ("run", "done", "skip", "refuse"):
        print("step %s has action %r" % (step["name"], step["action"]))
    if step["action"] == "run" and not step["summary"]:
        print("step %s runs but does not say what it does" % step["name"])
    if step["action"] != "run" and not step["reason"]:
        print("step %s is %s without a reason" % (step["name"], step["action"]))
    seen.append(step["name"])
if len(set(seen)) != len(seen):
    print("a step is listed twice: %s" % seen)
for name in ("user", "apt-packages", "anaconda", "conda-env", "torch-wheels", "assignments", "datasets", "jupyter-password",
             "jupyter-cert", "jupyter-config", "jupyter-service", "nvidia-repo", "nvidia-driver", "cuda",
             "pytorch", "gpu-persistence", "ready", "idle-shutdown", "verify"):
    if name not in seen:
        print("the built-in step %s is missing" % name)
# The expected order: chains of steps that would run, in plan order, to ready (when it runs) and to done.
actions = {step["name"]: step["action"] for step in plan["steps"]}
paths = plan["critical_path"]
for target, path in paths.items():
    names = [entry["name"] for entry in path["steps"]]
    if any(actions[name] != "run" for name in names):
        print("the critical path to %s has a step that would not run: %s" % (target, names))
    if names != sorted(names, key=seen.index):
        print("the critical path to %s is not in plan order: %s" % (target, names))
if actions["ready"] == "run" and [entry["name"] for entry in paths["ready"]["steps"]][-1:] != ["ready"]:
    print("the critical path to ready does not end at ready: %s" % paths["ready"])
if "done" not in paths:
    print("no critical path to done")
PY
)
  [[ -z $problem ]] || fail "plan consistency" "$problem"
}

# step NAME ACTION [NEEDLE...]: step NAME has ACTION, and its summary (run) or reason (otherwise)
# contains every NEEDLE.
step() {
  local name=$1 action=$2 field
  shift 2
  assert_json "steps[name=$name].action" "\"$action\""
  field=reason
  [[ $action == run ]] && field=summary
  [[ $# -eq 0 ]] || assert_json_contains "steps[name=$name].$field" "$@"
}

# table_row NAME: the row of step NAME in the last plan table.
table_row() {
  grep -E "^$1 +(run|done|skip|refuse) " -- "$TEST_TMP/table" || echo "<no row for step $1>"
}

GPU_STEPS=(nvidia-repo nvidia-driver cuda gpu-persistence)

# ---------------------------------------------------------------------------------------------
section "plan ubuntu1604-gce-t4 without a cuda-keyring sha256: nvidia-repo refused, naming the key to set"
# No public source gives the sha256 of ubuntu1604's keyring package: it is not installed on TLS alone.
plan_root 4 "$ROOTS/ubuntu1604-gce-t4"
step nvidia-repo refuse "no sha256 is known for NVIDIA's cuda-keyring of the ubuntu1604 repository" \
  "set gpu.keyring_sha256" "ubuntu1604/cuda-keyring_1.1-1_all.deb" "ubuntu1604/cuda-keyring_1.0-1_all.deb"
step cuda skip "nvidia-repo"

section "plan ubuntu1604-gce-t4 (its keyring pinned in the config): auto picks the seed profile, the GPU path runs with CUDA 10.0"
plan_root 0 "$ROOTS/ubuntu1604-gce-t4" --config "$CONFIGS/valid-keyring-pin.json"
assert_json profile.name '"seed"'
assert_json profile.requested '"auto"'
assert_json_contains profile.reason "Ubuntu 16.04"
assert_json refusal null
step user "done" "student"
# bzip2 and git are installed; unzip was removed (config files left) and ca-certificates is absent.
step apt-packages run "ca-certificates" "unzip"
assert_json_not_contains "steps[name=apt-packages].summary" "bzip2"
assert_json_not_contains "steps[name=apt-packages].summary" "git"
step anaconda run "Anaconda3-2018.12" "/home/student/anaconda3"
step conda-env run "the pins of anaconda=2018.12 for python 3.6"
step assignments run "/home/student/"
step jupyter-cert run "cs231n-t4" "/home/student/.jupyter"
step jupyter-config run "port 8888"
step nvidia-repo run "ubuntu1604"
step nvidia-driver run "Tesla T4" "nouveau" "4.15.0-1098-gcp"
step cuda run "10.0"
step pytorch run "1.2.0" "CUDA 10.0"
step gpu-persistence run
step idle-shutdown run "60"
step verify run "nvidia-smi"
assert_json config.gpu.cuda '"10.0"'
assert_json config.conda_env.python '"3.6"'
assert_contains "first line of the table" "Profile: seed (auto: Ubuntu 16.04" "$(head -n 1 -- "$TEST_TMP/table")"
assert_contains "cuda row" "run" "$(table_row cuda)"
assert_contains "cuda row" "CUDA 10.0" "$(table_row cuda)"
assert_not_contains "table" "Refused:" "$(cat -- "$TEST_TMP/table")"

section "plan ubuntu1604-gce-t4 with profile current set in the config: no torch for CUDA 10.0 and Python 3.12"
plan_root 4 "$ROOTS/ubuntu1604-gce-t4" --config "$CONFIGS/valid-profile-current.json"
assert_json profile '{"name": "current", "requested": "current", "reason": "set in the config"}'
step anaconda run "Miniforge3-26.7.2-0" "/home/student/miniforge3"
step conda-env run "python=3.12"
step nvidia-repo refuse "no CUDA 10.0 torch build has a wheel for Python 3.12; set conda_env.python to \"3.7\" (here: CUDA 10.0, driver 460, torch 1.4.0+cu100)"
step pytorch skip "nvidia-repo"
step gpu-persistence skip "nvidia-repo"
step idle-shutdown skip "idle_shutdown.enabled"

# ---------------------------------------------------------------------------------------------
section "plan ubuntu2204-nogpu: current profile, no GPU path, base packages and conda already there"
plan_root 0 "$ROOTS/ubuntu2204-nogpu"
assert_json profile.name '"current"'
assert_json profile.requested '"auto"'
assert_json_contains profile.reason "Ubuntu 22.04"
assert_json refusal null
step user "done" "ubuntu"
step apt-packages "done" "installed"
# A Miniconda is there in ~/miniconda3, but the current profile's conda is Miniforge in ~/miniforge3:
# the step would install it.
step anaconda run "Miniforge3-26.7.2-0" "/home/ubuntu/miniforge3"
step conda-env run "python=3.12"
for name in "${GPU_STEPS[@]}"; do
  step "$name" skip "no NVIDIA GPU"
done
step pytorch run "CPU"
step verify run
assert_json_not_contains "steps[name=verify].summary" "nvidia-smi"
step idle-shutdown run
assert_contains "cuda row" "skip" "$(table_row cuda)"
assert_contains "cuda row" "no NVIDIA GPU" "$(table_row cuda)"
assert_contains "apt-packages row" "done" "$(table_row apt-packages)"

section "plan ubuntu2204-nogpu with profile seed set in the config"
plan_root 0 "$ROOTS/ubuntu2204-nogpu" --config "$CONFIGS/valid-profile-seed.json"
assert_json profile '{"name": "seed", "requested": "seed", "reason": "set in the config"}'
# Miniconda in ~/miniconda3 is not the seed profile's ~/anaconda3.
step anaconda run "Anaconda3-2018.12" "/home/ubuntu/anaconda3"
step conda-env run "the pins of anaconda=2018.12 for python 3.6"
step cuda skip "no NVIDIA GPU"

# ---------------------------------------------------------------------------------------------
section "plan ubuntu2204-l4-secureboot: the GPU path with a CUDA for 22.04 and signed modules"
plan_root 0 "$ROOTS/ubuntu2204-l4-secureboot"
assert_json profile.name '"current"'
step nvidia-repo run "ubuntu2204"
step nvidia-driver run "L4" "Secure Boot"
assert_json_not_contains "steps[name=nvidia-driver].summary" "nouveau"
step cuda run "CUDA 1"
# The L4 needs CUDA 11.8 or newer, and NVIDIA has no CUDA 10.0 for Ubuntu 22.04.
assert_json_not_contains "steps[name=cuda].summary" "10.0"
step pytorch run "CUDA 1"
step apt-packages run "git" "unzip"

# ---------------------------------------------------------------------------------------------
section "plan ubuntu2204-k80 (a GCE VM): the K80 is retired from GCE, so the GPU path is refused and the rest runs"
# Also with gpu.cuda 10.0: the retirement is said first, whatever the config asks.
for config in "" "$CONFIGS/valid-k80-cuda10.json"; do
  plan_root 4 "$ROOTS/ubuntu2204-k80" ${config:+--config "$config"}
  assert_json refusal null
  refused=$(json_raw 'steps' | "$PYTHON" -c '
import json, sys
print(" ".join(step["name"] for step in json.load(sys.stdin) if step["action"] == "refuse"))')
  case $refused in
    nvidia-repo | nvidia-driver | cuda) ;;
    *) fail "refused steps" "expected: exactly one step of the GPU path (nvidia-repo, nvidia-driver or cuda)" "got:      '$refused'" ;;
  esac
  step "$refused" refuse "Tesla K80 is retired from Compute Engine" "k80-eol"
  for name in cuda nvidia-driver pytorch gpu-persistence verify; do
    [[ $name == "$refused" ]] && continue
    step "$name" skip "$refused"
  done
  for name in anaconda conda-env assignments datasets jupyter-password jupyter-cert jupyter-config \
    jupyter-service idle-shutdown; do
    step "$name" run
  done
  assert_contains "table row of the refused step" "refuse" "$(table_row "$refused")"
done

# ---------------------------------------------------------------------------------------------
section "plan centos7: an unsupported OS refuses every step"
plan_root 4 "$ROOTS/centos7"
assert_json_contains refusal "CentOS Linux 7" "not supported" "Ubuntu 16.04" "22.04"
not_refused=$(json_raw 'steps' | "$PYTHON" -c '
import json, sys
print(" ".join(step["name"] for step in json.load(sys.stdin) if step["action"] != "refuse"))')
assert_eq "steps that are not refused" "" "$not_refused"
step cuda refuse "CentOS Linux 7"
step user refuse "not supported"
assert_contains "table" "Refused: CentOS Linux 7" "$(cat -- "$TEST_TMP/table")"

section "plan: the default datasets come over https://, and plan says which are pinned and by what"
# numpy loads what these downloads hold (pickles): none may come over plain http, and an item
# without a published checksum is held to the sha256 of its first download. The current profile's
# manifest has COCO (pinned here) and CIFAR-10 (md5); an extra item shows one not pinned yet.
root=$(copy_root ubuntu2204-nogpu)
mkdir -p -- "$root/var/cache/cs231n-agent/datasets"
printf '{"https://cs231n.stanford.edu/coco_captioning.zip": "%s"}\n' "$(printf '%064d' 7)" \
  >"$root/var/cache/cs231n-agent/datasets/pins.json"
printf '{"datasets": {"extra": [{"name": "imagenet-val-25", "url": "https://cs231n.stanford.edu/imagenet_val_25.npz", "into": "assignment2/cs231n/datasets"}]}}\n' \
  >"$TEST_TMP/extra.json"
plan_root 0 "$root" --config "$TEST_TMP/extra.json"
assert_json "config.datasets.items[name=coco-captioning].url" '"https://cs231n.stanford.edu/coco_captioning.zip"'
assert_json "datasets[name=cifar-10-assignment1]" '{"name": "cifar-10-assignment1", "url": "http://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
  "pinned": true, "checksum": "md5:c58f30108f718f92721af3b95e74349a", "source": "config"}'
assert_json "datasets[name=coco-captioning]" '{"name": "coco-captioning", "url": "https://cs231n.stanford.edu/coco_captioning.zip",
  "pinned": true, "checksum": "sha256:'"$(printf '%064d' 7)"'", "source": "pins"}'
assert_json "datasets[name=imagenet-val-25]" '{"name": "imagenet-val-25", "url": "https://cs231n.stanford.edu/imagenet_val_25.npz",
  "pinned": false, "checksum": null, "source": null}'
table_text=$(cat -- "$TEST_TMP/table")
assert_contains "plan's table" "Dataset checksums:" "$table_text"
grep -qE '^  imagenet-val-25 +not pinned yet: its sha256 is pinned at the first download$' "$TEST_TMP/table" ||
  fail "plan's table: imagenet-val-25 not pinned yet" "$table_text"
grep -qE '^  coco-captioning +sha256 pinned at its first download \(/var/cache/cs231n-agent/datasets/pins.json\)$' "$TEST_TMP/table" ||
  fail "plan's table: coco-captioning pinned by the pins file" "$table_text"
grep -qE '^  cifar-10-assignment1 +md5 from the config$' "$TEST_TMP/table" || fail "plan's table: cifar's md5" "$table_text"
# The seed profile's manifest (the tutorial's three assignments) has every default URL over https too.
printf '{"profile": "seed"}\n' >"$TEST_TMP/seed.json"
run_agent plan --json --root "$root" --config "$TEST_TMP/seed.json"
assert_json "config.datasets.items[name=coco-captioning].url" '"https://cs231n.stanford.edu/coco_captioning.zip"'
assert_json "config.datasets.items[name=imagenet-val-25].url" '"https://cs231n.stanford.edu/imagenet_val_25.npz"'

section "plan on an aarch64 machine: every step refused, naming the architecture"
root=$(copy_root ubuntu2204-nogpu)
printf 'aarch64\n' >"$root/proc/sys/kernel/arch"
plan_root 4 "$root"
assert_json_contains refusal "aarch64" "x86_64"
step user refuse "aarch64"
step verify refuse "aarch64"

# ---------------------------------------------------------------------------------------------
section "plan debian12-unknown-gpu: the target user is ambiguous, so user refuses and its dependents skip"
plan_root 4 "$ROOTS/debian12-unknown-gpu"
assert_json refusal null
assert_json profile.name '"current"'
step user refuse "alice" "bob" '"user"'
for name in anaconda conda-env assignments datasets jupyter-cert jupyter-config jupyter-service pytorch verify; do
  step "$name" skip "user"
done
step apt-packages "done"
step nvidia-repo run "debian12"
step nvidia-driver "done" "an NVIDIA driver installed otherwise is loaded: kept"
step idle-shutdown skip "GCE"
assert_contains "user row" "refuse" "$(table_row user)"

section "plan debian12-unknown-gpu with user alice in the config"
plan_root 0 "$ROOTS/debian12-unknown-gpu" --config "$CONFIGS/valid-user.json"
step user "done" "alice"
step anaconda run "/home/alice/"
step jupyter-config run "port 9999" "/home/alice/"
step jupyter-service run "alice"
assert_json config.user '"alice"'
assert_json config.jupyter.port 9999

section "plan debian12-unknown-gpu run through sudo by bob"
SUDO_USER=bob plan_root 0 "$ROOTS/debian12-unknown-gpu"
step user "done" "bob"
step anaconda run "/home/bob/"

# ---------------------------------------------------------------------------------------------
section "plan ubuntu2204-nogpu with custom steps: placed after their \"after\" steps"
plan_root 0 "$ROOTS/ubuntu2204-nogpu" --config "$CONFIGS/valid-custom-steps.json"
names=" $(json_names steps) "
for name in site-motd site-report fetch-notes; do
  assert_contains "plan steps" " $name " "$names"
done
# site-report is listed first in the config but comes after site-motd.
order=$(json_names steps | tr ' ' '\n' | grep -xE 'assignments|jupyter-service|site-motd|site-report|fetch-notes' | tr '\n' ' ')
assert_eq "relative order of the custom steps and their predecessors" \
  "assignments jupyter-service site-motd site-report fetch-notes " "$order"
step site-motd run "sh -c echo cs231n > /etc/motd" "as root" "unless grep -q cs231n /etc/motd succeeds"
step site-report run "/usr/local/bin/report --done"
step fetch-notes run "git pull" "as ubuntu"
assert_json "steps[name=site-report].after" '["site-motd"]'
assert_contains "site-motd row" "run" "$(table_row site-motd)"

section "plan custom steps on debian12-unknown-gpu: a refused user skips the steps after it"
plan_root 4 "$ROOTS/debian12-unknown-gpu" --config "$CONFIGS/valid-custom-steps.json"
step site-motd skip "user"
step fetch-notes skip "user"

echo "PASS $TEST_NAME"
