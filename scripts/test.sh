#!/usr/bin/env bash
# The whole suite, in one test run: unit tests and the notebooks on the embedded default (the
# notebooks twice on one lab, to prove re-runs are idempotent), a small benchmark run, and the
# integration tests against real MinIO, PostgreSQL, Kafka and MLflow — the notebooks again, on them —
# and the workshop hub: a real JupyterHub with two users, and a Chromium browser test.
# Uses the services configured in the environment; when none are, starts the native ones
# (scripts/services/up.sh) and stops them at the end. Then the container path as trainers run it: a
# Docker engine of its own (scripts/docker/engine.sh), every image of docker/compose.yml built and the
# stack started on non-default ports (scripts/docker/test-stack.sh), the walkthroughs, two trainees and
# the browser against it (test/containers/), and the stack and engine stopped again. Installs what is
# missing first. DATAFLOW_SKIP_CONTAINER_TESTS=1 skips the container path on a machine that cannot run
# an engine (not root, no apt): it says so loudly, and CI refuses it.
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

# Only what this run started is stopped at the end: a developer's running stack or engine stays up.
started_services=false
started_engine=false
containers=true
build_pid=""
cleanup() {
  [ -z "$build_pid" ] || kill -TERM -- "-$build_pid" 2>/dev/null || true
  if [ "$containers" = true ] && bash scripts/docker/engine.sh status 2>/dev/null; then
    bash scripts/docker/test-stack.sh down >/dev/null 2>&1 || echo "test: could not take the compose stack down" >&2
  fi
  [ "$started_engine" = false ] || bash scripts/docker/engine.sh down
  [ "$started_services" = false ] || bash scripts/services/down.sh
}
trap cleanup EXIT

if [ "${DATAFLOW_SKIP_CONTAINER_TESTS:-}" = 1 ]; then
  if [ -n "${CI:-}" ]; then
    echo "test: ERROR: DATAFLOW_SKIP_CONTAINER_TESTS=1 is not allowed in CI: the compose stack is what trainers run" >&2
    exit 1
  fi
  echo "test: WARNING: DATAFLOW_SKIP_CONTAINER_TESTS=1: docker/compose.yml and its images are NOT built or tested in this run" >&2
  containers=false
fi

# The engine, compose and the images install alongside the native services (both mostly wait on
# downloads and Go builds). `set -m`: the build gets its own process group, stopped on an early exit.
if [ "$containers" = true ]; then
  bash scripts/docker/engine.sh status 2>/dev/null || started_engine=true
  mkdir -p .lab-env/docker/logs
  set -m
  (
    started=$SECONDS
    bash scripts/docker/engine.sh up
    echo "test: engine ready in $((SECONDS - started))s"
    started=$SECONDS
    bash scripts/docker/test-stack.sh build
    echo "test: images built in $((SECONDS - started))s"
  ) >.lab-env/docker/logs/test-setup.log 2>&1 &
  build_pid=$!
  set +m
fi

if [ -z "${AWS_ENDPOINT_URL_S3:-}${AWS_ENDPOINT_URL:-}" ]; then
  bash scripts/services/status.sh >/dev/null 2>&1 || started_services=true
  bash scripts/services/up.sh
  [ "$started_services" = false ] || export DATAFLOW_SERVICES_OWNED_BY_TEST_RUN=1
  set -a
  # shellcheck disable=SC1091
  source .lab-env/services/services.env
  set +a
fi

shopt -s nullglob globstar
container_tests=()
if [ "$containers" = true ]; then
  if ! wait "$build_pid"; then
    build_pid=""
    tail -n 40 .lab-env/docker/logs/test-setup.log | sed 's/^/  | /' >&2
    echo "test: ERROR: the container engine or the images did not build (log: .lab-env/docker/logs/test-setup.log)" >&2
    exit 1
  fi
  build_pid=""
  sed 's/^/  /' .lab-env/docker/logs/test-setup.log | grep -E 'test:|docker:|  dataflow-lab/' || true
  started=$SECONDS
  bash scripts/docker/test-stack.sh up
  echo "test: compose stack healthy in $((SECONDS - started))s"
  eval "$(bash scripts/docker/test-stack.sh env)"
  # In this order: the log scan comes after the tests that use the stack and before the one that crashes it.
  container_tests=(test/containers/stack.test.ts test/containers/walkthrough.test.ts test/containers/trainees.test.ts
    test/containers/browser.test.ts test/containers/logs.test.ts test/containers/faults.test.ts)
fi

TZ=UTC node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@" \
  test/unit/**/*.test.ts test/notebooks/**/*.test.ts test/bench/**/*.test.ts \
  test/integration/**/*.test.ts test/services/**/*.test.ts test/hub/**/*.test.ts "${container_tests[@]}"
