#!/usr/bin/env bash
# One line per native service: running and healthy, or not. Exits 0 only if all four are.
#
#   bash scripts/services/status.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck disable=SC1090  # postgres.sh, minio.sh, kafka.sh, mlflow.sh
for service in postgres minio kafka mlflow; do source "$SERVICES_SCRIPTS/$service.sh"; done

[ -s "$ENV_FILE" ] && load_env_file
all_ok=0
for service in postgres minio kafka mlflow; do
  if ! pid="$(running_pid "$service")"; then
    state="stopped"
    all_ok=1
  elif "${service}_healthy" >/dev/null 2>&1; then
    state="healthy  pid $pid"
  else
    state="running but not healthy  pid $pid (log: $LOG_DIR/$service.log)"
    all_ok=1
  fi
  printf '  %-9s %s\n' "$service" "$state"
done
[ "$all_ok" = 0 ] && printf '  env file: %s\n' "$ENV_FILE"
exit "$all_ok"
