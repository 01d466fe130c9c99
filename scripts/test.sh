#!/usr/bin/env bash
# The whole suite, in one test run: unit tests and the notebooks on the embedded default (the
# notebooks twice on one lab, to prove re-runs are idempotent), a small benchmark run, and the
# integration tests against real MinIO, PostgreSQL, Kafka and MLflow — the notebooks again, on them —
# and the workshop hub: a real JupyterHub with two users, and a Chromium browser test.
# Uses the services configured in the environment (e.g. the compose stack); when none are, starts
# the native ones (scripts/services/up.sh) and stops them at the end. Installs what is missing first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
# Only the test suite needs these (not the walkthrough or the lab): JupyterHub in its own venv for the
# workshop hub's native tests, and Debian's Chromium for the browser test (Playwright never downloads one).
bash scripts/hub/hub-env.sh
if [ ! -x "${DATAFLOW_CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    echo "test: installed Debian's chromium for the browser test"
  else
    echo "test: ERROR: /usr/bin/chromium is missing; install it (Debian/Ubuntu, as root: apt-get install -y chromium) or set DATAFLOW_CHROMIUM to a Chromium binary" >&2
    exit 1
  fi
fi
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
  test/integration/**/*.test.ts test/services/**/*.test.ts test/hub/**/*.test.ts
