# shellcheck shell=bash
# PostgreSQL from Debian, as a private cluster of ours (not Debian's "main" cluster): the DuckLake
# catalog database `ducklake` and MLflow's backend store `mlflow`, owned by one password-protected
# role. Sourced by up.sh / down.sh / status.sh after lib.sh.

PG_HOME="$SERVICES_HOME/postgres"
PG_DATA="$PG_HOME/data"
# The Unix socket lives with the cluster (only the postgres OS user uses it, for set-up).
PG_SOCKET_DIR="$PG_HOME/run"
PG_PORT=15432

# Debian's PostgreSQL binaries: the pinned major version if installed, else whichever is.
pg_bin_dir() {
  local d
  for d in /usr/lib/postgresql/"$POSTGRES_MAJOR"/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then
      printf '%s' "$d"
      return 0
    fi
  done
  return 1
}

# PostgreSQL refuses to run as root: as root, the server and its tools run as the `postgres` OS
# user that Debian's package creates; as anyone else, as that user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_install() {
  [ -n "$(pg_bin_dir)" ] && return 0
  [ "$(id -u)" = 0 ] || die "postgres: no /usr/lib/postgresql/*/bin/initdb; install Debian's postgresql package (sudo apt-get install postgresql) and run up.sh again"
  say "postgres: installing Debian's postgresql package (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  [ -n "$(pg_bin_dir)" ] || die "postgres: apt-get installed postgresql but no initdb was found under /usr/lib/postgresql/*/bin"
}

postgres_running() {
  [ -f "$PG_DATA/PG_VERSION" ] && as_pg "$(pg_bin_dir)/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

postgres_healthy() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }

postgres_init() {
  local bin
  bin="$(pg_bin_dir)"
  mkdir -p "$PG_HOME" "$PG_SOCKET_DIR" "$LOG_DIR"
  touch "$LOG_DIR/postgres.log"
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PG_HOME" "$PG_SOCKET_DIR" "$LOG_DIR/postgres.log"
    # A checkout under /root (mode 700), say, is out of the postgres user's reach.
    runuser -u postgres -- test -w "$PG_HOME" ||
      die "postgres: the postgres OS user cannot reach $PG_HOME; make the folders above it searchable (chmod o+x) or move the checkout"
  fi
  # Unix socket paths are limited to 107 bytes.
  [ "${#PG_SOCKET_DIR}" -le 90 ] || die "postgres: the socket folder path $PG_SOCKET_DIR is too long for a Unix socket; move the checkout to a shorter path"
  [ -f "$PG_DATA/PG_VERSION" ] && return 0
  say "postgres: creating the cluster in $PG_DATA"
  # Peer auth on the socket (set-up by the postgres OS user), passwords on TCP (everyone else).
  as_pg "$bin/initdb" -D "$PG_DATA" -E UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >>"$LOG_DIR/postgres.log" 2>&1 ||
    die_with_log postgres "initdb failed"
  # Appended once; postgresql.conf's last setting wins.
  as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# --- DataFlow Lab (scripts/services/postgres.sh) ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 50
shared_buffers = 128MB
EOF
}

postgres_start() {
  local bin pid
  bin="$(pg_bin_dir)"
  postgres_init
  if postgres_running; then
    pid="$(head -n 1 "$PG_DATA/postmaster.pid")"
  else
    require_free_port postgres "$PG_PORT"
    say "postgres: starting on 127.0.0.1:$PG_PORT"
    # 9>&-: the server must not inherit up.sh's lock (see start_detached in lib.sh).
    as_pg "$bin/pg_ctl" -D "$PG_DATA" -l "$LOG_DIR/postgres.log" -w -t 60 start >/dev/null 9>&- ||
      die_with_log postgres "pg_ctl start failed"
    pid="$(head -n 1 "$PG_DATA/postmaster.pid")"
  fi
  printf '%s\n' "$pid" >"$(pid_file postgres)"
  wait_for postgres 60 postgres_healthy
  postgres_setup
}

# Idempotent: the role's password is (re)set from services.env on every run, so the file stays the
# one source even if someone changed the password by hand.
postgres_setup() {
  as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -d postgres >/dev/null <<EOF ||
\set role '$(catalog_user)'
\set pw '$(catalog_password)'
SELECT format('CREATE ROLE %I', :'role') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
-- CREATEDB: the integration tests give each run a catalog database of its own. CREATEROLE: the workshop
-- hub gives every trainee a login role limited to their own catalog schema (docker/jupyterhub/).
SELECT format('ALTER ROLE %I WITH LOGIN CREATEDB CREATEROLE PASSWORD %L', :'role', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', d, :'role') FROM unnest(ARRAY['ducklake', 'mlflow']) AS d
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
EOF
    die_with_log postgres "could not create the role and the databases ducklake and mlflow"
}

postgres_stop() {
  if postgres_running; then
    local pid
    pid="$(head -n 1 "$PG_DATA/postmaster.pid")"
    as_pg "$(pg_bin_dir)/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null ||
      die_with_log postgres "pg_ctl stop failed"
    # pg_ctl returns once postmaster.pid is gone, a moment before the process itself exits.
    wait_gone "$pid" 10 || die_with_log postgres "the server (pid $pid) still runs after pg_ctl stop"
    say "stopped postgres (pid $pid)"
  fi
  rm -f "$(pid_file postgres)"
}

postgres_purge() { rm -rf "$PG_HOME"; }

postgres_describe() { printf 'postgresql://%s:***@127.0.0.1:%s/{ducklake,mlflow}' "$(catalog_user)" "$PG_PORT"; }
