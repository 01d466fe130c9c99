#!/usr/bin/env bash
# The whole suite: unit tests, the notebooks executed headless (twice, on one lab, to prove
# re-runs are idempotent), and a small benchmark run. Installs what is missing first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
node node_modules/typescript/bin/tsc -p tsconfig.json --noEmit
shopt -s nullglob globstar
# The embedded default unless a later suite sets services up itself.
unset AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL KAFKA_BOOTSTRAP_SERVERS MLFLOW_TRACKING_URI DATAFLOW_CATALOG_URL
TZ=UTC node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@" test/unit/**/*.test.ts test/notebooks/**/*.test.ts test/bench/**/*.test.ts
