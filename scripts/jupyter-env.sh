#!/usr/bin/env bash
# Project-local Jupyter for DataFlow Lab.
#
#   bash scripts/jupyter-env.sh
#
# - creates the virtualenv <repo>/.lab-env/venv (recreated if it was made for another path/Python),
# - installs scripts/jupyter-requirements.txt (+ scripts/jupyter-constraints.txt) into it, skipped
#   while the sha256 of those files matches the stamp left by the last successful install,
# - registers the tslab kernel ("tslab", display name "TypeScript") INSIDE the venv
#   (<venv>/share/jupyter/kernels/tslab) with the repo's own node_modules/tslab/bin/tslab,
# - verifies that `jupyter kernelspec list --json` from the venv resolves tslab into the venv.
#
# Idempotent and quiet when everything is already in place: one line per step that did work.
# Never writes to ~/.local/share/jupyter or /usr/local/share/jupyter.
# Assumes `npm install` has been run (node_modules/tslab must exist).
# Env: LAB_PYTHON=/path/to/python3.x to choose the base interpreter (>= 3.10; default python3.11, python3).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
LAB_ENV="$REPO_ROOT/.lab-env"
VENV="$LAB_ENV/venv"
REQUIREMENTS="$SCRIPT_DIR/jupyter-requirements.txt"
CONSTRAINTS="$SCRIPT_DIR/jupyter-constraints.txt"
STAMP="$VENV/.requirements.sha256"
ORIGIN="$VENV/.lab-env-origin"
TSLAB_BIN="$REPO_ROOT/node_modules/tslab/bin/tslab"
KERNEL_DIR="$VENV/share/jupyter/kernels/tslab"

# Jupyter's per-user dirs (config, data, runtime) and IPython's dir live inside .lab-env, so neither
# this script nor lab.sh / run_notebooks.py (which use the same defaults) read or write ~/.jupyter,
# ~/.local/share/jupyter or ~/.ipython. (`jupyter kernelspec list` alone would create the last two.)
export JUPYTER_CONFIG_DIR="${JUPYTER_CONFIG_DIR:-$LAB_ENV/jupyter/config}"
export JUPYTER_DATA_DIR="${JUPYTER_DATA_DIR:-$LAB_ENV/jupyter/data}"
export JUPYTER_RUNTIME_DIR="${JUPYTER_RUNTIME_DIR:-$LAB_ENV/jupyter/runtime}"
export IPYTHONDIR="${IPYTHONDIR:-$LAB_ENV/ipython}"
# The venv's share/jupyter (with the tslab kernelspec) wins over the per-user data dir.
export JUPYTER_PREFER_ENV_PATH=1

say() { printf 'jupyter-env: %s\n' "$*"; }
die() { printf 'jupyter-env: ERROR: %s\n' "$*" >&2; exit 1; }

[[ -f "$REQUIREMENTS" ]] || die "missing $REQUIREMENTS"
[[ -f "$TSLAB_BIN" ]] || die "missing $TSLAB_BIN (run 'npm install' at the repo root first)"
command -v node >/dev/null 2>&1 || die "node is not on PATH (the tslab kernel runs with it)"

mkdir -p "$LAB_ENV"
# Serialise concurrent runs (e.g. `npm run lab` while CI-style runs start).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$LAB_ENV/.jupyter-env.lock"
  flock 9
fi

# --- 1. base interpreter ------------------------------------------------------------------------
pick_python() {
  local candidates=()
  if [[ -n "${LAB_PYTHON:-}" ]]; then candidates=("$LAB_PYTHON"); else candidates=(python3.11 python3 python); fi
  local py
  for py in "${candidates[@]}"; do
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1; then
      "$py" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  return 1
}

# What the venv must have been created for: its own path and the base interpreter's version.
# A venv is not relocatable (scripts carry absolute shebangs), so a moved repo gets a fresh one.
venv_ok() {
  [[ -x "$VENV/bin/python" && -f "$ORIGIN" ]] || return 1
  "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1 || return 1
  [[ "$(head -n 1 "$ORIGIN")" == "$VENV" ]] || return 1
  # the pip entry point must still point at this venv (catches copies made with cp -r / rsync)
  [[ "$(head -n 1 "$VENV/bin/pip" 2>/dev/null)" == "#!$VENV/bin/python"* ]] || return 1
}

if ! venv_ok; then
  BASE_PY="$(pick_python)" || die "need Python >= 3.10 with the venv module (set LAB_PYTHON=/path/to/python3.x)"
  if [[ -e "$VENV" ]]; then
    rm -rf "$VENV"
    say "removed stale venv at $VENV"
  fi
  "$BASE_PY" -m venv "$VENV" || die "'$BASE_PY -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
  printf '%s\n%s\n' "$VENV" "$("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')" >"$ORIGIN"
  say "created venv $VENV (Python $(sed -n 2p "$ORIGIN") from $BASE_PY)"
fi

# --- 2. requirements ----------------------------------------------------------------------------
req_files=("$REQUIREMENTS")
[[ -f "$CONSTRAINTS" ]] && req_files+=("$CONSTRAINTS")
if command -v sha256sum >/dev/null 2>&1; then sha256() { sha256sum | cut -d' ' -f1; }
else sha256() { shasum -a 256 | cut -d' ' -f1; }; fi  # macOS
want_hash="$(cat "${req_files[@]}" | sha256)"
have_hash="$(cat "$STAMP" 2>/dev/null || true)"
if [[ "$want_hash" != "$have_hash" ]]; then
  pip_args=(install --disable-pip-version-check --no-input --quiet -r "$REQUIREMENTS")
  [[ -f "$CONSTRAINTS" ]] && pip_args+=(-c "$CONSTRAINTS")
  started=$SECONDS
  PIP_REQUIRE_VIRTUALENV=1 "$VENV/bin/python" -m pip "${pip_args[@]}" || die "pip install failed"
  printf '%s\n' "$want_hash" >"$STAMP"
  say "installed $(basename "$REQUIREMENTS")$([[ -f "$CONSTRAINTS" ]] && printf ' with %s' "$(basename "$CONSTRAINTS")") into the venv ($((SECONDS - started))s)"
fi

# --- 3. tslab kernelspec inside the venv --------------------------------------------------------
# Written directly (same content `tslab install --sys-prefix` produces, minus the jslab spec), so
# re-registering is a no-op and nothing outside the venv is read or written.
want_spec="$("$VENV/bin/python" - "$TSLAB_BIN" <<'PY'
import json, sys
print(json.dumps({
    "argv": [sys.argv[1], "kernel", "--config-path", "{connection_file}"],
    "display_name": "TypeScript",
    "language": "typescript",
}, indent=1, sort_keys=True))
PY
)"
if [[ "$(cat "$KERNEL_DIR/kernel.json" 2>/dev/null || true)" != "$want_spec" ]]; then
  mkdir -p "$KERNEL_DIR"
  printf '%s\n' "$want_spec" >"$KERNEL_DIR/kernel.json.tmp"
  mv -f "$KERNEL_DIR/kernel.json.tmp" "$KERNEL_DIR/kernel.json"
  say "registered kernel tslab -> $TSLAB_BIN (in $KERNEL_DIR)"
fi

# --- 4. node: the venv is CommonJS land ---------------------------------------------------------
# JupyterLab runs node on the bundled yarn.js (jupyter_builder) inside the venv; without this file
# node would take the repo's package.json ("type": "module") for it and fail with
# 'Dynamic require of "util" is not supported'.
if [[ "$(cat "$VENV/package.json" 2>/dev/null || true)" != '{ "type": "commonjs" }' ]]; then
  printf '%s\n' '{ "type": "commonjs" }' >"$VENV/package.json"
  say "wrote $VENV/package.json (CommonJS scope for the node scripts JupyterLab ships)"
fi

# --- 5. verify ----------------------------------------------------------------------------------
# Same environment as lab.sh and run_notebooks.py (see the exports above). A JUPYTER_PATH that
# shadows tslab is caught here.
"$VENV/bin/jupyter" kernelspec list --json >"$LAB_ENV/.kernelspecs.json" ||
  die "'$VENV/bin/jupyter kernelspec list --json' failed"
"$VENV/bin/python" - "$LAB_ENV/.kernelspecs.json" "$VENV" "$TSLAB_BIN" <<'PY' || exit 1
import json, os, sys
listing, venv, tslab = sys.argv[1:]
specs = json.load(open(listing))["kernelspecs"]
def fail(msg):
    print(f"jupyter-env: ERROR: {msg}", file=sys.stderr)
    sys.exit(1)
if "tslab" not in specs:
    fail(f"kernel 'tslab' is not listed by {venv}/bin/jupyter kernelspec list (found: {sorted(specs)})")
ks = specs["tslab"]
where = os.path.realpath(ks["resource_dir"])
if not where.startswith(os.path.realpath(venv) + os.sep):
    fail(f"kernel 'tslab' resolves to {where}, outside {venv} (a JUPYTER_PATH or user kernelspec shadows it)")
argv0 = ks["spec"]["argv"][0]
if argv0 != tslab:
    fail(f"kernel 'tslab' starts {argv0}, expected {tslab}")
if ks["spec"].get("display_name") != "TypeScript":
    fail(f"kernel 'tslab' display name is {ks['spec'].get('display_name')!r}, expected 'TypeScript'")
PY
rm -f "$LAB_ENV/.kernelspecs.json"
