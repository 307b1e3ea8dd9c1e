#!/usr/bin/env bash
# Creates one cs231n VM on Google Compute Engine and waits until the agent on it has set it up.
# Run on your own machine, with the Google Cloud CLI logged in (gcloud init). See --help.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/gce-lib.sh
source "$top/scripts/gce-lib.sh"

usage() {
  cat <<EOF
Usage: scripts/create-instance.sh [--name NAME] (--bucket gs://BUCKET | --agent-url URL) [options]

Creates a GCE VM that sets itself up for cs231n: the startup script (scripts/startup-script.sh)
fetches cs231n-agent, checks its sha256 and runs it at every boot. Then waits until the agent
says it is done and prints the Jupyter URL and how to read the password it made.

Before anything changes, a GPU's quota is checked (GPU quotas start at 0; the error says how to
ask for more). Then: the agent is published, the firewall rule for Jupyter is made (only your
public IP by default), a static external IP is reserved (or reused), the VM is created.

The agent:
  --agent PATH           the cs231n-agent binary to use (default: build/cs231n-agent); its sha256
                         goes into the metadata, and the VM refuses any other file
  --bucket gs://BUCKET   copy it to your Cloud Storage bucket (the VM reads it with its own
                         service account), as gs://BUCKET/cs231n-agent/SHA256/cs231n-agent
  --agent-url URL        or: the VM downloads it from this https:// (or gs://) URL
The VM:
  --name NAME            instance name (default: cs231n)
  --zone ZONE            default: gcloud config get-value compute/zone
  --project PROJECT      default: gcloud's configured project
  --gpu TYPE[:COUNT]     e.g. nvidia-tesla-t4, nvidia-l4:1 (short: t4, l4, v100, p100, p4, k80,
                         a100, a100-80gb, h100). Machine type: n1-standard-8 with the GPU attached
                         (T4, V100, P100, P4, K80), g2-standard-8 (L4), a2-highgpu-1g (A100),
                         a2-ultragpu-1g (A100 80GB), a3-highgpu-Ng (H100); more GPUs, larger types
  --machine-type TYPE    override that choice (default without a GPU: n1-standard-8)
  --skip-quota-check     do not read the GPU quotas first
  --image-family FAMILY  default: ubuntu-2204-lts (an image made by bake-image.sh: its family)
  --image-project PROJ   default: ubuntu-os-cloud (your project for a baked image)
  --disk-size GB         boot disk, at least 40 (default: 40); it is kept when the VM is deleted
  --user NAME            the account the agent sets up (default: your gcloud account's name,
                         the part before @, as the console's browser SSH names it)
  --no-static-ip         use an ephemeral external IP instead of reserving NAME-ip
Jupyter and the firewall:
  --port PORT            Jupyter's HTTPS port (default: 8888)
  --my-ip IP             your public IPv4 address (default: asked from checkip.amazonaws.com)
  --source-range CIDR    let this network reach Jupyter instead of just your IP (e.g. a campus)
  --allow-anywhere       let anyone reach it (0.0.0.0/0, as the 2019 tutorial did)
  --tag TAG              network tag that the rule is scoped to (default: $GCE_TAG_DEFAULT)
Waiting:
  --no-wait              return once the VM is created
  --timeout MINUTES      give up waiting after this long (default: 90; the VM goes on)
  --poll-seconds S       how often to look (default: 15)
  -h, --help             this text

Exit status: 0 ready (or created, with --no-wait), 1 failed or refused (with the reason), 2 bad
usage.
EOF
}

name=cs231n zone="" project="" agent=$top/build/cs231n-agent bucket="" agent_url="" gpu="" machine_type=""
skip_quota=0 image_family=ubuntu-2204-lts image_project=ubuntu-os-cloud disk_size=40 user="" static_ip=1
port=8888 my_ip="" source_range="" anywhere=0 tag=$GCE_TAG_DEFAULT wait=1 timeout_min=90 poll=15
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --name) need_value "$1" $#; name=$2; shift ;;
    --zone) need_value "$1" $#; zone=$2; shift ;;
    --project) need_value "$1" $#; project=$2; shift ;;
    --agent) need_value "$1" $#; agent=$2; shift ;;
    --bucket) need_value "$1" $#; bucket=$2; shift ;;
    --agent-url) need_value "$1" $#; agent_url=$2; shift ;;
    --gpu) need_value "$1" $#; gpu=$2; shift ;;
    --machine-type) need_value "$1" $#; machine_type=$2; shift ;;
    --skip-quota-check) skip_quota=1 ;;
    --image-family) need_value "$1" $#; image_family=$2; shift ;;
    --image-project) need_value "$1" $#; image_project=$2; shift ;;
    --disk-size) need_value "$1" $#; disk_size=$2; shift ;;
    --user) need_value "$1" $#; user=$2; shift ;;
    --no-static-ip) static_ip=0 ;;
    --port) need_value "$1" $#; port=$2; shift ;;
    --my-ip) need_value "$1" $#; my_ip=$2; shift ;;
    --source-range) need_value "$1" $#; source_range=$2; shift ;;
    --allow-anywhere) anywhere=1 ;;
    --tag) need_value "$1" $#; tag=$2; shift ;;
    --no-wait) wait=0 ;;
    --timeout) need_value "$1" $#; timeout_min=$2; shift ;;
    --poll-seconds) need_value "$1" $#; poll=$2; shift ;;
    *) die_usage "unknown option $1 (see --help)" ;;
  esac
  shift
done

is_gce_name "$name" || die_usage "--name $name is not a GCE name: lowercase letters, digits and -, starting with a letter, at most 63"
is_gce_name "$tag" || die_usage "--tag $tag is not a GCE network tag: lowercase letters, digits and -, starting with a letter"
{ is_uint "$port" && ((10#$port >= 1 && 10#$port <= 65535)); } || die_usage "--port $port must be a TCP port (1-65535)"
port=$((10#$port))
{ is_uint "$disk_size" && ((10#$disk_size >= 40)); } ||
  die_usage "--disk-size $disk_size must be a number of GB, at least 40 (Anaconda, CUDA and the datasets need it)"
{ is_uint "$timeout_min" && ((10#$timeout_min >= 1)); } || die_usage "--timeout $timeout_min must be a number of minutes (1 or more)"
is_uint "$poll" || die_usage "--poll-seconds $poll must be a number of seconds"
[[ -z $my_ip ]] || is_ipv4 "$my_ip" || die_usage "--my-ip $my_ip is not an IPv4 address"
[[ -z $source_range ]] || is_cidr "$source_range" || die_usage "--source-range $source_range is not an IPv4 range like 203.0.113.0/24"
((anywhere == 0)) || [[ -z $source_range && -z $my_ip ]] || die_usage "--allow-anywhere opens the port to everyone: leave out --my-ip and --source-range"
[[ -z $user ]] || is_linux_user "$user" || die_usage "--user $user is not an account name: lowercase letters, digits, _ and -, at most 32"
[[ -z $gpu ]] || parse_gpu "$gpu"
check_agent_source "$bucket" "$agent_url"
[[ -f $agent ]] || die_usage "no agent binary at $agent: build it (scripts/build.sh) or pass --agent PATH"
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
      die_usage "--gpu $gpu: GCE has no machine type with $GPU_COUNT $GPU_TYPE GPU(s); ask for 1, 2, 4 or 8"
  fi
fi
if [[ -z $user ]]; then
  account=$(gcloud_config account)
  [[ -n $account ]] || die "gcloud has no account: run gcloud auth login, or pass --user NAME"
  user=$(user_from_account "$account")
fi

if gcloud_run compute instances describe "$name" --zone="$zone" --format=json >/dev/null 2>&1; then
  die "an instance $name already exists in $zone: choose another --name, or delete it first (gcloud compute instances delete $name --zone=$zone)"
fi
if [[ -n $gpu && $skip_quota == 0 ]]; then
  check_gpu_quota "$region" "$GPU_COUNT"
fi
resolve_source_range "$my_ip" "$source_range" "$anywhere"

publish_agent "$agent" "$bucket" "$agent_url"
ensure_firewall "$tag-$port" "$port" "$tag"
address_flags=()
if ((static_ip)); then
  address=$(ensure_address "$name-ip" "$region") || exit 1
  say "Static external IP $name-ip: $address"
  address_flags=("--address=$address")
fi

metadata="enable-guest-attributes=TRUE,cs231n-user=$user,cs231n-agent-url=$AGENT_URL,cs231n-agent-sha256=$AGENT_SHA256"
metadata_files="startup-script=$top/scripts/startup-script.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/cs231n-create.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
if ((port != 8888)); then
  # A JSON value holds commas, which --metadata would split on.
  printf '{"jupyter": {"port": %d}}\n' "$port" >"$work/cs231n-config.json"
  metadata_files+=",cs231n-config=$work/cs231n-config.json"
fi
set_gpu_flags
say "Creating $name in $zone: $machine_type${gpu:+, $GPU_COUNT x $GPU_TYPE}, $image_project/$image_family, ${disk_size} GB disk, user $user"
gcloud_run compute instances create "$name" --zone="$zone" --machine-type="$machine_type" \
  ${GPU_FLAGS[@]+"${GPU_FLAGS[@]}"} \
  --image-family="$image_family" --image-project="$image_project" \
  --boot-disk-size="${disk_size}GB" --boot-disk-type=pd-balanced --no-boot-disk-auto-delete \
  --tags="$tag" ${address_flags[@]+"${address_flags[@]}"} \
  --metadata="$metadata" --metadata-from-file="$metadata_files" >&2 ||
  die "gcloud compute instances create $name failed (its message is above)"

ip=${address:-}
[[ -n $ip ]] || ip=$(instance_ip "$name" "$zone")
url="https://${ip:-EXTERNAL-IP}:$port"
password_command=$(ssh_command "$name" "$zone" "sudo cat $GCE_PASSWORD_FILE")
if ((wait == 0)); then
  say "Created $name. The agent sets it up now (most of an hour with a GPU); follow it with:"
  say "  gcloud compute instances get-guest-attributes $name --zone=$zone --query-path=$GCE_STATE_NAMESPACE/"
  say "Then Jupyter: $url   password: $password_command"
  exit 0
fi
wait_for_agent "$name" "$zone" "$((10#$timeout_min * 60))" "$poll" || exit 1
[[ -z $AGENT_JUPYTER_URL ]] || url=$AGENT_JUPYTER_URL
say ""
say "Jupyter:  $url"
say "Password: $password_command"
say "The certificate is self-signed: the browser asks you once to accept it."
say "A running VM costs money; stop it when you are done: gcloud compute instances stop $name --zone=$zone"
