#!/usr/bin/env bash
# Installs what the build and the tests need, builds, and runs every test (ctest).
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
log "shellcheck"
shellcheck -x "$top"/scripts/*.sh "$top"/scripts/bench/*.sh "$top"/tests/e2e/*.sh "$top/.ci/run"
log "running the tests"
cd "${BUILD_DIR:-$top/build}"
ctest --output-on-failure --parallel 2 --timeout 1200
