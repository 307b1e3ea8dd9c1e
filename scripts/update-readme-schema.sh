#!/usr/bin/env bash
# Rewrites the config table of README.md (between the schema markers) from `cs231n-agent schema`,
# the one source of truth; tests/e2e/test_cli.sh fails while they differ.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
agent=${1:-$top/build/cs231n-agent}
table=$("$agent" schema)
/usr/bin/python3 - "$top/README.md" "$table" <<'PY'
import re, sys
path, table = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"<!-- schema:begin -->\n.*?<!-- schema:end -->",
              lambda _: "<!-- schema:begin -->\n" + table + "\n<!-- schema:end -->", text, flags=re.S)
open(path, "w").write(text)
PY
