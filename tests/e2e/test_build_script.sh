#!/usr/bin/env bash
# scripts/build.sh must fail when the code does not compile, with the compiler's message in its
# output: a swallowed cmake status once left the previous binaries in place, and the tests then
# ran against them. Builds a copy of the source tree with an injected #error, next to stale
# binaries, reusing the static libcurl of the real build.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

source_copy=$TEST_TMP/src
build=$TEST_TMP/build
mkdir -p "$source_copy" "$build"
(cd "$SOURCE_DIR" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) |
  tar -C "$source_copy" -xf -
if [[ -n ${CS231N_BUILD_DIR:-} && -d $CS231N_BUILD_DIR/third_party ]]; then
  ln -s "$CS231N_BUILD_DIR/third_party" "$build/third_party"
fi
# In every source of the library, so that whichever make compiles first fails and the test is quick.
mapfile -t sources < <(cd "$source_copy" && find agent -name '*.cpp')
for source in "${sources[@]}"; do sed -i '1i #error injected by test_build_script' "$source_copy/$source"; done
printf '#!/bin/sh\necho stale\n' >"$build/cs231n-agent"
cp "$build/cs231n-agent" "$build/unit_tests"
chmod +x "$build/cs231n-agent" "$build/unit_tests"

section "a compile error fails scripts/build.sh and shows the compiler's message"
LAST_CMD="BUILD_DIR=$build scripts/build.sh (with an #error in every agent/*.cpp)"
set +e
BUILD_DIR=$build JOBS=2 bash "$source_copy/scripts/build.sh" >"$OUT" 2>"$ERR"
RC=$?
set -e
((RC != 0)) || fail "scripts/build.sh exited 0 although no source of the agent compiles"
assert_contains "the compiler's message" "#error injected by test_build_script" "$(cat -- "$OUT" "$ERR")"
assert_contains "the build script's own line" "the build failed" "$(cat -- "$ERR")"
echo "PASS $TEST_NAME"
