# shellcheck shell=bash
# Shared by the container scripts (sourced): where the engine keeps its state, and how the
# project's own Docker CLI is pointed at it. Nothing touches the machine's default engine or socket.

DOCKER_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DOCKER_SCRIPTS/../.." && pwd)"
# shellcheck source=versions.sh
source "$DOCKER_SCRIPTS/versions.sh"
# All engine state (images, containers, volumes, build cache, logs) lives here, git-ignored. The
# socket path must stay short (Unix sockets: 107 bytes), so it gets a run folder of its own.
DOCKER_HOME="$REPO_ROOT/.lab-env/docker"
# shellcheck disable=SC2034
{
  DOCKER_DATA="$DOCKER_HOME/data"
  DOCKER_EXEC="$DOCKER_HOME/exec"
  DOCKER_RUN="$DOCKER_HOME/run"
  DOCKER_PIDFILE="$DOCKER_RUN/dockerd.pid"
  DOCKER_SOCK="$DOCKER_RUN/docker.sock"
  DOCKER_LOGS="$DOCKER_HOME/logs"
  DOCKER_CLI_CONFIG="$DOCKER_HOME/config"
  COMPOSE_PLUGIN="$DOCKER_CLI_CONFIG/cli-plugins/docker-compose"
}

say() { printf 'docker: %s\n' "$*"; }
die() { printf 'docker: ERROR: %s\n' "$*" >&2; exit 1; }
