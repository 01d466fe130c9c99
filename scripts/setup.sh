#!/usr/bin/env bash
# Installs whatever is missing, and nothing else: node modules, the kernel-helpers build, the
# pinned DuckDB extensions and (unless --node-only) the project's own Jupyter with the tslab
# kernel. Every step checks first, so a second run takes a second or two.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
node_only=false
[ "${1:-}" = "--node-only" ] && node_only=true

# npm writes node_modules/.package-lock.json on every install: older than the lockfile means stale.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing node modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

dist=kernel-helpers/dist/index.js
if [ ! -f "$dist" ] || [ -n "$(find kernel-helpers/src kernel-helpers/package.json kernel-helpers/tsconfig.build.json tsconfig.json -newer "$dist" -print -quit)" ]; then
  echo "setup: building kernel-helpers"
  # The typescript package's tsc by path: tslab's bundled TypeScript also installs a `tsc` bin.
  node node_modules/typescript/bin/tsc -p kernel-helpers/tsconfig.build.json
  touch "$dist"
fi

# DuckDB 1.5.5's ducklake/httpfs/postgres_scanner binaries (duckdb-extension-* wheels), per the pin.
bash scripts/install-duckdb-extensions.sh

if [ "$node_only" = false ]; then
  bash scripts/jupyter-env.sh
fi
