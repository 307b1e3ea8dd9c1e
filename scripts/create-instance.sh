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
says Jupyter is ready (the rest of its run goes on by itself) and prints the Jupyter URL and how
to read the password it made.

Before anything changes: gcloud's login and project, the Compute Engine API (off in every new
project: --yes enables it, or it asks at a terminal, and waits the minutes it takes to arrive),
a VM or a kept disk of that name, the image's size and a GPU's quota (GPU quotas start at 0; the
error says how to ask for more). Then: the agent is published and the VMs' service account may
read it (roles/storage.objectViewer on your bucket; someone else's gs:// bucket is only checked,
and a warning names the grant its owner can make), the firewall rule for Jupyter is made (only
your public IP by default; one rule per range, TAG-PORT-HASH, and the VM carries only that tag),
a static external IP is reserved (or reused), the VM is created. Every resource carries the
labels cs231n-vm=NAME, cs231n-user=USER. A rule TAG-PORT left by an older version (it reaches
every VM that older version made) is named with the command that deletes it.

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
  --gpu TYPE[:COUNT]     e.g. nvidia-tesla-t4, nvidia-l4:1 (short: t4, l4, v100, p100, p4,
                         a100, a100-80gb, h100; GCE retired the K80). Machine type: n1-standard-8
                         with the GPU attached (T4, V100, P100, P4), g2-standard-8 (L4),
                         a2-highgpu-1g (A100), a2-ultragpu-1g (A100 80GB), a3-highgpu-Ng (H100);
                         more GPUs, larger types
  --machine-type TYPE    override that choice (default without a GPU: n1-standard-8)
  --skip-quota-check     do not read the GPU quotas first
  --image-family FAMILY  default: ubuntu-2404-lts-amd64 (an image made by bake-image.sh: its family)
  --image-project PROJ   default: ubuntu-os-cloud (your project for a baked image)
  --disk-size GB         boot disk, at least 40 (default: 40, or the image's size when larger); it
                         is kept when the VM is deleted
  --reuse-disk           start from the disk NAME kept from an earlier VM NAME (its files stay)
  --user NAME            the account the agent sets up (default: your gcloud account's name,
                         the part before @, as the console's browser SSH names it)
  --no-static-ip         use an ephemeral external IP instead of reserving NAME-ip
Jupyter and the firewall:
  --port PORT            Jupyter's HTTPS port (default: 8888)
  --my-ip IP             your public IPv4 address (default: asked from checkip.amazonaws.com)
  --source-range CIDR    let this network reach Jupyter instead of just your IP (e.g. a campus)
  --allow-anywhere       let anyone reach it (0.0.0.0/0, as the 2019 tutorial did)
  --tag TAG              the start of the name of the firewall rule and of the network tag it
                         targets, TAG-PORT-HASH (default: $GCE_TAG_DEFAULT)
Other:
  --yes                  enable the project's Compute Engine API without asking when it is off
Waiting:
  --no-wait              return once the VM is created
  --wait-done            wait until the agent's whole run is done, not just until Jupyter is ready
  --timeout MINUTES      give up waiting after this long (default: 90; the VM goes on)
  --poll-seconds S       how often to look (default: 15)
  -h, --help             this text

Exit status: 0 Jupyter ready (or the run done, with --wait-done; created, with --no-wait), 1
failed or refused (with the reason), 2 bad usage.
EOF
}

GCE_ENABLES_API=1
vm_option_defaults "$top/build/cs231n-agent"
name=cs231n user="" static_ip=1 wait=1 timeout_min=90 poll=15
while (($#)); do
  parse_vm_option "$@"
  if ((VM_OPTION_WORDS > 0)); then
    shift "$VM_OPTION_WORDS"
    continue
  fi
  case $1 in
    -h | --help) usage; exit 0 ;;
    --name) need_value "$1" $#; name=$2; shift ;;
    --user) need_value "$1" $#; user=$2; shift ;;
    --no-static-ip) static_ip=0 ;;
    --no-wait) wait=0 ;;
    *) die_usage "unknown option $1 (see --help)" ;;
  esac
  shift
done

is_gce_name "$name" || die_usage "--name $name is not a GCE name: lowercase letters, digits and -, starting with a letter, at most 63"
((static_ip == 0)) || check_fits --name "$name" "$(address_name "$name")" "its static IP $(address_name "$name")" --no-static-ip
[[ -z $user ]] || is_linux_user "$user" || die_usage "--user $user is not an account name: lowercase letters, digits, _ and -, at most 32"
check_vm_options
resolve_vm_target
if [[ -z $user ]]; then
  user=$(user_from_account "$GCE_ACCOUNT")
fi

# Nothing changes before every check has passed: the VM, its kept disk, the image, the quota.
if gcloud_lookup compute instances describe "$name" --zone="$zone" --format=json; then
  die "an instance $name already exists in $zone: choose another --name, or delete it first (gcloud compute instances delete $name --zone=$zone)"
fi
boot_flags=()
if gcloud_lookup compute disks describe "$name" --zone="$zone" --format=json; then
  # The boot disk of an earlier VM of this name, kept (--no-boot-disk-auto-delete) when it was deleted.
  in_use=$(printf '%s' "$GCLOUD_OUT" | json_py 'print(" ".join(u.rsplit("/", 1)[-1] for u in data.get("users", [])))')
  [[ -z $in_use ]] || die "disk $name in $zone is in use by $in_use: choose another --name"
  ((reuse_disk)) ||
    die "a disk $name is left in $zone from an earlier VM $name (its files are on it): start the new VM from it with --reuse-disk, or delete it first (gcloud compute disks delete $name --zone=$zone)"
  say "Reusing the kept disk $name as the boot disk (--reuse-disk)"
  boot_flags=("--disk=name=$name,boot=yes,auto-delete=no")
else
  ((reuse_disk == 0)) || die "--reuse-disk: there is no disk $name in $zone to reuse; leave --reuse-disk out"
  fit_disk_to_image
  boot_flags=("--image-family=$image_family" "--image-project=$image_project"
    "--boot-disk-size=${disk_size}GB" --boot-disk-type=pd-balanced --no-boot-disk-auto-delete)
fi
if [[ -n $gpu && $skip_quota == 0 ]]; then
  check_gpu_quota "$region" "$GPU_COUNT"
fi
resolve_source_range "$my_ip" "$source_range" "$anywhere"

labels="cs231n-vm=$name,cs231n-user=$user"
publish_agent "$agent" "$bucket" "$agent_url"
access=$(access_name "$tag" "$port" "$SOURCE_RANGE")
warn_shared_rule "$tag" "$port"
ensure_access "$access" "$port" "cs231n-agent: Jupyter on tcp:$port from $SOURCE_RANGE, for VMs tagged $access"
address_flags=()
if ((static_ip)); then
  address=$(ensure_address "$(address_name "$name")" "$region" "$labels") || exit 1
  say "Static external IP $(address_name "$name"): $address"
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
gcloud_create "creating $name" compute instances create "$name" --zone="$zone" --machine-type="$machine_type" \
  ${GPU_FLAGS[@]+"${GPU_FLAGS[@]}"} "${boot_flags[@]}" \
  --tags="$access" --labels="$labels" ${address_flags[@]+"${address_flags[@]}"} \
  --metadata="$metadata" --metadata-from-file="$metadata_files" ||
  die "gcloud compute instances create $name failed (its message is above)"
# Instance labels are not copied to the boot disk; label it for gcloud's filters.
gcloud_capture compute disks add-labels "$name" --zone="$zone" --labels="$labels" ||
  say "Warning: could not label disk $name: ${GCLOUD_ERR//$'\n'/ }" >&2

ip=${address:-}
[[ -n $ip ]] || ip=$(instance_ip "$name" "$zone")
url="https://${ip:-EXTERNAL-IP}:$port"
password_command=$(ssh_command "$name" "$zone" "sudo cat $GCE_PASSWORD_FILE")
# What to type to delete everything this made (the README names the same).
cleanup() {
  say "To delete all of it later (the disk holds the student's files):"
  say "  gcloud compute instances delete $name --zone=$zone --quiet"
  say "  gcloud compute disks delete $name --zone=$zone --quiet"
  ((static_ip == 0)) || say "  gcloud compute addresses delete $(address_name "$name") --region=$region --quiet"
  say "  gcloud compute firewall-rules delete $access --quiet   (once no other VM is tagged $access)"
  if [[ -n $GRANTED_BUCKET ]]; then
    say "  gcloud storage buckets remove-iam-policy-binding $GRANTED_BUCKET --member=$GRANTED_MEMBER --role=roles/storage.objectViewer   (once no VM reads the agent there)"
  fi
  [[ -z $bucket ]] || say "  gcloud storage rm --recursive ${bucket%/}/cs231n-agent/   (the agent binaries)"
}
if ((wait == 0)); then
  say "Created $name. The agent sets it up now (most of an hour with a GPU); follow it with:"
  say "  $(watch_command "$name" "$zone")"
  say "Then Jupyter: $url   password: $password_command"
  cleanup
  exit 0
fi
if ! wait_for_agents "$zone" "$((10#$timeout_min * 60))" "$poll" "$wait_until" "$name"; then
  # The VM is there (and billed) whatever its agent did.
  cleanup
  exit 1
fi
[[ -z ${AGENT_URLS[0]} ]] || url=${AGENT_URLS[0]}
say ""
say "Jupyter:  $url"
say "Password: $password_command"
say "The certificate is self-signed: the browser asks you once to accept it."
if [[ ${AGENT_OUTCOMES[0]} == ready ]]; then
  ready=${AGENT_READIES[0]}
  if ((ready < 120)); then ready="$ready s"; else ready="$((ready / 60)) min"; fi
  say "Jupyter was ready $ready after the agent started; the rest of its run goes on by itself${AGENT_STEPS[0]:+ (now: step ${AGENT_STEPS[0]})}; follow it with:"
  say "  $(watch_command "$name" "$zone")"
fi
say "A running VM costs money; stop it when you are done: $(stop_command "$name" "$zone" "$machine_type")"
cleanup
