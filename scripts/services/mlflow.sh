# shellcheck shell=bash
# MLflow tracking server from PyPI in its own venv, on 127.0.0.1:15000: runs and experiments in
# the PostgreSQL database `mlflow`, artifacts uploaded through the server (its artifact proxy) into
# the MinIO bucket `mlflow`, so clients need no S3 credentials. Sourced by up.sh / down.sh /
# status.sh after lib.sh.

MLFLOW_HOME="$SERVICES_HOME/mlflow"
MLFLOW_PORT=15000
MLFLOW_CONSTRAINTS="$SERVICES_SCRIPTS/mlflow-constraints.txt"

mlflow_requirements() {
  printf '%s\n' "mlflow==$MLFLOW_VERSION" "psycopg2-binary==$PSYCOPG2_VERSION" "boto3==$BOTO3_VERSION"
}

# A venv is not relocatable (its scripts carry absolute shebangs): one made for another path or
# copied from elsewhere is rebuilt.
mlflow_venv_ok() {
  [ -x "$MLFLOW_VENV/bin/python" ] && "$MLFLOW_VENV/bin/python" -c 'import sys' >/dev/null 2>&1 &&
    [[ "$(head -n 1 "$MLFLOW_VENV/bin/pip" 2>/dev/null)" == "#!$MLFLOW_VENV/bin/python"* ]]
}

mlflow_install() {
  local want
  want="$({ mlflow_requirements; cat "$MLFLOW_CONSTRAINTS"; } | sha256sum | cut -d' ' -f1)"
  mlflow_venv_ok && [ "$(cat "$MLFLOW_VENV/.requirements.sha256" 2>/dev/null)" = "$want" ] && return 0
  local py="" candidate
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      py="$candidate"
      break
    fi
  done
  [ -n "$py" ] || die "mlflow: needs Python >= 3.10 with the venv module (apt-get install python3-venv)"
  if ! mlflow_venv_ok; then
    rm -rf "$MLFLOW_VENV"
    "$py" -m venv "$MLFLOW_VENV" || die "mlflow: '$py -m venv $MLFLOW_VENV' failed (apt-get install python3-venv)"
  fi
  say "mlflow: installing mlflow $MLFLOW_VERSION into $MLFLOW_VENV (first run only: a few minutes)"
  local started=$SECONDS
  mkdir -p "$LOG_DIR"
  # shellcheck disable=SC2046  # one argument per requirement line
  if ! PIP_REQUIRE_VIRTUALENV=1 "$MLFLOW_VENV/bin/python" -m pip install --disable-pip-version-check \
      --no-input --quiet $(mlflow_requirements) -c "$MLFLOW_CONSTRAINTS" >"$LOG_DIR/mlflow-install.log" 2>&1; then
    tail -n 25 "$LOG_DIR/mlflow-install.log" | sed 's/^/  | /' >&2
    die "mlflow: pip install failed (log: $LOG_DIR/mlflow-install.log)"
  fi
  printf '%s\n' "$want" >"$MLFLOW_VENV/.requirements.sha256"
  say "mlflow: installed in $((SECONDS - started))s"
}

mlflow_healthy() { http_ok "http://127.0.0.1:$MLFLOW_PORT/health"; }

mlflow_start() {
  if running_pid mlflow >/dev/null; then
    wait_for mlflow 180 mlflow_healthy
    return 0
  fi
  require_free_port mlflow "$MLFLOW_PORT"
  mkdir -p "$MLFLOW_HOME"
  say "mlflow: starting on 127.0.0.1:$MLFLOW_PORT"
  local db_url
  db_url="postgresql+psycopg2://$(catalog_user):$(catalog_password)@127.0.0.1:$PG_PORT/mlflow"
  # The backend URI travels in MLFLOW_BACKEND_STORE_URI, not argv, so `ps` does not show its
  # password. MLFLOW_S3_ENDPOINT_URL points MLflow's S3 artifact store at MinIO. One uvicorn worker
  # and no job runner (it serves GenAI evaluation jobs, with three more ~200 MB processes): a
  # tracking server on a 2-core machine. The default host check (localhost and private addresses)
  # already admits 127.0.0.1:15000. The working folder catches anything MLflow writes locally.
  (
    cd "$MLFLOW_HOME" || exit 1
    MLFLOW_BACKEND_STORE_URI="$db_url" MLFLOW_S3_ENDPOINT_URL="$AWS_ENDPOINT_URL_S3" \
      MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
      start_detached mlflow "$MLFLOW_VENV/bin/mlflow" server \
      --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
      --serve-artifacts --artifacts-destination s3://mlflow/
  )
  # The first start creates MLflow's tables in PostgreSQL, which takes a while.
  wait_for mlflow 180 mlflow_healthy
}

mlflow_stop() { stop_pid mlflow 30; }

mlflow_purge() { rm -rf "$MLFLOW_HOME"; }

mlflow_describe() { printf 'http://127.0.0.1:%s' "$MLFLOW_PORT"; }
