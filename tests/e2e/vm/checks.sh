# shellcheck shell=bash
# Checks shared by the scenarios of tests/e2e/vm/run.sh, on the VM that vm_create (lib.sh) made.
# Sourced by run.sh after lib.sh.

# agent_status: `cs231n-agent status --json` in the VM, into $OUT.
# shellcheck disable=SC2034  # LAST_CMD and RC are tests/e2e/lib.sh's
agent_status() {
  LAST_CMD="(VM) cs231n-agent status --json"
  set +e
  in_chroot /usr/local/bin/cs231n-agent status --json >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
}

# assert_datasets: every file each dataset unpacks to (course.sh's manifest), in its assignment,
# with its sha256; the .npz as it is.
assert_datasets() {
  local problems
  problems=$("$PYTHON" - "$MANIFEST" "$R/home/$STUDENT/cs231n-setup" <<'PY'
import hashlib, json, os, sys
manifest, clone = json.load(open(sys.argv[1])), sys.argv[2]
places = {"cifar-10-python.tar.gz": ["assignment1/cs231n/datasets", "assignment2/cs231n/datasets"],
          "coco_captioning.zip": ["assignment3/cs231n/datasets"]}
def sha256(path):
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()
checked = 0
for archive, folders in places.items():
    for folder in folders:
        for member, digest in manifest[archive]["members"].items():
            path = os.path.join(clone, folder, member)
            checked += 1
            if not os.path.isfile(path):
                print("missing: %s/%s" % (folder, member))
            elif sha256(path) != digest:
                print("wrong sha256: %s/%s" % (folder, member))
npz = os.path.join(clone, "assignment3/cs231n/datasets/imagenet_val_25.npz")
if not os.path.isfile(npz) or sha256(npz) != manifest["imagenet_val_25.npz"]["sha256"]:
    print("imagenet_val_25.npz missing or with another sha256")
if checked < 20:
    print("only %d files checked" % checked)
PY
)
  [[ -z $problems ]] || fail "the datasets in the assignments" "$problems"
}

# assert_no_password_leak: the generated Jupyter password is nowhere in the VM (its upper layer:
# logs, state, configs, the home) but in its own file, nor in any boot's serial output, nor in
# what the metadata server was sent (guest attributes).
assert_no_password_leak() {
  local password leaks
  password=$(tr -d '\n' <"$R$PASSWORD_FILE")
  ((${#password} >= 16)) || fail "the generated password" "expected: 16 characters or more" "got:      ${#password}"
  curl -sS --noproxy '*' "http://$GCE_HOST/_idle" >/dev/null
  leaks=$(grep -rlF --devices=skip -e "$password" -- "$UPPER" "$BOOTS" "$GPU_METADATA_LOG" | sed "s|^$UPPER||" | LC_ALL=C sort | xargs || true)
  assert_eq "files holding the generated password (upper layer, serial output, metadata server log)" "$PASSWORD_FILE" "$leaks"
  assert_eq "mode and owner of $PASSWORD_FILE" "600 0" "$(stat -c '%a %u' -- "$R$PASSWORD_FILE")"
}

# assert_jupyter_login: the host's real jupyter_server (Debian's), run as the student over the
# VM's home, finds the agent's ~/.jupyter by itself and serves the agent's certificate; a
# browser's login with the generated password works over verified HTTPS, a wrong one does not.
# shellcheck disable=SC2034  # JUPYTER_CA is tests/support/jupyter.sh's
assert_jupyter_login() {
  local port uid gid jar=$TEST_TMP/login.jar
  port=$(jupyter_free_port)
  uid=$(uid_of "$STUDENT")
  gid=$(awk -F: -v name="$STUDENT" '$1 == name { print $4 }' "$R/etc/passwd")
  # Only the port differs from the agent's config (8888 may be taken on the host).
  jupyter_start jupyter-server server "$R/home/$STUDENT" "$uid" "$gid" --port="$port"
  jupyter_wait_listening "$JUPYTER_PID" "$port" ||
    fail "the real jupyter_server did not listen on port $port" "$(tail -n 30 -- "$TEST_TMP/jupyter-server.log")"
  JUPYTER_CA=$R/home/$STUDENT/.jupyter/certs/jupyter.pem
  jupyter_login "https://127.0.0.1:$port" "$(tr -d '\n' <"$R$PASSWORD_FILE")" "$jar"
  assert_eq "POST /login with the generated password" 302 "$HTTP_CODE"
  jupyter_has_session "$jar" || fail "no session cookie after the login"
  jupyter_http GET "https://127.0.0.1:$port" /api/status "$jar"
  assert_eq "GET /api/status after the login" 200 "$HTTP_CODE"
  jupyter_login "https://127.0.0.1:$port" "not the password" "$TEST_TMP/wrong.jar"
  assert_eq "POST /login with a wrong password" 401 "$HTTP_CODE"
  jupyter_stop "$JUPYTER_PID"
}

# vm_snapshot: the VM's end state, normalized so that two VMs set up from the same metadata
# compare equal: the installed packages (dpkg-query), then every entry of the whole tree with its
# type, mode, owner and content (sha256; a symlink's target), but
#   - left out: /tmp (the metadata script runner's folders; a killed boot leaves its own), /var/log
#     and /var/cache (logs with times; apt's binary caches; the agent's download cache, whose file
#     names carry a hash of the URL, which differs when a URL holds a fault-injection query),
#     /var/lib/cs231n-agent (the state: run ids, times, attempts; the step logs; the random API
#     token and password hash), /var/lib/apt/lists (the archives' indexes, as fetched: what is
#     installed from them is compared) and /var/lib/dpkg/*-old (dpkg's backups),
#     /root/fake-reboot.calls (the harness's own record);
#   - left out too: the clone's .git/index and .git/logs (stat data and reflog times of the clone);
#   - compared without their content: the random password (/root/cs231n-jupyter-password) and
#     the TLS key and certificate (a fresh key on each VM);
#   - compared with a part masked: the password hash in the two Jupyter config files, the boot id
#     in the nouveau blacklist's comment, the time in the conda env's history, the URL's query in
#     the datasets' markers (they name the URL each was unpacked from), the day of the student's
#     last password change in /etc/shadow (a run across midnight).
vm_snapshot() {
  # shellcheck disable=SC2016  # dpkg-query's own fields
  in_chroot dpkg-query -W -f='${Package} ${Version} ${Status}\n' | LC_ALL=C sort
  "$PYTHON" - "$R" <<'PY'
import hashlib, os, re, stat, sys
root = sys.argv[1]
LEFT_OUT = ("tmp", "var/log", "var/cache", "var/lib/cs231n-agent", "var/lib/apt/lists", "root/fake-reboot.calls",
            "proc", "dev", "home/student/cs231n-setup/.git/index", "home/student/cs231n-setup/.git/logs")
NO_CONTENT = {"root/cs231n-jupyter-password", "home/student/.jupyter/certs/jupyter.key", "home/student/.jupyter/certs/jupyter.pem"}
HASH = (re.compile(rb"(argon2:\$argon2id\$[^\"']*|sha1:[0-9a-f]+:[0-9a-f]+)"), b"<password hash>")
MASKED = {"home/student/.jupyter/jupyter_server_config.py": HASH, "home/student/.jupyter/jupyter_notebook_config.py": HASH,
          "etc/modprobe.d/blacklist-nouveau-cs231n-agent.conf": (re.compile(rb"(?m)^# boot [0-9a-f-]+$"), b"# boot <id>"),
          "home/student/miniforge3/envs/cs231n/conda-meta/history": (re.compile(rb"(?m)^==> [0-9: -]+ <==$"), b"==> <time> <=="),
          "etc/shadow": (re.compile(rb"(?m)^(student:[^:]*:)[0-9]+:"), rb"\1<day>:"),
          "etc/shadow-": (re.compile(rb"(?m)^(student:[^:]*:)[0-9]+:"), rb"\1<day>:")}
MARKER = (re.compile(rb"\?[^ ]*"), b"")
def left_out(relative):
    return any(relative == prefix or relative.startswith(prefix + "/") for prefix in LEFT_OUT) or \
        (relative.startswith("var/lib/dpkg/") and relative.endswith("-old"))
def describe(relative):
    path = os.path.join(root, relative)
    info = os.lstat(path)
    line = "%s %s %o %d:%d" % (relative, stat.filemode(info.st_mode)[0], stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    if stat.S_ISLNK(info.st_mode):
        line += " -> " + os.readlink(path)
    elif stat.S_ISREG(info.st_mode) and relative not in NO_CONTENT:
        with open(path, "rb") as stream:
            data = stream.read()
        pattern, replacement = MASKED.get(relative, MARKER if "/.cs231n-agent-" in relative else (None, None))
        if pattern:
            data = pattern.sub(replacement, data)
        line += " %d %s" % (len(data), hashlib.sha256(data).hexdigest())
    print(line)
for folder, folders, files in os.walk(root):
    relative_folder = os.path.relpath(folder, root)
    relative_folder = "" if relative_folder == "." else relative_folder + "/"
    folders[:] = sorted(name for name in folders if not left_out(relative_folder + name))
    for name in folders:
        describe(relative_folder + name)
    for name in sorted(files):
        if not left_out(relative_folder + name):
            describe(relative_folder + name)
PY
}
