#!/usr/bin/env bash
# Checks the C++ sources the way the tree is kept: clang-format (.clang-format) must change
# nothing, and clang-tidy (.clang-tidy, the checks the code meets) must find nothing.
# Run by scripts/test.sh after the build; needs the build's compile_commands.json.
#   scripts/lint.sh [FILE...]     (default: every tracked .cpp/.hpp; clang-tidy on the .cpp outside tests/)
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$top/scripts/lib.sh"
build_dir=${BUILD_DIR:-$top/build}
cd "$top"

if (($#)); then
  files=("$@")
else
  mapfile -t files < <(git ls-files -- '*.cpp' '*.hpp')
fi

log "clang-format: ${#files[@]} files"
if ! clang-format --dry-run --Werror "${files[@]}"; then
  die "clang-format would change the files above; run: clang-format -i \$(git ls-files '*.cpp' '*.hpp')"
fi

[[ -f $build_dir/compile_commands.json ]] || die "no $build_dir/compile_commands.json: run scripts/build.sh first"
# The product's code; the tests' own code is held to clang-format only (clang-tidy takes ~15 s of a
# core per file here, and the tests are half the files).
sources=()
for file in "${files[@]}"; do [[ $file == *.cpp && $file != tests/* ]] && sources+=("$file"); done
log "clang-tidy: ${#sources[@]} files, $(nproc) at a time"
# clang-tidy-19: libstdc++ 12 offers std::expected only to compilers with C++20 concepts in full
# (__cpp_concepts >= 202002), which clang 14, Debian 12's default, does not claim.
printf '%s\0' "${sources[@]}" |
  xargs -0 -n 4 -P "$(nproc)" "$CLANG_TIDY" -p "$build_dir" --quiet --warnings-as-errors='*' \
    --extra-arg=-Wno-unknown-warning-option 2>/dev/null ||
  die "clang-tidy found the problems above (.clang-tidy lists the checks)"
log "lint: clean"
