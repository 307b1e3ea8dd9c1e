#!/usr/bin/env bash
# Shared by scripts/build.sh and scripts/test.sh. Sourced, not run.
# shellcheck disable=SC2034  # the arrays are used by the scripts that source this file

# Packages the static build needs (Debian/Ubuntu names).
BUILD_PACKAGES=(
  build-essential cmake pkg-config file dpkg-dev ca-certificates
  libcurl4-openssl-dev libssl-dev zlib1g-dev libargon2-dev
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev doctest-dev
)
# What the tests need on top: a real minimal OS to run the binary in, linters, Python for JSON.
# Real Jupyter servers (notebook 6, jupyter_server 1.23) for the login tests. gpg signs the GPU
# tests' apt repositories (tests/support/make_nvidia_repo.sh; dpkg-dev above indexes them).
TEST_PACKAGES=(debootstrap shellcheck python3 util-linux bsdutils procps systemd git curl openssl
  python3-notebook python3-jupyter-server python3-argon2 gpg gpg-agent clang-format clang-tidy-19)
CLANG_TIDY=clang-tidy-19

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the named packages that are not installed yet (apt-get update only when needed).
ensure_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0
  [[ $(id -u) == 0 ]] || die "missing packages (${missing[*]}); run as root or install them first"
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Writes deb-src entries for this machine's own Debian/Ubuntu archives into $1/sources.list.d, so
# `apt-get source` works without touching the machine's apt configuration.
write_source_entries() {
  local out=$1 file
  mkdir -p "$out/sources.list.d"
  : >"$out/sources.list.d/deb-src.list"
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $file ]] || continue
    grep -E '^deb[[:space:]]' "$file" | grep -E 'debian|ubuntu' | sed -E 's/^deb[[:space:]]/deb-src /' \
      >>"$out/sources.list.d/deb-src.list" || true
  done
  for file in /etc/apt/sources.list.d/*.sources; do
    [[ -f $file ]] || continue
    grep -qE '^URIs:.*(debian|ubuntu)' "$file" || continue
    sed -E 's/^Types:.*/Types: deb-src/' "$file" >"$out/sources.list.d/$(basename "$file")"
  done
}
