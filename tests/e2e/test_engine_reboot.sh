#!/usr/bin/env bash
# Reboots, in a chroot overlay (tests/e2e/chroot.sh): a step that asks for a reboot stops the run
# with reboot-pending, after installing the agent and its resume unit; `resume` goes on only once
# the boot id has changed; --no-reboot stops without rebooting; reboot.max_reboots ends a reboot
# loop. The "reboot" is a script that records its calls, and the boot id a file this test writes.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=chroot.sh
source "$SOURCE_DIR/tests/e2e/chroot.sh"

chroot_start "$TEST_TMP/chroot"
chroot_install_agent "$AGENT"
R=$CHROOT_ROOT
UNIT=$R/etc/systemd/system/cs231n-agent.service
WANTS=$R/etc/systemd/system/multi-user.target.wants/cs231n-agent.service

cat >"$R/root/reboot.sh" <<'EOF'
#!/bin/sh
# The "reboot": records that it was called, in the file named by $1.
echo called >>"$1"
EOF
chmod 0755 "$R/root/reboot.sh"

# write_config FILE NAME:REBOOT... [JSON-OF-REBOOT-SECTION]: a chain of custom steps, each after
# the one before; each appends its name to /root/ledger-<FILE's base name>; REBOOT 1 asks for a
# reboot after it.
write_config() {
  "$PYTHON" - "$@" <<'PY'
import json, os, sys
path, chain = sys.argv[1], sys.argv[2].split(",")
extra = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
ledger = "/root/ledger-" + os.path.basename(path).removesuffix(".json")
steps, previous = [], []
for item in chain:
    name, reboot = item.split(":")
    step = {"name": name, "after": previous, "user": "root", "run": ["sh", "-c", f"echo {name} >> {ledger}"]}
    if reboot == "1":
        step["reboot"] = True
    steps.append(step)
    previous = [name]
config = {"steps": steps}
if extra:
    config["reboot"] = extra
json.dump(config, open(path, "w"), indent=1)
PY
}

# lines FILE: the lines of FILE in the overlay, space separated ("" when missing).
lines() { if [[ -e $R/$1 ]]; then xargs <"$R/$1"; fi; }

#-----------------------------------------------------------------------------------------------
section "a step asks for a reboot"
write_config "$R/root/main.json" before:0,boot:1,after:0
echo boot-1 >"$R/root/boot_id"
REBOOT=(--boot-id-file /root/boot_id --reboot-command "/root/reboot.sh /root/calls-main")
chroot_agent run --config /root/main.json --only before,boot,after --yes --state-dir /var/lib/main "${REBOOT[@]}"
assert_rc 3
assert_contains "closing line" "reboot-pending: rebooting (step boot asked for it; reboot 1 of at most 3)" "$(tail -n 1 "$OUT")"
assert_eq "reboot command calls" "called" "$(lines root/calls-main)"
assert_eq "steps that ran" "before boot" "$(lines root/ledger-main)"
STATE=$R/var/lib/main/state.json
JSON_FILE=$STATE assert_json run.state '"reboot-pending"'
JSON_FILE=$STATE assert_json run.reboots 1
JSON_FILE=$STATE assert_json run.reboot_requested_by '"boot"'
JSON_FILE=$STATE assert_json run.reboot_boot_id '"boot-1"'
JSON_FILE=$STATE assert_json steps.boot.status '"done"'
after_status=$(JSON_FILE=$STATE json_raw steps.after.status)
[[ $after_status == "<no steps.after.status in the output>" || $after_status == pending ]] ||
  fail "steps.after.status" "expected: no record, or pending" "got:      $after_status"

section "status while the reboot is pending"
chroot_agent status --json --state-dir /var/lib/main
assert_rc 3
assert_json state '"reboot-pending"'
assert_json reboots 1

section "the agent installed itself and its resume unit"
[[ -f $R/usr/local/bin/cs231n-agent ]] || fail "/usr/local/bin/cs231n-agent was not installed"
cmp -s -- "$AGENT" "$R/usr/local/bin/cs231n-agent" || fail "/usr/local/bin/cs231n-agent differs from the agent that ran"
[[ -x $R/usr/local/bin/cs231n-agent ]] || fail "/usr/local/bin/cs231n-agent is not executable"
[[ -f $UNIT ]] || fail "/etc/systemd/system/cs231n-agent.service was not written"
unit=$(cat -- "$UNIT")
assert_contains "unit" "ExecStart=/usr/local/bin/cs231n-agent resume --wait --state-dir /var/lib/main" "$unit"
assert_contains "unit" "WantedBy=multi-user.target" "$unit"
# What resume prints reaches the journal and the serial console (read from a laptop with
# gcloud compute instances get-serial-port-output).
assert_contains "unit" "StandardOutput=journal+console" "$unit"
assert_contains "unit" "StandardError=journal+console" "$unit"
[[ -L $WANTS ]] || fail "the unit is not enabled: no symlink $WANTS"
assert_eq "enable symlink target" /etc/systemd/system/cs231n-agent.service "$(readlink -- "$WANTS")"

section "systemd-analyze verify of the unit"
# The unit names /usr/local/bin/cs231n-agent, which exists only in the overlay, and the minbase
# has no systemd units for --root: verify a copy whose paths point at the overlay's binary.
mkdir -p "$TEST_TMP/unit"
sed "s|/usr/local/bin/cs231n-agent|$R/usr/local/bin/cs231n-agent|g" "$UNIT" >"$TEST_TMP/unit/cs231n-agent.service"
LAST_CMD="systemd-analyze verify $TEST_TMP/unit/cs231n-agent.service"
set +e
systemd-analyze verify --man=no "$TEST_TMP/unit/cs231n-agent.service" >"$OUT" 2>"$ERR"
RC=$?
set -e
assert_rc 0
assert_eq "systemd-analyze verify output" "" "$(cat -- "$OUT" "$ERR")"

section "resume in the same boot"
chroot_agent resume --state-dir /var/lib/main "${REBOOT[@]}"
assert_rc 3
assert_contains "closing line" "the reboot that step boot asked for has not happened yet (same boot id)" "$(cat -- "$OUT")"
assert_eq "reboot command calls" "called" "$(lines root/calls-main)"
assert_eq "steps that ran" "before boot" "$(lines root/ledger-main)"
JSON_FILE=$STATE assert_json run.state '"reboot-pending"'

section "resume after the reboot"
echo boot-2 >"$R/root/boot_id"
chroot_agent resume --state-dir /var/lib/main "${REBOOT[@]}"
assert_rc 0
assert_contains "closing line" "done: " "$(tail -n 1 "$OUT")"
assert_eq "steps that ran" "before boot after" "$(lines root/ledger-main)"
assert_eq "reboot command calls" "called" "$(lines root/calls-main)"
JSON_FILE=$STATE assert_json run.state '"done"'
JSON_FILE=$STATE assert_json run.reboots 1
JSON_FILE=$STATE assert_json steps.after.status '"done"'
JSON_FILE=$STATE assert_json steps.after.boot_id '"boot-2"'
chroot_agent status --json --state-dir /var/lib/main
assert_rc 0
assert_json state '"done"'

section "resume when the run is done (the unit at every later boot)"
echo boot-3 >"$R/root/boot_id"
chroot_agent resume --state-dir /var/lib/main "${REBOOT[@]}"
assert_rc 0
assert_eq "steps that ran" "before boot after" "$(lines root/ledger-main)"
assert_contains "log" "the last run is done; checking again what can break by itself" "$(cat -- "$ERR")"
assert_eq "reboot command calls" "called" "$(lines root/calls-main)"
JSON_FILE=$STATE assert_json run.state '"done"'

#-----------------------------------------------------------------------------------------------
section "--no-reboot"
write_config "$R/root/noreboot.json" before:0,boot:1,after:0
chroot_agent run --config /root/noreboot.json --only before,boot,after --yes --state-dir /var/lib/noreboot --no-reboot \
  --boot-id-file /root/boot_id --reboot-command "/root/reboot.sh /root/calls-noreboot"
assert_rc 3
[[ ! -e $R/root/calls-noreboot ]] || fail "--no-reboot called the reboot command"
assert_contains "closing line" "reboot-pending: step boot needs a reboot: reboot the machine" "$(tail -n 1 "$OUT")"
assert_eq "steps that ran" "before boot" "$(lines root/ledger-noreboot)"
JSON_FILE=$R/var/lib/noreboot/state.json assert_json run.state '"reboot-pending"'

#-----------------------------------------------------------------------------------------------
section "reboot.max_reboots"
write_config "$R/root/loop.json" r1:1,r2:1,r3:1,tail:0 '{"max_reboots": 2}'
LOOP=(--boot-id-file /root/boot_id --reboot-command "/root/reboot.sh /root/calls-loop")
echo loop-1 >"$R/root/boot_id"
chroot_agent run --config /root/loop.json --only r1,r2,r3,tail --yes --state-dir /var/lib/loop "${LOOP[@]}"
assert_rc 3
assert_contains "closing line" "reboot 1 of at most 2" "$(tail -n 1 "$OUT")"
echo loop-2 >"$R/root/boot_id"
chroot_agent resume --state-dir /var/lib/loop "${LOOP[@]}"
assert_rc 3
assert_contains "closing line" "reboot 2 of at most 2" "$(tail -n 1 "$OUT")"
echo loop-3 >"$R/root/boot_id"
chroot_agent resume --state-dir /var/lib/loop "${LOOP[@]}"
assert_rc 1
assert_contains "closing line" "step r3 asked for another reboot, but this run has rebooted 2 times (reboot.max_reboots)" \
  "$(tail -n 1 "$OUT")"
assert_eq "reboot command calls" "called called" "$(lines root/calls-loop)"
assert_eq "steps that ran" "r1 r2 r3" "$(lines root/ledger-loop)"
JSON_FILE=$R/var/lib/loop/state.json assert_json run.state '"failed"'
JSON_FILE=$R/var/lib/loop/state.json assert_json run.reboots 2

echo "ok: reboot, resume, --no-reboot and reboot.max_reboots"
