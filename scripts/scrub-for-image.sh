#!/usr/bin/env bash
# Runs ON a finished cs231n VM, as root, right before its disk becomes an image (scripts/bake-image.sh
# pipes it over `gcloud compute ssh`). It removes everything that belongs to this one VM, so that
# no VM made from the image shares a secret, a key or a history with it. See --help.
set -euo pipefail

PROG=scrub-for-image
AGENT=/usr/local/bin/cs231n-agent
# The agent's default paths: its state, logs and password hash (agent/core/paths.hpp, steps/jupyter_common.hpp).
STATE_DIR=/var/lib/cs231n-agent
PASSWORD_FILE=/root/cs231n-jupyter-password
# The markers of the block the agent writes into each Jupyter config (agent/jupyter/config_file.hpp).
BLOCK_BEGIN='# >>> cs231n-agent >>>'
BLOCK_END='# <<< cs231n-agent <<<'
# What each home may hold that must not be copied: the Jupyter TLS key and certificate, kernel
# connection files and the cookie secret, shell and Python histories, SSH keys the guest agent
# put there from metadata (it puts them back on every new VM).
HOME_ITEMS=".jupyter/certs/jupyter.key .jupyter/certs/jupyter.pem .local/share/jupyter/runtime
.bash_history .zsh_history .python_history .lesshst .viminfo .mysql_history .psql_history
.ipython/profile_default/history.sqlite .ssh/authorized_keys"

usage() {
  cat <<EOF
Usage: scrub-for-image.sh (--yes | --dry-run) [--force]   (as root, on the VM)

Removes what belongs to this VM alone, before its disk is imaged (scripts/bake-image.sh runs it):
  - the Jupyter password: $PASSWORD_FILE, and the cs231n-agent block (with the password
    hash) in every ~/.jupyter/jupyter_notebook_config.py and jupyter_server_config.py
  - the agent's per-VM state: $STATE_DIR (state, step logs, password hash) and
    /var/log/cs231n-agent.log*; a VM made from the image checks every step again and makes its
    own password, certificate and host keys
  - the Jupyter TLS key and certificate (~/.jupyter/certs/jupyter.key, jupyter.pem) and Jupyter's
    runtime folder (kernel connection files, cookie secret) of root and every /home/* account
  - SSH host keys (/etc/ssh/ssh_host_*; GCE's guest agent and cloud-init make new ones at the
    first boot of a new VM) and ~/.ssh/authorized_keys (the guest agent writes them from metadata)
  - shell, Python, IPython, less and vim histories of root and every /home/* account
  - cloud-init's record of this instance (cloud-init clean --logs) and /etc/machine-id (emptied:
    systemd makes a new one at boot)
The agent binary, the conda envs, the assignments, the datasets and the drivers stay.
Stop the VM right after (bake-image.sh does): a reboot would make all of it again.

  --yes       do it
  --dry-run   print what would be removed, change nothing
  --force     go on even when the agent's run is not done (never while a run is active)
EOF
}

mode="" force=0
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --yes) mode=yes ;;
    --dry-run) mode=dry ;;
    --force) force=1 ;;
    *) printf '%s: error: unknown option %s (see --help)\n' "$PROG" "$1" >&2; exit 2 ;;
  esac
  shift
done
[[ -n $mode ]] || { printf '%s: error: this deletes the Jupyter password, TLS key, SSH host keys and histories: add --yes (or --dry-run to see the list)\n' "$PROG" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { printf '%s: error: must run as root: sudo %s\n' "$PROG" "$0" >&2; exit 1; }

die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}

if [[ -x $AGENT ]]; then
  status=0
  "$AGENT" status >/dev/null 2>&1 </dev/null || status=$?
  case $status in
    0) ;;
    5) die "a cs231n-agent run is active: wait for it (sudo cs231n-agent status --wait), then scrub" ;;
    *) ((force)) || die "the agent's run is not done (cs231n-agent status exits $status; sudo cs231n-agent status says why): an image of it would be unfinished; add --force to scrub anyway" ;;
  esac
fi

removed=0
# remove PATH...: deletes what exists (rm never follows a symlink it removes).
remove() {
  local path
  for path in "$@"; do
    [[ -e $path || -L $path ]] || continue
    removed=$((removed + 1))
    if [[ $mode == dry ]]; then
      printf 'would remove %s\n' "$path"
    else
      rm -rf -- "$path"
      printf 'removed %s\n' "$path"
    fi
  done
}

# Jupyter keeps its runtime files open and may rewrite them; it starts again on a new VM.
if [[ $mode == yes && -d /run/systemd/system ]]; then
  systemctl stop cs231n-jupyter.service 2>/dev/null || true
fi

remove "$PASSWORD_FILE" "$STATE_DIR" /var/log/cs231n-agent.log /var/log/cs231n-agent.log.* /etc/ssh/ssh_host_*

homes=(/root)
for home in /home/*; do [[ -d $home && ! -L $home ]] && homes+=("$home"); done
for home in "${homes[@]}"; do
  for item in $HOME_ITEMS; do remove "$home/$item"; done
  for config in "$home/.jupyter/jupyter_notebook_config.py" "$home/.jupyter/jupyter_server_config.py"; do
    if [[ ! -f $config || -L $config ]] || ! grep -qF "$BLOCK_BEGIN" -- "$config"; then continue; fi
    removed=$((removed + 1))
    if [[ $mode == dry ]]; then
      printf 'would remove the cs231n-agent block of %s\n' "$config"
      continue
    fi
    # As the file's owner: root does not write through paths a user controls.
    owner=$(stat -c %U -- "$config")
    runuser -u "$owner" -- sed -i "\\|^$BLOCK_BEGIN|,\\|^$BLOCK_END|d" -- "$config"
    printf 'removed the cs231n-agent block of %s\n' "$config"
  done
done

if command -v cloud-init >/dev/null 2>&1; then
  if [[ $mode == dry ]]; then
    printf 'would run cloud-init clean --logs\n'
  else
    cloud-init clean --logs
    printf 'ran cloud-init clean --logs\n'
  fi
fi
if [[ -s /etc/machine-id ]]; then
  if [[ $mode == dry ]]; then
    printf 'would empty /etc/machine-id\n'
  else
    : >/etc/machine-id
    printf 'emptied /etc/machine-id\n'
  fi
fi

if [[ $mode == dry ]]; then
  printf '%s: %d item(s) would be removed; nothing changed\n' "$PROG" "$removed"
else
  sync
  printf '%s: done (%d item(s) removed); stop the VM now and image its disk\n' "$PROG" "$removed"
fi
