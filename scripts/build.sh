#!/usr/bin/env bash
# Builds build/cs231n-agent: one statically linked, stripped binary, plus the tests.
# libcurl comes from Debian's own curl source package, built with only HTTP/HTTPS, OpenSSL and
# zlib: Debian's libcurl.a needs krb5 and ldap, which have no static libraries.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$top/scripts/lib.sh"

build_dir=${BUILD_DIR:-$top/build}
jobs=${JOBS:-$(nproc)}

ensure_packages "${BUILD_PACKAGES[@]}"

build_static_curl() {
  local third_party=$build_dir/third_party apt_dir
  apt_dir=$third_party/apt
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$third_party/src"
  write_source_entries "$apt_dir"
  local apt_options=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Acquire::Languages=none" -o "APT::Sandbox::User=root")
  local version
  version=$( (apt-cache "${apt_options[@]}" showsrc curl 2>/dev/null || true) | sed -n 's/^Version: //p' | sort -V | tail -n 1)
  if [[ -z $version ]]; then
    log "fetching the list of Debian source packages"
    apt-get "${apt_options[@]}" update -qq
    version=$(apt-cache "${apt_options[@]}" showsrc curl | sed -n 's/^Version: //p' | sort -V | tail -n 1)
  fi
  [[ -n $version ]] || die "no curl source package found; does this machine reach its Debian/Ubuntu archive?"
  CURL_PREFIX=$third_party/curl-$version
  [[ -f $CURL_PREFIX/lib/libcurl.a ]] && return 0

  log "building static libcurl $version from Debian's source package"
  local work=$third_party/src/curl-$version
  rm -rf "$work" && mkdir -p "$work"
  (cd "$work" && apt-get "${apt_options[@]}" source -qq --download-only "curl=$version" >/dev/null 2>&1 &&
    dpkg-source -x --no-check ./*.dsc tree >/dev/null)
  (
    cd "$work/tree"
    ./configure --prefix="$CURL_PREFIX.tmp" --disable-shared --enable-static --with-openssl --with-zlib \
      --disable-ldap --disable-ldaps --without-libidn2 --without-libpsl --without-brotli --without-zstd \
      --without-nghttp2 --without-librtmp --without-libssh2 --without-gssapi --disable-ftp --disable-file \
      --disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb \
      --disable-smtp --disable-gopher --disable-mqtt --disable-rtsp --disable-manual --disable-ntlm-wb \
      --without-ca-bundle --without-ca-path --disable-dependency-tracking >configure.log 2>&1 ||
      { tail -n 30 configure.log; die "configuring curl failed"; }
    make -j"$jobs" -C lib >make.log 2>&1 || { tail -n 30 make.log; die "building libcurl failed"; }
    make -C lib install >/dev/null && make -C include install >/dev/null
  )
  rm -rf "$CURL_PREFIX" && mv "$CURL_PREFIX.tmp" "$CURL_PREFIX"
  rm -rf "$work"
}

build_static_curl
log "building cs231n-agent"
cmake -S "$top" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCS231N_STATIC=ON -DCS231N_CURL_ROOT="$CURL_PREFIX" >/dev/null
# The linker's notes about getpwnam & co. in a static glibc binary are expected; everything else,
# compiler errors above all, is shown. grep's own status (1 when it filtered every line) is not the
# build's: PIPESTATUS[0] is.
set +o pipefail
cmake --build "$build_dir" -j"$jobs" 2>&1 | grep -vE "statically linked applications requires at runtime|^/usr/bin/ld: .*in function"
build_status=${PIPESTATUS[0]}
set -o pipefail
# A failed compile leaves the previous binaries in place: nothing may test them.
((build_status == 0)) || die "the build failed (cmake --build exited $build_status); see the compiler's message above"
[[ -x $build_dir/cs231n-agent ]] || die "the build did not produce $build_dir/cs231n-agent"
strip "$build_dir/cs231n-agent"
file "$build_dir/cs231n-agent" | grep -q 'statically linked' || die "$build_dir/cs231n-agent is not statically linked"
log "built $build_dir/cs231n-agent ($(du -h "$build_dir/cs231n-agent" | cut -f1), static)"
