#!/usr/bin/env bash
# Installs what the build and the tests need, builds, checks the code (scripts/lint.sh:
# clang-format, clang-tidy) and the scripts (shellcheck), runs every test (ctest), then the whole
# product end to end (tests/e2e/vm/run.sh).
# Exits non-zero on any failure. Prints its wall time.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$top/scripts/lib.sh"
started=$(date +%s)
report_time() { log "scripts/test.sh took $(($(date +%s) - started)) s"; }
trap report_time EXIT

ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
"$top/scripts/build.sh"
"$top/scripts/lint.sh"
log "shellcheck"
mapfile -t shell_scripts < <(git -C "$top" ls-files -- '*.sh' .ci/run)
(cd "$top" && shellcheck -x "${shell_scripts[@]}")
log "running the tests"
cd "${BUILD_DIR:-$top/build}"
ctest --output-on-failure --parallel 2 --timeout 1200
log "the product end to end (tests/e2e/vm/run.sh)"
"$top/tests/e2e/vm/run.sh" "${BUILD_DIR:-$top/build}/cs231n-agent"
