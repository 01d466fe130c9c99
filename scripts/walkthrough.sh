#!/usr/bin/env bash
# Runs every walkthrough notebook, in order, headless, into out/walkthrough/: executed notebooks and
# HTML exports, failing on any error output.
#   bash scripts/walkthrough.sh              the embedded default (npm run walkthrough)
#   bash scripts/walkthrough.sh --services   the services in the environment, or the native ones,
#                                            started here and left running (npm run walkthrough:services)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh

mode=embedded
[ "${1:-}" = "--services" ] && mode=services
if [ "$mode" = embedded ]; then
  out="${WALKTHROUGH_OUT:-$root/out/walkthrough}"
  # The embedded default: a walkthrough never picks up services from the caller's environment.
  unset AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL KAFKA_BOOTSTRAP_SERVERS MLFLOW_TRACKING_URI DATAFLOW_CATALOG_URL
else
  out="${WALKTHROUGH_OUT:-$root/out/walkthrough-services}"
  if [ -z "${AWS_ENDPOINT_URL_S3:-}${AWS_ENDPOINT_URL:-}" ]; then
    bash scripts/services/up.sh
    set -a
    # shellcheck disable=SC1091
    source .lab-env/services/services.env
    set +a
    echo "walkthrough: the native services stay up for you to explore (npm run services:down stops them)"
  fi
fi
# A fresh lab folder each run, so the check cells compare against a known starting point.
# (The notebooks are idempotent too; npm test runs them twice on one lab to prove it.)
if [ -z "${DATAFLOW_LAB_HOME:-}" ]; then
  export DATAFLOW_LAB_HOME="$out/lab"
  rm -rf "$DATAFLOW_LAB_HOME"
fi

mapfile -t notebooks < <(ls notebooks/[0-9][0-9]_*.ipynb | sort)
.lab-env/venv/bin/python scripts/run_notebooks.py --out "$out" "${notebooks[@]}"
echo "walkthrough: executed notebooks and HTML exports are in ${out#"$root"/}/"
