#!/usr/bin/env bash
# The compose stack as the test suite runs it: docker/compose.yml unchanged, as its own compose
# project (dataflow-lab-test) on non-default ports, with a generated env file of random credentials,
# on the engine of scripts/docker/engine.sh, every image built FROM the mmdebstrap base.
#
#   bash scripts/docker/test-stack.sh build   build every image (cached: a warm build redoes nothing)
#   bash scripts/docker/test-stack.sh up      build, then `up --wait`; names the failing service and shows its log
#   bash scripts/docker/test-stack.sh down    `down -v`: containers, networks and volumes removed
#   eval "$(bash scripts/docker/test-stack.sh env)"   the variables the container tests read
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eval "$(bash "$DOCKER_SCRIPTS/engine.sh" env)"
export DOCKER_HOST DOCKER_CONFIG DATAFLOW_BASE_IMAGE

STACK_ENV="$DOCKER_HOME/test-stack.env"
export COMPOSE_PROJECT_NAME=dataflow-lab-test
export COMPOSE_FILE="$REPO_ROOT/docker/compose.yml"
export COMPOSE_ENV_FILES="$STACK_ENV"
# Compose's own progress output, plain: it goes to logs and CI output, not a terminal.
export BUILDKIT_PROGRESS=plain COMPOSE_PROGRESS=plain COMPOSE_ANSI=never

# Compose lets the shell's variables override the env file's: the suite's shell holds the native stack's
# AWS keys, so every variable the env file sets is taken from the file alone.
without_shell_overrides() {
  local key
  while IFS='=' read -r key _; do unset "$key"; done < <(grep -E '^[A-Z_][A-Z0-9_]*=' "$STACK_ENV")
}

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# Written once (mode 600): the credentials of the volumes that exist are the ones in this file.
ensure_env() {
  [ -s "$STACK_ENV" ] && return 0
  mkdir -p "$DOCKER_HOME"
  (
    umask 077
    cat >"$STACK_ENV.tmp" <<ENV
# The test suite's compose stack (scripts/docker/test-stack.sh): generated, random, never committed.
AWS_ACCESS_KEY_ID=lab$(rand_hex 8)
AWS_SECRET_ACCESS_KEY=$(rand_hex 20)
POSTGRES_USER=dataflow
POSTGRES_PASSWORD=$(rand_hex 16)
DATAFLOW_HUB_ADMIN_USER=trainer
DATAFLOW_HUB_ADMIN_PASSWORD=$(rand_hex 12)
DATAFLOW_HUB_WORKSHOP_PASSWORD=$(rand_hex 12)
DATAFLOW_HUB_CREDENTIAL_HOURS=
# Not the defaults, so the suite's stack never collides with a trainer's or the native one.
DATAFLOW_S3_PORT=29000
DATAFLOW_S3_CONSOLE_PORT=29001
DATAFLOW_KAFKA_PORT=29092
DATAFLOW_POSTGRES_PORT=25432
DATAFLOW_MLFLOW_PORT=25000
DATAFLOW_HUB_PORT=28000
DATAFLOW_BASE_IMAGE=$DATAFLOW_BASE_IMAGE
ENV
  )
  mv -f "$STACK_ENV.tmp" "$STACK_ENV"
}

# On failure: which service, its state and the last lines of its log.
explain_failure() {
  docker compose ps -a --format '{{.Service}}\t{{.State}}\t{{.Status}}' >&2 || true
  local service state
  while IFS=$'\t' read -r service state; do
    case "$state" in
      *healthy*|running*|*"Exited (0)"*) ;;
      *)
        printf '\n--- %s (%s): last lines of its log ---\n' "$service" "$state" >&2
        docker compose logs --no-color --tail 40 "$service" 2>&1 | sed 's/^/  | /' >&2 || true
        ;;
    esac
  done < <(docker compose ps -a --format '{{.Service}}\t{{.Health}}{{if not .Health}}{{.Status}}{{end}}')
}

build() {
  ensure_env
  mkdir -p "$DOCKER_LOGS"
  local started=$SECONDS
  say "building the stack's images (log: $DOCKER_LOGS/test-stack-build.log)"
  if ! docker compose build >"$DOCKER_LOGS/test-stack-build.log" 2>&1; then
    tail -n 40 "$DOCKER_LOGS/test-stack-build.log" | sed 's/^/  | /' >&2
    die "docker compose build failed (log: $DOCKER_LOGS/test-stack-build.log)"
  fi
  say "images built in $((SECONDS - started))s:"
  docker image ls --format '  {{.Repository}}:{{.Tag}}\t{{.Size}}' 'dataflow-lab/*'
}

up() {
  build
  local started=$SECONDS
  say "starting the stack (project $COMPOSE_PROJECT_NAME)"
  if ! docker compose up -d --wait --wait-timeout 300 >"$DOCKER_LOGS/test-stack-up.log" 2>&1; then
    sed 's/^/  | /' "$DOCKER_LOGS/test-stack-up.log" | tail -n 20 >&2
    explain_failure
    die "docker compose up --wait failed: the service(s) above did not become healthy"
  fi
  say "stack healthy in $((SECONDS - started))s"
}

print_env() {
  ensure_env
  printf 'export DOCKER_HOST=%q DOCKER_CONFIG=%q COMPOSE_PROJECT_NAME=%q COMPOSE_FILE=%q COMPOSE_ENV_FILES=%q DATAFLOW_TEST_STACK_ENV=%q\n' \
    "$DOCKER_HOST" "$DOCKER_CONFIG" "$COMPOSE_PROJECT_NAME" "$COMPOSE_FILE" "$COMPOSE_ENV_FILES" "$STACK_ENV"
}

ensure_env
without_shell_overrides
case "${1:-}" in
  build) build ;;
  up) up ;;
  down) docker compose down -v --remove-orphans --timeout 20 ;;
  env) print_env ;;
  *) die "usage: test-stack.sh build|up|down|env" ;;
esac
