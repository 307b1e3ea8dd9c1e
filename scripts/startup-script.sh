#!/usr/bin/env bash
# The `startup-script` metadata value of a cs231n VM (scripts/create-instance.sh sets it). GCE runs
# it as root at every boot and sends its output to the serial console and the journal.
#
# It installs the cs231n-agent named by the metadata attributes cs231n-agent-url and
# cs231n-agent-sha256 as /usr/local/bin/cs231n-agent, then runs `cs231n-agent run`:
#   - an installed agent with that sha256 is used as it is: no download (every later boot);
#   - otherwise the file is downloaded into /usr/local/bin under a temporary name, checked against
#     the sha256 (a mismatch installs nothing and fails), and renamed into place;
#   - an installed agent that is newer (`cs231n-agent version`, compared numerically) is kept; that
#     sha256 is remembered, so later boots do not download it again;
#   - a run that is already active (the resume unit's, at boot) is waited for (`run --wait`), so
#     metadata changed while the VM was off is applied at this boot, not the next.
# When it fails before the agent runs (a refused download, a wrong sha256, a full disk), it publishes
# the guest attributes cs231n-agent/step=startup-script, error and state=failed itself, so the laptop
# waiting on the VM knows at its next poll. A 403 on a gs:// URL names the grant the VM needs.
# URLs: https:// and http://, and gs://BUCKET/OBJECT, fetched from storage.googleapis.com with the
# VM's service-account token (metadata instance/service-accounts/default/token; the default
# scopes can read the project's buckets). The token goes only to storage.googleapis.com and never
# onto a command line (curl reads it from stdin). No metadata value is ever evaluated.
# GCE_METADATA_HOST (host:port) points the metadata requests elsewhere, as in Google's libraries;
# CS231N_STORAGE_URL replaces https://storage.googleapis.com (both for tests).
set -euo pipefail

PROG=cs231n-startup
INSTALLED=/usr/local/bin/cs231n-agent
STATE_DIR=/var/lib/cs231n-agent
# The sha256 of a metadata agent that was older than the installed one.
DECLINED=$STATE_DIR/startup-declined-sha256
METADATA=http://${GCE_METADATA_HOST:-metadata.google.internal}/computeMetadata/v1
STORAGE=${CS231N_STORAGE_URL:-https://storage.googleapis.com}

usage() {
  cat <<EOF
Usage: startup-script.sh   (as root, on a GCE VM; GCE runs it at every boot)

Installs the cs231n-agent that the metadata attributes cs231n-agent-url and cs231n-agent-sha256
name (https://, http:// or gs:// URL; the sha256 must match) as $INSTALLED, never replacing a
newer one, then runs \`cs231n-agent run\`. A second boot with the same agent downloads nothing. A
run that is already active is left alone. Exit status: 0, the agent's own status when its run
fails, or 1 when the agent cannot be installed.
EOF
}

log() { printf '%s: %s\n' "$PROG" "$*"; }

# publish KEY VALUE: a guest attribute in the agent's own namespace and keys
# (agent/net/guest_attributes.hpp: cs231n-agent/{state,step,error}), PUT to the metadata server as
# Google documents it (https://cloud.google.com/compute/docs/metadata/manage-guest-attributes), so
# the laptop that waits on this VM learns at once when this script fails before the agent runs.
# Best effort and quick: without enable-guest-attributes=TRUE the server answers 403.
# shellcheck disable=SC2317  # called from on_exit, the EXIT trap
publish() {
  command -v curl >/dev/null 2>&1 || return 0
  printf '%s' "$2" | curl --silent --noproxy '*' --connect-timeout 2 --max-time 5 --request PUT \
    --header 'Metadata-Flavor: Google' --data-binary @- "$METADATA/instance/guest-attributes/cs231n-agent/$1" \
    >/dev/null 2>&1 || true
}

AGENT_STARTED=0 TMP_FILE="" FAILURE_FILE=""
# die MESSAGE: one line on stderr, kept for on_exit (a file: die may run in a $(...) subshell).
die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  [[ -z $FAILURE_FILE ]] || printf '%s' "$*" >"$FAILURE_FILE"
  exit 1
}

# on_exit: removes the temporary download; when the script fails before the agent runs (die, or a
# command that fails under set -e, e.g. a full disk), publishes it as the run's state, as the agent
# does for its own failures (step, error, then state).
# shellcheck disable=SC2317  # the EXIT trap
on_exit() {
  local status=$? failure=""
  [[ -z $TMP_FILE ]] || rm -f -- "$TMP_FILE"
  if [[ -n $FAILURE_FILE ]]; then
    failure=$(cat -- "$FAILURE_FILE" 2>/dev/null) || failure=""
    rm -f -- "$FAILURE_FILE"
  fi
  if ((status != 0 && AGENT_STARTED == 0)); then
    publish step startup-script
    publish error "$PROG: ${failure:-failed with exit status $status before the agent ran (see the serial console)}"
    publish state failed
  fi
}

case ${1:-} in
  "") ;;
  -h | --help) usage; exit 0 ;;
  *) printf '%s: error: unknown argument %s: this script takes none (see --help)\n' "$PROG" "$1" >&2; exit 2 ;;
esac
trap on_exit EXIT
FAILURE_FILE=$(mktemp 2>/dev/null) || FAILURE_FILE=""
[[ $(id -u) == 0 ]] || die "must run as root (GCE runs startup scripts as root; by hand: sudo $0)"
command -v curl >/dev/null 2>&1 || die "curl is missing: install it (apt-get install curl); every Ubuntu image on GCE has it"


# metadata PATH: the value, or empty when the attribute does not exist (HTTP 404). The metadata
# server may not answer in the first seconds of a boot: retried.
metadata() {
  local body status problem
  body=$(mktemp)
  status=$(curl --silent --show-error --noproxy '*' --connect-timeout 2 --max-time 10 --retry 5 --retry-delay 2 \
    --header 'Metadata-Flavor: Google' --output "$body" --write-out '%{http_code}' "$METADATA/$1" 2>"$body.err") || true
  problem=$(tr '\n' ' ' <"$body.err")
  case $status in
    200) cat -- "$body" ;;
    404) ;;
    *) rm -f -- "$body" "$body.err"; die "the metadata server ($METADATA) did not answer for $1: ${problem:-HTTP $status}" ;;
  esac
  rm -f -- "$body" "$body.err"
}

# version_of BINARY: "X.Y.Z" from `BINARY version` ("cs231n-agent X.Y.Z"), empty when it fails.
version_of() {
  local words
  words=$("$1" version 2>/dev/null </dev/null | head -n 1) || return 0
  [[ $words == "cs231n-agent "* ]] && printf '%s' "${words#cs231n-agent }"
  return 0
}

# newer A B: A is a higher version than B, comparing the dot-separated numbers one by one.
newer() {
  local IFS=. i a b
  local -a left right
  read -r -a left <<<"$1"
  read -r -a right <<<"$2"
  for ((i = 0; i < ${#left[@]} || i < ${#right[@]}; i++)); do
    a=${left[i]:-0} b=${right[i]:-0}
    a=${a%%[!0-9]*} b=${b%%[!0-9]*}
    a=$((10#${a:-0})) b=$((10#${b:-0}))
    ((a == b)) || { ((a > b)); return; }
  done
  return 1
}

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

# download URL FILE: the file at URL (gs:// through storage.googleapis.com, with the VM's token).
download() {
  local url=$1 file=$2 token="" answer
  if [[ $url == gs://* ]]; then
    local object=${url#gs://}
    url=$STORAGE/$object
  fi
  if [[ $url == "$STORAGE/"* ]]; then
    answer=$(metadata instance/service-accounts/default/token)
    token=$(printf '%s' "$answer" | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
    [[ -z $token || $token =~ ^[A-Za-z0-9._~+/=-]+$ ]] || die "the service-account token from the metadata server is malformed"
    [[ -n $token ]] || log "no service-account token: fetching $url without one (it must be public)"
  fi
  # The header comes through curl's config on stdin, so the token is never on a command line.
  # Prints the HTTP status.
  {
    [[ -z $token ]] || printf 'header = "Authorization: Bearer %s"\n' "$token"
  } | curl --config - --fail --silent --show-error --location --proto '=http,https' --proto-redir '=https' \
    --connect-timeout 10 --retry 5 --retry-delay 3 --write-out '%{http_code}' --output "$file" --url "$url"
}

# download_refused URL HTTP-STATUS: dies with what a refused download means and how to fix it.
download_refused() {
  local url=$1 status=$2 account bucket
  if [[ $status == 403 && $url == gs://* ]]; then
    # Organisations made since May 2024 no longer give the default compute service account Editor
    # (https://cloud.google.com/resource-manager/docs/secure-by-default-organizations).
    account=$(metadata instance/service-accounts/default/email) || account=""
    bucket=${url#gs://}
    bucket=gs://${bucket%%/*}
    die "this VM's service account ${account:-(none)} may not read $url (HTTP 403): let it read the bucket: gcloud storage buckets add-iam-policy-binding $bucket --member=serviceAccount:${account:-SERVICE-ACCOUNT} --role=roles/storage.objectViewer (scripts/create-instance.sh does this), then reset the VM"
  fi
  case $status in
    403 | 401) die "the server refused the agent at $url (HTTP $status): check that this VM may read it, then reset the VM" ;;
    404) die "there is no agent at $url (HTTP 404): publish it again (scripts/create-instance.sh) or fix the metadata attribute cs231n-agent-url" ;;
  esac
  die "cannot download the agent from $url (curl's message is above); check the URL and that this VM may read it"
}

url=$(metadata instance/attributes/cs231n-agent-url)
want=$(metadata instance/attributes/cs231n-agent-sha256 | tr -d '[:space:]' | tr 'A-F' 'a-f')
have=""
[[ -x $INSTALLED ]] && have=$(sha256_of "$INSTALLED")

if [[ -z $url ]]; then
  [[ -n $have ]] ||
    die "no agent: the metadata attribute cs231n-agent-url is not set and $INSTALLED does not exist; set it with gcloud compute instances add-metadata VM --metadata=cs231n-agent-url=URL,cs231n-agent-sha256=SHA256"
  log "no cs231n-agent-url in the metadata: using the installed agent ($(version_of "$INSTALLED"))"
elif [[ ! $url =~ ^(https?|gs)://[^[:space:]]+$ ]]; then
  die "metadata attribute cs231n-agent-url must be an https://, http:// or gs:// URL, not: $url"
elif [[ ! $want =~ ^[0-9a-f]{64}$ ]]; then
  die "metadata attribute cs231n-agent-sha256 must be the 64 hex digits of the agent's sha256 (sha256sum cs231n-agent), so that no other file is run as root"
elif [[ $have == "$want" ]]; then
  log "cs231n-agent $(version_of "$INSTALLED") is installed and matches cs231n-agent-sha256"
elif [[ -n $have && -f $DECLINED && $(cat -- "$DECLINED") == "$want" ]]; then
  log "keeping the installed cs231n-agent $(version_of "$INSTALLED"): the one in the metadata is older (seen at an earlier boot)"
else
  mkdir -p -- "${INSTALLED%/*}"
  # In the same folder, so that the rename is atomic and never meets "text file busy".
  TMP_FILE=$(mktemp "${INSTALLED%/*}/.cs231n-agent.XXXXXX")
  log "downloading cs231n-agent from $url"
  http_status=$(download "$url" "$TMP_FILE") || download_refused "$url" "${http_status:-000}"
  got=$(sha256_of "$TMP_FILE")
  [[ $got == "$want" ]] ||
    die "the file at $url has sha256 $got, but metadata cs231n-agent-sha256 says $want: nothing was installed; publish the agent again (scripts/create-instance.sh) or fix the attribute"
  chmod 0755 -- "$TMP_FILE"
  new_version=$(version_of "$TMP_FILE")
  [[ -n $new_version ]] || die "the file at $url has the right sha256 but \`cs231n-agent version\` does not run on this machine; nothing was installed"
  old_version=""
  [[ -n $have ]] && old_version=$(version_of "$INSTALLED")
  if [[ -n $old_version ]] && newer "$old_version" "$new_version"; then
    log "keeping the installed cs231n-agent $old_version: the one in the metadata ($new_version) is older, and an agent is never downgraded"
    [[ -d $STATE_DIR ]] || mkdir -m 0700 -- "$STATE_DIR"  # as the agent makes it
    printf '%s\n' "$want" >"$STATE_DIR/.startup-declined.tmp"
    mv -f -- "$STATE_DIR/.startup-declined.tmp" "$DECLINED"
  else
    mv -f -- "$TMP_FILE" "$INSTALLED"
    TMP_FILE=""
    rm -f -- "$DECLINED"
    log "installed cs231n-agent $new_version as $INSTALLED${old_version:+ (was $old_version)}"
  fi
fi

log "running cs231n-agent run"
AGENT_STARTED=1
status=0
"$INSTALLED" run --wait </dev/null || status=$?
case $status in
  0) log "cs231n-agent run: done" ;;
  3) log "cs231n-agent run: a reboot is under way; the agent goes on after it" ;;
  *)
    log "cs231n-agent run ended with exit status $status; see: sudo cs231n-agent status, and /var/log/cs231n-agent.log"
    exit "$status"
    ;;
esac
exit 0
