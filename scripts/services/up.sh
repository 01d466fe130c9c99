#!/usr/bin/env bash
# Starts the lab's services natively on 127.0.0.1 (the same stack docker/compose.yml describes, for
# machines without a Docker engine): PostgreSQL, MinIO, Kafka (KRaft) and the MLflow tracking
# server. Installs the pinned versions that are missing (first run: ~10 minutes, mostly building
# MinIO), starts what is not running, waits until each is healthy, and creates the buckets, topics,
# databases and role. Running it again is harmless and takes a second or two.
#
#   bash scripts/services/up.sh          then:  source .lab-env/services/services.env
#
# State (data, logs, pid files, credentials) lives in .lab-env/services/; down.sh stops it all.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck disable=SC1090  # postgres.sh, minio.sh, kafka.sh, mlflow.sh
for service in postgres minio kafka mlflow; do source "$SERVICES_SCRIPTS/$service.sh"; done

lock_services
started=$SECONDS
ensure_env_file
load_env_file

# MinIO's first build takes minutes on its own: run it alongside the other installs. `set -m`
# gives it a process group of its own, so an early exit stops the whole build (go and compilers).
minio_build_pid=""
stop_build() { [ -z "$minio_build_pid" ] || kill -TERM -- "-$minio_build_pid" 2>/dev/null || true; }
trap stop_build EXIT
if ! minio_installed; then
  set -m
  minio_install &
  minio_build_pid=$!
  set +m
fi
postgres_install
kafka_install
mlflow_install
if [ -n "$minio_build_pid" ]; then
  wait "$minio_build_pid" || die "minio: the build failed (see the messages above)"
  minio_build_pid=""
fi

# In dependency order: MLflow needs PostgreSQL and MinIO's buckets.
postgres_start
minio_start
kafka_start
mlflow_start

say "ready in $((SECONDS - started))s; credentials and endpoints: $ENV_FILE"
for service in postgres minio kafka mlflow; do
  printf '  %-9s %-62s pid %s\n' "$service" "$("${service}_describe")" "$(head -n 1 "$(pid_file "$service")")"
done
