#!/usr/bin/env bash
# Installs the DuckDB extension binaries pinned in kernel-helpers/duckdb-pin.json into
# .lab-env/duckdb-extensions, from the PyPI wheels that carry them (duckdb-ext-*), so DuckDB
# loads them offline. Idempotent: a stamp holding the pin's hash skips work already done.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pin="$root/kernel-helpers/duckdb-pin.json"
dest="${DATAFLOW_DUCKDB_EXTENSIONS:-$root/.lab-env/duckdb-extensions}"
stamp="$dest/.installed-$(sha256sum "$pin" | cut -c1-16)"
[ -f "$stamp" ] && exit 0

read -r version platform < <(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(p["duckdb"], p["platform"])' "$pin")
mapfile -t reqs < <(python3 -c 'import json,sys; [print(v) for v in json.load(open(sys.argv[1]))["extensions"].values()]' "$pin")
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "duckdb extensions: downloading ${reqs[*]}"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp" "${reqs[@]}"
mkdir -p "$dest/v$version/$platform"
for whl in "$tmp"/*.whl; do
  python3 - "$whl" "$dest/v$version/$platform" "$version" "$platform" <<'PY'
import sys, zipfile, os
whl, out, version, platform = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if n.endswith(".duckdb_extension")]
    want = [n for n in names if f"/v{version}/{platform}/" in n]
    if not want:
        sys.exit(f"{os.path.basename(whl)} has no extension for DuckDB v{version} {platform} (it has: {names}); fix kernel-helpers/duckdb-pin.json")
    for n in want:
        target = os.path.join(out, os.path.basename(n))
        with z.open(n) as src, open(target + ".tmp", "wb") as dst:
            dst.write(src.read())
        os.replace(target + ".tmp", target)
        print(f"duckdb extensions: installed {os.path.basename(n)}")
PY
done
rm -f "$dest"/.installed-*
touch "$stamp"
