#!/usr/bin/env bash
# torch's wheels come through the agent's downloader: the torch-wheels step asks base's pip (before
# the env exists) and the pytorch step the env's, each a real pip in a real Python (a Debian 12 chroot overlay with python3-venv; the stand-in conda makes the env a venv of
# it, make_standin_conda.py --env-python), against a stand-in of download.pytorch.org/whl/cu126 on
# 127.0.0.1 (tests/support/make_wheel_index.py: a torch wheel whose metadata names 14 nvidia-*
# wheels, triton and the pure-Python dependencies, the torchvision built for it (its metadata
# requires torch==2.6.0) beside a newer one for torch 2.7.0 that pip must pass over, every link with
# #sha256= and PEP 658 metadata, as PyTorch's index has them), a fake T4. The server logs each
# request's User-Agent.
#   1. pip 26.2 (Debian's python3-pip-whl from sid, as no PyPI is reachable): base's pip resolves
#      torch for the env's Python (--python-version) and the agent downloads every wheel, each byte
#      once (torch's own, named with its sha256 on its index page, while pip resolves); the env's pip installs them with --no-index from the agent's cache, asking the index
#      nothing (a wheel request by pip gets a 500 all along)
#   2. pip 23.0 (Debian 12's own): its --dry-run would download every wheel, so torch-wheels stops
#      and removes torch's wheel it began while asking pip's version, and pip installs by itself,
#      and both steps' logs say why
#   3. pip 26.2, but the agent gets corrupt torch and nvidia-cudnn wheels: the torch wheel fetched
#      while pip resolved is fetched again, torch-wheels says why it failed, and pip installs by itself
#   4. pip 26.2, the env from an @EXPLICIT list on the server: torch-wheels reads the list itself
#      (conda-env has not yet) and resolves for its python package's 3.11, and the torch choice is
#      made for that Python, not conda_env.python's 3.12
#   5. pip 26.2, a prefetched wheel cut short in the cache before pytorch: pip's install from the
#      cache fails, so the env's pip resolves against the index and the agent fetches that one again
# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2034  # chroot.sh's: a Debian 12 tree with python3-venv
CHROOT_SUITE=bookworm CHROOT_INCLUDE=python3-venv
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=gpu.sh
source "$SOURCE_DIR/tests/e2e/gpu.sh"

STATE=/var/lib/cs231n-agent
STEPS=user,apt-packages,anaconda,conda-env,torch-wheels,pytorch
TORCH=2.6.0+cu126
TORCHVISION=0.21.0+cu126
# A newer torchvision, built for torch 2.7.0: in the index, never installed.
NEWER_TORCHVISION=torchvision-0.22.0+cu126-cp311-cp311-manylinux_2_28_x86_64.whl
AGENT_UA="cs231n-agent/"
PIP_UA="pip/"
LEDGER=/var/log/standin-conda/calls.log
INSTALLER=Miniforge3-26.7.2-0-Linux-x86_64.sh
DEBS=$CHROOT_CACHE/debs-pip-downloads
ENV=/home/student/miniforge3/envs/cs231n
CACHE=/var/cache/cs231n-agent/wheels

# pip_wheel: a pip >= 25.3 wheel (Debian's python3-pip-whl from sid; kept in $DEBS between runs),
# extracted to $TEST_TMP; prints its path.
pip_wheel() {
  local apt=$DEBS/sid-apt deb
  deb=$(find "$DEBS" -maxdepth 1 -name 'python3-pip-whl_*_all.deb' -print -quit 2>/dev/null || true)
  if [[ -z $deb ]]; then
    mkdir -p -- "$apt/lists/partial" "$apt/cache/archives/partial"
    echo "deb http://deb.debian.org/debian sid main" >"$apt/sources.list"
    local options=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt/lists"
      -o "Dir::Cache=$apt/cache" -o Dir::State::status=/dev/null -o Acquire::Languages=none -o APT::Sandbox::User=root)
    apt-get "${options[@]}" update -qq >"$TEST_TMP/sid-apt.log" 2>&1 || fail "apt-get update of Debian sid" "$(tail -n 5 -- "$TEST_TMP/sid-apt.log")"
    (cd -- "$DEBS" && apt-get "${options[@]}" download python3-pip-whl) >>"$TEST_TMP/sid-apt.log" 2>&1 ||
      fail "apt-get download python3-pip-whl" "$(tail -n 5 -- "$TEST_TMP/sid-apt.log")"
    deb=$(find "$DEBS" -maxdepth 1 -name 'python3-pip-whl_*_all.deb' -print -quit)
  fi
  dpkg-deb -x "$deb" "$TEST_TMP/pip-whl"
  find "$TEST_TMP/pip-whl/usr/share/python-wheels" -name 'pip-*.whl' -print -quit
}

section "fixtures: the wheel index, the installers (env pip 26.2 or Debian 12's), the server"
start_server pip --tree --faults "$TEST_TMP/faults.json"
PIP_BASE=$BASE PIP_SERVE=$SERVE PIP_LOG=$SERVER_LOG
"$PYTHON" "$SOURCE_DIR/tests/support/make_wheel_index.py" "$PIP_SERVE" --torch "$TORCH" --python 3.11 \
  --torch-size $((24 << 20)) --dep-size $((2 << 20)) --torchvision "${TORCHVISION%+*}" --torchvision-newer 0.22.0=2.7.0 \
  >"$TEST_TMP/wheels.tsv"
# torch's 24 (itself, 14 nvidia-*, triton, 8 pure-Python), torchvision's numpy and pillow, the two torchvisions
assert_eq "wheels in the index" 28 "$(wc -l <"$TEST_TMP/wheels.tsv")"
grep -q "^$NEWER_TORCHVISION	" "$TEST_TMP/wheels.tsv" || fail "no $NEWER_TORCHVISION in the index"
grep -v "^$NEWER_TORCHVISION	" "$TEST_TMP/wheels.tsv" | cut -f1 | sort >"$TEST_TMP/installed-wheels"
NEW_PIP=$(pip_wheel)
[[ -f $NEW_PIP ]] || fail "no pip wheel in Debian's python3-pip-whl"
NEW_PIP_VERSION=$(basename -- "$NEW_PIP" | cut -d- -f2)
mkdir -p -- "$PIP_SERVE/installers/new" "$PIP_SERVE/installers/old"
make_installer() { # new|old EXTRA-ARG...
  local pip=$1
  shift
  "$PYTHON" "$SOURCE_DIR/tests/support/make_standin_conda.py" --conda-version 26.7.2 --distribution miniforge \
    --ledger "$LEDGER" --env-python /usr/bin/python3 "$@" -o "$PIP_SERVE/installers/$pip/$INSTALLER"
}
make_installer new --env-pip-wheel "/opt/$(basename -- "$NEW_PIP")"
make_installer old

# overlay NAME new|old [CONDA_ENV]: a fresh Debian 12 overlay with the agent, its base packages, a
# T4, and a config whose installer makes envs with pip 26.2 (new) or Debian 12's pip (old), its
# conda_env CONDA_ENV (JSON; default: Python 3.11, no packages).
overlay() {
  chroot_cleanup
  chroot_start "$TEST_TMP/$1"
  R=$CHROOT_ROOT
  chroot_install_agent "$AGENT"
  chroot_apt_install "$DEBS" bzip2 ca-certificates git unzip
  install -D -m 0644 -- "$NEW_PIP" "$R/opt/$(basename -- "$NEW_PIP")"
  mkdir -p -- "$R${LEDGER%/*}"
  : >"$R$LEDGER"
  chmod 0666 -- "$R$LEDGER"
  gpu_add_pci_gpu 1eb8
  local installer=installers/$2/$INSTALLER conda_env=${3:-'{"name": "cs231n", "python": "3.11", "packages": []}'}
  cat >"$R/root/config.json" <<EOF
{"profile": "current", "user": "student",
 "anaconda": {"installer_url": "$PIP_BASE/$installer", "installer_sha256": "$(sha256sum <"$PIP_SERVE/$installer" | cut -d' ' -f1)"},
 "conda_env": $conda_env,
 "gpu": {"cuda": "12.6"},
 "pytorch": {"version": "${TORCH%+*}", "index_url": "$PIP_BASE/whl"}}
EOF
  : >"$PIP_LOG"
}
run_steps() { chroot_agent run --only "$STEPS" --yes --config /root/config.json --state-dir "$STATE"; }
faults() { printf '%s\n' "$1" >"$TEST_TMP/faults.json"; }

# wheel_times PREFIX: per wheel of the index, "FILE TIMES": how many times over clients with that
# User-Agent got its bytes (body bytes / size; the downloader's one-byte probes left out): 0, 1,
# 2, or a fraction when a file was cut short.
wheel_times() {
  curl -fsS "$PIP_BASE/_idle" >/dev/null || true
  "$PYTHON" - "$PIP_LOG" "$1" "$TEST_TMP/wheels.tsv" <<'PY'
import json, sys
log, prefix, wheels = sys.argv[1:4]
sizes = {line.split("\t")[0]: int(line.split("\t")[1]) for line in open(wheels)}
got = dict.fromkeys(sizes, 0)
for line in open(log):
    entry = json.loads(line)
    name = entry["path"].rsplit("/", 1)[1]
    if name in got and (entry.get("user_agent") or "").startswith(prefix) and entry["range"] != "bytes=0-0":
        got[name] += entry["bytes"]
print("\n".join("%s %g" % (name, got[name] / sizes[name]) for name in sorted(got)))
PY
}
# every_wheel TIMES: "FILE TIMES" for each wheel pip installs, "FILE 0" for the newer torchvision.
every_wheel() { { sed "s/\$/ $1/" "$TEST_TMP/installed-wheels"; echo "$NEWER_TORCHVISION 0"; } | sort; }
# What pip asked the server for, by kind: "page", "metadata", "wheel" (sorted, counted).
pip_requests() {
  "$PYTHON" - "$PIP_LOG" <<'PY'
import collections, json, sys
kinds = collections.Counter()
for line in open(sys.argv[1]):
    entry = json.loads(line)
    if (entry.get("user_agent") or "").startswith("pip/"):
        path = entry["path"]
        kinds["page" if path.endswith("/") else "metadata" if path.endswith(".metadata") else "wheel" if path.endswith(".whl") else path] += 1
print(" ".join("%s=%d" % item for item in sorted(kinds.items())))
PY
}
torch_probe() {
  in_chroot su - student -c "$ENV/bin/python -c 'import torch, torchvision; print(torch.__version__, torch.version.cuda, torchvision.__version__)'"
}
step_log() { chroot_agent logs "$1" --state-dir "$STATE"; cat -- "$OUT"; }
PREFETCHED_NOTE="the wheels torch-wheels fetched are all in $CACHE: pip installs from them without asking the index again"
pytorch_log() { step_log pytorch; }

#-----------------------------------------------------------------------------------------------
section "1. pip $NEW_PIP_VERSION: pip resolves, the agent downloads every wheel once, pip installs from its cache"
overlay vm-new new
faults "[{\"path\": \"\\\\.whl\$\", \"user_agent\": \"$PIP_UA\", \"answer\": 500}]"
run_steps
assert_rc 0
assert_eq "env pip" "pip $NEW_PIP_VERSION" "$(in_chroot su - student -c "$ENV/bin/python -m pip --version" | cut -d' ' -f1-2)"
assert_eq "torch and torchvision in the env" "$TORCH 12.6 $TORCHVISION" "$(torch_probe)"
assert_eq "times the agent fetched each wheel" "$(every_wheel 1)" "$(wheel_times "$AGENT_UA")"
assert_eq "times pip fetched each wheel" "$(every_wheel 0)" "$(wheel_times "$PIP_UA")"
# Each project's page once, by base's pip (the env's pip installs from the cache and asks the index
# nothing); the metadata of every wheel, the newer torchvision's too (pip reads it to learn that it
# requires torch 2.7.0).
assert_eq "pip's requests (index pages and PEP 658 metadata only)" "metadata=28 page=27" "$(pip_requests)"
log=$(step_log torch-wheels)
assert_contains "torch-wheels log" "base's pip resolves 27 wheels for Python 3.11; the agent downloads them into $CACHE" "$log"
assert_contains "torch-wheels log" "--ignore-installed --python-version 3.11 --only-binary=:all:" "$log"
assert_not_contains "torch-wheels log" "wait for the pytorch step" "$log"
# torch's wheel, named with its sha256 on its index page, comes down while pip resolves the rest.
TORCH_WHEEL=$(grep -m1 '^torch-' "$TEST_TMP/installed-wheels")
assert_contains "torch-wheels log" "$TORCH_WHEEL: downloaded while pip resolved, verified" "$log"
[[ $log == *"(while pip resolves)"*"--dry-run --report"* ]] || fail "torch's wheel was not asked for before pip's resolution" "$log"
log=$(pytorch_log)
assert_contains "pytorch log" "$PREFETCHED_NOTE" "$log"
assert_not_contains "pytorch log" "--dry-run" "$log"
assert_contains "pytorch log" "--no-index --find-links $CACHE torch==$TORCH torchvision" "$log"
assert_contains "pytorch log" "torch $TORCH built for CUDA 12.6, torchvision $TORCHVISION" "$log"
assert_not_contains "pytorch log" "pip downloads by itself" "$log"
assert_eq "the cache (root's, world-readable)" "$({ cat "$TEST_TMP/installed-wheels"; echo prefetched.json; } | sort | sed 's/$/ 644 0/' | xargs)" \
  "$(find "$R$CACHE" -mindepth 1 -printf '%f %m %U\n' | sort | xargs)"
assert_eq "the cache folder" "755 0" "$(stat -c '%a %u' -- "$R$CACHE")"

#-----------------------------------------------------------------------------------------------
section "2. Debian 12's pip 23.0: its --dry-run would download every wheel; pip installs by itself"
overlay vm-old old
faults "[]"
run_steps
assert_rc 0
assert_eq "torch and torchvision in the env" "$TORCH 12.6 $TORCHVISION" "$(torch_probe)"
# Twice: pip before 23.2 downloads a wheel again after resolving from its PEP 658 metadata
# (pypa/pip#11847, fixed in 23.2), as it would from PyTorch's index.
assert_eq "times pip fetched each wheel" "$(every_wheel 2)" "$(wheel_times "$PIP_UA")"
# torch's own wheel was asked for while `pip --version` ran, then stopped and removed: at most
# once, and nothing of it left in the cache.
assert_eq "times the agent fetched the other wheels" "$(every_wheel 0 | grep -v "^$TORCH_WHEEL ")" \
  "$(wheel_times "$AGENT_UA" | grep -v "^$TORCH_WHEEL ")"
"$PYTHON" -c 'import sys; sys.exit(0 if 0 <= float(sys.argv[1]) <= 1 else 1)' "$(wheel_times "$AGENT_UA" | sed -n "s/^$TORCH_WHEEL //p")" ||
  fail "the agent fetched torch's wheel more than once" "$(wheel_times "$AGENT_UA")"
assert_contains "torch-wheels log" "$TORCH_WHEEL, fetched while pip resolved: removed (this pip cannot resolve without downloading)" "$(step_log torch-wheels)"
assert_eq "torch's wheel in the cache" "" "$(find "$R$CACHE" -name 'torch-*' -printf '%f\n')"
log=$(pytorch_log)
assert_contains "pytorch log" "pip downloads by itself: pip 23.0.1 downloads every wheel in full to resolve (pip 25.3 is the first whose --dry-run reads only their metadata)" "$log"
assert_contains "torch-wheels log" "torch's wheels wait for the pytorch step: pip 23.0.1 downloads every wheel in full to resolve" "$(step_log torch-wheels)"
assert_not_contains "pytorch log" "--dry-run --report" "$log"

#-----------------------------------------------------------------------------------------------
section "3. pip $NEW_PIP_VERSION, corrupt torch and nvidia-cudnn wheels for the agent: pip installs by itself"
overlay vm-corrupt new
faults "[{\"path\": \"(nvidia_cudnn_cu12|torch)-.*\\\\.whl\$\", \"user_agent\": \"$AGENT_UA\", \"answer\": \"corrupt\"}]"
run_steps
assert_rc 0
assert_eq "torch and torchvision in the env" "$TORCH 12.6 $TORCHVISION" "$(torch_probe)"
assert_eq "times pip fetched each wheel" "$(every_wheel 1)" "$(wheel_times "$PIP_UA")"
log=$(pytorch_log)
assert_contains "pytorch log" "pip downloads by itself: " "$log"
assert_contains "pytorch log" "sha256 mismatch" "$log"
log=$(step_log torch-wheels)
assert_contains "torch-wheels log" "torch's wheels wait for the pytorch step: " "$log"
assert_contains "torch-wheels log" "sha256 mismatch" "$log"
# The copy fetched while pip resolved was bad: fetched once more, with the others pip named.
assert_contains "torch-wheels log" "$TORCH_WHEEL, fetched while pip resolved: " "$log"
assert_contains "torch-wheels log" "; fetched again" "$log"

#-----------------------------------------------------------------------------------------------
section "4. pip $NEW_PIP_VERSION, an @EXPLICIT list: torch-wheels takes the env's Python from the list's python package"
mkdir -p -- "$PIP_SERVE/conda"
printf 'stand-in python package\n' >"$PIP_SERVE/conda/python-3.11.2-h0_cpython.conda"
printf '@EXPLICIT\n%s/conda/python-3.11.2-h0_cpython.conda#%s\n' "$PIP_BASE" \
  "$(md5sum <"$PIP_SERVE/conda/python-3.11.2-h0_cpython.conda" | cut -d' ' -f1)" >"$PIP_SERVE/conda/explicit.txt"
# conda_env.python says 3.12, the list's python package 3.11, which is what conda installs: the
# torch choice follows the list (the index has cp311 wheels only).
overlay vm-explicit new "{\"name\": \"cs231n\", \"python\": \"3.12\", \"explicit_file\": \"$PIP_BASE/conda/explicit.txt\",
  \"explicit_sha256\": \"$(sha256sum <"$PIP_SERVE/conda/explicit.txt" | cut -d' ' -f1)\"}"
chroot_agent plan --config /root/config.json --state-dir "$STATE"
assert_rc 0
assert_contains "plan of torch-wheels" "for the Python of the @EXPLICIT list $PIP_BASE/conda/explicit.txt" "$(cat -- "$OUT")"
assert_contains "plan's index reads" "the @EXPLICIT list $PIP_BASE/conda/explicit.txt: Python 3.11" "$(cat -- "$OUT")"
faults "[{\"path\": \"\\\\.whl\$\", \"user_agent\": \"$PIP_UA\", \"answer\": 500}]"
run_steps
assert_rc 0
assert_eq "torch and torchvision in the env" "$TORCH 12.6 $TORCHVISION" "$(torch_probe)"
assert_eq "times the agent fetched each wheel" "$(every_wheel 1)" "$(wheel_times "$AGENT_UA")"
log=$(step_log torch-wheels)
assert_contains "torch-wheels log" "base's pip resolves 27 wheels for Python 3.11; " "$log"
# Once by each agent process's torch choice (`plan`, then `run`), once by torch-wheels, once by
# conda-env, whose copy conda installs (its downloader's one-byte probe left out).
assert_eq "the agent's downloads of the list" 4 "$("$PYTHON" - "$PIP_LOG" "$AGENT_UA" <<'PY'
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1])]
print(sum(1 for e in entries if e["path"] == "/conda/explicit.txt" and (e.get("user_agent") or "").startswith(sys.argv[2])
          and e["range"] != "bytes=0-0"))
PY
)"
assert_contains "pytorch log" "$PREFETCHED_NOTE" "$(pytorch_log)"

#-----------------------------------------------------------------------------------------------
section "5. pip $NEW_PIP_VERSION, a prefetched wheel cut short in the cache: pip's install from it fails, the agent resolves and fetches it again"
overlay vm-cut new
faults "[{\"path\": \"\\\\.whl\$\", \"user_agent\": \"$PIP_UA\", \"answer\": 500}]"
STEPS=${STEPS%,pytorch} run_steps
assert_rc 0
CUT=$(grep -m1 '^filelock-' "$TEST_TMP/installed-wheels")
[[ -n $CUT && -f $R$CACHE/$CUT ]] || fail "no filelock wheel in the cache after torch-wheels"
truncate -s 100 -- "$R$CACHE/$CUT"
run_steps
assert_rc 0
assert_eq "torch and torchvision in the env" "$TORCH 12.6 $TORCHVISION" "$(torch_probe)"
log=$(pytorch_log)
assert_contains "pytorch log" "$PREFETCHED_NOTE" "$log"
assert_contains "pytorch log" "pip did not install from torch-wheels' wheels (" "$log"
assert_contains "pytorch log" "pip would install 27 wheels; the agent downloads them into $CACHE" "$log"
assert_eq "wheels the pytorch step found already there" 26 "$(grep -c ', already there, verified' <<<"$log")"
assert_eq "times the agent fetched the cut wheel" "$CUT 2" "$(wheel_times "$AGENT_UA" | grep "^$CUT ")"
assert_not_contains "pytorch log" "pip downloads by itself" "$log"

echo "PASS $TEST_NAME"
