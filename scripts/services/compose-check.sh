#!/usr/bin/env bash
# Validates a compose file against the compose specification's JSON schema, with no Docker engine:
# check-jsonschema (PyPI, pinned in versions.sh) ships the schema, vendored from the
# compose-spec project. Installs it on first use into .lab-env/services/tools-venv.
#
#   bash scripts/services/compose-check.sh [FILE]          validate (default: docker/compose.yml)
#   bash scripts/services/compose-check.sh --json [FILE]   print FILE as JSON (YAML merge keys
#                                                          resolved, ${VAR} left as written)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOOLS_VENV="$SERVICES_HOME/tools-venv"
mode=validate
if [ "${1:-}" = "--json" ]; then
  mode=json
  shift
fi
file="${1:-$REPO_ROOT/docker/compose.yml}"
[ -f "$file" ] || die "compose-check: no such file: $file"

if [ "$(cat "$TOOLS_VENV/.check-jsonschema.version" 2>/dev/null)" != "$CHECK_JSONSCHEMA_VERSION" ] ||
  ! "$TOOLS_VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$TOOLS_VENV"
  python3 -m venv "$TOOLS_VENV" || die "compose-check: 'python3 -m venv' failed (apt-get install python3-venv)"
  PIP_REQUIRE_VIRTUALENV=1 "$TOOLS_VENV/bin/python" -m pip install --disable-pip-version-check \
    --no-input --quiet "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" >&2 ||
    die "compose-check: pip install check-jsonschema==$CHECK_JSONSCHEMA_VERSION failed"
  printf '%s\n' "$CHECK_JSONSCHEMA_VERSION" >"$TOOLS_VENV/.check-jsonschema.version"
fi

if [ "$mode" = json ]; then
  # ruamel.yaml comes with check-jsonschema; its safe loader resolves `<<: *anchor` merges.
  exec "$TOOLS_VENV/bin/python" - "$file" <<'PY'
import json, sys
from ruamel.yaml import YAML
with open(sys.argv[1]) as f:
    print(json.dumps(YAML(typ="safe", pure=True).load(f)))
PY
fi
exec "$TOOLS_VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$file"
