#!/usr/bin/env bash
# The official postgres image's contract, for what docker/compose.yml uses:
#   POSTGRES_USER, POSTGRES_PASSWORD   the superuser, created with the cluster (both required)
#   POSTGRES_DB                        created with the cluster (default: $POSTGRES_USER)
#   /docker-entrypoint-initdb.d/*.sh, *.sql   run once, after that, as the superuser
# A data directory that already holds a cluster is started as it is. TCP clients log in with a
# password (scram-sha-256); the Unix socket inside the container trusts local users, as in the
# official image. `docker run IMAGE -c name=value` passes settings to postgres; any other command
# runs as given.
set -Eeuo pipefail

if [ "$#" -eq 0 ] || [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi
[ "$1" = postgres ] || exec "$@"
shopt -s nullglob

die() { echo "postgres: $*" >&2; exit 1; }
[ -n "${POSTGRES_USER:-}" ] || die "POSTGRES_USER is empty: set it to the name of the superuser to create (docker/.env)"
[ -n "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD is empty: set it to the superuser's password (docker/.env); there is no password-less mode"
export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

# As root only to hand the volume to postgres (a fresh named volume, or one from another
# image); then this script runs again as postgres, and the server never runs as root.
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA"
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres {} +
  chmod 700 "$PGDATA"
  export HOME=/var/lib/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ -s "$PGDATA/PG_VERSION" ]; then
  echo "postgres: $PGDATA holds a cluster already; starting it without initialisation"
else
  echo "postgres: creating the cluster in $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
  # initdb cleans up after itself if it fails (and refuses a directory that is not empty).
  initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  # From here on, a failure empties the directory again (all of it is initdb's): a half-made
  # cluster would be taken as done by the next start, which would skip the rest of the set-up.
  trap 'pg_ctl -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true; find "$PGDATA" -mindepth 1 -delete; echo "postgres: initialisation failed; $PGDATA emptied so the next start tries again" >&2' ERR
  # Other containers connect over the compose network, with a password.
  printf '\n# docker-entrypoint.sh: every address, with a password\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  printf "\n# docker-entrypoint.sh\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  # The set-up server listens on a private socket only: no TCP client, and not the healthcheck's
  # pg_isready (default socket), can see the cluster before it is complete.
  PGHOST="$(mktemp -d)" && export PGHOST
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories='$PGHOST'" start >/dev/null
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --set db="$POSTGRES_DB" -q <<<'CREATE DATABASE :"db";'
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) echo "postgres: running $f" && bash "$f" ;;
      *.sql) echo "postgres: running $f" && "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *) echo "postgres: ignoring $f (neither .sh nor .sql)" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  rm -rf "$PGHOST" && unset PGHOST
  trap - ERR
  echo "postgres: cluster ready"
fi

# exec: postgres becomes PID 1 and gets docker stop's signal itself.
exec "$@"
