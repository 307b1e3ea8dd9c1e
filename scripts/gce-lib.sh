# shellcheck shell=bash
# shellcheck disable=SC2034  # the constants and AGENT_* results are for the scripts that source this file
# Shared by scripts/create-instance.sh, class.sh and bake-image.sh (sourced, not run). They run on
# a laptop (Linux or macOS) with the Google Cloud CLI, so this file keeps to what bash 3.2 has (no
# associative arrays, no mapfile, no ${x,,}; empty arrays are expanded as ${a[@]+"${a[@]}"}) and
# needs only gcloud, python3 (to read gcloud's JSON) and curl.

PROG=${0##*/}
GCE_TAG_DEFAULT=cs231n-jupyter
GCE_STATE_NAMESPACE=cs231n-agent
# Where the agent keeps a password it made (steps/jupyter_common.hpp).
GCE_PASSWORD_FILE=/root/cs231n-jupyter-password
# Options every gcloud call gets (--project).
GCLOUD_GLOBAL=()

# die_usage MESSAGE: a bad command line; one line, exit 2.
die_usage() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 2
}

# die MESSAGE: anything else that stops the script; one line, exit 1.
die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}

say() { printf '%s\n' "$*"; }

# need_value OPTION COUNT-OF-REMAINING-ARGUMENTS: the option must be followed by a value.
need_value() {
  (($2 >= 2)) || die_usage "$1 needs a value (see --help)"
}

require_tools() {
  command -v gcloud >/dev/null 2>&1 ||
    die "gcloud is not on PATH: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install) and run gcloud init"
  command -v python3 >/dev/null 2>&1 ||
    die "python3 is not on PATH: it reads gcloud's JSON; install Python 3 (macOS: xcode-select --install)"
}

# gcloud_run ARG...: gcloud with stdin closed. gcloud asks some questions on stderr and waits on
# stdin (the first call to a project whose Compute Engine API is off asks to enable it; deletes ask
# to confirm): with stdin closed each takes its default at once instead of hanging unseen
# (googlecloudsdk/core/console/console_io.py PromptContinue: EOF is the default answer).
gcloud_run() {
  gcloud ${GCLOUD_GLOBAL[@]+"${GCLOUD_GLOBAL[@]}"} "$@" </dev/null
}

# gcloud_capture ARG...: gcloud_run with its stdout in GCLOUD_OUT and its stderr in GCLOUD_ERR
# (shown by gcloud_failed when the call fails); returns gcloud's status.
gcloud_capture() {
  local err_file status=0
  err_file=$(mktemp "${TMPDIR:-/tmp}/cs231n-gcloud.XXXXXX")
  GCLOUD_OUT=$(gcloud_run "$@" 2>"$err_file") || status=$?
  GCLOUD_ERR=$(cat -- "$err_file")
  rm -f -- "$err_file"
  return "$status"
}

# gcloud_hint: what to do about the failure in GCLOUD_ERR, when it is one a user can fix.
# GCE_ENABLES_API=1 in a script that enables the API itself with --yes (create-instance.sh, class.sh
# create); GCE_API_LISTED=1 once `services list --enabled` has named it.
GCE_ENABLES_API=0 GCE_API_LISTED=0
gcloud_hint() {
  local known_project=${GCE_PROJECT:-${project:-}} project_flag=""
  [[ -z $known_project ]] || project_flag=" --project=$known_project"
  case $GCLOUD_ERR in
    *SERVICE_DISABLED* | *"not enabled on project"* | *"has not been used in project"*)
      if [[ $GCE_API_LISTED == 1 ]]; then
        printf 'The Compute Engine API is enabled in this project but not in effect yet (it takes a few minutes after enabling): run this again in a few minutes'
      elif [[ $GCE_ENABLES_API == 1 ]]; then
        printf 'The Compute Engine API is off in this project (every new project starts so): run this script again with --yes to enable it, or: gcloud services enable compute.googleapis.com%s' "$project_flag"
      else
        printf 'The Compute Engine API is off in this project, so it has no VMs yet: check the project (--project, or gcloud config get-value project), or enable the API: gcloud services enable compute.googleapis.com%s' "$project_flag"
      fi
      ;;
    *"do not currently have an active account"* | *"problem refreshing"* | *"gcloud auth login"*)
      printf 'Log in first: gcloud auth login (or gcloud init)' ;;
    *"required property [project] is not currently set"*)
      printf 'Name the project: pass --project PROJECT, or gcloud config set project PROJECT' ;;
    *rateLimitExceeded* | *RATE_LIMIT_EXCEEDED* | *"Quota exceeded for quota metric"*)
      printf "GCE's API rate limit was reached: wait a minute and run this again (it makes only what is missing)" ;;
    *PERMISSION_DENIED* | *"permission for"* | *"does not have"*"access"* | *"HTTPError 403"*)
      printf 'Your account may not do this in the project: ask its owner for the Compute Instance Admin (v1) and Compute Security Admin roles (or Editor)' ;;
  esac
}

# gcloud_failed WHAT: dies with what failed, gcloud's own message (GCLOUD_ERR) and a hint.
gcloud_failed() {
  local hint
  hint=$(gcloud_hint)
  {
    printf '%s: error: %s failed; gcloud said:\n' "$PROG" "$1"
    printf '%s\n' "${GCLOUD_ERR:-(nothing)}" | sed 's/^/  /'
    [[ -z $hint ]] || printf '%s\n' "$hint"
  } >&2
  exit 1
}

# gcloud_lookup ARG...: a describe: 0 with the JSON in GCLOUD_OUT when the resource exists, 1 when
# gcloud says it was not found; any other failure (login, project, API, permission) dies with
# gcloud's own message, which is never taken to mean "absent".
gcloud_lookup() {
  gcloud_capture "$@" && return 0
  [[ $GCLOUD_ERR != *"was not found"* ]] || return 1
  gcloud_failed "gcloud $*"
}

# check_cloud_access ASSUME-YES [MAY-ENABLE]: before anything else: gcloud has an account and a
# project, and the project's Compute Engine API is on. When it is off (every new project) and
# MAY-ENABLE is 1 (the default; 0 for commands that only act on VMs made earlier), it is enabled
# with ASSUME-YES=1 (--yes) or when the user says so at a terminal, and then waited for; otherwise
# the script stops with the command that enables it. `services list` never asks (its client has no
# enable-API check). Sets GCE_ACCOUNT and GCE_PROJECT.
check_cloud_access() {
  local assume_yes=$1 may_enable=${2:-1} where answer=""
  GCE_ACCOUNT=$(gcloud_config account)
  [[ -n $GCE_ACCOUNT ]] || die "gcloud has no account: log in with gcloud auth login (or gcloud init), then run this again"
  GCE_PROJECT=${project:-$(gcloud_config project)}
  [[ -n $GCE_PROJECT ]] || die_usage "no project: pass --project PROJECT or set one with gcloud config set project PROJECT"
  where="project $GCE_PROJECT"
  gcloud_capture services list --enabled --filter=config.name=compute.googleapis.com --format='value(config.name)' ||
    gcloud_failed "reading the enabled APIs of $where (gcloud services list --enabled)"
  if [[ $GCLOUD_OUT == *compute.googleapis.com* ]]; then
    GCE_API_LISTED=1
    return 0
  fi
  [[ $may_enable == 1 ]] ||
    die "the Compute Engine API is not enabled in $where, so it has no VMs yet: check the project (--project, or gcloud config get-value project), or enable the API: gcloud services enable compute.googleapis.com --project=$GCE_PROJECT"
  if [[ $assume_yes != 1 && -t 0 ]]; then
    printf 'The Compute Engine API is not enabled in %s (every new project starts so).\nEnable it now (gcloud services enable compute.googleapis.com, a few minutes)? [y/N] ' "$where" >&2
    IFS= read -r answer || answer=""
  fi
  case $assume_yes:$answer in
    1:* | *:y | *:Y | *:yes)
      say "Enabling the Compute Engine API in $where (gcloud services enable compute.googleapis.com; a few minutes)"
      gcloud_run services enable compute.googleapis.com >&2 ||
        die "cannot enable the Compute Engine API in $where (gcloud's message is above): a project needs a billing account first (https://console.cloud.google.com/billing)"
      # Enabled is not yet usable: compute calls answer SERVICE_DISABLED for a while, and the
      # project's default compute service account (the VMs' identity) is made in that time.
      GCE_API_LISTED=1
      if ! gcloud_propagated "the Compute Engine API of $where" compute project-info describe --format='value(defaultServiceAccount)'; then
        is_propagating &&
          die "the Compute Engine API of $where is enabled but still not in effect after $((GCE_PROPAGATION_SECONDS / 60)) min: run this again in a few minutes (nothing was made yet)"
        gcloud_failed "waiting for the Compute Engine API of $where to answer after enabling it"
      fi
      ;;
    *)
      die "the Compute Engine API is not enabled in $where (every new project starts so): run again with --yes to enable it, or enable it yourself: gcloud services enable compute.googleapis.com --project=$GCE_PROJECT" ;;
  esac
}

# After `services enable`, the API and the default service account arrive within minutes (the
# server's own words: "If you enabled this API recently, wait a few minutes for the action to
# propagate to our systems and retry"). is_propagating: GCLOUD_ERR says they have not arrived yet.
GCE_PROPAGATION_SECONDS=${CS231N_PROPAGATION_SECONDS:-600}
GCE_PROPAGATION_POLL=${CS231N_PROPAGATION_POLL_SECONDS:-15}
is_propagating() {
  case $GCLOUD_ERR in
    *SERVICE_DISABLED* | *"has not been used in project"* | *"not enabled on project"*) return 0 ;;
    *"Service account "*"does not exist"*) return 0 ;;
  esac
  return 1
}

# gcloud_propagated WHAT ARG...: gcloud_capture ARG..., tried again every GCE_PROPAGATION_POLL
# seconds for at most GCE_PROPAGATION_SECONDS while the API or the service account has not
# arrived (said once on stderr). Returns the last call's status.
gcloud_propagated() {
  local what=$1 deadline=$((SECONDS + GCE_PROPAGATION_SECONDS)) said=0
  shift
  until gcloud_capture "$@"; do
    is_propagating && ((SECONDS < deadline)) || return 1
    if ((said == 0)); then
      printf '%s: waiting for %s: Google enables it within a few minutes (gcloud: %s); asking again every %s s, for at most %s min\n' \
        "$PROG" "$what" "$(printf '%s' "$GCLOUD_ERR" | grep -m 1 -oE 'SERVICE_DISABLED|Service account [^ ]+ does not exist' || echo "not yet")" \
        "$GCE_PROPAGATION_POLL" "$((GCE_PROPAGATION_SECONDS / 60))" >&2
      said=1
    fi
    sleep "$GCE_PROPAGATION_POLL"
  done
}

# gcloud_config KEY: a gcloud setting (account, project, compute/zone), empty when unset.
gcloud_config() {
  local value
  # `config get-value` prints "(unset)" on stderr and asks nothing.
  value=$(gcloud_run config get-value "$1" 2>/dev/null) || value=""
  [[ $value == "(unset)" ]] && value=""
  printf '%s' "$value"
}

# json_py CODE ARG...: runs CODE with the JSON on stdin as `data` and the ARGs as `args`.
json_py() {
  local code=$1
  shift
  python3 -c "import json, sys
data = json.load(sys.stdin)
args = sys.argv[1:]
$code" "$@"
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# RFC 1035 names, as GCE wants them for instances, addresses, rules, templates and images.
is_gce_name() { [[ ${#1} -le 63 && $1 =~ ^[a-z]([-a-z0-9]*[a-z0-9])?$ ]]; }

is_linux_user() { [[ ${#1} -le 32 && $1 =~ ^[a-z_][a-z0-9_-]*$ ]]; }

is_ipv4() {
  local IFS=. part
  local -a parts
  [[ $1 =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || return 1
  read -r -a parts <<<"$1"
  for part in "${parts[@]}"; do ((10#$part <= 255)) || return 1; done
}

is_cidr() {
  local ip=${1%/*} bits=${1##*/}
  [[ $1 == */* ]] && is_ipv4 "$ip" && is_uint "$bits" && ((10#$bits <= 32))
}

# zone_region ZONE: us-central1-a -> us-central1.
zone_region() { printf '%s' "${1%-*}"; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum -- "$1" | cut -d' ' -f1
  else
    shasum -a 256 -- "$1" | cut -d' ' -f1
  fi
}

# user_from_account EMAIL: the account name the agent sets up, the way the console's browser SSH
# names it: the part before @, lower case, every other character than a-z 0-9 _ - made _.
user_from_account() {
  local name
  name=$(printf '%s' "${1%%@*}" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9_-' '_')
  [[ $name =~ ^[a-z_] ]] || name=u$name
  printf '%s' "${name:0:32}"
}

# ---------------------------------------------------------------------------------------------
# GPUs. gpu_spec NAME sets GPU_TYPE (GCE's accelerator type), GPU_METRIC (its regional quota) and
# GPU_SERIES (the machine series that carries it); returns 1 for an unknown GPU. Accelerator types
# and series: https://cloud.google.com/compute/docs/gpus ("A4 NVIDIA B200 Blackwell GPUs
# (nvidia-b200)", "A3 Ultra NVIDIA H200 SXM GPUs (nvidia-h200-141gb)", "A3 Mega: nvidia-h100-mega-80gb",
# G4: nvidia-rtx-pro-6000, as GoogleCloudPlatform/compute-gpu-installation's tests create it). Quota
# metrics: the regions' quota names (NVIDIA_H100_MEGA_GPUS, NVIDIA_H200_GPUS, NVIDIA_B200_GPUS and
# NVIDIA_RTX_PRO_6000_GPUS, as `gcloud compute regions describe` lists them in public quota scripts).
GPU_NAMES="nvidia-tesla-t4 nvidia-l4 nvidia-tesla-v100 nvidia-tesla-p100 nvidia-tesla-p4 nvidia-tesla-a100 nvidia-a100-80gb nvidia-h100-80gb nvidia-h100-mega-80gb nvidia-h200-141gb nvidia-b200 nvidia-rtx-pro-6000"
gpu_spec() {
  case $1 in
    nvidia-tesla-t4 | t4) GPU_TYPE=nvidia-tesla-t4 GPU_METRIC=NVIDIA_T4_GPUS GPU_SERIES=n1 ;;
    nvidia-tesla-v100 | v100) GPU_TYPE=nvidia-tesla-v100 GPU_METRIC=NVIDIA_V100_GPUS GPU_SERIES=n1 ;;
    nvidia-tesla-p100 | p100) GPU_TYPE=nvidia-tesla-p100 GPU_METRIC=NVIDIA_P100_GPUS GPU_SERIES=n1 ;;
    nvidia-tesla-p4 | p4) GPU_TYPE=nvidia-tesla-p4 GPU_METRIC=NVIDIA_P4_GPUS GPU_SERIES=n1 ;;
    nvidia-l4 | l4) GPU_TYPE=nvidia-l4 GPU_METRIC=NVIDIA_L4_GPUS GPU_SERIES=g2 ;;
    nvidia-tesla-a100 | a100) GPU_TYPE=nvidia-tesla-a100 GPU_METRIC=NVIDIA_A100_GPUS GPU_SERIES=a2 ;;
    nvidia-a100-80gb | a100-80gb) GPU_TYPE=nvidia-a100-80gb GPU_METRIC=NVIDIA_A100_80GB_GPUS GPU_SERIES=a2-ultra ;;
    nvidia-h100-80gb | h100) GPU_TYPE=nvidia-h100-80gb GPU_METRIC=NVIDIA_H100_GPUS GPU_SERIES=a3 ;;
    nvidia-h100-mega-80gb | h100-mega) GPU_TYPE=nvidia-h100-mega-80gb GPU_METRIC=NVIDIA_H100_MEGA_GPUS GPU_SERIES=a3-mega ;;
    nvidia-h200-141gb | h200) GPU_TYPE=nvidia-h200-141gb GPU_METRIC=NVIDIA_H200_GPUS GPU_SERIES=a3-ultra ;;
    nvidia-b200 | b200) GPU_TYPE=nvidia-b200 GPU_METRIC=NVIDIA_B200_GPUS GPU_SERIES=a4 ;;
    nvidia-rtx-pro-6000 | rtx-pro-6000) GPU_TYPE=nvidia-rtx-pro-6000 GPU_METRIC=NVIDIA_RTX_PRO_6000_GPUS GPU_SERIES=g4 ;;
    *) return 1 ;;
  esac
}

# parse_gpu TYPE[:COUNT]: sets GPU_TYPE, GPU_METRIC, GPU_SERIES and GPU_COUNT, or dies.
parse_gpu() {
  local name=${1%%:*} count=1
  [[ $1 == *:* ]] && count=${1#*:}
  # GCE retired the K80 (end of support 2024-05-01: https://cloud.google.com/compute/docs/eol/k80-eol);
  # no zone offers nvidia-tesla-k80 any more.
  case $name in nvidia-tesla-k80 | k80)
    die_usage "--gpu $name: GCE retired the K80 in 2024 (https://cloud.google.com/compute/docs/eol/k80-eol); use t4 (the nearest in price) or l4" ;;
  esac
  gpu_spec "$name" || die_usage "--gpu $name is not a GPU this script knows; use one of: $GPU_NAMES (optionally :COUNT)"
  { is_uint "$count" && ((10#$count >= 1)); } || die_usage "--gpu $1: the count after : must be a positive number"
  GPU_COUNT=$((10#$count))
}

# machine_for_gpu: the machine type that carries GPU_COUNT GPUs of GPU_SERIES, with 8 vCPUs where
# the series allows a choice. N1 takes its GPUs as an accelerator; A2, A3, A4, G2 and G4 machine
# types come with theirs built in. A3 Mega, A3 Ultra and A4 come only with 8 GPUs: a3-megagpu-8g,
# a3-ultragpu-8g, a4-highgpu-8g (https://cloud.google.com/compute/docs/accelerator-optimized-machines;
# GoogleCloudPlatform/cluster-toolkit's examples/machine-learning/a3-megagpu-8g and a4-highgpu-8g).
# G4 has 48 vCPUs per GPU: g4-standard-48/96/192/384 for 1/2/4/8 (compute-gpu-installation's tests
# use g4-standard-48 for one; SkyPilot's GCP catalog maps the four).
machine_for_gpu() {
  local n=$GPU_COUNT
  case $GPU_SERIES in
    n1) case $n in 1 | 2 | 4 | 8) printf 'n1-standard-8' ;; *) return 1 ;; esac ;;
    g2) case $n in 1) printf 'g2-standard-8' ;; 2) printf 'g2-standard-24' ;; 4) printf 'g2-standard-48' ;; 8) printf 'g2-standard-96' ;; *) return 1 ;; esac ;;
    g4) case $n in 1 | 2 | 4 | 8) printf 'g4-standard-%s' "$((48 * n))" ;; *) return 1 ;; esac ;;
    a2) case $n in 1 | 2 | 4 | 8) printf 'a2-highgpu-%sg' "$n" ;; 16) printf 'a2-megagpu-16g' ;; *) return 1 ;; esac ;;
    a2-ultra) case $n in 1 | 2 | 4 | 8) printf 'a2-ultragpu-%sg' "$n" ;; *) return 1 ;; esac ;;
    a3) case $n in 1 | 2 | 4 | 8) printf 'a3-highgpu-%sg' "$n" ;; *) return 1 ;; esac ;;
    a3-mega) case $n in 8) printf 'a3-megagpu-8g' ;; *) return 1 ;; esac ;;
    a3-ultra) case $n in 8) printf 'a3-ultragpu-8g' ;; *) return 1 ;; esac ;;
    a4) case $n in 8) printf 'a4-highgpu-8g' ;; *) return 1 ;; esac ;;
  esac
}

# gpu_counts: the GPU counts machine_for_gpu knows for GPU_SERIES, as a sentence says them.
gpu_counts() {
  case $GPU_SERIES in
    a3-mega | a3-ultra | a4) printf '8 (the only size of that series)' ;;
    a2) printf '1, 2, 4, 8 or 16' ;;
    *) printf '1, 2, 4 or 8' ;;
  esac
}

# gpu_create_flags: the instance (or template) flags a GPU needs: GPUs cannot live-migrate, so
# the VM stops for host maintenance.
GPU_FLAGS=()
set_gpu_flags() {
  GPU_FLAGS=()
  [[ -n ${GPU_TYPE:-} ]] || return 0
  [[ $GPU_SERIES == n1 ]] && GPU_FLAGS+=("--accelerator=type=$GPU_TYPE,count=$GPU_COUNT")
  GPU_FLAGS+=(--maintenance-policy=TERMINATE)
}

# has_local_ssd MACHINE-TYPE: the machine type comes with Local SSD ("Z4D, Z4M, Z3, A5X, A4X Max, A4X,
# A4, A3, and A2 Ultra machine series: every machine type comes with Local SSD storage",
# https://cloud.google.com/compute/docs/disks/add-local-ssd). Stopping such a VM needs
# --discard-local-ssd (the agent keeps nothing there).
has_local_ssd() {
  case ${1##*/} in a2-ultragpu-* | a3-* | a4-* | a4x-* | a5x-* | z3-* | z4d-* | z4m-* | *-lssd) return 0 ;; esac
  return 1
}

# stop_command NAME ZONE MACHINE-TYPE: the command that stops the VM.
stop_command() {
  local flag=""
  ! has_local_ssd "$3" || flag=" --discard-local-ssd=true"
  printf 'gcloud compute instances stop %s --zone=%s%s' "$1" "$2" "$flag"
}

# quota_left METRIC: "LIMIT USAGE" of METRIC in the JSON on stdin (regions/project-info
# describe), nothing when it is not listed.
quota_left() {
  json_py '
for quota in data.get("quotas", []):
    if quota.get("metric") == args[0]:
        print("%g %g" % (quota.get("limit", 0), quota.get("usage", 0)))' "$1"
}

quota_refusal() {
  local metric=$1 where=$2 limit=$3 usage=$4 needed=$5
  {
    printf '%s: error: not enough GPU quota: %s needs %s %s GPU(s), but %s allows %s and %s are in use\n' \
      "$PROG" "$where" "$needed" "$GPU_TYPE" "$metric" "$limit" "$usage"
    printf 'GPU quotas start at 0 in a new project, and raising one is a request Google reviews (it can take a day or more;\n'
    printf 'a free-trial account must first be upgraded to a paid one). Ask for it in the console:\n'
    printf '  IAM & Admin > Quotas & System Limits (https://console.cloud.google.com/iam-admin/quotas),\n'
    printf '  filter by "%s" (and "GPUS_ALL_REGIONS", the project-wide limit), tick it, Edit quotas, ask for %s or more.\n' "$metric" "$needed"
    printf 'Until then: leave --gpu out (CPU only), or try a region where %s is above 0.\n' "$metric"
  } >&2
  exit 1
}

# check_gpu_quota REGION NEEDED: refuses (exit 1, how to ask for more) unless REGION has NEEDED
# GPUs of GPU_METRIC left and the project-wide GPUS_ALL_REGIONS allows them too.
check_gpu_quota() {
  local region=$1 needed=$2 json left limit usage
  gcloud_capture compute regions describe "$region" --format=json ||
    gcloud_failed "reading the quotas of region $region (gcloud compute regions describe $region)"
  json=$GCLOUD_OUT
  left=$(printf '%s' "$json" | quota_left "$GPU_METRIC")
  [[ -n $left ]] ||
    die "region $region lists no $GPU_METRIC quota, so it likely has no $GPU_TYPE: gcloud compute accelerator-types list --filter=name=$GPU_TYPE shows the zones that do (or --skip-quota-check)"
  read -r limit usage <<<"$left"
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) - float(sys.argv[2]) >= float(sys.argv[3]) else 1)' "$limit" "$usage" "$needed" ||
    quota_refusal "$GPU_METRIC" "region $region" "$limit" "$usage" "$needed"
  gcloud_capture compute project-info describe --format=json ||
    gcloud_failed "reading the project's quotas (gcloud compute project-info describe)"
  json=$GCLOUD_OUT
  left=$(printf '%s' "$json" | quota_left GPUS_ALL_REGIONS)
  [[ -n $left ]] || return 0
  read -r limit usage <<<"$left"
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) - float(sys.argv[2]) >= float(sys.argv[3]) else 1)' "$limit" "$usage" "$needed" ||
    quota_refusal GPUS_ALL_REGIONS "the project" "$limit" "$usage" "$needed"
}

# ---------------------------------------------------------------------------------------------
# The agent binary: published to the user's bucket (content-addressed, so a VM never sees a
# half-replaced object) or given as a URL. Sets AGENT_URL and AGENT_SHA256, and GRANTED_BUCKET and
# GRANTED_MEMBER when the VMs' read grant was added to the user's own bucket (for the clean-up
# commands).
publish_agent() {
  local agent=$1 bucket=$2 url=$3
  [[ -f $agent ]] || die "no agent binary at $agent: build it (scripts/build.sh) or pass --agent PATH"
  AGENT_SHA256=$(sha256_of "$agent")
  GRANTED_BUCKET="" GRANTED_MEMBER=""
  if [[ -n $bucket ]]; then
    AGENT_URL="${bucket%/}/cs231n-agent/$AGENT_SHA256/cs231n-agent"
    say "Publishing the agent to $AGENT_URL"
    gcloud_run storage cp "$agent" "$AGENT_URL" >&2 ||
      die "cannot copy the agent to $AGENT_URL (gcloud's message is above): check that the bucket exists (gcloud storage buckets create ${bucket%/}) and that you may write to it"
    grant_bucket_read "${bucket%/}" 1
  else
    AGENT_URL=$url
    # A gs:// URL is read with the VM's service account too; someone else's bucket (a course's) is
    # checked where its policy can be read, and never stops the script.
    if [[ $url == gs://* ]]; then
      local object=${url#gs://}
      grant_bucket_read "gs://${object%%/*}" 0
    fi
  fi
}

# vm_service_account: the project's default compute service account, the one the scripts' VMs run
# as (gcloud compute instances create without --service-account sends "default").
vm_service_account() {
  gcloud_capture projects describe "$GCE_PROJECT" --format='value(projectNumber)' ||
    gcloud_failed "reading the number of project $GCE_PROJECT (gcloud projects describe)"
  printf '%s-compute@developer.gserviceaccount.com' "$GCLOUD_OUT"
}

# grant_bucket_read gs://BUCKET OWN: the VMs' service account may read the bucket. Organisations
# made since May 2024 no longer give it Editor on the project (constraint
# iam.automaticIamGrantsForDefaultServiceAccounts,
# https://cloud.google.com/resource-manager/docs/secure-by-default-organizations), and then the VM
# gets 403 on the agent; so it is granted roles/storage.objectViewer on the bucket unless a binding
# there already lets it (or everyone) read. OWN=1: the user's --bucket, where a failure stops the
# script. OWN=0: someone else's bucket (a course's --agent-url), whose policy the user usually may
# not read or change (HTTP 403): then it is said, with the grant its owner can make, and the script
# goes on (a VM that gets 403 says so itself).
grant_bucket_read() {
  local bucket=$1 own=$2 account member grant
  account=$(vm_service_account) || exit 1
  member=serviceAccount:$account
  grant="gcloud storage buckets add-iam-policy-binding $bucket --member=$member --role=roles/storage.objectViewer"
  if ! gcloud_capture storage buckets get-iam-policy "$bucket" --format=json; then
    ((own == 0)) || gcloud_failed "reading who may read $bucket (gcloud storage buckets get-iam-policy); the VMs need: $grant"
    bucket_warning "cannot tell whether the VMs may read $bucket (its policy is not yours to read)" "$grant"
    return 0
  fi
  if printf '%s' "$GCLOUD_OUT" | json_py '
readers = ("roles/storage.objectViewer", "roles/storage.objectAdmin", "roles/storage.admin", "roles/storage.legacyObjectReader")
members = (args[0], "allUsers", "allAuthenticatedUsers")
sys.exit(0 if any(b.get("role") in readers and set(members) & set(b.get("members", [])) for b in data.get("bindings", [])) else 1)' "$member"; then
    say "The VMs' service account $account may read $bucket"
    ((own == 0)) || GRANTED_BUCKET=$bucket GRANTED_MEMBER=$member
    return 0
  fi
  say "Letting the VMs' service account $account read $bucket (roles/storage.objectViewer)"
  if ! gcloud_propagated "the VMs' service account $account" storage buckets add-iam-policy-binding "$bucket" "--member=$member" --role=roles/storage.objectViewer; then
    ((own == 0)) || gcloud_failed "letting the VMs read $bucket (the bucket's owner can run: $grant)"
    bucket_warning "could not let the VMs read $bucket" "$grant"
    return 0
  fi
  ((own == 0)) || GRANTED_BUCKET=$bucket GRANTED_MEMBER=$member
}

# bucket_warning WHAT GRANT: the warning for someone else's bucket, with gcloud's message.
bucket_warning() {
  {
    printf 'Warning: %s; gcloud said:\n' "$1"
    printf '%s\n' "$GCLOUD_ERR" | sed 's/^/  /'
    printf '  If they may not, each VM stops at once with HTTP 403 and says so. The bucket'"'"'s owner can let them: %s\n' "$2"
  } >&2
}

# check_agent_source BUCKET URL: exactly one place the VM can fetch the agent from.
check_agent_source() {
  local bucket=$1 url=$2
  [[ -n $bucket || -n $url ]] ||
    die_usage "say where the VM fetches the agent: --bucket gs://YOUR-BUCKET (make one: gcloud storage buckets create gs://NAME) or --agent-url URL"
  [[ -z $bucket || -z $url ]] || die_usage "--bucket and --agent-url both say where the agent is: give one"
  [[ -z $bucket || $bucket =~ ^gs://[a-z0-9][-a-z0-9_.]*[a-z0-9]/?$ ]] || die_usage "--bucket $bucket is not a bucket: write it as gs://NAME"
  if [[ -n $url ]]; then
    [[ $url =~ ^(https?|gs)://[^[:space:],\"\'\\]+$ ]] ||
      die_usage "--agent-url $url must be an https://, http:// or gs:// URL without spaces, quotes or commas"
  fi
}

# ---------------------------------------------------------------------------------------------
# The firewall: who may reach Jupyter. Sets SOURCE_RANGE.
resolve_source_range() {
  local my_ip=$1 source_range=$2 anywhere=$3
  if [[ $anywhere == 1 ]]; then
    SOURCE_RANGE=0.0.0.0/0
    say "Warning: Jupyter's port is open to the whole internet (--allow-anywhere); only its password protects it." >&2
  elif [[ -n $source_range ]]; then
    SOURCE_RANGE=$source_range
  else
    if [[ -z $my_ip ]]; then
      my_ip=$(curl -4 -fsS --max-time 10 "${CS231N_MY_IP_URL:-https://checkip.amazonaws.com}" 2>/dev/null | tr -d '[:space:]') || my_ip=""
      is_ipv4 "$my_ip" ||
        die "cannot find your public IPv4 address (asked ${CS231N_MY_IP_URL:-https://checkip.amazonaws.com}): pass --my-ip YOUR.PUBLIC.IP, or --source-range CIDR for a whole network"
    fi
    SOURCE_RANGE=$my_ip/32
  fi
}

sha256_text() {
  if command -v sha256sum >/dev/null 2>&1; then
    printf '%s' "$1" | sha256sum | cut -d' ' -f1
  else
    printf '%s' "$1" | shasum -a 256 | cut -d' ' -f1
  fi
}

# Names made from --name, --tag and --prefix; every one must fit GCE's 63 characters (checked with
# check_fits before anything changes, from these same functions).
# access_name BASE PORT RANGE: the firewall rule, and the network tag it targets, that let RANGE
# reach tcp:PORT: BASE-PORT-HASH, HASH the first 8 hex digits of the range's sha256.
access_name() { printf '%s-%s-%s' "$1" "$2" "$(sha256_text "$3" | cut -c1-8)"; }
# address_name VM: its static external IP.
address_name() { printf '%s-ip' "$1"; }
# template_name PREFIX SHA256: a class's instance template, named after the digest of its settings.
template_name() { printf '%s-template-%s' "$1" "${2:0:10}"; }

# check_fits OPTION VALUE MADE SHOWN [OR]: MADE, the longest name made from VALUE, fits GCE's 63
# characters; otherwise a usage error naming it as SHOWN, how long VALUE may be and OR (another way out).
check_fits() {
  local option=$1 value=$2 made=$3 shown=$4 or=${5:+; or $5}
  ((${#made} <= 63)) && return 0
  die_usage "$option $value is too long: $shown must fit GCE's 63 characters (at most $((63 - ${#made} + ${#value})) for $option$or)"
}

# warn_shared_rule TAG PORT: versions before 2026-12 gave every VM the network tag TAG and opened
# tcp:PORT to it with the one rule TAG-PORT (the last run's range, often 0.0.0.0/0). VMs made now do
# not carry TAG, but such a rule still reaches the VMs made then: say so, and how to delete it.
warn_shared_rule() {
  local tag=$1 port=$2 rule=$1-$2 ranges
  gcloud_lookup compute firewall-rules describe "$rule" --format=json || return 0
  ranges=$(printf '%s' "$GCLOUD_OUT" | json_py '
if args[0] in data.get("targetTags", []):
    print(",".join(data.get("sourceRanges", [])) or "-")' "$tag")
  [[ -n $ranges ]] || return 0
  {
    printf 'Warning: firewall rule %s (made by an older version of these scripts) lets %s reach tcp:%s on every VM tagged %s.\n' "$rule" "$ranges" "$port" "$tag"
    printf '  New VMs no longer carry that tag; the VMs still tagged so: gcloud compute instances list --filter=tags.items=%s\n' "$tag"
    printf '  Delete the rule once those are gone (or re-made): gcloud compute firewall-rules delete %s --quiet\n' "$rule"
  } >&2
}

# ensure_access NAME PORT DESCRIPTION: the ingress rule NAME (access_name) for tcp:PORT from
# SOURCE_RANGE to the VMs tagged NAME. One rule per range and port, made once and never changed:
# a VM made for another range gets another rule and tag, so no run narrows or widens the access
# of a VM made earlier. Firewall rules carry no labels: DESCRIPTION names who made it.
ensure_access() {
  local name=$1 port=$2 description=$3 current
  if gcloud_lookup compute firewall-rules describe "$name" --format=json; then
    current=$(printf '%s' "$GCLOUD_OUT" | json_py 'print(",".join(data.get("sourceRanges", [])))')
    [[ $current == "$SOURCE_RANGE" ]] ||
      die "firewall rule $name lets $current reach tcp:$port, not $SOURCE_RANGE (was it edited?): delete it (gcloud compute firewall-rules delete $name) and run this again"
    say "Firewall rule $name already lets $SOURCE_RANGE reach tcp:$port on VMs tagged $name"
    return 0
  fi
  say "Creating firewall rule $name: tcp:$port from $SOURCE_RANGE to VMs tagged $name"
  gcloud_capture compute firewall-rules create "$name" --direction=INGRESS --action=allow --rules="tcp:$port" \
    --source-ranges="$SOURCE_RANGE" --target-tags="$name" --description="$description" ||
    gcloud_failed "creating firewall rule $name (this needs the Compute Security Admin role)"
}

# ensure_address NAME REGION LABELS: a reserved static external IP (reused when it exists and is
# free), labelled (addresses create has no --labels: addresses update sets them); prints the address.
ensure_address() {
  local name=$1 region=$2 labels=$3
  if ! gcloud_lookup compute addresses describe "$name" --region="$region" --format=json; then
    gcloud_capture compute addresses create "$name" --region="$region" ||
      gcloud_failed "reserving static IP $name in $region (the STATIC_ADDRESSES quota may be used up; or --no-static-ip)"
    gcloud_capture compute addresses update "$name" --region="$region" --update-labels="$labels" ||
      gcloud_failed "labelling static IP $name"
    gcloud_lookup compute addresses describe "$name" --region="$region" --format=json ||
      die "cannot read static IP $name in $region after reserving it"
  fi
  printf '%s' "$GCLOUD_OUT" | json_py '
if data.get("status") == "IN_USE":
    sys.stderr.write("%s: error: static IP %s (%s) is in use by %s: delete that VM or its address first\n"
                     % (args[0], args[1], data.get("address"), ", ".join(data.get("users", []))))
    sys.exit(1)
print(data["address"])' "$PROG" "$name"
}

# instance_ip NAME ZONE: the VM's external IP (empty when it has none).
instance_ip() {
  gcloud_run compute instances describe "$1" --zone="$2" --format=json 2>/dev/null | json_py '
for interface in data.get("networkInterfaces", []):
    for config in interface.get("accessConfigs", []):
        if config.get("natIP"):
            print(config["natIP"])
            sys.exit(0)' 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# Progress from the agent's guest attributes (namespace cs231n-agent): state, step, ready (whole
# seconds from the run's start until Jupyter served and torch worked; the run goes on after it),
# jupyter-url, error, idle-minutes. agent_progress NAME ZONE sets AGENT_STATE (empty while nothing
# is published yet), AGENT_STEP, AGENT_READY (digits, or empty), AGENT_JUPYTER_URL, AGENT_ERROR and
# AGENT_IDLE; when reading fails for another reason than "nothing published yet" (HTTPError 404 ...
# of type 'Guest Attribute' was not found), AGENT_READ_ERROR keeps gcloud's message, and
# AGENT_UNREADABLE says why it never will succeed, when that is so (empty for passing trouble).
agent_progress() {
  local fields
  AGENT_STATE="" AGENT_STEP="" AGENT_READY="" AGENT_JUPYTER_URL="" AGENT_ERROR="" AGENT_IDLE=""
  AGENT_READ_ERROR="" AGENT_UNREADABLE=""
  if ! gcloud_capture compute instances get-guest-attributes "$1" --zone="$2" --query-path="$GCE_STATE_NAMESPACE/" --format=json; then
    case $GCLOUD_ERR in
      *"of type 'Guest Attribute' was not found"*) return 0 ;;
      # HTTP 412 (docs/sources/gcloud-and-gce.md section 3): nothing will ever be published.
      *disableGuestAttributesAccess*) AGENT_UNREADABLE="the organisation policy constraints/compute.disableGuestAttributesAccess forbids guest attributes" ;;
      *"instances/$1' was not found"*) AGENT_UNREADABLE="the VM does not exist (any more)" ;;
      *"HTTPError 403"* | *PERMISSION_DENIED* | *"permission for"*)
        AGENT_UNREADABLE="your account may not read its guest attributes (compute.instances.getGuestAttributes)" ;;
    esac
    AGENT_READ_ERROR=$GCLOUD_ERR
    return 0
  fi
  fields=$(printf '%s' "$GCLOUD_OUT" | json_py '
values = {item.get("key"): str(item.get("value", "")) for item in (data or []) if isinstance(item, dict)}
for key in ("state", "step", "ready", "jupyter-url", "error", "idle-minutes"):
    print(" ".join(values.get(key, "").split()))' 2>/dev/null) || return 0
  {
    IFS= read -r AGENT_STATE
    IFS= read -r AGENT_STEP
    IFS= read -r AGENT_READY
    IFS= read -r AGENT_JUPYTER_URL
    IFS= read -r AGENT_ERROR
    IFS= read -r AGENT_IDLE
  } <<<"$fields" || true
  is_uint "$AGENT_READY" || AGENT_READY=""
}

# agent_outcome UNTIL: where the run agent_progress read stands, for a wait until UNTIL (ready or
# done): done, failed, refused (the agent's final states, agent/core/exit_codes.hpp), ready (with
# UNTIL=ready), unfollowable (AGENT_UNREADABLE), or pending (not-started, running, interrupted,
# reboot-pending, nothing published yet, or a passing read error).
agent_outcome() {
  if [[ -n $AGENT_UNREADABLE ]]; then
    printf unfollowable
  elif [[ $AGENT_STATE == "done" || $AGENT_STATE == failed || $AGENT_STATE == refused ]]; then
    printf '%s' "$AGENT_STATE"
  elif [[ $1 == ready && -n $AGENT_READY ]]; then
    printf ready
  else
    printf pending
  fi
}

# ssh_command NAME ZONE COMMAND: the gcloud command that runs COMMAND on NAME.
ssh_command() {
  local name=$1 zone=$2 remote=$3 project=""
  ((${#GCLOUD_GLOBAL[@]})) && project=" ${GCLOUD_GLOBAL[*]}"
  printf "gcloud%s compute ssh %s --zone=%s --command='%s'" "$project" "$name" "$zone" "$remote"
}

# watch_command NAME ZONE: the gcloud command that shows the agent's progress on NAME.
watch_command() {
  printf 'gcloud compute instances get-guest-attributes %s --zone=%s --query-path=%s/' "$1" "$2" "$GCE_STATE_NAMESPACE"
}

# report_agent_trouble NAME ZONE OUTCOME: on stderr, for a run that failed or was refused (its
# error; the startup script's own failures name the startup log) or a VM that cannot be followed:
# what happened and the commands that show more.
report_agent_trouble() {
  local name=$1 zone=$2 outcome=$3
  {
    if [[ $outcome == unfollowable ]]; then
      printf '%s: error: cannot follow %s: %s; the VM goes on by itself\n' "$PROG" "$name" "$AGENT_UNREADABLE"
      printf '%s\n' "$AGENT_READ_ERROR" | sed 's/^/  /'
    else
      printf '%s: error: the agent on %s %s: %s\n' "$PROG" "$name" "$outcome" "${AGENT_ERROR:-(no error published)}"
    fi
    printf 'Its console: gcloud compute instances get-serial-port-output %s --zone=%s\n' "$name" "$zone"
    if [[ $outcome == unfollowable ]]; then
      printf 'Its status:  %s\n' "$(ssh_command "$name" "$zone" "sudo cs231n-agent status")"
    elif [[ $AGENT_STEP == startup-script ]]; then
      # The startup script failed before the agent ran (scripts/startup-script.sh publishes it).
      printf 'Its log:     %s\n' "$(ssh_command "$name" "$zone" "sudo journalctl -u google-startup-scripts.service")"
      printf 'After fixing the cause, the next boot tries again: gcloud compute instances reset %s --zone=%s\n' "$name" "$zone"
    else
      printf 'Its status:  %s\n' "$(ssh_command "$name" "$zone" "sudo cs231n-agent status")"
      printf 'Its log:     %s (all of it: /var/log/cs231n-agent.log)\n' "$(ssh_command "$name" "$zone" "sudo cs231n-agent logs ${AGENT_STEP:-STEP}")"
      printf 'After fixing the cause, the agent goes on at the next boot, or now with: %s\n' \
        "$(ssh_command "$name" "$zone" "sudo cs231n-agent run")"
    fi
  } >&2
}

# wait_for_agents ZONE TIMEOUT-SECONDS POLL-SECONDS UNTIL NAME...: follows the runs of the agents
# on the VMs NAME... (one read of each VM's guest attributes per poll) until every one is ready
# (UNTIL=ready: Jupyter serves and torch works; a run that is done is ready too) or done
# (UNTIL=done), or has failed, been refused or cannot be followed (each said at once, at the poll
# that sees it, with the commands that show more), or the timeout passes (the VM goes on). Sets
# AGENT_OUTCOMES (per NAME: ready, done, failed, refused, unfollowable, timeout) and, from the last
# read, AGENT_URLS, AGENT_STEPS, AGENT_READIES; returns 0 when every VM got to UNTIL.
AGENT_OUTCOMES=() AGENT_URLS=() AGENT_STEPS=() AGENT_READIES=()
wait_for_agents() {
  local zone=$1 timeout=$2 poll=$3 until=$4 deadline i pending outcome now goal
  shift 4
  local -a names=("$@") shown=() states=() read_errors=()
  AGENT_OUTCOMES=() AGENT_URLS=() AGENT_STEPS=() AGENT_READIES=()
  for i in "${!names[@]}"; do AGENT_OUTCOMES[i]=pending shown[i]="" states[i]="" read_errors[i]=""; done
  goal="until Jupyter is ready"
  [[ $until == ready ]] || goal="until the run is done"
  say "Waiting for the agent on ${names[*]} $goal (at most $((timeout / 60)) min; Ctrl-C stops waiting, not the VM)"
  deadline=$((SECONDS + timeout))
  while :; do
    pending=0
    for i in "${!names[@]}"; do
      [[ ${AGENT_OUTCOMES[i]} == pending ]] || continue
      agent_progress "${names[i]}" "$zone"
      outcome=$(agent_outcome "$until")
      AGENT_OUTCOMES[i]=$outcome AGENT_URLS[i]=$AGENT_JUPYTER_URL AGENT_STEPS[i]=$AGENT_STEP AGENT_READIES[i]=$AGENT_READY
      states[i]=$AGENT_STATE read_errors[i]=$AGENT_READ_ERROR
      now="${AGENT_STATE:-waiting for the agent to start}${AGENT_STEP:+ (step $AGENT_STEP)}${AGENT_READY:+, Jupyter ready}"
      if [[ $now != "${shown[i]}" ]]; then
        say "  ${names[i]}: $now"
        shown[i]=$now
      fi
      case $outcome in
        pending) pending=$((pending + 1)) ;;
        ready | done) ;;
        *) report_agent_trouble "${names[i]}" "$zone" "$outcome" ;;
      esac
    done
    ((pending > 0)) || break
    if ((SECONDS >= deadline)); then
      for i in "${!names[@]}"; do
        [[ ${AGENT_OUTCOMES[i]} == pending ]] || continue
        AGENT_OUTCOMES[i]=timeout
        {
          printf '%s: error: gave up waiting for %s after %s min (last state: %s); the VM goes on by itself\n' \
            "$PROG" "${names[i]}" "$((timeout / 60))" "${states[i]:-nothing published}"
          printf 'Watch it:    %s\n' "$(watch_command "${names[i]}" "$zone")"
          printf 'Its console: gcloud compute instances get-serial-port-output %s --zone=%s\n' "${names[i]}" "$zone"
          [[ -z ${read_errors[i]} ]] || printf 'Reading its guest attributes failed; gcloud said:\n%s\n' "${read_errors[i]}"
        } >&2
      done
      break
    fi
    sleep "$poll"
  done
  for outcome in "${AGENT_OUTCOMES[@]}"; do
    [[ $outcome == "$until" || $outcome == "done" ]] || return 1
  done
}

# The options create-instance.sh and class.sh share: vm_option_defaults AGENT-PATH sets their
# defaults (global variables of the calling script); parse_vm_option "$@" takes one of them off the command line and
# sets VM_OPTION_WORDS to how many words it used (0: not one of them); check_vm_options checks them.
# shellcheck disable=SC2034  # the variables are the calling script's
vm_option_defaults() {
  zone="" project="" agent=$1 bucket="" agent_url="" gpu="" machine_type=""
  # Ubuntu 24.04 LTS. Its x86 family carries -amd64: GoogleCloudPlatform/compute-gpu-installation
  # tests/conftest.py (docs/sources/gpu-driver-cuda-torch.md, "Image families").
  skip_quota=0 image_family=ubuntu-2404-lts-amd64 image_project=ubuntu-os-cloud disk_size=40
  port=8888 my_ip="" source_range="" anywhere=0 tag=$GCE_TAG_DEFAULT assume_yes=0 reuse_disk=0 wait_until=ready
}

# shellcheck disable=SC2034
parse_vm_option() {
  VM_OPTION_WORDS=2
  case $1 in
    --zone) need_value "$1" $#; zone=$2 ;;
    --project) need_value "$1" $#; project=$2 ;;
    --agent) need_value "$1" $#; agent=$2 ;;
    --bucket) need_value "$1" $#; bucket=$2 ;;
    --agent-url) need_value "$1" $#; agent_url=$2 ;;
    --gpu) need_value "$1" $#; gpu=$2 ;;
    --machine-type) need_value "$1" $#; machine_type=$2 ;;
    --image-family) need_value "$1" $#; image_family=$2 ;;
    --image-project) need_value "$1" $#; image_project=$2 ;;
    --disk-size) need_value "$1" $#; disk_size=$2 ;;
    --port) need_value "$1" $#; port=$2 ;;
    --my-ip) need_value "$1" $#; my_ip=$2 ;;
    --source-range) need_value "$1" $#; source_range=$2 ;;
    --tag) need_value "$1" $#; tag=$2 ;;
    --timeout) need_value "$1" $#; timeout_min=$2 ;;
    --poll-seconds) need_value "$1" $#; poll=$2 ;;
    --skip-quota-check) skip_quota=1; VM_OPTION_WORDS=1 ;;
    --yes) assume_yes=1; VM_OPTION_WORDS=1 ;;
    --reuse-disk) reuse_disk=1; VM_OPTION_WORDS=1 ;;
    --wait-done) wait_until="done"; VM_OPTION_WORDS=1 ;;
    --allow-anywhere) anywhere=1; VM_OPTION_WORDS=1 ;;
    *) VM_OPTION_WORDS=0 ;;
  esac
}

check_vm_options() {
  is_gce_name "$tag" || die_usage "--tag $tag is not a GCE network tag: lowercase letters, digits and -, starting with a letter"
  { is_uint "$port" && ((10#$port >= 1 && 10#$port <= 65535)); } || die_usage "--port $port must be a TCP port (1-65535)"
  port=$((10#$port))
  check_fits --tag "$tag" "$(access_name "$tag" "$port" 0.0.0.0/0)" "the firewall rule $tag-$port-HASH"
  { is_uint "$disk_size" && ((10#$disk_size >= 40)); } ||
    die_usage "--disk-size $disk_size must be a number of GB, at least 40 (Anaconda, CUDA and the datasets need it)"
  { is_uint "$timeout_min" && ((10#$timeout_min >= 1)); } || die_usage "--timeout $timeout_min must be a number of minutes (1 or more)"
  is_uint "$poll" || die_usage "--poll-seconds $poll must be a number of seconds"
  [[ -z $my_ip ]] || is_ipv4 "$my_ip" || die_usage "--my-ip $my_ip is not an IPv4 address"
  [[ -z $source_range ]] || is_cidr "$source_range" || die_usage "--source-range $source_range is not an IPv4 range like 203.0.113.0/24"
  ((anywhere == 0)) || [[ -z $source_range && -z $my_ip ]] || die_usage "--allow-anywhere opens the port to everyone: leave out --my-ip and --source-range"
  [[ -z $gpu ]] || parse_gpu "$gpu"
  check_agent_source "$bucket" "$agent_url"
  [[ -f $agent ]] || die_usage "no agent binary at $agent: build it (scripts/build.sh) or pass --agent PATH"
}

# After check_vm_options: the tools, the project, the zone (from gcloud's config when not given),
# its region, and the machine type that carries the GPU asked for.
# shellcheck disable=SC2034  # region and machine_type are the calling script's
resolve_vm_target() {
  require_tools
  [[ -z $project ]] || GCLOUD_GLOBAL=("--project=$project")
  if [[ -z $zone ]]; then
    zone=$(gcloud_config compute/zone)
    [[ -n $zone ]] || die_usage "no zone: pass --zone ZONE (e.g. us-west1-b) or set one with gcloud config set compute/zone ZONE"
  fi
  [[ $zone =~ ^[a-z]+-[a-z]+[0-9]+-[a-z]$ ]] || die_usage "--zone $zone is not a zone name like us-west1-b"
  region=$(zone_region "$zone")
  if [[ -z $machine_type ]]; then
    machine_type=n1-standard-8
    if [[ -n $gpu ]]; then
      machine_type=$(machine_for_gpu) ||
        die_usage "--gpu $gpu: GCE has no machine type with $GPU_COUNT $GPU_TYPE GPU(s); ask for $(gpu_counts)"
    fi
  fi
  check_cloud_access "$assume_yes"
}

# fit_disk_to_image: the boot disk is at least as large as the image (GCE refuses a smaller one:
# "Requested disk size cannot be smaller than the image size"; a baked image is as large as the
# disk it was made from). Raises disk_size, and says so.
# shellcheck disable=SC2034  # disk_size is the calling script's
fit_disk_to_image() {
  local size
  # The image's own project, not the VMs' (so GCLOUD_GLOBAL's --project is left out here).
  local -a GCLOUD_GLOBAL=()
  gcloud_capture compute images describe-from-family "$image_family" --project="$image_project" --format='value(diskSizeGb)' ||
    gcloud_failed "reading image family $image_project/$image_family (check --image-family and --image-project)"
  size=$GCLOUD_OUT
  is_uint "$size" || die "image family $image_project/$image_family has no disk size ($size)"
  if ((10#$size > 10#$disk_size)); then
    say "The newest image of $image_project/$image_family is ${size} GB: the boot disk is ${size} GB, not ${disk_size}"
    disk_size=$((10#$size))
  fi
}

# is_rate_limited: GCLOUD_ERR says GCE's API rate limit was reached (gcloud compute does not retry
# these itself: docs/sources/gcloud-and-gce.md section 10).
is_rate_limited() {
  case $GCLOUD_ERR in
    *ZONE_RESOURCE_POOL_EXHAUSTED* | *"does not have enough resources available"*) return 1 ;;
    *rateLimitExceeded* | *RATE_LIMIT_EXCEEDED* | *RESOURCE_EXHAUSTED* | *"Quota exceeded for quota metric"* | *"Rate Limit Exceeded"*) return 0 ;;
  esac
  return 1
}

# zones_with_gpu: the zones that offer GPU_TYPE (or, for a zone error that names them, those).
zones_with_gpu() {
  local named
  named=$(printf '%s\n' "$GCLOUD_ERR" | sed -n 's/^ *zonesAvailable: *//p' | head -n 1)
  if [[ -n $named ]]; then
    printf '%s' "${named//,/ }"
    return 0
  fi
  [[ -n ${GPU_TYPE:-} ]] || return 0
  gcloud_run compute accelerator-types list --filter="name=$GPU_TYPE" --format='value(zone.basename())' 2>/dev/null |
    grep -vx -- "$zone" | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# gcloud_create WHAT ARG...: a gcloud call that makes something: retried with a growing wait (with
# jitter) while GCE's API rate limit is reached; gcloud's messages go to stderr. A zone out of the
# machine or GPU asked for says so with the zones that have it. Returns gcloud's status, with its
# last message in GCLOUD_ERR.
GCE_BACKOFF_SECONDS=${CS231N_BACKOFF_SECONDS:-10}
GCE_ATTEMPTS=${CS231N_ATTEMPTS:-6}
gcloud_create() {
  local what=$1 attempt=1 wait_seconds=$GCE_BACKOFF_SECONDS zones
  shift
  while :; do
    if gcloud_capture "$@"; then
      [[ -z $GCLOUD_ERR ]] || printf '%s\n' "$GCLOUD_ERR" >&2
      return 0
    fi
    if is_rate_limited && ((attempt < GCE_ATTEMPTS)); then
      printf '%s: GCE rate limit reached while %s; trying again in %s s (attempt %s of %s)\n' \
        "$PROG" "$what" "$wait_seconds" "$((attempt + 1))" "$GCE_ATTEMPTS" >&2
      sleep "$((wait_seconds + (wait_seconds > 0 ? RANDOM % (wait_seconds / 2 + 1) : 0)))"
      attempt=$((attempt + 1)) wait_seconds=$((wait_seconds * 2))
      continue
    fi
    printf '%s\n' "$GCLOUD_ERR" >&2
    case $GCLOUD_ERR in
      *ZONE_RESOURCE_POOL_EXHAUSTED* | *"does not have enough resources available"*)
        zones=$(zones_with_gpu)
        printf '%s: zone %s has no %s free right now (GCE capacity, not your quota; it changes by the hour)%s\n' \
          "$PROG" "$zone" "${GPU_TYPE:-$machine_type}" "${zones:+: try --zone with one of: $zones}" >&2
        ;;
    esac
    return 1
  done
}
