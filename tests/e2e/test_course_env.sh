#!/usr/bin/env bash
# The course environment end to end, in a Debian 11 chroot overlay (tests/e2e/chroot.sh), as root:
# `run --only user,apt-packages,anaconda,conda-env,assignments,datasets` for an account that does
# not exist yet ("user": "student"), against real stand-ins for everything the steps reach:
#   - a stand-in Miniforge installer (tests/support/make_standin_conda.py; conda 26.7.2, conda-forge
#     only, no ToS plugin) served by tests/support/http_server.py on 127.0.0.1, with its sha256 in
#     the config,
#   - a bare git repository /srv/cs231n.git cloned over file:// (git from the apt-packages step),
#   - real dataset archives (a .tar.gz used by two assignments, a .zip, an .npz copied as it is;
#     with md5, with sha256, without a checksum),
#   - apt-get against Debian's archive.
# Then: a second run changes nothing and calls nothing; the seed profile's Anaconda3-2018.12
# (conda 4.5.12, which has no `conda init`) for a second account; and an env from an
# environment.yml; a Miniconda with Anaconda's ToS plugin: refused without anaconda.accept_tos, its
# terms accepted for exactly the configured channels with it; an @EXPLICIT list installed with no solve;
# the seed's anaconda=2018.12 made from its pins in a stand-in pkgs/main's repodata.json (or solved).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=../support/course.sh
source "$SOURCE_DIR/tests/support/course.sh"


section "fixtures: stand-in installers, dataset archives, a bare repository, the HTTP server, the overlay"
course_setup
MINIFORGE_JSON="\"installer_url\": \"@BASE@/files/$MINIFORGE\", \"installer_sha256\": \"$(sha256_of "$SERVE/$MINIFORGE")\""
course_config "$R/root/course.json" "{\"anaconda\": {$MINIFORGE_JSON, \"prefix\": \"~/miniforge3\"}}"
STATE=/var/lib/course
HOME_DIR=/home/student
PREFIX=$HOME_DIR/miniforge3
CLONE=$HOME_DIR/cs231n-setup
[[ ! -e $R$HOME_DIR ]] || fail "test bug: $HOME_DIR exists before the run"
grep -q '^student:' "$R/etc/passwd" && fail "test bug: the account student exists before the run"

section "plan: the six course steps would run"
chroot_agent plan --json --config /root/course.json --state-dir "$STATE"
for step in ${COURSE_STEPS//,/ }; do assert_json "steps[name=$step].action" '"run"'; done
assert_json profile.name '"current"'

section "plan: the current profile's defaults are Miniforge into ~/miniforge3, an env from conda-forge with what the assignments import"
printf '{"user": "student"}\n' >"$R/root/defaults.json"
chroot_agent plan --json --config /root/defaults.json --state-dir /var/lib/defaults
assert_rc 0
assert_json_contains "steps[name=anaconda].summary" "install Miniforge3-26.7.2-0-Linux-x86_64.sh (sha256 281b0ac7d550" \
  "into /home/student/miniforge3"
assert_json config.anaconda.installer_url \
  '"https://github.com/conda-forge/miniforge/releases/download/26.7.2-0/Miniforge3-26.7.2-0-Linux-x86_64.sh"'
assert_json config.anaconda.accept_tos false
assert_json config.conda_env.channels '["conda-forge"]'
# assignment 1 imports past.builtins (package future) and six; assignment 2 builds with Cython and distutils.
assert_json_contains "steps[name=conda-env].summary" "python=3.12 numpy scipy matplotlib pillow imageio future six h5py cython setuptools notebook ipykernel" \
  "(channels conda-forge only: --override-channels)"
assert_json_not_contains "steps[name=conda-env].summary" "Terms of Service"
# The course's own 2026 starter code, as zips (the tutorial's 2018 repository needs SciPy < 1.3).
assert_json_contains "steps[name=assignments].summary" "unpack https://cs231n.github.io/assignments/2026/assignment1.zip, https://cs231n.github.io/assignments/2026/assignment2.zip into /home/student/cs231n"

#-----------------------------------------------------------------------------------------------
section "first run: the six course steps as root, for an account that does not exist yet"
started=$SECONDS
course_run /root/course.json "$STATE"
timed "first run" "$started"
assert_rc 0
for step in ${COURSE_STEPS//,/ }; do
  grep -qE "^$step +done " "$OUT" || fail "summary table" "expected: a row \"$step  done ...\"" "got: $(cat -- "$OUT")"
done
assert_eq "closing line" "done: every selected step is done" "$(tail -n 1 -- "$OUT")"
STATUS_JSON=$TEST_TMP/status.json
chroot_agent status --json --state-dir "$STATE"
assert_rc 0
cp -- "$OUT" "$STATUS_JSON"
JSON_FILE=$STATUS_JSON assert_json state '"done"'

section "user: student was made, with a home and bash"
passwd_line=$(grep '^student:' "$R/etc/passwd") || fail "no student in the overlay's /etc/passwd"
STUDENT_UID=$(uid_of student)
[[ $STUDENT_UID -ge 1000 ]] || fail "student's uid" "expected: a regular uid (>= 1000)" "got: $passwd_line"
assert_eq "student's home and shell" "$HOME_DIR:/bin/bash" "$(cut -d: -f6,7 <<<"$passwd_line")"
assert_owned "$STUDENT_UID" "$R$HOME_DIR/.profile"
assert_eq "owner of $HOME_DIR" "$STUDENT_UID" "$(stat -c %u -- "$R$HOME_DIR")"

section "apt-packages: git, unzip, bzip2 and ca-certificates are installed"
for package in git unzip bzip2 ca-certificates; do
  # shellcheck disable=SC2016  # dpkg-query's own ${Status}
  assert_eq "dpkg-query $package" "install ok installed" "$(in_chroot dpkg-query -W -f='${Status}' "$package" 2>&1)"
done
assert_contains "git in the chroot" "git version" "$(in_chroot git --version)"

section "anaconda: the stand-in installer ran once, as student, in batch mode, into $PREFIX"
assert_eq "installer calls" "student	installer	-b -u -p $PREFIX" "$(ledger | grep -P '\tinstaller\t' || true)"
assert_eq "users that ran conda" "student" "$(ledger | cut -f1 | sort -u | xargs)"
[[ -x $R$PREFIX/bin/conda && -f $R$PREFIX/etc/profile.d/conda.sh ]] || fail "no conda in $PREFIX" "$(ls -la -- "$R$PREFIX" 2>&1)"
assert_owned "$STUDENT_UID" "$R$PREFIX"
assert_eq "conda --version, as student" "conda 26.7.2" "$(in_chroot su student -c "$PREFIX/bin/conda --version")"
assert_eq "conda init calls" "init --help,init bash" "$(ledger | grep -P '\tconda\tinit' | cut -f3 | paste -sd,)"
bashrc=$(cat -- "$R$HOME_DIR/.bashrc")
assert_contains "student's .bashrc" "# >>> conda initialize >>>" "$bashrc"
assert_contains "student's .bashrc" "__conda_setup=\"\$('$PREFIX/bin/conda' 'shell.bash' 'hook' 2> /dev/null)\"" "$bashrc"
assert_contains "student's .bashrc" "# <<< conda initialize <<<" "$bashrc"
assert_eq "conda initialize blocks in ~/.bashrc" 1 "$(grep -c '^# >>> conda initialize >>>' <<<"$bashrc")"
assert_not_contains "student's .bashrc" "cs231n-agent conda" "$bashrc"
# Debian's skeleton .bashrc is still there, above the block.
assert_contains "student's .bashrc" "If not running interactively, don't do anything" "$bashrc"
assert_eq "owner of ~/.bashrc" "$STUDENT_UID" "$(stat -c %u -- "$R$HOME_DIR/.bashrc")"
[[ -f $R/var/cache/cs231n-agent/$MINIFORGE ]] || fail "the installer is not in /var/cache/cs231n-agent"
cmp -s -- "$SERVE/$MINIFORGE" "$R/var/cache/cs231n-agent/$MINIFORGE" || fail "the cached installer differs from the served one"

section "conda-env: env cs231n with python 3.12 and the packages from conda-forge only, made by student's conda"
ENV_DIR=$PREFIX/envs/cs231n
assert_eq "conda create calls" "create -y -n cs231n python=3.12 numpy scipy matplotlib notebook --override-channels -c conda-forge" \
  "$(ledger | grep -P '\tconda\tcreate' | cut -f3)"
# The agent asks the installed conda whether it has the plugin; Miniforge's says no (invalid choice).
assert_eq "conda tos calls (Miniforge has no Terms of Service plugin)" "tos --version" \
  "$(ledger | grep -P '\tconda\ttos' | cut -f3 || true)"
records=$(cd "$R$ENV_DIR/conda-meta" && ls)
for record in history python-3.12.2-h0.json numpy-1.0.0-h0.json scipy-1.0.0-h0.json matplotlib-1.0.0-h0.json notebook-1.0.0-h0.json; do
  assert_contains "$ENV_DIR/conda-meta" "$record" "$records"
done
assert_owned "$STUDENT_UID" "$R$ENV_DIR"
chroot_agent logs conda-env --state-dir "$STATE"
assert_contains "conda-env's log" "Executing transaction: done" "$(cat -- "$OUT")"
in_chroot su student -c "$PREFIX/bin/conda env list --json" >"$TEST_TMP/envs.json"
JSON_FILE=$TEST_TMP/envs.json assert_json envs "[\"$PREFIX\", \"$ENV_DIR\"]"

section "a login shell of student finds conda and activates the env"
# shellcheck disable=SC2016  # expanded by student's shell
shell_out=$(user_shell student 'command -v conda; conda --version; conda activate cs231n && python --version && command -v python; echo "$CONDA_DEFAULT_ENV"')
assert_eq "bash -lic as student (stderr: $(head -c 300 "$TEST_TMP/user_shell.stderr"))" \
  "conda
conda 26.7.2
Python 3.12.2
$ENV_DIR/bin/python
cs231n" "$shell_out"

section "assignments: $CLONE is student's clone of file:///srv/cs231n.git"
assert_owned "$STUDENT_UID" "$R$CLONE"
assert_eq "HEAD of the clone" "$MASTER_COMMIT" "$(in_chroot su student -c "git -C $CLONE rev-parse HEAD")"
assert_eq "origin" "file:///srv/cs231n.git" "$(in_chroot su student -c "git -C $CLONE remote get-url origin")"
assert_eq "git status of the clone, datasets unpacked" "" "$(in_chroot su student -c "git -C $CLONE status --porcelain --untracked-files=all")"
for file in README.md assignment1/knn.ipynb assignment2/FullyConnectedNets.ipynb assignment3/RNN_Captioning.ipynb \
  assignment1/cs231n/datasets/get_datasets.sh assignment3/cs231n/datasets/get_datasets.sh; do
  [[ -f $R$CLONE/$file ]] || fail "the clone lacks $file"
done
[[ -x $R$CLONE/assignment1/cs231n/datasets/get_datasets.sh ]] || fail "get_datasets.sh lost its executable bit"

section "datasets: each one unpacked in its assignment's folder, owned by student, with the right bytes"
# assert_members ARCHIVE FOLDER: every file ARCHIVE unpacks to is under FOLDER with its sha256.
assert_members() {
  local archive=$1 folder=$2 path sha
  while read -r path sha; do
    [[ -f $folder/$path ]] || fail "dataset $archive" "expected: $folder/$path" "got: $(find "$(dirname -- "$folder/$path")" -maxdepth 1 2>&1 | head -n 5)"
    assert_eq "sha256 of $folder/$path" "$sha" "$(sha256_of "$folder/$path")"
  done < <("$PYTHON" -c 'import json, sys
for path, sha in sorted(json.load(open(sys.argv[1]))[sys.argv[2]]["members"].items()): print(path, sha)' "$MANIFEST" "$archive")
}
DATA1=$R$CLONE/assignment1/cs231n/datasets
DATA2=$R$CLONE/assignment2/cs231n/datasets
DATA3=$R$CLONE/assignment3/cs231n/datasets
assert_members cifar-10-python.tar.gz "$DATA1"
assert_members cifar-10-python.tar.gz "$DATA2"
assert_members coco_captioning.zip "$DATA3"
cmp -s -- "$SERVE/imagenet_val_25.npz" "$DATA3/imagenet_val_25.npz" || fail "imagenet_val_25.npz was not copied as it is"
[[ ! -e $DATA3/X.npy ]] || fail "imagenet_val_25.npz was unpacked, but its extract is false"
assert_eq "files in assignment3's datasets" \
  ".cs231n-agent-coco-captioning .cs231n-agent-imagenet-val-25 coco_captioning get_datasets.sh imagenet_val_25.npz" \
  "$(find "$DATA3" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort | xargs)"
assert_owned "$STUDENT_UID" "$DATA1" "$DATA2" "$DATA3"
assert_eq "marker of cifar-10-assignment1" "$BASE/files/cifar-10-python.tar.gz md5:$(manifest_value cifar-10-python.tar.gz md5)" \
  "$(cat -- "$DATA1/.cs231n-agent-cifar-10-assignment1")"

section "the cache holds the downloads, and the file without a checksum is pinned"
CACHE=$R/var/cache/cs231n-agent
for file in cifar-10-python.tar.gz coco_captioning.zip imagenet_val_25.npz; do
  cmp -s -- "$SERVE/$file" "$(cache_file "$R" "$file")" || fail "the cache" "expected: /var/cache/cs231n-agent/datasets/*-$file, as served" \
    "got: $(ls -la -- "$CACHE/datasets" 2>&1)"
done
leftovers=$(find "$CACHE" -name '*.part*')
assert_eq "partial downloads left in the cache" "" "$leftovers"
JSON_FILE=$CACHE/datasets/pins.json assert_json "" "{\"$BASE/files/imagenet_val_25.npz\": \"$(manifest_value imagenet_val_25.npz sha256)\"}"

section "the server sent each file once (CIFAR-10 once, though two assignments use it)"
for file in "$MINIFORGE" cifar-10-python.tar.gz coco_captioning.zip imagenet_val_25.npz; do
  assert_eq "body bytes sent for /files/$file ($(data_gets "/files/$file") requests)" "$(stat -c %s -- "$SERVE/$file")" "$(body_bytes "/files/$file")"
done
[[ ! -s $TEST_TMP/server/stderr ]] || fail "the test server complained" "$(cat -- "$TEST_TMP/server/stderr")"

#-----------------------------------------------------------------------------------------------
section "second run: nothing to do, no conda call, no download, nothing changed"
requests_before=$(wc -l <"$SERVER_LOG")
ledger_mark
# What the run itself may write: its log, its state (run id, times), the agent it installs.
EXCLUDED=(/var/log/cs231n-agent.log "$STATE")
upper_snapshot "${EXCLUDED[@]}" >"$TEST_TMP/upper.before"
started=$SECONDS
course_run /root/course.json "$STATE"
timed "second run" "$started"
assert_rc 0
for step in ${COURSE_STEPS//,/ }; do
  grep -qE "^$step +done " "$OUT" || fail "summary table" "expected: a row \"$step  done ...\"" "got: $(cat -- "$OUT")"
done
assert_eq "ledger lines added by the second run" "" "$(ledger_new)"
"$PYTHON" -c 'import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + "/_idle", timeout=15).read()' "$BASE"
assert_eq "requests to the server during the second run" "$requests_before" "$(wc -l <"$SERVER_LOG")"
if ! difference=$(upper_snapshot "${EXCLUDED[@]}" | diff -- "$TEST_TMP/upper.before" -); then
  fail "the second run changed the overlay" "$(head -n 20 <<<"$difference")"
fi
chroot_agent status --json --state-dir "$STATE"
for step in ${COURSE_STEPS//,/ }; do assert_json "steps[name=$step].attempts" 1; done

#-----------------------------------------------------------------------------------------------
# seed_config FILE CONDA_ENV: /root/FILE, the seed profile for ann with the stand-in Anaconda3-2018.12
# and CONDA_ENV (JSON) as conda_env. seed_run FILE: the steps up to conda-env with it.
seed_config() {
  course_config "$R/root/$1" "{\"profile\": \"seed\", \"user\": \"ann\",
  \"anaconda\": {\"installer_url\": \"@BASE@/files/$ANACONDA\", \"installer_sha256\": \"$(sha256_of "$SERVE/$ANACONDA")\",
                 \"prefix\": \"~/anaconda3\"},
  \"conda_env\": $2}"
}
seed_run() {
  chroot_agent run --only user,apt-packages,anaconda,conda-env --yes --config "/root/$1" --state-dir /var/lib/seed \
    --cache-dir /var/cache/seed
}

section "fixtures: the seed's channel, pkgs/main as repodata.json describes it, on a second server"
# conda's repodata.json form (info, packages: file -> name, version, build, build_number, depends,
# md5; packages.conda; removed; repodata_version): each record is the package's info/index.json
# (conda/conda docs/source/spec.rst) plus its md5, as conda's own test indexes and channel servers
# such as quetz write it. anaconda=2018.12's linux-64 py36 build pins
# every package exactly, as anaconda.org shows the metapackage (docs/sources/conda-and-miniforge.md
# section 4): python and numpy from linux-64, six from noarch; a py37 build beside it.
first_server=("$BASE" "$SERVE" "$SERVER_LOG")
start_server channel --tree
CHANNEL=$BASE/pkgs/main
CHANNEL_DIR=$SERVE/pkgs/main
CHANNEL_LOG=$SERVER_LOG
BASE=${first_server[0]} SERVE=${first_server[1]} SERVER_LOG=${first_server[2]}
mkdir -p -- "$CHANNEL_DIR/linux-64" "$CHANNEL_DIR/noarch"
for package in linux-64/python-3.6.13-h12debd9_1 linux-64/numpy-1.15.4-py36h7e9f1db_0 noarch/six-1.12.0-py_0 \
  linux-64/anaconda-2018.12-py36_0 linux-64/anaconda-2018.12-py37_0; do
  printf 'a stand-in conda package %s\n' "${package#*/}" >"$CHANNEL_DIR/$package.tar.bz2"
done
"$PYTHON" - "$CHANNEL_DIR" <<'PY'
import hashlib, json, pathlib, sys
root = pathlib.Path(sys.argv[1])
depends = {
    "linux-64": {
        "anaconda-2018.12-py36_0.tar.bz2": ["python 3.6.13 h12debd9_1", "numpy 1.15.4 py36h7e9f1db_0", "six 1.12.0 py_0"],
        "anaconda-2018.12-py37_0.tar.bz2": ["python 3.7.1 h0371630_7"],
        "python-3.6.13-h12debd9_1.tar.bz2": [],
        "numpy-1.15.4-py36h7e9f1db_0.tar.bz2": ["python >=3.6,<3.7.0a0"],
    },
    "noarch": {"six-1.12.0-py_0.tar.bz2": ["python"]},
}
for subdir, files in depends.items():
    packages = {}
    for name, needs in files.items():
        package, version, build = name[: -len(".tar.bz2")].rsplit("-", 2)
        packages[name] = {"name": package, "version": version, "build": build, "build_number": 0, "depends": needs,
                          "md5": hashlib.md5((root / subdir / name).read_bytes()).hexdigest(), "subdir": subdir}
    document = {"info": {"subdir": subdir}, "packages": packages, "packages.conda": {}, "removed": [],
                "repodata_version": 1}
    (root / subdir / "repodata.json").write_text(json.dumps(document, indent=1))
PY

section "seed profile: Anaconda3-2018.12 (conda 4.5.12, no conda init) for a new account, ann; anaconda=2018.12's pins from the channel's repodata, no solve"
seed_config seed.json "{\"python\": \"3.6\", \"packages\": [\"anaconda=2018.12\"], \"metapackage_channel\": \"$CHANNEL\"}"
SEED_PREFIX=/home/ann/anaconda3
chroot_agent plan --json --config /root/seed.json --state-dir /var/lib/seed --cache-dir /var/cache/seed
assert_rc 0
assert_json_contains "steps[name=conda-env].summary" \
  "create conda env cs231n from the pins of anaconda=2018.12 for python 3.6 in $CHANNEL/linux-64/repodata.json, as an @EXPLICIT list (no solve)"
printf '{"profile": "seed", "user": "ann"}\n' >"$R/root/seed-defaults.json"
chroot_agent plan --json --config /root/seed-defaults.json --state-dir /var/lib/seed-defaults
assert_json config.conda_env.metapackage_channel '"https://repo.anaconda.com/pkgs/main"'
assert_json_contains "steps[name=conda-env].summary" \
  "from the pins of anaconda=2018.12 for python 3.6 in https://repo.anaconda.com/pkgs/main/linux-64/repodata.json"
ledger_mark
started=$SECONDS
seed_run seed.json
timed "seed run" "$started"
assert_rc 0
cmp -s -- "$SERVE/$ANACONDA" "$R/var/cache/seed/$ANACONDA" || fail "--cache-dir /var/cache/seed does not hold the installer"
[[ ! -e $R/var/cache/cs231n-agent/$ANACONDA ]] || fail "with --cache-dir, the installer was still put in /var/cache/cs231n-agent"
ANN_UID=$(uid_of ann)
[[ -n $ANN_UID ]] || fail "the user step did not make ann"
seed_calls=$(ledger_new)
assert_contains "calls of the seed run" "ann	installer	-b -u -p $SEED_PREFIX" "$seed_calls"
assert_contains "calls of the seed run" "ann	conda	init --help" "$seed_calls"
assert_not_contains "calls of the seed run (conda 4.5 has no init)" "init bash" "$seed_calls"
SEED_LIST=/var/cache/seed/anaconda-2018.12-python3.6.explicit.txt
assert_contains "calls of the seed run" "ann	conda	create -y -n cs231n --file $SEED_LIST" "$seed_calls"
assert_not_contains "calls of the seed run (nothing solved)" "python=3.6 anaconda=2018.12" "$seed_calls"
md5_in_channel() { md5sum -- "$CHANNEL_DIR/$1" | cut -d' ' -f1; }
assert_eq "the seed's @EXPLICIT list: the py36 build's pins in its depends order (six from noarch), then the metapackage" \
  "# the pins of anaconda-2018.12-py36_0.tar.bz2 in $CHANNEL/linux-64/repodata.json
# platform: linux-64
@EXPLICIT
$CHANNEL/linux-64/python-3.6.13-h12debd9_1.tar.bz2#$(md5_in_channel linux-64/python-3.6.13-h12debd9_1.tar.bz2)
$CHANNEL/linux-64/numpy-1.15.4-py36h7e9f1db_0.tar.bz2#$(md5_in_channel linux-64/numpy-1.15.4-py36h7e9f1db_0.tar.bz2)
$CHANNEL/noarch/six-1.12.0-py_0.tar.bz2#$(md5_in_channel noarch/six-1.12.0-py_0.tar.bz2)
$CHANNEL/linux-64/anaconda-2018.12-py36_0.tar.bz2#$(md5_in_channel linux-64/anaconda-2018.12-py36_0.tar.bz2)" \
  "$(cat -- "$R$SEED_LIST")"
for record in python-3.6.13-h12debd9_1 numpy-1.15.4-py36h7e9f1db_0 six-1.12.0-py_0 anaconda-2018.12-py36_0; do
  [[ -f $R$SEED_PREFIX/envs/cs231n/conda-meta/$record.json ]] ||
    fail "seed env" "expected: conda-meta/$record.json" "got: $(ls -- "$R$SEED_PREFIX/envs/cs231n/conda-meta" 2>&1)"
done
assert_not_contains "what the channel served (no py37 build fetched)" "anaconda-2018.12-py37_0" "$(cat -- "$CHANNEL_LOG")"
assert_owned "$ANN_UID" "$R$SEED_PREFIX" "$R/home/ann/.bashrc"
ann_bashrc=$(cat -- "$R/home/ann/.bashrc")
assert_contains "ann's ~/.bashrc" "# >>> cs231n-agent conda >>>
. \"$SEED_PREFIX/etc/profile.d/conda.sh\"
# <<< cs231n-agent conda <<<" "$ann_bashrc"
assert_not_contains "ann's ~/.bashrc" "conda initialize" "$ann_bashrc"
shell_out=$(user_shell ann 'command -v conda; conda --version; conda activate cs231n && python --version && command -v python')
assert_eq "bash -lic as ann (stderr: $(head -c 300 "$TEST_TMP/user_shell.stderr"))" \
  "conda
conda 4.5.12
Python 3.6.13
$SEED_PREFIX/envs/cs231n/bin/python" "$shell_out"
# student's setup is untouched by ann's.
assert_eq "student's conda" "conda 26.7.2" "$(user_shell student 'conda --version')"

section "seed run again: nothing to do"
ledger_mark
seed_run seed.json
assert_rc 0
assert_eq "ledger lines added" "" "$(ledger_new)"
assert_eq "cs231n-agent blocks in ann's ~/.bashrc" 1 "$(grep -c '^# >>> cs231n-agent conda >>>' "$R/home/ann/.bashrc")"

section "seed profile, conda_env.metapackage_channel \"\": conda 4.5 solves python=3.6 anaconda=2018.12 itself"
seed_config seed-solve.json "{\"name\": \"cs231n-solved\", \"python\": \"3.6\", \"packages\": [\"anaconda=2018.12\"], \"metapackage_channel\": \"\"}"
ledger_mark
seed_run seed-solve.json
assert_rc 0
assert_contains "calls of the solving seed run" "ann	conda	create -y -n cs231n-solved python=3.6 anaconda=2018.12" "$(ledger_new)"

section "seed profile: a metapackage with no build for the env's python fails the step in one line naming the ways out; no env"
seed_config seed-py38.json "{\"name\": \"cs231n-py38\", \"python\": \"3.8\", \"packages\": [\"anaconda=2018.12\"], \"metapackage_channel\": \"$CHANNEL\"}"
ledger_mark
seed_run seed-py38.json
assert_rc 1
assert_contains "closing line" "step conda-env failed: $CHANNEL/linux-64/repodata.json: its anaconda 2018.12 builds (py36_0, py37_0) pin no python 3.8; set conda_env.explicit_file to an @EXPLICIT list, or conda_env.metapackage_channel to \"\" to let conda solve" \
  "$(tail -n 1 -- "$OUT")"
assert_not_contains "calls of the failed run" "conda	create" "$(ledger_new)"
[[ ! -e $R$SEED_PREFIX/envs/cs231n-py38 ]] || fail "an env was made for a python the metapackage has no build for"

section "seed profile with conda_env.explicit_file: conda 4.5 links a .tar.bz2 @EXPLICIT list (md5) with no solve"
seed_list=/srv/seed-explicit.txt
printf '@EXPLICIT\n' >"$R$seed_list"
for package in python-3.6.13-h12debd9_1 numpy-1.15.4-py36h7e9f1db_0; do
  printf 'a stand-in conda package %s\n' "$package" >"$SERVE/$package.tar.bz2"
  printf '%s/files/%s.tar.bz2#%s\n' "$BASE" "$package" "$(md5sum -- "$SERVE/$package.tar.bz2" | cut -d' ' -f1)" >>"$R$seed_list"
done
chmod 0644 -- "$R$seed_list"
seed_config seed-explicit.json "{\"name\": \"cs231n-explicit\", \"python\": \"3.6\", \"packages\": [\"anaconda=2018.12\"], \"explicit_file\": \"$seed_list\"}"
ledger_mark
seed_run seed-explicit.json
assert_rc 0
assert_eq "conda create call (conda's own channels: the seed profile sets none)" \
  "ann	conda	create -y -n cs231n-explicit --file $seed_list" "$(ledger_new | grep -P '\tconda\tcreate')"
assert_eq "python of the seed explicit env" "Python 3.6.13" \
  "$(in_chroot su ann -c "$SEED_PREFIX/envs/cs231n-explicit/bin/python --version")"
[[ -f $R$SEED_PREFIX/envs/cs231n-explicit/conda-meta/numpy-1.15.4-py36h7e9f1db_0.json ]] ||
  fail "seed explicit env" "expected: conda-meta/numpy-1.15.4-py36h7e9f1db_0.json" "got: $(ls -- "$R$SEED_PREFIX/envs/cs231n-explicit/conda-meta" 2>&1)"

#-----------------------------------------------------------------------------------------------
section "conda_env.environment_file naming Anaconda's defaults: refused up front, like conda_env.channels naming them"
cat >"$R/srv/environment-defaults.yml" <<'EOF'
name: cs231n-yml
channels:
  - conda-forge
  - defaults   # Anaconda's
dependencies:
  - python=3.12
EOF
chmod 0644 "$R/srv/environment-defaults.yml"
course_config "$R/root/from-defaults-file.json" "{\"anaconda\": {$MINIFORGE_JSON, \"prefix\": \"~/miniforge3\"},
  \"conda_env\": {\"name\": \"cs231n-yml\", \"environment_file\": \"/srv/environment-defaults.yml\"}}"
ledger_mark
chroot_agent plan --config /root/from-defaults-file.json --state-dir "$STATE"
assert_rc 2
assert_error_line "anaconda.accept_tos" \
  "(https://repo.anaconda.com/pkgs/main, https://repo.anaconda.com/pkgs/r) through /srv/environment-defaults.yml's channels" \
  "\"accept_tos\": true" "Miniforge"
course_run /root/from-defaults-file.json "$STATE"
assert_rc 2
assert_eq "conda calls of the refused run" "" "$(ledger_new)"

section "conda_env.environment_file with conda 26.7 (which, like 24.3, has no env create --force)"
cat >"$R/srv/environment.yml" <<'EOF'
name: cs231n-yml
channels:
  - conda-forge
  - nodefaults
dependencies:
  - python=3.12
  - numpy
  - pip
  - pip:
    - imageio
EOF
chmod 0644 "$R/srv/environment.yml"
course_config "$R/root/from-file.json" "{\"anaconda\": {$MINIFORGE_JSON, \"prefix\": \"~/miniforge3\"},
  \"conda_env\": {\"name\": \"cs231n-yml\", \"environment_file\": \"/srv/environment.yml\"}}"
ledger_mark
course_run /root/from-file.json "$STATE"
if [[ $RC != 0 || ! -f $R$PREFIX/envs/cs231n-yml/conda-meta/python-3.12.2-h0.json ]]; then
  fail_later "no env cs231n-yml from /srv/environment.yml" "expected: exit 0 and the env" \
    "got:      exit $RC, $(tail -n 1 -- "$OUT")" "conda calls: $(ledger_new | cut -f3 | paste -sd';')"
fi

#-----------------------------------------------------------------------------------------------
section "Miniconda 25.5 (Anaconda's ToS plugin) without anaconda.accept_tos: refused up front, nothing installed"
MINICONDA_TOS_JSON="\"installer_url\": \"@BASE@/files/$MINICONDA_TOS\", \"installer_sha256\": \"$(sha256_of "$SERVE/$MINICONDA_TOS")\""
course_config "$R/root/tos.json" "{\"user\": \"tina\", \"anaconda\": {$MINICONDA_TOS_JSON, \"prefix\": \"~/miniconda3\"},
  \"conda_env\": {\"channels\": [\"conda-forge\", \"https://repo.anaconda.com/pkgs/main\"]}}"
ledger_mark
chroot_agent plan --config /root/tos.json --state-dir /var/lib/tos
assert_rc 2
assert_error_line "anaconda.accept_tos" "$MINICONDA_TOS" "\"accept_tos\": true" "Miniforge"
chroot_agent run --only user,apt-packages,anaconda,conda-env --yes --config /root/tos.json --state-dir /var/lib/tos
assert_rc 2
assert_error_line "anaconda.accept_tos" "Miniforge"
assert_eq "installer and conda calls of the refused run" "" "$(ledger_new)"
grep -q '^tina:' "$R/etc/passwd" && fail "the refused run made the account tina"
[[ ! -e $R/var/lib/tos ]] || fail "the refused run made its state folder"
assert_eq "downloads of $MINICONDA_TOS" 0 "$(data_gets "/files/$MINICONDA_TOS")"
# conda_env.channels naming Anaconda's channels needs it too, whatever the installer.
course_config "$R/root/defaults-channel.json" "{\"user\": \"tina\", \"anaconda\": {$MINIFORGE_JSON, \"prefix\": \"~/miniforge3\"},
  \"conda_env\": {\"channels\": [\"defaults\"]}}"
chroot_agent plan --config /root/defaults-channel.json --state-dir /var/lib/tos
assert_rc 2
assert_error_line "anaconda.accept_tos" "https://repo.anaconda.com/pkgs/main, https://repo.anaconda.com/pkgs/r" "Miniforge"

section "with anaconda.accept_tos: conda tos accept for exactly the configured Anaconda channel, then the env"
course_config "$R/root/tos.json" "{\"user\": \"tina\", \"anaconda\": {$MINICONDA_TOS_JSON, \"prefix\": \"~/miniconda3\", \"accept_tos\": true},
  \"conda_env\": {\"channels\": [\"conda-forge\", \"https://repo.anaconda.com/pkgs/main\"]}}"
chroot_agent plan --json --config /root/tos.json --state-dir /var/lib/tos
assert_rc 0
assert_json_contains "steps[name=conda-env].summary" \
  "first accepts Anaconda's Terms of Service for https://repo.anaconda.com/pkgs/main (anaconda.accept_tos: conda tos accept)"
assert_json_not_contains "steps[name=conda-env].summary" "pkgs/r"
ledger_mark
chroot_agent run --only user,apt-packages,anaconda,conda-env --yes --config /root/tos.json --state-dir /var/lib/tos
assert_rc 0
TINA_PREFIX=/home/tina/miniconda3
assert_eq "conda tos and create calls of tina" \
  "tos accept --override-channels --channel https://repo.anaconda.com/pkgs/main
create -y -n cs231n python=3.12 numpy scipy matplotlib notebook --override-channels -c conda-forge -c https://repo.anaconda.com/pkgs/main" \
  "$(ledger_new | grep -P '^tina\tconda\t(tos accept|create)' | cut -f3)"
[[ -f $R$TINA_PREFIX/envs/cs231n/conda-meta/python-3.12.2-h0.json ]] || fail "no env cs231n for tina"
assert_eq "tina's accepted terms (~/.conda/tos)" 1 "$(find "$R/home/tina/.conda/tos" -name '*.json' | wc -l)"
# The stand-in is conda with the plugin: pkgs/r was not accepted, so a non-interactive create on
# conda's defaults stops, as the real one does (CI=false: no CI auto-acceptance).
set +e
in_chroot su tina -c "CI=false $TINA_PREFIX/bin/conda create -y -n other python=3.12" >"$TEST_TMP/tos.out" 2>"$TEST_TMP/tos.err" </dev/null
tos_rc=$?
set -e
assert_eq "exit status of conda create -y with pkgs/r not accepted" 1 "$tos_rc"
assert_contains "its stderr" "CondaToSNonInteractiveError: Terms of Service have not been accepted for the following channels. Please accept or remove them before proceeding:
    - https://repo.anaconda.com/pkgs/r" "$(cat -- "$TEST_TMP/tos.err")"
assert_not_contains "its stderr" "pkgs/main" "$(cat -- "$TEST_TMP/tos.err")"
[[ ! -e $R$TINA_PREFIX/envs/other ]] || fail "the stopped create made an env"

#-----------------------------------------------------------------------------------------------
section "Miniconda 25.5 and an environment.yml with conda-forge and nodefaults: the terms of the installer's defaults are accepted too"
# conda env create -f reads the file's channels, but the plugin checks conda's own (the
# installer's defaults) before it reads the file: accepting only the file's would stop it.
cat >"$R/srv/environment-forge.yml" <<'EOF'
name: cs231n-forge
channels: [conda-forge, nodefaults]
dependencies:
  - python=3.12
  - numpy
EOF
chmod 0644 "$R/srv/environment-forge.yml"
course_config "$R/root/tos-file.json" "{\"user\": \"uma\", \"anaconda\": {$MINICONDA_TOS_JSON, \"prefix\": \"~/miniconda3\", \"accept_tos\": true},
  \"conda_env\": {\"name\": \"cs231n-forge\", \"environment_file\": \"/srv/environment-forge.yml\"}}"
chroot_agent plan --json --config /root/tos-file.json --state-dir /var/lib/tos-file
assert_rc 0
assert_json_contains "steps[name=conda-env].summary" \
  "first accepts Anaconda's Terms of Service for https://repo.anaconda.com/pkgs/main, https://repo.anaconda.com/pkgs/r"
ledger_mark
chroot_agent run --only user,apt-packages,anaconda,conda-env --yes --config /root/tos-file.json --state-dir /var/lib/tos-file
assert_rc 0
assert_eq "conda tos and env calls of uma" \
  "tos accept --override-channels --channel https://repo.anaconda.com/pkgs/main --channel https://repo.anaconda.com/pkgs/r
env create --yes -n cs231n-forge -f /srv/environment-forge.yml" \
  "$(ledger_new | grep -P '^uma\tconda\t(tos accept|env create)' | cut -f3)"
[[ -f $R/home/uma/miniconda3/envs/cs231n-forge/conda-meta/numpy-1.0.0-h0.json ]] || fail "no env cs231n-forge for uma"

section "a Miniconda with the ToS plugin under a name that does not say so: the installed conda is asked, the run refused before conda-env"
cp -- "$SERVE/$MINICONDA_TOS" "$SERVE/conda-installer.sh"
MIRROR_JSON="\"installer_url\": \"@BASE@/files/conda-installer.sh\", \"installer_sha256\": \"$(sha256_of "$SERVE/conda-installer.sh")\""
course_config "$R/root/mirror.json" "{\"user\": \"vic\", \"anaconda\": {$MIRROR_JSON, \"prefix\": \"~/miniconda3\"},
  \"conda_env\": {\"channels\": []}}"
chroot_agent plan --config /root/mirror.json --state-dir /var/lib/mirror
assert_rc 0
ledger_mark
chroot_agent run --only user,apt-packages,anaconda,conda-env --yes --config /root/mirror.json --state-dir /var/lib/mirror
assert_rc 4
mirror_closing=$(tail -n 1 -- "$OUT")
assert_contains "closing line" \
  "failed: step conda-env failed: config: anaconda.accept_tos: conda-installer.sh stops at Anaconda's Terms of Service" "$mirror_closing"
assert_contains "closing line" "\"accept_tos\": true" "$mirror_closing"
assert_eq "conda create or tos accept calls of vic's refused run" "" \
  "$(ledger_new | grep -P '^vic\tconda\t(create|tos accept)' || true)"
assert_contains "the question it asked" "vic	conda	tos --version" "$(ledger_new)"
[[ ! -e $R/home/vic/miniconda3/envs/cs231n ]] || fail "the refused run made an env for vic"
course_config "$R/root/mirror.json" "{\"user\": \"vic\", \"anaconda\": {$MIRROR_JSON, \"prefix\": \"~/miniconda3\", \"accept_tos\": true},
  \"conda_env\": {\"channels\": []}}"
ledger_mark
chroot_agent run --only user,apt-packages,anaconda,conda-env --yes --config /root/mirror.json --state-dir /var/lib/mirror
assert_rc 0
assert_eq "conda tos and create calls of vic" \
  "tos accept --override-channels --channel https://repo.anaconda.com/pkgs/main --channel https://repo.anaconda.com/pkgs/r
create -y -n cs231n python=3.12 numpy scipy matplotlib notebook" \
  "$(ledger_new | grep -P '^vic\tconda\t(tos accept|create)' | cut -f3)"

section "conda_env.explicit_file: an @EXPLICIT list from a URL, installed with no solve"
explicit_list=$TEST_TMP/explicit.txt
printf '# platform: linux-64\n@EXPLICIT\n' >"$explicit_list"
for package in python-3.12.2-h9e4cc4f_0_cpython numpy-2.1.3-py312h58c1407_0 future-1.0.0-pyhd8ed1ab_2; do
  printf 'a stand-in conda package %s\n' "$package" >"$SERVE/$package.conda"
  printf '%s/files/%s.conda#%s\n' "$BASE" "$package" "$(md5sum -- "$SERVE/$package.conda" | cut -d' ' -f1)" >>"$explicit_list"
done
cp -- "$explicit_list" "$SERVE/cs231n-explicit.txt"
course_config "$R/root/explicit.json" "{\"anaconda\": {$MINIFORGE_JSON, \"prefix\": \"~/miniforge3\"},
  \"conda_env\": {\"name\": \"cs231n-explicit\", \"explicit_file\": \"@BASE@/files/cs231n-explicit.txt\"}}"
chroot_agent plan --json --config /root/explicit.json --state-dir "$STATE"
assert_rc 0
assert_json_contains "steps[name=conda-env].summary" \
  "the @EXPLICIT list $BASE/files/cs231n-explicit.txt (no solve; its sha256 is pinned at the first download)"
ledger_mark
course_run /root/explicit.json "$STATE"
assert_rc 0
assert_eq "conda create call" "create -y -n cs231n-explicit --file /var/cache/cs231n-agent/cs231n-explicit.txt --override-channels -c conda-forge" \
  "$(ledger_new | grep -P '\tconda\tcreate' | cut -f3)"
EXPLICIT_ENV=$R$PREFIX/envs/cs231n-explicit
for record in python-3.12.2-h9e4cc4f_0_cpython.json numpy-2.1.3-py312h58c1407_0.json future-1.0.0-pyhd8ed1ab_2.json; do
  [[ -f $EXPLICIT_ENV/conda-meta/$record ]] || fail "explicit env" "expected: conda-meta/$record" "got: $(ls -- "$EXPLICIT_ENV/conda-meta" 2>&1)"
done
assert_eq "python of the explicit env" "Python 3.12.2" "$(in_chroot su student -c "$PREFIX/envs/cs231n-explicit/bin/python --version")"
for package in python-3.12.2-h9e4cc4f_0_cpython numpy-2.1.3-py312h58c1407_0 future-1.0.0-pyhd8ed1ab_2; do
  assert_eq "GETs of /files/$package.conda" 1 "$(data_gets "/files/$package.conda")"
done
chroot_agent logs conda-env --state-dir "$STATE"
last_attempt=$(awk '/^=== .* run .*, attempt [0-9]+, boot/ { text = "" } { text = text $0 "\n" } END { printf "%s", text }' "$OUT")
assert_contains "conda-env's last attempt" "--file /var/cache/cs231n-agent/cs231n-explicit.txt" "$last_attempt"
assert_contains "conda-env's last attempt" "Downloading and Extracting Packages" "$last_attempt"
assert_not_contains "conda-env's last attempt (no solve)" "Solving environment" "$last_attempt"
assert_eq "the list's pin" "$(sha256_of "$explicit_list")" \
  "$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    "$R/var/cache/cs231n-agent/datasets/pins.json" "$BASE/files/cs231n-explicit.txt")"
chroot_agent plan --json --config /root/explicit.json --state-dir "$STATE"
assert_json_contains "steps[name=conda-env].summary" "(no solve; sha256 $(sha256_of "$explicit_list" | cut -c1-12)... pinned at its first download)"

section "conda_env.explicit_file: a list changed on the server is refused (exit 7), nothing installed from it"
# Another package slipped into the served list; the cached copy is gone, so it is fetched again.
printf '%s/files/evil-1.0-0.conda\n' "$BASE" >>"$SERVE/cs231n-explicit.txt"
rm -f -- "$R/var/cache/cs231n-agent/cs231n-explicit.txt"
course_config "$R/root/explicit-again.json" "{\"anaconda\": {$MINIFORGE_JSON, \"prefix\": \"~/miniforge3\"},
  \"conda_env\": {\"name\": \"cs231n-explicit2\", \"explicit_file\": \"@BASE@/files/cs231n-explicit.txt\"}}"
ledger_mark
course_run /root/explicit-again.json "$STATE"
assert_rc 7
explicit_closing=$(tail -n 1 -- "$OUT")
assert_contains "closing line" "cs231n-explicit.txt: sha256 mismatch: expected $(sha256_of "$explicit_list")" "$explicit_closing"
assert_contains "closing line" "the @EXPLICIT list is not the one pinned at its first download, so nothing was installed from it" \
  "$explicit_closing"
assert_eq "conda create calls of the refused run" "" "$(ledger_new | grep -P '\tconda\tcreate' || true)"
[[ ! -e $R$PREFIX/envs/cs231n-explicit2 ]] || fail "an env was made from the changed list"
# A sha256 given in the config is held to the same way.
course_config "$R/root/explicit-sha.json" "{\"anaconda\": {$MINIFORGE_JSON, \"prefix\": \"~/miniforge3\"},
  \"conda_env\": {\"name\": \"cs231n-explicit2\", \"explicit_file\": \"@BASE@/files/cs231n-explicit.txt\",
                 \"explicit_sha256\": \"$(sha256_of "$explicit_list")\"}}"
course_run /root/explicit-sha.json "$STATE"
assert_rc 7
assert_contains "closing line" "the @EXPLICIT list is not the one conda_env.explicit_sha256 names" "$(tail -n 1 -- "$OUT")"
cp -- "$explicit_list" "$SERVE/cs231n-explicit.txt"

#-----------------------------------------------------------------------------------------------
section "assignments from the course's archives (the current profile's way): unpacked, never over the student's files"
# Two zips shaped like the course's 2026 ones: assignment1.zip has an assignment1/ folder,
# assignment2.zip its files at the top.
make_zip() {
  "$PYTHON" - "$@" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as archive:
    for pair in sys.argv[2:]:
        name, text = pair.split("=", 1)
        archive.writestr(name, text)
PY
}
make_zip "$SERVE/assignment1.zip" "assignment1/knn.ipynb=the course's knn" "assignment1/cs231n/datasets/get_datasets.sh=echo"
make_zip "$SERVE/assignment2.zip" "FullyConnectedNets.ipynb=the course's fc nets" "cs231n/layers.py=pass"
course_config "$R/root/archives.json" '{"user": "wes", "datasets": {"enabled": false},
  "assignments": {"repo": "", "folder": "~/cs231n", "archives": [{"name": "a1", "url": "@BASE@/files/assignment1.zip"},
    {"name": "a2", "url": "@BASE@/files/assignment2.zip", "into": "assignment2"}]}}'
chroot_agent plan --json --config /root/archives.json --state-dir /var/lib/archives
assert_rc 0
assert_json_contains "steps[name=assignments].summary" \
  "unpack $BASE/files/assignment1.zip, $BASE/files/assignment2.zip into /home/wes/cs231n (no file that is there is overwritten"
chroot_agent run --only user,apt-packages,assignments --yes --config /root/archives.json --state-dir /var/lib/archives
assert_rc 0
WES=/home/wes/cs231n
assert_eq "assignment1/knn.ipynb" "the course's knn" "$(cat -- "$R$WES/assignment1/knn.ipynb")"
assert_eq "assignment2/FullyConnectedNets.ipynb" "the course's fc nets" "$(cat -- "$R$WES/assignment2/FullyConnectedNets.ipynb")"
assert_owned "$(uid_of wes)" "$R$WES"
for file in assignment1.zip assignment2.zip; do
  assert_eq "the pin of $file" "$(sha256_of "$SERVE/$file")" \
    "$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
      "$R/var/cache/cs231n-agent/datasets/pins.json" "$BASE/files/$file")"
done
# The student works on the notebook; its marker is lost; the next run unpacks again, around it.
in_chroot su wes -c "printf 'my solution' >$WES/assignment1/knn.ipynb && rm $WES/.cs231n-agent-a1"
gets_before=$(data_gets /files/assignment1.zip)
chroot_agent run --only user,apt-packages,assignments --yes --config /root/archives.json --state-dir /var/lib/archives
assert_rc 0
assert_eq "the student's knn.ipynb after the archive was unpacked again" "my solution" "$(cat -- "$R$WES/assignment1/knn.ipynb")"
assert_eq "downloads of assignment1.zip (the cached copy matches its pin)" "$gets_before" "$(data_gets /files/assignment1.zip)"
[[ -f $R$WES/.cs231n-agent-a1 ]] || fail "the marker of a1 was not written again"
# A zip changed on the server (and no cached copy): refused, nothing unpacked.
make_zip "$SERVE/assignment2.zip" "FullyConnectedNets.ipynb=someone else's" "cs231n/layers.py=import os"
rm -f -- "$R$WES/assignment2/.cs231n-agent-a2" "$R"/var/cache/cs231n-agent/*-assignment2.zip
chroot_agent run --only user,apt-packages,assignments --yes --config /root/archives.json --state-dir /var/lib/archives
assert_rc 7
assert_contains "closing line" "assignment2.zip: sha256 mismatch" "$(tail -n 1 -- "$OUT")"
assert_eq "assignment2/FullyConnectedNets.ipynb" "the course's fc nets" "$(cat -- "$R$WES/assignment2/FullyConnectedNets.ipynb")"
# Neither a repository nor archives: a usage error.
course_config "$R/root/no-assignments.json" '{"assignments": {"repo": "", "archives": []}}'
chroot_agent plan --config /root/no-assignments.json --state-dir /var/lib/archives
assert_rc 2
assert_error_line "assignments.repo" "assignments.archives"

section "jupyter-service: the unit runs Jupyter as student from the env, enabled offline, verified by systemd"
chroot_agent run --only jupyter-password,jupyter-cert,jupyter-config,jupyter-service --yes --config /root/course.json \
  --state-dir "$STATE"
assert_rc 0
JUPYTER_UNIT=$R/etc/systemd/system/cs231n-jupyter.service
[[ -f $JUPYTER_UNIT ]] || fail "jupyter-service" "expected: $JUPYTER_UNIT"
unit_text=$(cat -- "$JUPYTER_UNIT")
assert_contains "unit" "User=student" "$unit_text"
assert_contains "unit" "WorkingDirectory=$CLONE" "$unit_text"
assert_contains "unit" "ExecStart=$PREFIX/envs/cs231n/bin/jupyter notebook --no-browser" "$unit_text"
assert_contains "unit" "Restart=on-failure" "$unit_text"
assert_eq "enable symlink" /etc/systemd/system/cs231n-jupyter.service \
  "$(readlink -- "$R/etc/systemd/system/multi-user.target.wants/cs231n-jupyter.service")"
assert_contains "summary" "Jupyter: https://127.0.0.1:8888" "$(cat -- "$OUT")"
# The unit names paths that exist only in the overlay: verify a copy pointing into it, with a
# stand-in jupyter where the env's would be.
install -m 0755 /dev/null "$TEST_TMP/jupyter"
mkdir -p -- "$TEST_TMP/unit"
sed -e "s|^ExecStart=[^ ]*|ExecStart=$TEST_TMP/jupyter|" -e "s|^WorkingDirectory=|WorkingDirectory=$R|" -e "s|^User=.*|User=root|" \
  "$JUPYTER_UNIT" >"$TEST_TMP/unit/cs231n-jupyter.service"
verify_output=$(systemd-analyze verify --man=no "$TEST_TMP/unit/cs231n-jupyter.service" 2>&1) ||
  fail "systemd-analyze verify" "$verify_output"
assert_eq "systemd-analyze verify output" "" "$verify_output"

(IFS=';' && echo "timings: ${TIMINGS[*]}; the whole test: $((SECONDS - TEST_STARTED)) s")
fail_at_end
echo "ok: the course steps end to end, a second run that does nothing, the seed profile's conda 4.5"
