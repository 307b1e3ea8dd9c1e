#!/usr/bin/env bash
# How `cs231n-agent fetch` compares with curl, wget and aria2c: a private nginx on 127.0.0.1 (its
# own config in a temp folder, not the system's) serves a 1 GiB file of random bytes.
#   (a) unlimited:   agent (no checksum) vs curl -o;  agent --sha256 vs curl -o && sha256sum
#   (b) limit_rate per connection (LIMIT_RATE, default 20m = 20 MiB/s):
#                    agent --connections 4 vs wget (one stream) vs aria2c -x4 -s4
# Prints wall times, ratios and peak RSS (/usr/bin/time -f %M). Goals: (a) within 10% of curl, and
# with --sha256 faster than curl + sha256sum; (b) at least 3.5x faster than wget and no slower
# than aria2c; peak RSS under 32 MiB. Exits 1 when a goal is missed.
#
#   scripts/bench/fetch.sh [PATH-TO-cs231n-agent]      (default: build/cs231n-agent)
#   REPEAT=5 SIZE_MIB=1024 LIMIT_RATE=20m scripts/bench/fetch.sh
# Installs what is missing (nginx-light or nginx, aria2, wget, curl, time) when run as root.
set -euo pipefail
top=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib.sh
source "$top/scripts/lib.sh"

agent=$(realpath -- "${1:-$top/build/cs231n-agent}")
repeat=${REPEAT:-3}
size_mib=${SIZE_MIB:-1024}
limit_rate=${LIMIT_RATE:-20m}
[[ -x $agent ]] || die "usage: $0 [PATH-TO-cs231n-agent] (no executable at $agent)"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer"
[[ $size_mib =~ ^[1-9][0-9]*$ ]] || die "SIZE_MIB must be a positive integer"
[[ $limit_rate =~ ^[1-9][0-9]*[km]?$ ]] || die "LIMIT_RATE must look like 20m (nginx's limit_rate)"

nginx_package=nginx-light
apt-cache show nginx-light >/dev/null 2>&1 || nginx_package=nginx
command -v nginx >/dev/null || ensure_packages "$nginx_package"
ensure_packages aria2 wget curl time
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs231n-bench-fetch.XXXXXX")
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [[ -s $tmp/nginx.pid ]]; then kill "$(cat -- "$tmp/nginx.pid")" 2>/dev/null || true; fi
  rm -rf -- "$tmp"
}
trap cleanup EXIT
mkdir -p -- "$tmp/www" "$tmp/out" "$tmp/logs"
chmod 755 "$tmp" "$tmp/www"  # nginx's workers run as www-data

log "writing a $size_mib MiB file of random bytes"
head -c $((size_mib * 1048576)) /dev/urandom >"$tmp/www/file.bin"
expected=$(sha256sum -- "$tmp/www/file.bin" | cut -d' ' -f1)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
cat >"$tmp/nginx.conf" <<EOF
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log $tmp/logs/access.log;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  server {
    listen 127.0.0.1:$port;
    root $tmp/www;
    location /limited/ {
      alias $tmp/www/;
      limit_rate $limit_rate;
    }
  }
}
EOF
"$nginx_bin" -p "$tmp" -e "$tmp/logs/error.log" -c "$tmp/nginx.conf" || die "nginx did not start: $(cat -- "$tmp/logs/error.log")"
for _ in $(seq 100); do [[ -s $tmp/nginx.pid ]] && break; sleep 0.05; done
url=http://127.0.0.1:$port/file.bin
limited_url=http://127.0.0.1:$port/limited/file.bin
curl -sfI "$url" >/dev/null || die "nginx does not answer on $url"

# measure NAME COMMAND...: runs COMMAND once (sync first, the output folder emptied after),
# appends "seconds peak-RSS-KiB" to $tmp/NAME.times. The command writes into $tmp/out.
measure() {
  local name=$1 stats
  shift
  rm -rf -- "$tmp/out" && mkdir -p -- "$tmp/out"
  sync
  /usr/bin/time -f '%e %M' -o "$tmp/time.txt" "$@" >"$tmp/logs/$name.out" 2>&1 ||
    die "$name failed: $(tail -n 5 -- "$tmp/logs/$name.out")"
  # Every download must be complete (checked outside the timing).
  [[ -f $tmp/out/file.bin ]] || die "$name wrote no file.bin"
  [[ $(stat -c %s -- "$tmp/out/file.bin") == $((size_mib * 1048576)) ]] || die "$name: wrong size"
  stats=$(tail -n 1 -- "$tmp/time.txt")
  echo "$stats" >>"$tmp/$name.times"
  printf '  %-22s %6.2f s  %6d KiB\n' "$name" "${stats% *}" "${stats#* }" >&2
  rm -rf -- "$tmp/out" && mkdir -p -- "$tmp/out"
}

# median NAME: the median seconds of NAME's runs; max_rss NAME: the largest peak RSS (KiB).
median() { cut -d' ' -f1 "$tmp/$1.times" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
max_rss() { cut -d' ' -f2 "$tmp/$1.times" | sort -n | tail -n 1; }

# curl, then sha256sum to verify: what a script without the agent would do.
cat >"$tmp/curl_sha256sum.sh" <<EOF
set -e
curl -sSf -o "$tmp/out/file.bin" "$url"
test "\$(sha256sum -- "$tmp/out/file.bin" | cut -d' ' -f1)" = "$expected"
EOF

log "(a) unlimited, $repeat runs each"
for _ in $(seq "$repeat"); do
  measure curl curl -sSf -o "$tmp/out/file.bin" "$url"
  measure agent "$agent" fetch "$url" -o "$tmp/out/file.bin"
  measure curl+sha256sum bash "$tmp/curl_sha256sum.sh"
  measure agent_sha256 "$agent" fetch "$url" -o "$tmp/out/file.bin" --sha256 "$expected"
done

log "(b) limit_rate $limit_rate per connection, 1 run each"
measure agent_x4 "$agent" fetch "$limited_url" -o "$tmp/out/file.bin" --connections 4
measure wget wget -q -O "$tmp/out/file.bin" "$limited_url"
measure aria2c aria2c -q -x4 -s4 -k1M --file-allocation=falloc --allow-overwrite=true -d "$tmp/out" -o file.bin "$limited_url"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# check LABEL OK: prints the goal's verdict; remembers a miss.
missed=0
check() {
  if [[ $2 == 1 ]]; then printf '  ok    %s\n' "$1"; else printf '  MISS  %s\n' "$1"; missed=1; fi
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }'; }

t_curl=$(median curl) t_agent=$(median agent) t_curl_sha=$(median curl+sha256sum) t_agent_sha=$(median agent_sha256)
t_x4=$(median agent_x4) t_wget=$(median wget) t_aria=$(median aria2c)
rss=0
for name in agent agent_sha256 agent_x4; do
  value=$(max_rss "$name")
  ((value > rss)) && rss=$value
done

echo
echo "fetch benchmark: $size_mib MiB from nginx on 127.0.0.1 ($(basename -- "$agent"), median of $repeat for (a))"
printf '%-28s %8s  %s\n' "" "seconds" "peak RSS"
for name in curl agent curl+sha256sum agent_sha256 agent_x4 wget aria2c; do
  printf '%-28s %8.2f  %5d KiB\n' "$name" "$(median "$name")" "$(max_rss "$name")"
done
echo
echo "(a) agent / curl:                     $(ratio "$t_agent" "$t_curl")   (goal <= 1.10)"
echo "    agent --sha256 / (curl+sha256sum): $(ratio "$t_agent_sha" "$t_curl_sha")   (goal < 1)"
echo "(b) wget / agent x4:                  $(ratio "$t_wget" "$t_x4")   (goal >= 3.5)"
echo "    agent x4 / aria2c -x4:            $(ratio "$t_x4" "$t_aria")   (goal <= 1)"
echo "    agent peak RSS:                   $((rss / 1024)) MiB   (goal < 32)"
echo
check "(a) within 10% of curl" "$(le "$t_agent" "$(awk -v c="$t_curl" 'BEGIN { print c * 1.10 }')")"
check "(a) verified faster than curl + sha256sum" "$(awk -v a="$t_agent_sha" -v b="$t_curl_sha" 'BEGIN { print (a < b) ? 1 : 0 }')"
check "(b) at least 3.5x faster than wget" "$(le "$(awk -v a="$t_x4" 'BEGIN { print a * 3.5 }')" "$t_wget")"
check "(b) no slower than aria2c" "$(le "$t_x4" "$t_aria")"
check "peak RSS under 32 MiB" "$(((rss < 32 * 1024) ? 1 : 0))"
exit "$missed"
