#!/usr/bin/env bash
# A class's cs231n VMs for a whole term: creates one VM per student of a roster from one instance
# template, and shows, stops, starts and deletes them. See --help.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/gce-lib.sh
source "$top/scripts/gce-lib.sh"

usage() {
  cat <<EOF
Usage: scripts/class.sh [create] --roster FILE (--bucket gs://BUCKET | --agent-url URL) [options]
       scripts/class.sh status [--prefix PREFIX] [--zone ZONE] [--json]
       scripts/class.sh stop|start [--prefix PREFIX] [--zone ZONE] [USER...]
       scripts/class.sh delete [--prefix PREFIX] [--zone ZONE] [--delete-disks] [USER...]

create (the default): a cs231n VM for every student of the roster (one per line: user[,email];
# comments and blank lines are ignored). user is the account the agent sets up on that student's
VM (cs231n-user); the VM is called PREFIX-user (_ becomes -). email is only shown in the table.
Running it again makes only the VMs that are missing (a roster grown mid-term, a VM deleted).

How: one instance template (machine type, image, disk, GPU, tag, the shared metadata), then one
\`gcloud compute instances create --source-instance-template\` per missing student, PARALLEL at a
time, each with its own cs231n-user; a call that meets GCE's API rate limit is retried with a
growing wait. GCE's bulk API (\`gcloud compute instances bulk create\`) cannot do that: its
per-instance properties are only the name and hostname, and every VM gets the same metadata.

Before anything changes: gcloud's login, project and Compute Engine API (--yes enables it), the
GPU quota for the VMs still to make, and every student's boot disk kept from a deleted VM
(--reuse-disk starts the new VM from it). Every VM, boot disk and static IP carries the labels
cs231n-class=PREFIX and cs231n-user=USER, so gcloud's filters find them (gcloud compute instances
list --filter=labels.cs231n-class=PREFIX); the template is PREFIX-template-HASH. Firewall rules
carry no labels: the class's is PREFIX-PORT-HASH (one per source range, targeting the network tag
of the same name, the only tag the class's VMs carry), its description starts with
cs231n-class=PREFIX. Students reach Jupyter from their own networks, so you likely want
--source-range (your campus) or --allow-anywhere.

Options of create (as in create-instance.sh): --agent PATH, --bucket gs://BUCKET, --agent-url URL,
  --zone ZONE, --project PROJECT, --gpu TYPE[:COUNT] (per VM), --machine-type TYPE,
  --skip-quota-check, --image-family FAMILY, --image-project PROJECT, --disk-size GB (>= 40),
  --port PORT, --my-ip IP, --source-range CIDR, --allow-anywhere, --yes,
  --reuse-disk (a student whose VM was deleted gets a new VM on the disk kept from it)
  --roster FILE          the students (required)
  --static-ips           reserve a static external IP per VM (default: ephemeral; static IPs
                         are billed while their VM is stopped, and STATIC_ADDRESSES starts at 8)
  --wait                 wait until every VM's Jupyter is ready (the agent's run goes on by
                         itself) and add its state to the table; a VM that fails is said at once
  --wait-done            wait until every agent's whole run is done
  --timeout MINUTES      with --wait: give up after this long (default: 120)
  --poll-seconds S       with --wait: how often to look (default: 30)
Every command:
  --prefix PREFIX        the class: VMs PREFIX-user, label cs231n-class=PREFIX (default: cs231n)
  --zone ZONE            default: gcloud config get-value compute/zone (status/stop/start/delete:
                         default every zone)
  --project PROJECT      default: gcloud's configured project
  --parallel N           VMs acted on at the same time (default: 8)
  -h, --help             this text

status: one line per VM of the class: VM, user, GCE status, the agent's state and step, READY
  (seconds from the run's start until Jupyter served), idle minutes (the guest attribute
  idle-check publishes), Jupyter URL, error (STATE ? when its guest attributes cannot be read, and
  why). --json: the same as a list (ready: a number or null).
stop | start: the class's VMs, or only those of the USERs named (a VM with Local SSD is stopped
  with --discard-local-ssd=true).
delete: the VMs (every one, or the USERs') and their static IPs; for the whole class also its
  firewall rules and instance templates. Each resource is named as it goes. Boot disks (the
  students' files) are kept and listed with the command that deletes them, unless --delete-disks
  (then each VM's disk is named with it). The agent in your bucket and the VMs' read grant on it
  stay (other VMs may use them): README.md, "Undoing things", names their commands.

Exit status: 0 every VM was made or acted on (and, with --wait, is ready; with --wait-done, done), 1
otherwise, 2 bad usage.
EOF
}

action=create
case ${1:-} in create | status | stop | start | delete) action=$1; shift ;; esac
[[ $action != create ]] || GCE_ENABLES_API=1

vm_option_defaults "$top/build/cs231n-agent"
roster="" prefix=cs231n static_ips=0 wait=0 timeout_min=120 poll=30 parallel=8 as_json=0 delete_disks=0
selected_users=()
while (($#)); do
  if [[ $action == create ]]; then
    parse_vm_option "$@"
    if ((VM_OPTION_WORDS > 0)); then
      shift "$VM_OPTION_WORDS"
      continue
    fi
  fi
  case $action:$1 in
    *:-h | *:--help) usage; exit 0 ;;
    *:--prefix) need_value "$1" $#; prefix=$2; shift ;;
    *:--parallel) need_value "$1" $#; parallel=$2; shift ;;
    create:--roster) need_value "$1" $#; roster=$2; shift ;;
    create:--static-ips) static_ips=1 ;;
    create:--wait) wait=1 ;;
    status:--json) as_json=1 ;;
    delete:--delete-disks) delete_disks=1 ;;
    create:*) die_usage "unknown option $1 (see --help)" ;;
    *:--zone) need_value "$1" $#; zone=$2; shift ;;
    *:--project) need_value "$1" $#; project=$2; shift ;;
    *:-*) die_usage "unknown option $1 for $action (see --help)" ;;
    *)
      is_linux_user "$1" || die_usage "$1 is not a user of the roster (lowercase letters, digits, _ and -)"
      selected_users+=("$1")
      ;;
  esac
  shift
done

[[ $wait_until != "done" ]] || wait=1
is_gce_name "$prefix" || die_usage "--prefix $prefix is not a GCE name: lowercase letters, digits and -, starting with a letter"
# The longest name made from PREFIX alone (a VM's is checked with its user, below).
check_fits --prefix "$prefix" "$(template_name "$prefix" "$(sha256_text "$prefix")")" "its template $prefix-template-HASH"
{ is_uint "$parallel" && ((10#$parallel >= 1)); } || die_usage "--parallel $parallel must be a number (1 or more)"

# run_parallel FUNCTION ITEM...: FUNCTION ITEM for every item, $parallel at a time, each one's output
# in $work/ITEM.log; prints "ITEM ok" or "ITEM failed" per item, in order.
run_parallel() {
  local function=$1 item j
  shift
  local -a items=("$@") pids=() batch=()
  local i=0
  while ((i < ${#items[@]})); do
    pids=() batch=()
    while ((i < ${#items[@]} && ${#pids[@]} < parallel)); do
      "$function" "${items[$i]}" >"$work/${items[$i]}.log" 2>&1 &
      pids+=("$!") batch+=("${items[$i]}")
      i=$((i + 1))
    done
    for j in "${!pids[@]}"; do
      item=${batch[$j]}
      if wait "${pids[$j]}"; then printf '%s ok\n' "$item"; else printf '%s failed\n' "$item"; fi
    done
  done
}

last_line() { grep -v '^[[:space:]]*$' -- "$1" | tail -n 1; }

# ---------------------------------------------------------------------------------------------
# status, stop, start, delete: the class's VMs as GCE lists them by label.
if [[ $action != create ]]; then
  require_tools
  [[ -z $project ]] || GCLOUD_GLOBAL=("--project=$project")
  [[ -z $zone || $zone =~ ^[a-z]+-[a-z]+[0-9]+-[a-z]$ ]] || die_usage "--zone $zone is not a zone name like us-west1-b"
  # These act on VMs made earlier: a project whose API is off has none, and nothing is enabled.
  check_cloud_access 0 0
  work=$(mktemp -d "${TMPDIR:-/tmp}/cs231n-class.XXXXXX")
  trap 'rm -rf -- "$work"' EXIT
  filter="labels.cs231n-class=$prefix"
  [[ -z $zone ]] || filter+=" AND zone:($zone)"
  gcloud_capture compute instances list --filter="$filter" --format=json ||
    gcloud_failed "listing the VMs of class $prefix"
  # One line per VM: name, zone, user, GCE status, machine type, Local SSD (1/0), its persistent
  # disks (comma separated); only the USERs named, if any.
  printf '%s' "$GCLOUD_OUT" | json_py '
wanted = set(args)
for vm in sorted(data, key=lambda vm: vm["name"]):
    user = vm.get("labels", {}).get("cs231n-user", "-")
    if wanted and user not in wanted:
        continue
    print(vm["name"], vm.get("zone", "-").rsplit("/", 1)[-1], user, vm.get("status", "-"),
          vm.get("machineType", "-").rsplit("/", 1)[-1], "1" if any(d.get("type") == "SCRATCH" for d in vm.get("disks", [])) else "0",
          ",".join(d["source"].rsplit("/", 1)[-1] for d in vm.get("disks", []) if d.get("type") != "SCRATCH" and d.get("source")) or "-")
' ${selected_users[@]+"${selected_users[@]}"} >"$work/vms"
  for user in ${selected_users[@]+"${selected_users[@]}"}; do
    awk -v user="$user" '$3 == user { found = 1 } END { exit !found }' "$work/vms" ||
      die "class $prefix has no VM of user $user (class.sh status lists them)"
  done
  vm_names=()
  while read -r vm_name _; do vm_names+=("$vm_name"); done <"$work/vms"
  vm_field() { awk -v vm="$1" -v field="$2" '$1 == vm { print $field }' "$work/vms"; }

  case $action in
    status)
      # One file per VM: the lines of agent_progress (the same reading create-instance.sh waits with).
      # shellcheck disable=SC2317  # run_parallel runs it
      read_progress() {
        local problem=""
        agent_progress "$1" "$(vm_field "$1" 2)"
        if [[ -n $AGENT_UNREADABLE ]]; then
          problem="cannot read its guest attributes: $AGENT_UNREADABLE"
        elif [[ -n $AGENT_READ_ERROR ]]; then
          problem="cannot read its guest attributes: $(printf '%s' "$AGENT_READ_ERROR" | tr '\n' ' ' | sed 's/^ERROR: ([^)]*) //')"
        fi
        printf '%s\n' "$AGENT_STATE" "$AGENT_STEP" "$AGENT_READY" "$AGENT_IDLE" "$AGENT_JUPYTER_URL" "$AGENT_ERROR" "$problem"
      }
      to_read=()
      # A VM that is not running publishes nothing new: its guest attributes are not read.
      for vm_name in ${vm_names[@]+"${vm_names[@]}"}; do
        [[ $(vm_field "$vm_name" 4) != RUNNING ]] || to_read+=("$vm_name")
      done
      ((${#to_read[@]} == 0)) || run_parallel read_progress "${to_read[@]}" >/dev/null
      python3 - "$work" "$as_json" <<'PY'
import json, os, sys
folder, as_json = sys.argv[1], sys.argv[2] == "1"
keys = ("state", "step", "ready", "idle_minutes", "url", "error", "problem")
rows = []
for line in open(os.path.join(folder, "vms")):
    name, zone, user, status = line.split()[:4]
    try:
        values = open(os.path.join(folder, name + ".log")).read().split("\n")
    except OSError:
        values = []
    row = dict(zip(keys, values + [""] * len(keys)))
    problem = row.pop("problem")
    if problem:
        row.update(state="?", error=problem)
    ready = row["ready"]
    rows.append({"vm": name, "zone": zone, "user": user, "status": status, "state": row["state"], "step": row["step"],
                 "ready": int(ready) if ready.isdigit() else None, "idle_minutes": row["idle_minutes"],
                 "url": row["url"], "error": row["error"]})
if as_json:
    print(json.dumps(rows, indent=2))
    sys.exit(0)
table = [["VM", "USER", "STATUS", "STATE", "STEP", "READY", "IDLE", "URL", "ERROR"]]
for row in rows:
    table.append([row["vm"], row["user"], row["status"], row["state"] or "-", row["step"] or "-",
                  "-" if row["ready"] is None else str(row["ready"]), row["idle_minutes"] or "-", row["url"] or "-",
                  row["error"] or "-"])
widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
for line in table:
    print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])) + "  " + line[-1])
PY
      exit 0
      ;;
    stop | start)
      ((${#vm_names[@]})) || die "class $prefix has no VM${zone:+ in $zone} (labels.cs231n-class=$prefix)"
      # shellcheck disable=SC2317  # run_parallel runs it
      act() {
        local flags=()
        [[ $action != stop || $(vm_field "$1" 6) != 1 ]] || flags=(--discard-local-ssd=true)
        gcloud_create "$action $1" compute instances "$action" "$1" --zone="$(vm_field "$1" 2)" ${flags[@]+"${flags[@]}"}
      }
      done_word=started
      [[ $action == start ]] || done_word=stopped
      say "Asking GCE to $action ${#vm_names[@]} VM(s) of class $prefix, $parallel at a time"
      failures=0
      while read -r vm_name result; do
        if [[ $result == ok ]]; then
          say "  $vm_name: $done_word"
        else
          say "  $vm_name: FAILED: $(last_line "$work/$vm_name.log")" >&2
          failures=$((failures + 1))
        fi
      done < <(run_parallel act "${vm_names[@]}")
      ((failures == 0)) || die "$failures of ${#vm_names[@]} VM(s) did not $action (the messages are above)"
      exit 0
      ;;
    delete)
      disk_flags=()
      ((delete_disks == 0)) || disk_flags=(--delete-disks=all)
      # shellcheck disable=SC2317  # run_parallel runs it
      remove_vm() {
        # --quiet: instances delete asks (default yes); stdin is closed too.
        gcloud_create "deleting $1" compute instances delete "$1" --zone="$(vm_field "$1" 2)" --quiet \
          ${disk_flags[@]+"${disk_flags[@]}"}
      }
      failures=0
      if ((${#vm_names[@]})); then
        say "Deleting ${#vm_names[@]} VM(s) of class $prefix, $parallel at a time"
        while read -r vm_name result; do
          if [[ $result == ok && $delete_disks == 1 && $(vm_field "$vm_name" 7) != - ]]; then
            say "  deleted VM $vm_name ($(vm_field "$vm_name" 2)) and its disk $(vm_field "$vm_name" 7 | sed 's/,/, /g')"
          elif [[ $result == ok ]]; then
            say "  deleted VM $vm_name ($(vm_field "$vm_name" 2))"
          else
            say "  VM $vm_name: FAILED: $(last_line "$work/$vm_name.log")" >&2
            failures=$((failures + 1))
          fi
        done < <(run_parallel remove_vm "${vm_names[@]}")
      fi
      # The class's static IPs (of the USERs named, if any).
      gcloud_capture compute addresses list --filter="labels.cs231n-class=$prefix" --format=json ||
        gcloud_failed "listing the static IPs of class $prefix"
      while read -r address_name address_region; do
        [[ -n $address_name ]] || continue
        if gcloud_create "deleting $address_name" compute addresses delete "$address_name" --region="$address_region" --quiet 2>"$work/address.err"; then
          say "  deleted static IP $address_name ($address_region)"
        else
          say "  static IP $address_name: FAILED: $(last_line "$work/address.err")" >&2
          failures=$((failures + 1))
        fi
      done < <(printf '%s' "$GCLOUD_OUT" | json_py '
wanted = set(args)
for address in data:
    if not wanted or address.get("labels", {}).get("cs231n-user") in wanted:
        print(address["name"], str(address.get("region", "-")).rsplit("/", 1)[-1])' ${selected_users[@]+"${selected_users[@]}"})
      if ((${#selected_users[@]} == 0)); then
        # The whole class: its firewall rules (by description) and templates (by name) too.
        gcloud_capture compute firewall-rules list --format=json || gcloud_failed "listing the firewall rules"
        while read -r rule; do
          [[ -n $rule ]] || continue
          if gcloud_create "deleting $rule" compute firewall-rules delete "$rule" --quiet 2>"$work/rule.err"; then
            say "  deleted firewall rule $rule"
          else
            say "  firewall rule $rule: FAILED: $(last_line "$work/rule.err")" >&2
            failures=$((failures + 1))
          fi
        done < <(printf '%s' "$GCLOUD_OUT" | json_py '
for rule in data:
    if rule.get("description", "").startswith("cs231n-class=%s;" % args[0]):
        print(rule["name"])' "$prefix")
        gcloud_capture compute instance-templates list --filter="name~^$prefix-template-" --format=json ||
          gcloud_failed "listing the instance templates"
        while read -r template; do
          [[ -n $template ]] || continue
          if gcloud_create "deleting $template" compute instance-templates delete "$template" --quiet 2>"$work/template.err"; then
            say "  deleted instance template $template"
          else
            say "  instance template $template: FAILED: $(last_line "$work/template.err")" >&2
            failures=$((failures + 1))
          fi
        done < <(printf '%s' "$GCLOUD_OUT" | json_py '
for template in data:
    print(template["name"])')
      fi
      # Disks: deleted with their VMs (--delete-disks), else listed; kept ones from earlier deletes too.
      gcloud_capture compute disks list --filter="labels.cs231n-class=$prefix" --format=json ||
        gcloud_failed "listing the disks of class $prefix"
      while read -r disk disk_zone; do
        [[ -n $disk ]] || continue
        if ((delete_disks)); then
          if gcloud_create "deleting $disk" compute disks delete "$disk" --zone="$disk_zone" --quiet 2>"$work/disk.err"; then
            say "  deleted disk $disk ($disk_zone)"
          else
            say "  disk $disk: FAILED: $(last_line "$work/disk.err")" >&2
            failures=$((failures + 1))
          fi
        else
          say "  kept disk $disk ($disk_zone): delete it with gcloud compute disks delete $disk --zone=$disk_zone --quiet"
        fi
      done < <(printf '%s' "$GCLOUD_OUT" | json_py '
wanted = set(args)
for disk in data:
    if not disk.get("users") and (not wanted or disk.get("labels", {}).get("cs231n-user") in wanted):
        print(disk["name"], str(disk.get("zone", "-")).rsplit("/", 1)[-1])' ${selected_users[@]+"${selected_users[@]}"})
      ((${#selected_users[@]})) ||
        say "  kept: the agent in your bucket and the VMs' read grant on it (other VMs may use them; README.md, \"Undoing things\", has their commands)"
      ((failures == 0)) || die "$failures resource(s) of class $prefix were not deleted (the messages are above)"
      exit 0
      ;;
  esac
fi

# ---------------------------------------------------------------------------------------------
# create
((${#selected_users[@]} == 0)) || die_usage "create takes the students from --roster, not as arguments"
[[ -n $roster ]] || die_usage "--roster FILE is required: one student per line, user[,email]"
[[ -f $roster ]] || die_usage "--roster $roster is not a file"
check_vm_options
[[ $tag == "$GCE_TAG_DEFAULT" ]] ||
  die_usage "--tag $tag: class.sh names the class's firewall rule and network tag after --prefix (PREFIX-PORT-HASH)"
check_fits --prefix "$prefix" "$(access_name "$prefix" "$port" 0.0.0.0/0)" "its firewall rule $prefix-$port-HASH"

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
  longest=$vm
  ((static_ips == 0)) || longest=$(address_name "$vm")
  ((${#longest} <= 63)) ||
    die_usage "--roster $roster line $line_number: $longest, made for $student, would pass GCE's 63 characters: with --prefix $prefix a user may have at most $((63 - ${#longest} + ${#student})) characters; shorten --prefix or the user"
  is_gce_name "$vm" || die_usage "--roster $roster line $line_number: the VM name $vm is not a GCE name; shorten --prefix or the user"
  for known in ${names[@]+"${names[@]}"}; do
    [[ $known != "$vm" ]] || die_usage "--roster $roster line $line_number: $student is a second student whose VM would be $vm"
  done
  users+=("$student") emails+=("$email") names+=("$vm")
done <"$roster"
count=${#users[@]}
((count > 0)) || die_usage "--roster $roster lists no student (one per line: user[,email])"

resolve_vm_target
work=$(mktemp -d "${TMPDIR:-/tmp}/cs231n-class.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

# What exists already, in two calls: VMs made earlier are kept (and not counted against the quota
# again); a boot disk kept from a deleted VM is reused with --reuse-disk.
gcloud_capture compute instances list --filter="zone:($zone)" --format='value(name)' ||
  gcloud_failed "listing the VMs in $zone"
existing_vms=" $(printf '%s' "$GCLOUD_OUT" | tr '\n' ' ') "
gcloud_capture compute disks list --filter="zone:($zone)" --format=json ||
  gcloud_failed "listing the disks in $zone"
# "NAME USER..." per disk (its users: the VMs it is attached to).
printf '%s' "$GCLOUD_OUT" | json_py '
for disk in data:
    print(disk["name"], *[user.rsplit("/", 1)[-1] for user in disk.get("users", [])])' >"$work/disks"
missing=() kept_disks=() busy_disks=()
for k in "${!names[@]}"; do
  [[ $existing_vms != *" ${names[$k]} "* ]] || continue
  missing+=("$k")
  # Every missing student's disk is checked here, before anything changes.
  disk_users=$(awk -v disk="${names[$k]}" '$1 == disk { found = 1; $1 = ""; print } END { exit !found }' "$work/disks") || continue
  if [[ -n ${disk_users// /} ]]; then
    busy_disks+=("${names[$k]} (used by${disk_users})")
  else
    kept_disks+=("${names[$k]}")
  fi
done
((${#busy_disks[@]} == 0)) ||
  die "the disk of a VM to make is attached to another VM in $zone: ${busy_disks[*]}; remove those students from the roster or that VM first"
if ((${#kept_disks[@]} && ! reuse_disk)); then
  die "${#kept_disks[@]} disk(s) are left in $zone from earlier VMs of these students (their files are on them): ${kept_disks[*]}; run again with --reuse-disk to start the new VMs from them, or delete them (gcloud compute disks delete ${kept_disks[*]} --zone=$zone --quiet)"
fi
say "Class $prefix: ${#names[@]} student(s), $((count - ${#missing[@]})) VM(s) exist already, ${#missing[@]} to make"

if [[ -n $gpu && $skip_quota == 0 && ${#missing[@]} -gt 0 ]]; then
  check_gpu_quota "$region" "$((GPU_COUNT * ${#missing[@]}))"
fi
fit_disk_to_image
resolve_source_range "$my_ip" "$source_range" "$anywhere"
publish_agent "$agent" "$bucket" "$agent_url"
access=$(access_name "$prefix" "$port" "$SOURCE_RANGE")
warn_shared_rule "$tag" "$port"
ensure_access "$access" "$port" "cs231n-class=$prefix; cs231n-agent: Jupyter on tcp:$port from $SOURCE_RANGE, for VMs tagged $access"

shared_metadata="enable-guest-attributes=TRUE,cs231n-agent-url=$AGENT_URL,cs231n-agent-sha256=$AGENT_SHA256"
metadata_files="startup-script=$top/scripts/startup-script.sh"
if ((port != 8888)); then
  printf '{"jupyter": {"port": %d}}\n' "$port" >"$work/cs231n-config.json"
  metadata_files+=",cs231n-config=$work/cs231n-config.json"
fi
set_gpu_flags

# Templates cannot be changed, so the name carries a digest of everything in it: the same settings
# reuse the template, other settings make another. Its --labels are the labels of its VMs.
template_flags=("--machine-type=$machine_type" ${GPU_FLAGS[@]+"${GPU_FLAGS[@]}"}
  "--image-family=$image_family" "--image-project=$image_project"
  "--boot-disk-size=${disk_size}GB" --boot-disk-type=pd-balanced --no-boot-disk-auto-delete
  "--tags=$access" "--labels=cs231n-class=$prefix" "--metadata=$shared_metadata")
digest=$({
  printf '%s\n' "${template_flags[@]}"
  cat -- "$top/scripts/startup-script.sh"
  [[ ! -f $work/cs231n-config.json ]] || cat -- "$work/cs231n-config.json"
} >"$work/template-inputs" && sha256_of "$work/template-inputs")
template=$(template_name "$prefix" "$digest")
if gcloud_lookup compute instance-templates describe "$template" --format=json; then
  say "Reusing instance template $template"
else
  say "Creating instance template $template: $machine_type${gpu:+, $GPU_COUNT x $GPU_TYPE}, $image_project/$image_family, ${disk_size} GB"
  gcloud_create "creating template $template" compute instance-templates create "$template" "${template_flags[@]}" \
    --metadata-from-file="$metadata_files" ||
    die "gcloud compute instance-templates create $template failed (its message is above)"
fi

# create_student INDEX: the VM of one student, with the whole metadata again (what an instance
# gives replaces or merges with the template's; giving all of it is right either way), labelled,
# and its boot disk labelled too (instance labels are not copied to it).
create_student() {
  local i=$1 vm=${names[$1]} address_flags=() disk_flags=() address labels
  labels="cs231n-class=$prefix,cs231n-user=${users[$i]}"
  # A disk kept from an earlier VM (checked above: only with --reuse-disk).
  [[ " ${kept_disks[*]-} " != *" $vm "* ]] || disk_flags=("--disk=name=$vm,boot=yes,auto-delete=no")
  if ((static_ips)); then
    address=$(ensure_address "$(address_name "$vm")" "$region" "$labels") || return 1
    address_flags=("--address=$address")
  fi
  gcloud_create "creating $vm" compute instances create "$vm" --zone="$zone" --source-instance-template="$template" \
    ${disk_flags[@]+"${disk_flags[@]}"} ${address_flags[@]+"${address_flags[@]}"} --labels="$labels" \
    --metadata="$shared_metadata,cs231n-user=${users[$i]}" --metadata-from-file="$metadata_files" || return 1
  gcloud_create "labelling disk $vm" compute disks add-labels "$vm" --zone="$zone" --labels="$labels"
}

failed=()
if ((${#missing[@]})); then
  say "Creating ${#missing[@]} VM(s) in $zone, $parallel at a time"
  while read -r k result; do
    if [[ $result == ok ]]; then
      say "  ${names[$k]}: created (user ${users[$k]})"
    else
      say "  ${names[$k]}: FAILED: $(last_line "$work/$k.log")" >&2
      grep -h "^$PROG: zone " -- "$work/$k.log" >&2 || true
      failed+=("${names[$k]}")
    fi
  done < <(run_parallel create_student "${missing[@]}")
fi

# The wait: the same as create-instance.sh's, for every VM of the roster that exists.
states=() urls=()
if ((wait)); then
  waited=()
  for k in "${!names[@]}"; do
    states[k]="not created" urls[k]=""
    [[ " ${failed[*]-} " == *" ${names[$k]} "* ]] || waited+=("$k")
  done
  if ((${#waited[@]})); then
    waited_names=()
    for k in "${waited[@]}"; do waited_names+=("${names[$k]}"); done
    wait_for_agents "$zone" "$((10#$timeout_min * 60))" "$poll" "$wait_until" "${waited_names[@]}" || true
    for j in "${!waited[@]}"; do
      states[waited[j]]=${AGENT_OUTCOMES[j]} urls[waited[j]]=${AGENT_URLS[j]}
    done
  fi
fi

say ""
{
  printf 'VM\tUSER\tEMAIL\tIP\tJUPYTER'
  ((wait == 0)) || printf '\tSTATE'
  printf '\n'
  for k in "${!names[@]}"; do
    ip=$(instance_ip "${names[$k]}" "$zone")
    url=${urls[k]:-}
    [[ -n $url || -z $ip ]] || url=https://$ip:$port
    printf '%s\t%s\t%s\t%s\t%s' "${names[$k]}" "${users[$k]}" "${emails[$k]:--}" "${ip:--}" "${url:--}"
    ((wait == 0)) || printf '\t%s' "${states[$k]:-unknown}"
    printf '\n'
  done
} | awk -F '\t' '{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > width[i]) width[i] = length($i) } fields[NR] = NF }
  END { for (r = 1; r <= NR; r++) { line = ""; for (i = 1; i <= fields[r]; i++) line = line (i < fields[r] ? sprintf("%-" width[i] + 2 "s", cell[r, i]) : cell[r, i]); print line } }'
say ""
say "Each VM made its own Jupyter password; read one with:"
say "  $(ssh_command "VM" "$zone" "sudo cat $GCE_PASSWORD_FILE")"
if ((wait == 0)); then
  say "Each VM sets itself up now (most of an hour with a GPU); follow the class with:"
  say "  scripts/class.sh status --prefix $prefix"
fi
say "Stop the class when it is not in use: scripts/class.sh stop --prefix $prefix (start: scripts/class.sh start)"
if ((${#failed[@]})); then
  die "${#failed[@]} of $count VM(s) were not created: ${failed[*]} (the messages are above; running this again makes only the missing ones)"
fi
if ((wait)); then
  for k in "${!names[@]}"; do
    [[ ${states[$k]} == "done" || ${states[$k]} == "$wait_until" ]] ||
      die "not every VM is $wait_until (see STATE and the messages above); read a log with: $(ssh_command VM "$zone" "sudo cs231n-agent status")"
  done
fi
