#!/usr/bin/python3
"""The settings of a Jupyter config file the agent wrote, as JSON {"App": {"key": value}}, for
tests/e2e/test_jupyter_login.sh. Read with Python's ast, never executed; exits 3 unless every
statement is `c.App.key = <literal>` or, exactly, one of the agent's lines that take its API token
out of the environment (agent/jupyter/config_file.cpp).

    /usr/bin/python3 tests/support/jupyter_config_values.py FILE
"""
import ast, json, sys
path = sys.argv[1]
source = open(path, encoding="utf-8").read()
tree = ast.parse(source, path)
TOKEN_LINES = {
    "import os, sys",
    'sys._cs231n_api_token = os.environ.pop("CS231N_JUPYTER_API_TOKEN", getattr(sys, "_cs231n_api_token", ""))',
    "if sys._cs231n_api_token:\n    c.NotebookApp.token = sys._cs231n_api_token",
    "if sys._cs231n_api_token:\n    c.ServerApp.token = sys._cs231n_api_token",
}
values = {}
for node in tree.body:
    if ast.get_source_segment(source, node) in TOKEN_LINES:
        continue
    target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute)
            and isinstance(target.value.value, ast.Name) and target.value.value.id == "c"):
        try:
            values.setdefault(target.value.attr, {})[target.attr] = ast.literal_eval(node.value)
            continue
        except ValueError:
            pass
    print("line %d of %s is not `c.App.key = <literal>`: %s" % (node.lineno, path, ast.dump(node)))
    sys.exit(3)
print(json.dumps(values))
