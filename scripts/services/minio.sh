# shellcheck shell=bash
# MinIO, built from source with `go install` (its community edition ships as source only): the S3
# API on 127.0.0.1:19000, the web console on 127.0.0.1:19001, buckets bronze/silver/gold/mlflow.
# Sourced by up.sh / down.sh / status.sh after lib.sh.

MINIO_HOME="$SERVICES_HOME/minio"
MINIO_PORT=19000
MINIO_CONSOLE_PORT=19001
MINIO_STAMP="$BIN_DIR/.minio.version"

minio_installed() { [ -x "$BIN_DIR/minio" ] && [ "$(cat "$MINIO_STAMP" 2>/dev/null)" = "$MINIO_VERSION" ]; }

minio_install() {
  minio_installed && return 0
  command -v go >/dev/null 2>&1 || die "minio: needs Go >= 1.24 to build MinIO from source (https://go.dev/doc/install, or apt-get install golang on Debian 13+)"
  mkdir -p "$BIN_DIR" "$LOG_DIR"
  say "minio: building $MINIO_MODULE@$MINIO_VERSION with $(go env GOVERSION) (first run only: several minutes; output in $LOG_DIR/minio-build.log)"
  local started=$SECONDS
  # A private GOPATH and build cache keep the build off ~/go; -modcacherw lets `rm -rf .lab-env`
  # remove the module cache (Go makes it read-only otherwise). CGO off: a static binary, no compiler.
  if ! env GOPATH="$SERVICES_HOME/go" GOMODCACHE="$SERVICES_HOME/go/pkg/mod" \
      GOCACHE="$SERVICES_HOME/go/cache" GOBIN="$BIN_DIR" GOFLAGS=-modcacherw CGO_ENABLED=0 \
      go install -trimpath -ldflags "-s -w" "$MINIO_MODULE@$MINIO_VERSION" >"$LOG_DIR/minio-build.log" 2>&1; then
    tail -n 25 "$LOG_DIR/minio-build.log" | sed 's/^/  | /' >&2
    die "minio: go install $MINIO_MODULE@$MINIO_VERSION failed (log: $LOG_DIR/minio-build.log)"
  fi
  printf '%s\n' "$MINIO_VERSION" >"$MINIO_STAMP"
  # The binary is all we keep: the module and build caches (about 2 GB) only speed up rebuilding
  # this exact version, which the stamp above already makes unnecessary.
  chmod -R u+w "$SERVICES_HOME/go" 2>/dev/null || true
  rm -rf "$SERVICES_HOME/go"
  say "minio: built $BIN_DIR/minio in $((SECONDS - started))s"
}

minio_healthy() { http_ok "http://127.0.0.1:$MINIO_PORT/minio/health/live"; }

minio_start() {
  if running_pid minio >/dev/null; then
    wait_for minio 60 minio_healthy
  else
    require_free_port minio "$MINIO_PORT"
    require_free_port minio "$MINIO_CONSOLE_PORT"
    mkdir -p "$MINIO_HOME/data"
    say "minio: starting on 127.0.0.1:$MINIO_PORT (console 127.0.0.1:$MINIO_CONSOLE_PORT)"
    # Root credentials from the environment (not argv, which `ps` shows). No update checks: the
    # version is pinned and the machine may well be offline.
    MINIO_ROOT_USER="$AWS_ACCESS_KEY_ID" MINIO_ROOT_PASSWORD="$AWS_SECRET_ACCESS_KEY" \
      MINIO_UPDATE=off \
      start_detached minio "$BIN_DIR/minio" server --quiet \
      --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" \
      "$MINIO_HOME/data"
    wait_for minio 60 minio_healthy
  fi
  minio_setup
}

# Buckets through the S3 API with boto3 from the MLflow venv (already needed for MLflow's artifact
# proxy) rather than building MinIO's `mc` client: one more multi-minute Go build for two calls.
minio_setup() {
  "$MLFLOW_VENV/bin/python" "$SERVICES_SCRIPTS/s3_buckets.py" >>"$LOG_DIR/minio.log" 2>&1 ||
    die_with_log minio "could not create the buckets (s3_buckets.py)"
}

minio_stop() { stop_pid minio 30; }

minio_purge() { rm -rf "$MINIO_HOME"; }

minio_describe() { printf 'http://127.0.0.1:%s (console http://127.0.0.1:%s)' "$MINIO_PORT" "$MINIO_CONSOLE_PORT"; }
