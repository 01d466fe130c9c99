#!/usr/bin/env bash
# Installs the DuckDB extension binaries pinned in kernel-helpers/duckdb-pin.json into
# .lab-env/duckdb-extensions/v<duckdb>/<platform>/ (the layout DuckDB's extension_directory expects),
# from the PyPI wheels that carry them (duckdb-extension-* for 1.5.x, duckdb-ext-* for 1.4.x), so
# DuckDB loads them offline. Idempotent: a stamp holding the pin's hash skips work already done.
#   --previous  installs the set of the engine the lab ran before (pin "previous"), for the
#               migration test only; it goes next to the current set, under its own version folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pin="$root/kernel-helpers/duckdb-pin.json"
dest="${DATAFLOW_DUCKDB_EXTENSIONS:-$root/.lab-env/duckdb-extensions}"
set_name="current"
[ "${1:-}" = "--previous" ] && set_name="previous"
stamp="$dest/.installed-$set_name-$(sha256sum "$pin" | cut -c1-16)"
[ -f "$stamp" ] && exit 0

read_pin() { python3 - "$pin" "$set_name" "$1" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
s = p if sys.argv[2] == "current" else p["previous"]
if sys.argv[3] == "head":
    print(s["duckdb"], p["platform"])
else:
    for v in s["extensions"].values():
        print(v)
PY
}
read -r version platform < <(read_pin head)
mapfile -t reqs < <(read_pin extensions)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "duckdb extensions: downloading ${reqs[*]} (DuckDB $version)"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp" "${reqs[@]}"
mkdir -p "$dest/v$version/$platform"
for whl in "$tmp"/*.whl; do
  python3 - "$whl" "$dest/v$version/$platform" "$version" "$platform" <<'PY'
import sys, zipfile, os
whl, out, version, platform = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if n.endswith(".duckdb_extension")]
    # duckdb-ext-* (1.4.x): <pkg>/extensions/v1.4.4/linux_amd64/<name>.duckdb_extension;
    # duckdb-extension-* (1.5.x): one wheel per platform, <pkg>/extensions/v1.5.5/<name>.duckdb_extension.
    want = [n for n in names if f"/v{version}/{platform}/" in n]
    if not want:
        want = [n for n in names if os.path.dirname(n).endswith(f"/v{version}")]
    if not want:
        sys.exit(f"{os.path.basename(whl)} has no extension for DuckDB v{version} {platform} (it has: {names}); fix kernel-helpers/duckdb-pin.json")
    for n in want:
        target = os.path.join(out, os.path.basename(n))
        with z.open(n) as src, open(target + ".tmp", "wb") as dst:
            dst.write(src.read())
        os.replace(target + ".tmp", target)
        print(f"duckdb extensions: installed {os.path.basename(n)} (DuckDB v{version})")
PY
done
rm -f "$dest"/.installed-"$set_name"-*
touch "$stamp"
