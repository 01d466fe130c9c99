#!/usr/bin/env bash
# The workshop hub's Python environment for the native hub tests: .lab-env/hub-venv with JupyterLab (the same
# pins as scripts/jupyter-requirements.txt) plus JupyterHub and the idle culler (scripts/hub/hub-requirements.txt),
# and the tslab kernel registered inside it. A separate venv, so the hub never changes the lab's own venv.
# Idempotent: skipped while the requirement files' sha256 matches the last successful install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.lab-env/hub-venv"
REQS=("$ROOT/scripts/jupyter-requirements.txt" "$ROOT/scripts/jupyter-constraints.txt" "$ROOT/scripts/hub/hub-requirements.txt" "$ROOT/scripts/hub/hub-constraints.txt")
TSLAB_BIN="$ROOT/node_modules/tslab/bin/tslab"
say() { printf 'hub-env: %s\n' "$*"; }
die() { printf 'hub-env: ERROR: %s\n' "$*" >&2; exit 1; }
[[ -f "$TSLAB_BIN" ]] || die "missing $TSLAB_BIN (run npm install at the repo root first)"
[[ -x "$ROOT/node_modules/.bin/configurable-http-proxy" ]] || die "configurable-http-proxy missing from node_modules (npm install installs it: it is a devDependency)"
mkdir -p "$ROOT/.lab-env"
exec 9>"$ROOT/.lab-env/.hub-env.lock"; flock 9
PY="${LAB_PYTHON:-$(command -v python3.11 || command -v python3)}"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  rm -rf "$VENV"; "$PY" -m venv "$VENV" || die "'$PY -m venv' failed (Debian: apt-get install python3-venv)"
  say "created $VENV"
fi
want="$(cat "${REQS[@]}" | sha256sum | cut -d' ' -f1)"
if [[ "$want" != "$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)" ]]; then
  PIP_REQUIRE_VIRTUALENV=1 "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
    -r "${REQS[0]}" -c "${REQS[1]}" -r "${REQS[2]}" -c "${REQS[3]}" || die "pip install failed"
  printf '%s\n' "$want" >"$VENV/.requirements.sha256"
  say "installed JupyterHub + JupyterLab into $VENV"
fi
# tslab as the kernel "tslab" (display name TypeScript) inside the venv, like scripts/jupyter-env.sh does.
mkdir -p "$VENV/share/jupyter/kernels/tslab"
printf '{\n "argv": ["%s", "kernel", "--config-path", "{connection_file}"],\n "display_name": "TypeScript",\n "language": "typescript"\n}\n' "$TSLAB_BIN" >"$VENV/share/jupyter/kernels/tslab/kernel.json"
# JupyterLab's bundled node scripts are CommonJS; the repo's package.json says "module".
printf '%s\n' '{ "type": "commonjs" }' >"$VENV/package.json"
