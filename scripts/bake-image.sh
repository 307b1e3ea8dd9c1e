#!/usr/bin/env bash
# Makes a reusable image from a finished cs231n VM: scrubs it, stops it, images its boot disk.
# See --help.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/gce-lib.sh
source "$top/scripts/gce-lib.sh"

usage() {
  cat <<EOF
Usage: scripts/bake-image.sh NAME --image IMAGE [--zone ZONE] [--family FAMILY] [--force]

Turns the finished VM NAME into an image that new cs231n VMs can start from (the replacement for a
course disk image that disappears after each term):
  1. scrubs the VM: runs scripts/scrub-for-image.sh on it over gcloud compute ssh, which removes
     the Jupyter password and its hash, the TLS key and certificate, SSH host keys, shell
     histories and the agent's per-VM state (its --help lists everything);
  2. stops the VM;
  3. gcloud compute images create IMAGE --source-disk=(its boot disk) --family=FAMILY.
The VM must be running, and its agent done (--force: scrub an unfinished one anyway). Close your
other SSH sessions to it first: a shell that exits later writes its history.

NAME's own secrets are gone afterwards: started again, it makes a new Jupyter password,
certificate and host keys. VMs from the image: scripts/create-instance.sh --image-family FAMILY
--image-project YOUR-PROJECT (the agent checks every step, finds them done, and makes only what
belongs to the new VM).

  --image IMAGE      name of the image (required)
  --zone ZONE        the VM's zone (default: gcloud config get-value compute/zone)
  --family FAMILY    image family (default: cs231n); create-instance.sh takes the newest of it
  --project PROJECT  default: gcloud's configured project
  --force            scrub even when the agent's run is not done
  -h, --help         this text
EOF
}

name="" image="" zone="" family=cs231n project="" force=0
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --image) need_value "$1" $#; image=$2; shift ;;
    --zone) need_value "$1" $#; zone=$2; shift ;;
    --family) need_value "$1" $#; family=$2; shift ;;
    --project) need_value "$1" $#; project=$2; shift ;;
    --force) force=1 ;;
    -*) die_usage "unknown option $1 (see --help)" ;;
    *) [[ -z $name ]] || die_usage "one VM at a time: $name and $1 both given"; name=$1 ;;
  esac
  shift
done
[[ -n $name ]] || die_usage "name the VM to image: scripts/bake-image.sh NAME --image IMAGE"
is_gce_name "$name" || die_usage "$name is not a GCE instance name"
[[ -n $image ]] || die_usage "--image IMAGE is required: the name of the image to make (e.g. cs231n-$(date +%Y%m%d))"
is_gce_name "$image" || die_usage "--image $image is not a GCE name: lowercase letters, digits and -, starting with a letter"
is_gce_name "$family" || die_usage "--family $family is not a GCE name: lowercase letters, digits and -, starting with a letter"
require_tools
[[ -z $project ]] || GCLOUD_GLOBAL=("--project=$project")
if [[ -z $zone ]]; then
  zone=$(gcloud_config compute/zone)
  [[ -n $zone ]] || die_usage "no zone: pass --zone ZONE or set one with gcloud config set compute/zone ZONE"
fi

gcloud_lookup compute instances describe "$name" --zone="$zone" --format=json ||
  die "there is no VM $name in $zone (gcloud compute instances list shows the VMs and their zones)"
read -r status disk local_ssd <<<"$(printf '%s' "$GCLOUD_OUT" | json_py '
boot = [d for d in data.get("disks", []) if d.get("boot")]
scratch = any(d.get("type") == "SCRATCH" for d in data.get("disks", []))
print(data.get("status", "?"), boot[0]["source"].rsplit("/", 1)[-1] if boot else "-", 1 if scratch else 0)')"
[[ $disk != - ]] || die "VM $name has no boot disk to image"
# A VM with Local SSD (a2-ultragpu, a3, ...) stops only with --discard-local-ssd (gcloud compute
# instances stop --help); nothing of the image is there.
stop_flags=()
((local_ssd == 0)) || stop_flags=(--discard-local-ssd=true)
[[ $status == RUNNING ]] ||
  die "VM $name is $status: the scrub runs on it, so start it first (gcloud compute instances start $name --zone=$zone)"

scrub_flags=--yes
((force == 0)) || scrub_flags="--yes --force"
say "1/3 Scrubbing $name (scripts/scrub-for-image.sh $scrub_flags over gcloud compute ssh)"
# --quiet: no prompt (e.g. for a new SSH key's passphrase) may read the piped script as its answer.
# (gcloud itself, not gcloud_run: this call's stdin is the script.)
gcloud ${GCLOUD_GLOBAL[@]+"${GCLOUD_GLOBAL[@]}"} --quiet compute ssh "$name" --zone="$zone" --command="sudo bash -s -- $scrub_flags" <"$top/scripts/scrub-for-image.sh" ||
  die "the scrub on $name failed (its message is above); nothing was stopped or imaged"
say "2/3 Stopping $name"
gcloud_run compute instances stop "$name" --zone="$zone" ${stop_flags[@]+"${stop_flags[@]}"} >&2 ||
  die "cannot stop $name (gcloud's message is above); it was scrubbed: stop it (gcloud compute instances stop $name --zone=$zone${stop_flags[*]+ ${stop_flags[*]}}) and run gcloud compute images create $image --source-disk=$disk --source-disk-zone=$zone --family=$family"
say "3/3 Imaging disk $disk as $image (family $family)"
gcloud_run compute images create "$image" --source-disk="$disk" --source-disk-zone="$zone" --family="$family" \
  --labels="cs231n-vm=$name" --description="cs231n VM made by cs231n-agent, scrubbed by scripts/scrub-for-image.sh, from $name" >&2 ||
  die "gcloud compute images create $image failed (its message is above); $name is scrubbed and stopped"
say "Image $image is ready (family $family). New VMs from it:"
say "  scripts/create-instance.sh --image-family $family --image-project ${project:-YOUR-PROJECT} --bucket gs://YOUR-BUCKET ..."
say "$name stays stopped; started again it makes a new Jupyter password, certificate and host keys."
say "Delete the image when the term is over: gcloud compute images delete $image --quiet"
