#!/usr/bin/env bash
# Stops the services scripts/services/up.sh started, by their pid files (TERM, then KILL after a
# grace period; PostgreSQL through pg_ctl's fast shutdown). Never looks processes up by name.
#
#   bash scripts/services/down.sh           stop; data, credentials and installs are kept
#   bash scripts/services/down.sh --purge   stop and delete the data, logs and credentials too
#                                           (installed binaries, jars and the venv are kept)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck disable=SC1090  # postgres.sh, minio.sh, kafka.sh, mlflow.sh
for service in postgres minio kafka mlflow; do source "$SERVICES_SCRIPTS/$service.sh"; done

purge=false
case "${1:-}" in
  "") ;;
  --purge) purge=true ;;
  *) die "unknown argument '$1' (usage: down.sh [--purge])" ;;
esac

[ -d "$SERVICES_HOME" ] || exit 0
lock_services
# Reverse dependency order: MLflow still writes to PostgreSQL and MinIO while it shuts down.
mlflow_stop
kafka_stop
minio_stop
postgres_stop

if [ "$purge" = true ]; then
  for service in mlflow kafka minio postgres; do "${service}_purge"; done
  rm -rf "$LOG_DIR" "$ENV_FILE"
  say "purged the data, logs and credentials in $SERVICES_HOME (installs kept)"
fi
