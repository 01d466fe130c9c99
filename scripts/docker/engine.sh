#!/usr/bin/env bash
# A Docker engine of the project's own, for the container tests and for trainers on a Debian machine
# without Docker: Debian's docker.io (dockerd, containerd, runc), compose v2 built from its Go module,
# and a Debian base image made with mmdebstrap (no image registry is reachable from here). The
# engine's data root, exec root, pid file and socket all live under .lab-env/docker/; the machine's
# own engine and /var/run/docker.sock are never touched.
#
#   bash scripts/docker/engine.sh up      install what is missing, start dockerd, make the base image
#   bash scripts/docker/engine.sh down    stop the dockerd this script started (by its pid)
#   eval "$(bash scripts/docker/engine.sh env)"   point docker / docker compose at it
#   bash scripts/docker/engine.sh status  exit 0 when the engine answers
#
# Running `up` twice is harmless: every step checks first (a warm `up` takes a second or two).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export DOCKER_HOST="unix://$DOCKER_SOCK" DOCKER_CONFIG="$DOCKER_CLI_CONFIG"

engine_packages() {
  command -v dockerd >/dev/null 2>&1 && command -v mmdebstrap >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 ||
    die "no Docker engine here and no way to install one: needs root and apt-get (Debian's docker.io and mmdebstrap). Install Docker yourself, or set DATAFLOW_SKIP_CONTAINER_TESTS=1 to skip the container tests on this machine (never in CI)"
  say "installing Debian's docker.io and mmdebstrap (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  # docker.io without its recommends (apparmor, needrestart: nothing this engine uses); mmdebstrap with
  # them (gpg checks the mirror's signatures).
  command -v dockerd >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
  command -v mmdebstrap >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
  command -v dockerd >/dev/null 2>&1 && command -v mmdebstrap >/dev/null 2>&1 ||
    die "apt-get ran but dockerd or mmdebstrap is still missing"
}

compose_installed() {
  [ -x "$COMPOSE_PLUGIN" ] && [ "$(cat "$COMPOSE_PLUGIN.version" 2>/dev/null)" = "$COMPOSE_VERSION" ]
}

compose_install() {
  compose_installed && return 0
  command -v go >/dev/null 2>&1 || die "compose v2 is built from source and needs Go >= 1.24 (https://go.dev/doc/install)"
  mkdir -p "$DOCKER_LOGS" "$(dirname "$COMPOSE_PLUGIN")"
  local gohome="$DOCKER_HOME/go" log="$DOCKER_LOGS/compose-build.log" started=$SECONDS dir src
  say "building compose $COMPOSE_VERSION with $(go env GOVERSION) (first run only: about 5 minutes; log: $log)"
  local -a goenv=(env GOPATH="$gohome" GOMODCACHE="$gohome/pkg/mod" GOCACHE="$gohome/cache" GOFLAGS=-modcacherw CGO_ENABLED=0)
  dir="$("${goenv[@]}" go mod download -json "$COMPOSE_MODULE@$COMPOSE_VERSION" 2>>"$log" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] && [ -d "$dir" ] || die "could not download $COMPOSE_MODULE@$COMPOSE_VERSION through the Go module proxy (log: $log)"
  # The module cache is read-only by design: build in a writable copy.
  src="$gohome/src/compose"
  rm -rf "$src" && mkdir -p "$src" && cp -a "$dir/." "$src/" && chmod -R u+w "$src"
  if ! (cd "$src" && "${goenv[@]}" go build -trimpath \
      -ldflags "-s -w -X $COMPOSE_MODULE/internal.Version=$COMPOSE_VERSION" \
      -o "$COMPOSE_PLUGIN.tmp" ./cmd) >>"$log" 2>&1; then
    tail -n 25 "$log" | sed 's/^/  | /' >&2
    die "go build of compose $COMPOSE_VERSION failed (log: $log)"
  fi
  mv -f "$COMPOSE_PLUGIN.tmp" "$COMPOSE_PLUGIN"
  printf '%s\n' "$COMPOSE_VERSION" >"$COMPOSE_PLUGIN.version"
  # Only the binary is kept: the caches (about 1.5 GB) only help rebuild this same version.
  chmod -R u+w "$gohome" 2>/dev/null || true
  rm -rf "$gohome"
  say "built compose $COMPOSE_VERSION in $((SECONDS - started))s"
}

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# The pid in dockerd.pid if that process is alive and is our dockerd (its command line names our
# data root), so a reused pid is never taken for it and `down` never signals a stranger.
engine_pid() {
  local pid
  pid="$(cat "$DOCKER_PIDFILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  ps -ww -o args= -p "$pid" 2>/dev/null | grep -qF "$DOCKER_DATA" || return 1
  printf '%s\n' "$pid"
}

engine_start() {
  if engine_pid >/dev/null && engine_answers; then return 0; fi
  [ "$(id -u)" = 0 ] || die "dockerd needs root here (rootless Docker is not set up by this script); run as root, or set DATAFLOW_SKIP_CONTAINER_TESTS=1 to skip the container tests on this machine (never in CI)"
  mkdir -p "$DOCKER_DATA" "$DOCKER_EXEC" "$DOCKER_RUN" "$DOCKER_LOGS"
  [ "${#DOCKER_SOCK}" -le 100 ] || die "the socket path $DOCKER_SOCK is too long for a Unix socket; move the checkout to a shorter path"
  say "starting dockerd (data root $DOCKER_DATA, socket $DOCKER_SOCK; log $DOCKER_LOGS/dockerd.log)"
  # Its own session (setsid): it outlives this script and the test runner that called it. No
  # systemd, no /var/run/docker.sock: nothing of the machine's own Docker set-up is used.
  setsid dockerd --data-root "$DOCKER_DATA" --exec-root "$DOCKER_EXEC" --pidfile "$DOCKER_PIDFILE" \
    --host "unix://$DOCKER_SOCK" --storage-driver overlay2 --log-driver json-file \
    --log-opt max-size=20m --log-opt max-file=3 \
    >>"$DOCKER_LOGS/dockerd.log" 2>&1 </dev/null 9>&- &
  local deadline=$((SECONDS + 60))
  until engine_answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 25 "$DOCKER_LOGS/dockerd.log" | sed 's/^/  | /' >&2
      die "dockerd did not answer on $DOCKER_SOCK within 60 s (log: $DOCKER_LOGS/dockerd.log)"
    fi
    sleep 0.5
  done
  say "dockerd $(docker version --format '{{.Server.Version}}') is up (pid $(cat "$DOCKER_PIDFILE"))"
}

engine_stop() {
  local pid
  if ! pid="$(engine_pid)"; then
    rm -f "$DOCKER_PIDFILE"
    return 0
  fi
  # TERM lets dockerd stop its containers (10 s each) and containerd; KILL only if that hangs.
  kill -TERM "$pid"
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "dockerd (pid $pid) did not stop within 60 s: sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.5
  done
  say "stopped dockerd (pid $pid)"
}

# The base every image of docker/ is built FROM in the suite: Debian $DEBIAN_SUITE minbase, made
# from the apt mirror with mmdebstrap because no image registry is reachable. Users build from
# debian:$DEBIAN_SUITE-slim instead (the Dockerfiles' default BASE_IMAGE), the same release. This
# machine reaches the registries through a TLS-inspecting proxy, so the base carries the host's
# extra CA certificates and apt settings, and points Node and pip at the system CA bundle.
base_image() {
  docker image inspect "$BASE_IMAGE_LOCAL" >/dev/null 2>&1 && return 0
  local started=$SECONDS extra_ca=() apt_opts=() f
  say "making $BASE_IMAGE_LOCAL with mmdebstrap (first run only: about a minute)"
  for f in /usr/local/share/ca-certificates/*.crt; do [ -f "$f" ] && extra_ca+=("$f"); done
  for f in /etc/apt/apt.conf.d/*; do [ -f "$f" ] && apt_opts+=("--aptopt=$f"); done
  local ca_hook="mkdir -p \"\$1/usr/local/share/ca-certificates\""
  for f in "${extra_ca[@]}"; do ca_hook+=" && cp '$f' \"\$1/usr/local/share/ca-certificates/\""; done
  ca_hook+=" && chroot \"\$1\" update-ca-certificates >/dev/null"
  # The same dpkg path excludes as the official slim images (debuerreotype's --slim), so that a
  # Dockerfile that only works with man pages or docs present fails here as it would for users.
  local slim=() p
  for p in doc groff info linda lintian locale man; do slim+=("--dpkgopt=path-exclude=/usr/share/$p/*"); done
  slim+=("--dpkgopt=path-include=/usr/share/doc/*/copyright" "--dpkgopt=path-include=/usr/share/locale/locale.alias")
  mmdebstrap --variant=minbase --include=ca-certificates --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      "${apt_opts[@]}" "${slim[@]}" --customize-hook="$ca_hook" \
      --customize-hook='rm -rf "$1/var/lib/apt/lists/"* "$1/var/cache/apt/"*' \
      "$DEBIAN_SUITE" - >"$DOCKER_HOME/base.tar" 2>"$DOCKER_LOGS/mmdebstrap.log" ||
    { tail -n 25 "$DOCKER_LOGS/mmdebstrap.log" | sed 's/^/  | /' >&2; die "mmdebstrap failed (log: $DOCKER_LOGS/mmdebstrap.log)"; }
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["bash"]' "$DOCKER_HOME/base.tar" "$BASE_IMAGE_LOCAL" >/dev/null
  rm -f "$DOCKER_HOME/base.tar"
  say "made $BASE_IMAGE_LOCAL in $((SECONDS - started))s"
}

print_env() {
  printf 'export DOCKER_HOST=%q DOCKER_CONFIG=%q DATAFLOW_BASE_IMAGE=%q\n' "$DOCKER_HOST" "$DOCKER_CONFIG" "$BASE_IMAGE_LOCAL"
}

case "${1:-}" in
  up)
    engine_packages
    compose_install
    engine_start
    base_image
    ;;
  down) engine_stop ;;
  env) print_env ;;
  status) engine_pid >/dev/null && engine_answers ;;
  *) die "usage: engine.sh up|down|env|status" ;;
esac
