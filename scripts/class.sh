#!/usr/bin/env bash
# Creates one cs231n VM per student of a roster, from one instance template. See --help.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/gce-lib.sh
source "$top/scripts/gce-lib.sh"

usage() {
  cat <<EOF
Usage: scripts/class.sh --roster FILE (--bucket gs://BUCKET | --agent-url URL) [options]

Creates a cs231n VM for every student of the roster (one per line: user[,email]; # comments and
blank lines are ignored). user is the account the agent sets up on that student's VM
(cs231n-user); the VM is called PREFIX-user (_ becomes -). email is only shown in the table.

How: one instance template (machine type, image, disk, GPU, tag, the shared metadata), then one
\`gcloud compute instances create --source-instance-template\` per student, PARALLEL at a time,
each with its own cs231n-user. GCE's bulk API (\`gcloud compute instances bulk create\`) cannot do
that: its per-instance properties are only the name and hostname, and every VM gets the same
metadata. Adding the user afterwards would race the startup script, which reads it at once.

GPU quota is checked for all the VMs together before anything changes. The firewall rule is the
one create-instance.sh makes (tag $GCE_TAG_DEFAULT); students reach Jupyter from their own
networks, so you likely want --source-range (your campus) or --allow-anywhere.

Options (as in create-instance.sh): --agent PATH, --bucket gs://BUCKET, --agent-url URL,
  --zone ZONE, --project PROJECT, --gpu TYPE[:COUNT] (per VM), --machine-type TYPE,
  --skip-quota-check, --image-family FAMILY, --image-project PROJECT, --disk-size GB (>= 40),
  --port PORT, --my-ip IP, --source-range CIDR, --allow-anywhere, --tag TAG
  --roster FILE          the students (required)
  --prefix PREFIX        VM names are PREFIX-user (default: cs231n)
  --static-ips           reserve a static external IP per VM (default: ephemeral; static IPs
                         are billed while their VM is stopped, and STATIC_ADDRESSES starts at 8)
  --parallel N           VMs created at the same time (default: 8)
  --wait                 wait until every agent is done and add its state to the table
  --timeout MINUTES      with --wait: give up after this long (default: 120)
  --poll-seconds S       with --wait: how often to look (default: 30)
  -h, --help             this text

At the end: a table of VM, user, email, IP and Jupyter URL, and how to read each VM's password.
Exit status: 0 every VM was made (and, with --wait, is done), 1 otherwise, 2 bad usage.
EOF
}

vm_option_defaults "$top/build/cs231n-agent"
roster="" prefix=cs231n static_ips=0 wait=0 timeout_min=120 poll=30 parallel=8
while (($#)); do
  parse_vm_option "$@"
  if ((VM_OPTION_WORDS > 0)); then
    shift "$VM_OPTION_WORDS"
    continue
  fi
  case $1 in
    -h | --help) usage; exit 0 ;;
    --roster) need_value "$1" $#; roster=$2; shift ;;
    --prefix) need_value "$1" $#; prefix=$2; shift ;;
    --static-ips) static_ips=1 ;;
    --parallel) need_value "$1" $#; parallel=$2; shift ;;
    --wait) wait=1 ;;
    *) die_usage "unknown option $1 (see --help)" ;;
  esac
  shift
done

[[ -n $roster ]] || die_usage "--roster FILE is required: one student per line, user[,email]"
[[ -f $roster ]] || die_usage "--roster $roster is not a file"
is_gce_name "$prefix" || die_usage "--prefix $prefix is not a GCE name: lowercase letters, digits and -, starting with a letter"
{ is_uint "$parallel" && ((10#$parallel >= 1)); } || die_usage "--parallel $parallel must be a number (1 or more)"
check_vm_options

trim() {
  local text=$1
  text=${text#"${text%%[![:space:]]*}"}
  printf '%s' "${text%"${text##*[![:space:]]}"}"
}

# The roster: parallel arrays of users, emails and VM names, in roster order.
users=() emails=() names=()
line_number=0
while IFS= read -r line || [[ -n $line ]]; do
  line_number=$((line_number + 1))
  line=${line%%#*}
  [[ $line =~ [^[:space:]] ]] || continue
  student=${line%%,*} email=""
  [[ $line == *,* ]] && email=${line#*,}
  student=$(trim "$student") email=$(trim "$email")
  is_linux_user "$student" ||
    die_usage "--roster $roster line $line_number: \"$student\" is not an account name (lowercase letters, digits, _ and -, at most 32)"
  [[ -z $email || $email =~ ^[^@,]+@[^@,]+$ ]] || die_usage "--roster $roster line $line_number: \"$email\" is not an email address"
  vm=$prefix-$(printf '%s' "$student" | tr '_' '-')
  vm=${vm%-}
  is_gce_name "$vm" || die_usage "--roster $roster line $line_number: the VM name $vm is not a GCE name; shorten --prefix or the user"
  for known in ${names[@]+"${names[@]}"}; do
    [[ $known != "$vm" ]] || die_usage "--roster $roster line $line_number: $student is a second student whose VM would be $vm"
  done
  users+=("$student") emails+=("$email") names+=("$vm")
done <"$roster"
count=${#users[@]}
((count > 0)) || die_usage "--roster $roster lists no student (one per line: user[,email])"

resolve_vm_target

if [[ -n $gpu && $skip_quota == 0 ]]; then
  check_gpu_quota "$region" "$((GPU_COUNT * count))"
fi
resolve_source_range "$my_ip" "$source_range" "$anywhere"
publish_agent "$agent" "$bucket" "$agent_url"
ensure_firewall "$tag-$port" "$port" "$tag"

work=$(mktemp -d "${TMPDIR:-/tmp}/cs231n-class.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
shared_metadata="enable-guest-attributes=TRUE,cs231n-agent-url=$AGENT_URL,cs231n-agent-sha256=$AGENT_SHA256"
metadata_files="startup-script=$top/scripts/startup-script.sh"
if ((port != 8888)); then
  printf '{"jupyter": {"port": %d}}\n' "$port" >"$work/cs231n-config.json"
  metadata_files+=",cs231n-config=$work/cs231n-config.json"
fi
set_gpu_flags

# Templates cannot be changed, so the name carries a digest of everything in it: the same settings
# reuse the template, other settings make another.
template_flags=("--machine-type=$machine_type" ${GPU_FLAGS[@]+"${GPU_FLAGS[@]}"}
  "--image-family=$image_family" "--image-project=$image_project"
  "--boot-disk-size=${disk_size}GB" --boot-disk-type=pd-balanced --no-boot-disk-auto-delete
  "--tags=$tag" "--metadata=$shared_metadata")
digest=$({
  printf '%s\n' "${template_flags[@]}"
  cat -- "$top/scripts/startup-script.sh"
  [[ ! -f $work/cs231n-config.json ]] || cat -- "$work/cs231n-config.json"
} >"$work/template-inputs" && sha256_of "$work/template-inputs")
template=$prefix-template-${digest:0:10}
if gcloud_run compute instance-templates describe "$template" --format=json >/dev/null 2>&1; then
  say "Reusing instance template $template"
else
  say "Creating instance template $template: $machine_type${gpu:+, $GPU_COUNT x $GPU_TYPE}, $image_project/$image_family, ${disk_size} GB"
  gcloud_run compute instance-templates create "$template" "${template_flags[@]}" \
    --metadata-from-file="$metadata_files" >&2 ||
    die "gcloud compute instance-templates create $template failed (its message is above)"
fi

# create_student INDEX: the VM of one student, with the whole metadata again (what an instance
# gives replaces or merges with the template's; giving all of it is right either way).
create_student() {
  local i=$1 vm=${names[$1]} address_flags=() address
  if gcloud_run compute instances describe "$vm" --zone="$zone" --format=json >/dev/null 2>&1; then
    echo "exists already: kept as it is"
    return 0
  fi
  if ((static_ips)); then
    address=$(ensure_address "$vm-ip" "$region") || return 1
    address_flags=("--address=$address")
  fi
  gcloud_run compute instances create "$vm" --zone="$zone" --source-instance-template="$template" \
    ${address_flags[@]+"${address_flags[@]}"} \
    --metadata="$shared_metadata,cs231n-user=${users[$i]}" --metadata-from-file="$metadata_files"
}

say "Creating $count VM(s) in $zone, $parallel at a time"
failed=()
i=0
while ((i < count)); do
  pids=() batch=()
  while ((i < count && ${#pids[@]} < parallel)); do
    create_student "$i" >"$work/create.$i.log" 2>&1 &
    pids+=("$!") batch+=("$i")
    i=$((i + 1))
  done
  for j in "${!pids[@]}"; do
    k=${batch[$j]}
    if wait "${pids[$j]}"; then
      if [[ $(tail -n 1 -- "$work/create.$k.log") == "exists already: kept as it is" ]]; then
        say "  ${names[$k]}: exists already: kept as it is"
      else
        say "  ${names[$k]}: created (user ${users[$k]})"
      fi
    else
      say "  ${names[$k]}: FAILED: $(tail -n 1 -- "$work/create.$k.log")" >&2
      failed+=("${names[$k]}")
    fi
  done
done

states=()
if ((wait)); then
  deadline=$((SECONDS + 10#$timeout_min * 60))
  for k in "${!names[@]}"; do
    states[k]=""
    for vm in ${failed[@]+"${failed[@]}"}; do [[ $vm != "${names[$k]}" ]] || states[k]="not created"; done
  done
  say "Waiting for the agents (at most $timeout_min min)"
  while :; do
    pending=0
    for k in "${!names[@]}"; do
      case ${states[$k]} in done | failed | refused | "not created") continue ;; esac
      agent_progress "${names[$k]}" "$zone"
      if [[ $AGENT_STATE != "${states[$k]}" ]]; then
        say "  ${names[$k]}: ${AGENT_STATE:-waiting for the agent}${AGENT_ERROR:+: $AGENT_ERROR}"
      fi
      states[k]=$AGENT_STATE
      case $AGENT_STATE in done | failed | refused) ;; *) pending=$((pending + 1)) ;; esac
    done
    ((pending > 0 && SECONDS < deadline)) || break
    sleep "$poll"
  done
fi

say ""
{
  printf 'VM\tUSER\tEMAIL\tIP\tJUPYTER'
  ((wait == 0)) || printf '\tSTATE'
  printf '\n'
  for k in "${!names[@]}"; do
    ip=$(instance_ip "${names[$k]}" "$zone")
    url=-
    [[ -z $ip ]] || url=https://$ip:$port
    printf '%s\t%s\t%s\t%s\t%s' "${names[$k]}" "${users[$k]}" "${emails[$k]:--}" "${ip:--}" "$url"
    ((wait == 0)) || printf '\t%s' "${states[$k]:-unknown}"
    printf '\n'
  done
} | awk -F '\t' '{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > width[i]) width[i] = length($i) } fields[NR] = NF }
  END { for (r = 1; r <= NR; r++) { line = ""; for (i = 1; i <= fields[r]; i++) line = line (i < fields[r] ? sprintf("%-" width[i] + 2 "s", cell[r, i]) : cell[r, i]); print line } }'
say ""
say "Each VM made its own Jupyter password; read one with:"
say "  $(ssh_command "VM" "$zone" "sudo cat $GCE_PASSWORD_FILE")"
if ((wait == 0)); then
  say "Each VM sets itself up now (most of an hour with a GPU); follow one with:"
  say "  gcloud compute instances get-guest-attributes VM --zone=$zone --query-path=$GCE_STATE_NAMESPACE/"
fi
if ((${#failed[@]})); then
  die "${#failed[@]} of $count VM(s) were not created: ${failed[*]} (the messages are above; running this again makes only the missing ones)"
fi
if ((wait)); then
  for k in "${!names[@]}"; do
    [[ ${states[$k]} == "done" ]] || die "not every agent is done (see STATE); read a log with: $(ssh_command VM "$zone" "sudo cs231n-agent status")"
  done
fi
