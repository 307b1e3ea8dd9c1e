#!/usr/bin/env bash
# Rewrites the generated tables of README.md from the binary, the one source of truth: the config
# table (between the schema markers) from `cs231n-agent schema`, the GPU table (between the gpus
# markers) from `cs231n-agent gpus`; tests/e2e/test_cli.sh fails while they differ.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
agent=${1:-$top/build/cs231n-agent}
for name in schema gpus; do
  table=$("$agent" "$name")
  /usr/bin/python3 - "$top/README.md" "$name" "$table" <<'PY'
import re, sys
path, name, table = sys.argv[1:4]
text = open(path).read()
text, count = re.subn(r"<!-- %s:begin -->\n.*?<!-- %s:end -->" % (name, name),
                      lambda _: "<!-- %s:begin -->\n%s\n<!-- %s:end -->" % (name, table, name), text, flags=re.S)
if count != 1:
    sys.exit("update-readme-tables.sh: README.md needs one <!-- %s:begin --> ... <!-- %s:end --> block" % (name, name))
open(path, "w").write(text)
PY
done
