#!/usr/bin/env bash
# Start JupyterLab from the project-local venv (npm run lab).
#
#   bash scripts/lab.sh [extra jupyter-lab arguments, e.g. --no-browser]
#   LAB_PORT=8899 npm run lab
#
# Runs scripts/jupyter-env.sh first (quiet no-op when the venv and the tslab kernel are in place),
# then serves <repo>/notebooks on 127.0.0.1:${LAB_PORT:-8888} with the venv's jupyter, so only the
# venv's kernels (tslab -> node_modules/tslab/bin/tslab) are used. Arguments are passed through.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
VENV="$REPO_ROOT/.lab-env/venv"

bash "$SCRIPT_DIR/setup.sh"

# Local development: the lab's variables (service endpoints, credentials) from <repo>/.env, so the
# kernels inherit them and no notebook ever holds a secret. Variables already set win.
if [ -f "$REPO_ROOT/.env" ]; then
  while IFS= read -r line; do
    [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    name="${BASH_REMATCH[2]}"
    [ -n "${!name:-}" ] || export "$name=${BASH_REMATCH[3]}"
  done <"$REPO_ROOT/.env"
  echo "lab: loaded variables from .env"
fi

mkdir -p "$REPO_ROOT/notebooks"
# Project-local Jupyter dirs (same defaults as jupyter-env.sh and run_notebooks.py): Lab settings and
# workspaces go to .lab-env/jupyter/config, and nothing is read from ~/.jupyter or ~/.local/share/jupyter.
export JUPYTER_CONFIG_DIR="${JUPYTER_CONFIG_DIR:-$REPO_ROOT/.lab-env/jupyter/config}"
export JUPYTER_DATA_DIR="${JUPYTER_DATA_DIR:-$REPO_ROOT/.lab-env/jupyter/data}"
export JUPYTER_RUNTIME_DIR="${JUPYTER_RUNTIME_DIR:-$REPO_ROOT/.lab-env/jupyter/runtime}"
export IPYTHONDIR="${IPYTHONDIR:-$REPO_ROOT/.lab-env/ipython}"
# The venv's share/jupyter (and its tslab kernelspec) wins over the per-user data dir.
export JUPYTER_PREFER_ENV_PATH=1
extra=()
# Jupyter refuses to start as root without this (root is the norm in containers and on the lab machines);
# the server only listens on 127.0.0.1.
[[ "$(id -u)" == 0 ]] && extra+=(--allow-root)
exec "$VENV/bin/jupyter" lab ${extra[@]+"${extra[@]}"} \
  --ServerApp.ip=127.0.0.1 \
  --ServerApp.port="${LAB_PORT:-8888}" \
  --ServerApp.root_dir="$REPO_ROOT/notebooks" \
  --MappingKernelManager.default_kernel_name=tslab \
  "$@"
