# shellcheck shell=bash
# A writable Debian 11 minbase chroot for the end-to-end tests that must run `cs231n-agent run`
# (which refuses any --root but "/" and installs itself and a systemd unit): sourced by
# tests/e2e/test_*.sh (after lib.sh), tests/e2e/vm/run.sh and scripts/bench/*.sh.
#
#   chroot_ensure_tree          debootstraps the cached tree once (needs root and the Debian archive):
#                               Debian 11 minbase, or CHROOT_SUITE with CHROOT_INCLUDE (set before
#                               sourcing: CHROOT_SUITE=bookworm CHROOT_INCLUDE=python3-venv)
#   chroot_start [DIR]          mounts this test's overlay (default DIR: $TEST_TMP/chroot); sets
#                               CHROOT_ROOT (the merged tree, readable and writable from the host)
#   chroot_install_agent [BIN]  copies the agent ($AGENT) to /root/cs231n-agent in the overlay
#   chroot_apt_install CACHE PACKAGE...   installs PACKAGEs from Debian's archive in the overlay
#                               (apt-get with the tree's lists, apt-get update when they are not
#                               enough); their .debs are kept in CACHE between test runs and none
#                               is left in the overlay's /var/cache/apt/archives
#   in_chroot CMD...            runs CMD inside, in the foreground
#   chroot_agent ARG...         like lib.sh's run_agent, inside: stdout $OUT, stderr $ERR, status $RC
#   chroot_spawn OUT ERR CMD... starts CMD inside in the background; CHROOT_PID is CMD's own pid
#                               (every wrapper execs, so it is the agent's, not a wrapper's)
#   chroot_wait_exec PID NAME   waits until PID has exec'd a binary called NAME
#   chroot_kill PID             SIGKILLs PID and reaps it; its children live on, as on a VM
#   chroot_pids                 the pids of every process whose root is the overlay
#   chroot_kill_all             SIGKILLs them all (a power loss), the overlay stays mounted
#   chroot_cleanup              ends every process started inside, unmounts (run on EXIT, after
#                               the commands in CHROOT_EXIT_HOOKS, e.g. stop_servers)
#   CHROOT_FAKE_PROC=DIR        (optional) a host folder with the files osrelease, modules and
#                               boot_id: every command entered from then on sees them as
#                               /proc/sys/kernel/osrelease, /proc/modules and
#                               /proc/sys/kernel/random/boot_id (a fake kernel: tests/e2e/gpu.sh)
#
# The cached tree is the lower layer of an overlay whose upper and work folders live in the test's
# temp dir, so tests never change the cache and each starts from the same pristine tree.
#
# The overlay is mounted ONCE per test, in the host's mount namespace, under the test's temp dir:
# two overlay mounts sharing an upper dir are undefined behaviour, and an flock taken through one
# would not be seen through the other (so two concurrent runs could not even meet on the run
# lock). Every command then enters with `unshare --mount` (no pid namespace: a SIGKILLed agent
# leaves its children running, the way it would on a VM), rbind-mounts /proc and /dev into the
# tree in that private namespace (so the host never sees those mounts), and chroots. /sys and
# /run are not mounted: the tree's empty /run means "systemd is not running", so the agent
# enables its unit offline instead of calling the host's systemctl.
#
# A fake kernel (CHROOT_FAKE_PROC) cannot be bind-mounted over the host's /proc files the way
# lxcfs does it: the test machines' kernels are built without module support, so there is no
# /proc/modules to mount over, and procfs takes no new files (nor is it an overlay layer). So the
# chroot's /proc becomes a read-only tmpfs holding the real procfs at /proc/.host, one symlink per
# entry of it (self -> .host/self, cpuinfo -> .host/cpuinfo, 1234 -> .host/1234, ...), and the
# fake files bind-mounted: modules over an empty file, osrelease and boot_id over the procfs ones.
# Writes inside land in the host's files and host-side changes are seen at once, as long as the
# host rewrites them in place (`>`, `>>`; a rename would leave the mount on the old file).
# What differs from a real /proc: a process started after the entry has no /proc/PID entry at
# the top (/proc/self and /proc/.host/PID work), and the symlinks are symlinks to lstat().

CHROOT_CACHE=${CS231N_TEST_CACHE:-/var/cache/cs231n-agent-tests}
# Another Debian release, or more packages in the tree (a comma-separated debootstrap --include),
# when set before this file is sourced: each combination is its own cached tree.
CHROOT_SUITE=${CHROOT_SUITE:-bullseye}
CHROOT_INCLUDE=${CHROOT_INCLUDE:-}
CHROOT_TREE=$CHROOT_CACHE/$CHROOT_SUITE-minbase${CHROOT_INCLUDE:+-${CHROOT_INCLUDE//,/-}}
CHROOT_ROOT=""
CHROOT_PID=""
CHROOT_FAKE_PROC=${CHROOT_FAKE_PROC:-}
# Removed on exit, after the overlay is unmounted (lib.sh's own EXIT trap is replaced).
CHROOT_REMOVE_ON_EXIT=()
[[ -n ${TEST_TMP:-} ]] && CHROOT_REMOVE_ON_EXIT+=("$TEST_TMP")

# The environment of every command started inside: nothing of the host's leaks in.
CHROOT_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb)

# Runs on the host, inside the new mount namespace: $1 is the tree, the rest the command.
# shellcheck disable=SC2016  # expanded by that sh, not here
_CHROOT_ENTER='
root=$1
shift
if [ -n "${CHROOT_FAKE_PROC:-}" ]; then
  fake=$CHROOT_FAKE_PROC
  { mount -t tmpfs -o mode=0555,size=1m proc-view "$root/proc" && mkdir "$root/proc/.host" &&
    mount --rbind /proc "$root/proc/.host" && (cd "$root/proc" && ln -s .host/* . && rm -f modules && : >modules) &&
    mount --bind "$fake/modules" "$root/proc/modules" &&
    mount --bind "$fake/osrelease" "$root/proc/.host/sys/kernel/osrelease" &&
    mount --bind "$fake/boot_id" "$root/proc/.host/sys/kernel/random/boot_id" &&
    mount -o remount,bind,ro "$root/proc"; } || { echo "chroot.sh: cannot set up the fake /proc from $fake in $root" >&2; exit 125; }
  unset CHROOT_FAKE_PROC fake
else
  mount --rbind /proc "$root/proc" || { echo "chroot.sh: cannot mount /proc in $root" >&2; exit 125; }
fi
mount --rbind /dev "$root/dev" || { echo "chroot.sh: cannot mount /dev in $root" >&2; exit 125; }
exec chroot "$root" "$@"
'

chroot_ensure_tree() {
  [[ $(id -u) == 0 ]] || { echo "this test needs root (debootstrap, mount, chroot)" >&2; exit 1; }
  [[ -x $CHROOT_TREE/bin/bash ]] && return 0
  mkdir -p -- "$CHROOT_CACHE"
  # Tests run in parallel (ctest --parallel): one debootstraps, the others wait for it.
  (
    flock 9
    if [[ ! -x $CHROOT_TREE/bin/bash ]]; then
      rm -rf -- "$CHROOT_TREE.tmp"
      debootstrap --variant=minbase ${CHROOT_INCLUDE:+--include="$CHROOT_INCLUDE"} "$CHROOT_SUITE" "$CHROOT_TREE.tmp" \
        http://deb.debian.org/debian >"$CHROOT_TREE.log" 2>&1 ||
        { tail -n 20 -- "$CHROOT_TREE.log" >&2; echo "FAIL: debootstrap failed" >&2; exit 1; }
      mv -- "$CHROOT_TREE.tmp" "$CHROOT_TREE"
    fi
  ) 9>"$CHROOT_CACHE/.lock"
}

chroot_start() {
  local dir=${1:-${TEST_TMP:?chroot_start needs a folder or TEST_TMP}/chroot}
  chroot_ensure_tree
  [[ -z $CHROOT_ROOT ]] || { echo "chroot.sh: an overlay is already mounted at $CHROOT_ROOT" >&2; exit 1; }
  mkdir -p -- "$dir/upper" "$dir/work" "$dir/root"
  trap chroot_on_exit EXIT
  trap 'exit 130' INT TERM HUP
  mount -t overlay overlay -o "lowerdir=$CHROOT_TREE,upperdir=$dir/upper,workdir=$dir/work" "$dir/root" ||
    { echo "FAIL: cannot mount the overlay of $CHROOT_TREE at $dir/root" >&2; exit 1; }
  CHROOT_ROOT=$(realpath -- "$dir/root")
}

chroot_install_agent() {
  install -m 0755 -- "${1:-$AGENT}" "$CHROOT_ROOT/root/cs231n-agent"
}

chroot_apt_install() {
  local cache=$1 log=$TEST_TMP/chroot-apt.log
  shift
  local install=(env DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Options::=--force-unsafe-io install -y -qq
    --no-install-recommends "$@")
  mkdir -p -- "$cache"
  cp -- "$cache"/*.deb "$CHROOT_ROOT/var/cache/apt/archives/" 2>/dev/null || true
  if ! in_chroot "${install[@]}" >"$log" 2>&1; then
    in_chroot apt-get update -qq >>"$log" 2>&1 || { echo "chroot.sh: apt-get update failed: $(tail -n 5 -- "$log")" >&2; exit 1; }
    in_chroot "${install[@]}" >>"$log" 2>&1 || { echo "chroot.sh: apt-get install $* failed: $(tail -n 5 -- "$log")" >&2; exit 1; }
  fi
  cp -n -- "$CHROOT_ROOT"/var/cache/apt/archives/*.deb "$cache/" 2>/dev/null || true
  rm -f -- "$CHROOT_ROOT"/var/cache/apt/archives/*.deb
}

# chroot_command_line CMD...: what in_chroot runs, as one shell-quoted line, for a program that
# takes a command line (script -c, to run CMD on a pty).
chroot_command_line() {
  printf '%q ' env -i "${CHROOT_ENV[@]}" ${CHROOT_FAKE_PROC:+"CHROOT_FAKE_PROC=$CHROOT_FAKE_PROC"} \
    unshare --mount /bin/sh -c "$_CHROOT_ENTER" sh "$CHROOT_ROOT" "$@"
}

# _chroot_exec CMD...: replaces the calling (sub)shell with CMD inside the chroot, so that the
# pid stays the same through env, unshare, sh and chroot, all of which exec.
_chroot_exec() {
  exec env -i "${CHROOT_ENV[@]}" ${CHROOT_FAKE_PROC:+"CHROOT_FAKE_PROC=$CHROOT_FAKE_PROC"} \
    unshare --mount /bin/sh -c "$_CHROOT_ENTER" sh "$CHROOT_ROOT" "$@"
}

in_chroot() {
  [[ -n $CHROOT_ROOT ]] || { echo "chroot.sh: in_chroot before chroot_start" >&2; exit 1; }
  (_chroot_exec "$@")
}

chroot_agent() {
  # shellcheck disable=SC2034  # LAST_CMD and RC are lib.sh's
  LAST_CMD="(chroot) cs231n-agent $*"
  set +e
  in_chroot /root/cs231n-agent "$@" >"$OUT" 2>"$ERR" </dev/null
  # shellcheck disable=SC2034
  RC=$?
  set -e
}

chroot_spawn() {
  local out=$1 err=$2
  shift 2
  [[ -n $CHROOT_ROOT ]] || { echo "chroot.sh: chroot_spawn before chroot_start" >&2; exit 1; }
  _chroot_exec "$@" >"$out" 2>"$err" </dev/null &
  # shellcheck disable=SC2034  # for the caller
  CHROOT_PID=$!
}

# chroot_wait_exec PID NAME [SECONDS]: waits until PID runs the binary NAME (its /proc/PID/exe);
# fails when PID ends first or after SECONDS (default 10).
chroot_wait_exec() {
  local pid=$1 name=$2 deadline=$((SECONDS + ${3:-10})) exe
  while ((SECONDS < deadline)); do
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || { echo "chroot.sh: pid $pid ended before it ran $name" >&2; return 1; }
    [[ $(basename -- "$exe") == "$name" ]] && return 0
    sleep 0.01
  done
  echo "chroot.sh: pid $pid did not exec $name within ${3:-10} s" >&2
  return 1
}

chroot_kill() {
  kill -KILL "$1" 2>/dev/null || true
  { wait "$1"; } 2>/dev/null || true
}

# Every process whose root is the overlay (readlink of /proc/PID/root from the host names it).
chroot_pids() {
  [[ -n $CHROOT_ROOT ]] || return 0
  local entry root
  for entry in /proc/[0-9]*; do
    root=$(readlink "$entry/root" 2>/dev/null) || continue
    [[ $root == "$CHROOT_ROOT" || $root == "$CHROOT_ROOT/"* ]] && printf '%s\n' "${entry#/proc/}"
  done
  return 0
}

# chroot_kill_all: SIGKILLs every process in the overlay (a power loss) and reaps the test's own jobs
# among them; the overlay stays mounted.
chroot_kill_all() {
  local pids
  for _ in $(seq 1 50); do
    mapfile -t pids < <(chroot_pids)
    ((${#pids[@]} == 0)) && return 0
    kill -KILL "${pids[@]}" 2>/dev/null || true
    { wait "${pids[@]}"; } 2>/dev/null || true
    sleep 0.05
  done
  echo "chroot.sh: processes in $CHROOT_ROOT survive SIGKILL: $(chroot_pids | xargs)" >&2
  return 1
}

chroot_cleanup() {
  [[ -n $CHROOT_ROOT ]] || return 0
  local pids
  for _ in $(seq 1 50); do
    mapfile -t pids < <(chroot_pids)
    ((${#pids[@]} == 0)) && break
    kill -KILL "${pids[@]}" 2>/dev/null || true
    # Reaps those that are this shell's own jobs, without bash's "Killed" notices.
    { wait "${pids[@]}"; } 2>/dev/null || true
    sleep 0.1
  done
  if ! umount -- "$CHROOT_ROOT" 2>/dev/null; then
    umount --lazy -- "$CHROOT_ROOT" || { echo "chroot.sh: cannot unmount $CHROOT_ROOT; leaving its folder" >&2; return 1; }
  fi
  CHROOT_ROOT=""
}

# What chroot_on_exit runs first, in turn (e.g. stop_servers): add to it rather than replacing the
# EXIT trap, so that the test's exit status survives.
CHROOT_EXIT_HOOKS=()

chroot_on_exit() {
  local status=$? dir hook
  for hook in "${CHROOT_EXIT_HOOKS[@]}"; do "$hook" || true; done
  if chroot_cleanup; then
    for dir in "${CHROOT_REMOVE_ON_EXIT[@]}"; do rm -rf -- "$dir"; done
  fi
  exit "$status"
}
