#!/usr/bin/env bash
# The whole suite, in one test run: unit tests and the notebooks on the embedded default (the
# notebooks twice on one lab, to prove re-runs are idempotent), a small benchmark run, and the
# integration tests against real MinIO, PostgreSQL, Kafka and MLflow — the notebooks again, on them.
# Uses the services configured in the environment (e.g. the compose stack); when none are, starts
# the native ones (scripts/services/up.sh) and stops them at the end. Installs what is missing first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
node node_modules/typescript/bin/tsc -p tsconfig.json --noEmit

if [ -z "${AWS_ENDPOINT_URL_S3:-}${AWS_ENDPOINT_URL:-}" ]; then
  started_services=false
  bash scripts/services/status.sh >/dev/null 2>&1 || started_services=true
  bash scripts/services/up.sh
  # Only stop what this run started: a developer's running stack stays up.
  if [ "$started_services" = true ]; then
    trap 'bash scripts/services/down.sh' EXIT
    export DATAFLOW_SERVICES_OWNED_BY_TEST_RUN=1
  fi
  set -a
  # shellcheck disable=SC1091
  source .lab-env/services/services.env
  set +a
fi

shopt -s nullglob globstar
TZ=UTC node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@" \
  test/unit/**/*.test.ts test/notebooks/**/*.test.ts test/bench/**/*.test.ts \
  test/integration/**/*.test.ts test/services/**/*.test.ts
