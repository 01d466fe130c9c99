# shellcheck shell=bash
# Shared by up.sh, down.sh, status.sh and the per-service scripts (sourced, never run): where the
# stack keeps its state, messages, pid files, waits and the credentials file.

SERVICES_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SERVICES_SCRIPTS/../.." && pwd)"
# Everything the stack writes lives here (git-ignored with the rest of .lab-env/).
SERVICES_HOME="$REPO_ROOT/.lab-env/services"
# shellcheck disable=SC2034  # some are only used by the scripts that source this one
{
  ENV_FILE="$SERVICES_HOME/services.env"
  LOG_DIR="$SERVICES_HOME/logs"
  BIN_DIR="$SERVICES_HOME/bin"
  MLFLOW_VENV="$SERVICES_HOME/mlflow-venv"
}
# shellcheck source=versions.sh
source "$SERVICES_SCRIPTS/versions.sh"

say() { printf 'services: %s\n' "$*"; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }

# die with the last lines of a service's log, which usually say why it did not come up.
die_with_log() {
  local name="$1" msg="$2" log="$LOG_DIR/$1.log"
  if [ -s "$log" ]; then
    printf 'services: last lines of %s:\n' "$log" >&2
    tail -n 25 "$log" | sed 's/^/  | /' >&2
  fi
  die "$name: $msg (log: $log)"
}

pid_file() { printf '%s/%s.pid' "$SERVICES_HOME" "$1"; }

# Prints the pid recorded for a service if that process is alive and is ours: its command line must
# mention $SERVICES_HOME, so a pid reused by an unrelated process (after a reboot, say) is never
# taken for a service, and down.sh never signals a stranger.
running_pid() {
  local f pid
  f="$(pid_file "$1")"
  [ -f "$f" ] || return 1
  pid="$(head -n 1 "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  ps -ww -o args= -p "$pid" 2>/dev/null | grep -qF "$SERVICES_HOME" || return 1
  printf '%s\n' "$pid"
}

# start_detached NAME COMMAND...: runs COMMAND in the background with its output appended to
# logs/NAME.log and its pid in NAME.pid. setsid gives it its own session and process group, so it
# outlives this script (and the terminal or test runner that called it), and stop_pid can signal
# the whole group (MLflow's CLI forks a uvicorn server). 9>&-: the service must not inherit the
# lock of lock_services, or no later up.sh / down.sh could take it while the service runs.
start_detached() {
  local name="$1"
  shift
  mkdir -p "$LOG_DIR"
  printf '\n=== %s: starting %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" >>"$LOG_DIR/$name.log"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null 9>&- &
  printf '%s\n' "$!" >"$(pid_file "$name")"
}

# True once PID has exited (a zombie waiting for its parent to reap it counts as exited).
pid_gone() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = Z ]; }

# wait_gone PID SECONDS: waits until PID has exited; false if it is still there after SECONDS.
wait_gone() {
  local deadline=$((SECONDS + $2))
  until pid_gone "$1"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# stop_pid NAME [SECONDS]: TERM to the service's process group, KILL after SECONDS (default 30).
stop_pid() {
  local name="$1" grace="${2:-30}" pid
  if ! pid="$(running_pid "$name")"; then
    rm -f "$(pid_file "$name")"
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$grace"; then
    say "$name (pid $pid) did not stop within ${grace}s: sending KILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "$name (pid $pid) survived KILL"
  fi
  rm -f "$(pid_file "$name")"
  say "stopped $name (pid $pid)"
}

# wait_for NAME SECONDS COMMAND...: polls COMMAND until it succeeds. Fails fast, naming the service
# and its log, if the service's process exits meanwhile or the time runs out.
wait_for() {
  local name="$1" timeout="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    running_pid "$name" >/dev/null || die_with_log "$name" "exited during startup"
    [ "$SECONDS" -lt "$deadline" ] || die_with_log "$name" "not healthy after ${timeout}s"
    sleep 0.5
  done
}

# True if something already listens on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Refuses to start a service whose port is taken by a process this stack did not start.
require_free_port() {
  local name="$1" port="$2"
  if port_in_use "$port"; then
    die "$name: port 127.0.0.1:$port is already in use by another process (not one started by scripts/services/up.sh); stop it and run up.sh again"
  fi
}

http_ok() { curl -fsS --max-time 3 -o /dev/null "$1"; }

# N random bytes as hex: letters and digits only, so values are safe in URLs and shell lines.
rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# Writes services.env once, with fresh random credentials; later runs keep it (it is the single
# source of the credentials the running services were set up with).
ensure_env_file() {
  [ -s "$ENV_FILE" ] && return 0
  mkdir -p "$SERVICES_HOME"
  local tmp="$ENV_FILE.tmp.$$"
  (
    umask 077
    cat >"$tmp" <<EOF
# DataFlow Lab native services (scripts/services/up.sh). Generated once with random credentials:
# this file is their single source. Load it with:  source .lab-env/services/services.env
# (every line exports). down.sh --purge deletes it together with the data it protects.
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:19000
export AWS_ENDPOINT_URL=http://127.0.0.1:19000
export AWS_ACCESS_KEY_ID=lab$(rand_hex 8)
export AWS_SECRET_ACCESS_KEY=$(rand_hex 20)
export AWS_REGION=us-east-1
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092
export MLFLOW_TRACKING_URI=http://127.0.0.1:15000
export DATAFLOW_CATALOG_URL=postgresql://dataflow:$(rand_hex 16)@127.0.0.1:15432/ducklake
EOF
  )
  chmod 600 "$tmp"
  mv -f "$tmp" "$ENV_FILE"
  say "wrote new credentials to $ENV_FILE"
}

load_env_file() {
  [ -s "$ENV_FILE" ] || die "missing $ENV_FILE (run scripts/services/up.sh)"
  # shellcheck disable=SC1090
  source "$ENV_FILE"
}

# The PostgreSQL role and password, taken apart from DATAFLOW_CATALOG_URL (their single source).
catalog_user() { local rest="${DATAFLOW_CATALOG_URL#*://}"; rest="${rest%%@*}"; printf '%s' "${rest%%:*}"; }
catalog_password() { local rest="${DATAFLOW_CATALOG_URL#*://}"; rest="${rest%%@*}"; printf '%s' "${rest#*:}"; }

# Serialises concurrent up.sh / down.sh runs (two test files starting the stack at once, say).
# Services are started with fd 9 closed (see start_detached), so the lock ends with the script.
lock_services() {
  mkdir -p "$SERVICES_HOME"
  exec 9>"$SERVICES_HOME/.lock"
  if ! flock -n 9; then
    say "waiting for another up.sh / down.sh to finish (lock: $SERVICES_HOME/.lock)"
    flock -w 1800 9 || die "another up.sh / down.sh held $SERVICES_HOME/.lock for 30 minutes"
  fi
}
