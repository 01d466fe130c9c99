#!/usr/bin/env bash
# Runs every walkthrough notebook, in order, on the embedded default, headless, into out/walkthrough/:
# executed notebooks and HTML exports, failing on any error output.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh

out="${WALKTHROUGH_OUT:-$root/out/walkthrough}"
# A fresh lab folder each run, so the check cells compare against a known starting point.
# (The notebooks are idempotent too; npm test runs them twice on one lab to prove it.)
if [ -z "${DATAFLOW_LAB_HOME:-}" ]; then
  export DATAFLOW_LAB_HOME="$out/lab"
  rm -rf "$DATAFLOW_LAB_HOME"
fi
# The embedded default: a walkthrough never picks up services from the caller's environment.
unset AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL KAFKA_BOOTSTRAP_SERVERS MLFLOW_TRACKING_URI DATAFLOW_CATALOG_URL

mapfile -t notebooks < <(ls notebooks/[0-9][0-9]_*.ipynb | sort)
.lab-env/venv/bin/python scripts/run_notebooks.py --out "$out" "${notebooks[@]}"
echo "walkthrough: executed notebooks and HTML exports are in ${out#"$root"/}/"
