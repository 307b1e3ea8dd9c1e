#!/usr/bin/env bash
# Proves the product end to end: the static cs231n-agent, installed and started exactly as a GCE
# startup script does it (scripts/startup-script.sh, fetched from the metadata attribute
# startup-script, downloading the agent named by cs231n-agent-url / cs231n-agent-sha256), turns a
# debootstrapped Debian 11 minbase into a finished course VM with only metadata for config.
# Run by scripts/test.sh after ctest; see --help. The VMs are lib.sh's, the shared checks
# checks.sh's, each scenario is its own scenario_*.sh.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: tests/e2e/vm/run.sh [--scenarios LIST] [AGENT]   (as root)

The whole product on a real minimal OS: a Debian 11 minbase overlay (tests/e2e/chroot.sh) that is
a GCE VM with a fake Tesla T4 driven by nouveau, a metadata server, the stand-in Miniforge, real
dataset archives and NVIDIA's repo layout on 127.0.0.1. Each VM boots by fetching its
startup-script from the metadata and running it, as GCE does.

  1  happy path (scenario_happy_path.sh): the first boot runs until the one reboot, the second
     finishes; then the user, conda, datasets, Jupyter (a real login over HTTPS), the GPU steps,
     guest attributes, status and the summary are checked, and the generated password is in no
     log, state or output
  2  chaos (scenario_chaos.sh): a fresh VM whose boots are SIGKILLed at random moments (one while
     apt-get or dpkg runs; some kill only the agent, some the whole VM, which then reboots), with
     a download cut mid-way and a burst of HTTP 503; booted again until done: the same end state
     as 1, no step recorded done ran again, no verified file downloaded again
  3  second boot of 1's VM (scenario_second_boot.sh): nothing changes and the agent's own time is
     under a second
  4  refusals (scenario_refusals.sh): an unsupported OS and a malformed cs231n-config change
     nothing (exit 4, exit 2); cs231n-cuda=10.0 on Debian 11 refuses the GPU branch before any of
     it is installed, the rest completes, exit 4
  5  hostile student on 1's VM (scenario_hostile.sh): FIFOs for the certificate and a dataset's
     marker, ~/.bashrc -> /etc/shadow, ~/anaconda3 -> root's own conda, a conda wrapper and git
     hooks set in the clone's config (one never reads its stdin; all try TIOCSTI and write into
     every inherited descriptor); a boot with a new IP, another branch and a mirror runs them as
     the student and stops at ~/.bashrc with an error naming it (exit 1, the rest done); with
     ~/.bashrc back, a run by hand on a pty ends done; no hook had a terminal or a descriptor of
     root's, root's files are untouched and nothing of them shows

AGENT        the static binary (default: build/cs231n-agent)
--scenarios  which ones, in the order 1 3 5 2 4 (default: all; 2, 3 and 5 need 1), e.g. --scenarios 4
E2E_SEED     replays scenario 2's kill plan (printed with its seed; the timing of the VM is its own)
E2E_KEEP=1   keeps the temporary folder (it is kept anyway when the script fails)
Each scenario's wall time is printed; exit status 0 when every assertion holds.
USAGE
}

vm_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
top=$(cd -- "$vm_dir/../../.." && pwd)
scenarios="1,2,3,4,5"
agent=""
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --scenarios) [[ $# -ge 2 ]] || { echo "run.sh: --scenarios needs a list, e.g. 1,3" >&2; exit 2; }; scenarios=$2; shift ;;
    -*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [[ -z $agent ]] || { echo "run.sh: one AGENT only (see --help)" >&2; exit 2; }; agent=$1 ;;
  esac
  shift
done
agent=${agent:-$top/build/cs231n-agent}
[[ $scenarios =~ ^[1-5](,[1-5])*$ ]] || { echo "run.sh: --scenarios takes numbers 1-5 separated by commas, not $scenarios" >&2; exit 2; }
want() { [[ ,$scenarios, == *",$1,"* ]]; }
if { want 2 || want 3 || want 5; } && ! want 1; then
  echo "run.sh: scenarios 2, 3 and 5 need scenario 1 (its VM, its end state)" >&2
  exit 2
fi

export CS231N_SOURCE_DIR=$top
set -- "$agent"
# shellcheck source=tests/e2e/lib.sh
source "$top/tests/e2e/lib.sh"
# One name for every failure message of the VM scenarios (lib.sh would take this script's).
TEST_NAME=e2e.vm
# shellcheck source=tests/e2e/chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"
# shellcheck source=tests/support/course.sh
source "$SOURCE_DIR/tests/support/course.sh"
# shellcheck source=tests/e2e/gpu.sh
source "$SOURCE_DIR/tests/e2e/gpu.sh"
# shellcheck source=tests/support/jupyter.sh
source "$SOURCE_DIR/tests/support/jupyter.sh"

for tool in /usr/bin/python3 openssl curl ss setpriv unshare timeout debootstrap; do
  command -v "$tool" >/dev/null || { echo "FAIL: tests/e2e/vm/run.sh needs $tool on the host" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "FAIL: tests/e2e/vm/run.sh needs root (mount, chroot, unshare)" >&2; exit 1; }

E2E_STARTED=$SECONDS
# shellcheck source=tests/e2e/vm/lib.sh
source "$vm_dir/lib.sh"
# shellcheck source=tests/e2e/vm/checks.sh
source "$vm_dir/checks.sh"
# shellcheck source=tests/e2e/vm/scenario_happy_path.sh
source "$vm_dir/scenario_happy_path.sh"
# shellcheck source=tests/e2e/vm/scenario_chaos.sh
source "$vm_dir/scenario_chaos.sh"
# shellcheck source=tests/e2e/vm/scenario_second_boot.sh
source "$vm_dir/scenario_second_boot.sh"
# shellcheck source=tests/e2e/vm/scenario_refusals.sh
source "$vm_dir/scenario_refusals.sh"
# shellcheck source=tests/e2e/vm/scenario_hostile.sh
source "$vm_dir/scenario_hostile.sh"

setup_files
printf 'tests/e2e/vm/run.sh: agent %s (sha256 %s), scenarios %s\n' "$AGENT_VERSION" "$AGENT_SHA" "$scenarios"
# 3 and 5 run right after 1, on 1's VM still mounted (5 changes it, so after 3); 2 compares its
# end state with 1's.
want 1 && scenario_happy_path
want 3 && scenario_second_boot
want 5 && scenario_hostile
want 2 && scenario_chaos
want 4 && scenario_refusals

printf '\n'
for line in "${SCENARIO_TIMES[@]}"; do printf '%s\n' "$line"; done
fail_at_end
printf 'tests/e2e/vm/run.sh: PASS in %d s\n' $((SECONDS - E2E_STARTED))
