#!/usr/bin/env bash
# Starts the broker the way apache/kafka does, for the variables docker/compose.yml sets:
#   KAFKA_<NAME>   server property <name>, lower-cased, "_" -> ".", "__" -> "-", "___" -> "_"
#                  (KAFKA_NODE_ID -> node.id), except the JVM/launcher variables below
#   CLUSTER_ID     formats the KRaft storage on the first start (no meta.properties yet)
#   KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG4J_OPTS, KAFKA_OPTS   the broker JVM's flags
#   KAFKA_LOG4J_ROOT_LOGLEVEL                                 INFO unless set
# Any other command (docker run IMAGE kafka-topics.sh ...) runs as given.
set -euo pipefail
[ "$#" -gt 0 ] && exec "$@"

config=/opt/kafka/config/server.properties
libs='/opt/kafka/libs/*'
log4j=(-Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties
       "-Dkafka.log.level=${KAFKA_LOG4J_ROOT_LOGLEVEL:-INFO}")

die() { echo "kafka: $*" >&2; exit 1; }

# Rewritten on every start, so a changed variable takes effect on the next restart.
{
  echo "# Written by /opt/kafka/bin/entrypoint.sh from the KAFKA_* variables; edits are lost on restart."
  [ -n "${KAFKA_LOG_DIRS:-}${KAFKA_LOG_DIR:-}" ] || echo "log.dirs=/var/lib/kafka/data"
  for var in $(compgen -e); do
    case "$var" in
      KAFKA_VERSION | KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_GC_LOG_OPTS | \
        KAFKA_JMX_OPTS | KAFKA_JMX_PORT | KAFKA_JMX_HOSTNAME | KAFKA_LOG4J_OPTS | KAFKA_DEBUG | \
        KAFKA_LOG4J_ROOT_LOGLEVEL | KAFKA_LOG4J_LOGGERS | KAFKA_TOOLS_LOG4J_LOGLEVEL) continue ;;
      KAFKA_?*) ;;
      *) continue ;;
    esac
    # "___" and "__" are set aside first so the single "_" -> "." leaves them alone.
    name="${var#KAFKA_}" && name="${name,,}" && name="${name//___/:}" && name="${name//__/-}"
    name="${name//_/.}" && name="${name//:/_}"
    printf '%s=%s\n' "$name" "${!var}"
  done
} >"$config"

# KRaft storage is formatted once: meta.properties in each log dir marks it done, and a
# restart on the same volume keeps the cluster, its topics and their data.
mapfile -t dirs < <(sed -n 's/^log\.dirs\{0,1\}=//p; s/^metadata\.log\.dir=//p' "$config" | tr ',' '\n' | sed '/^$/d')
unformatted=()
for dir in "${dirs[@]}"; do
  [ -f "$dir/meta.properties" ] || unformatted+=("$dir")
done
if [ "${#unformatted[@]}" -gt 0 ]; then
  [ -n "${CLUSTER_ID:-}" ] || die "CLUSTER_ID is empty: the KRaft storage in ${unformatted[*]} is not formatted yet, and formatting it needs a cluster id (e.g. one from kafka-storage.sh random-uuid)"
  echo "kafka: formatting the KRaft storage in ${unformatted[*]} (cluster id $CLUSTER_ID)"
  # "--cluster-id=<id>": an id may start with "-"; --ignore-formatted: a second log dir that is
  # already formatted is left as it is.
  java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "${log4j[@]}" -cp "$libs" \
    kafka.tools.StorageTool format --cluster-id="$CLUSTER_ID" --config "$config" --ignore-formatted
fi

# exec: the JVM becomes PID 1, so docker stop's SIGTERM runs Kafka's controlled shutdown.
# shellcheck disable=SC2086  # each *_OPTS is a list of flags
exec java ${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G} \
  ${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15} \
  -Djava.awt.headless=true "${log4j[@]}" ${KAFKA_LOG4J_OPTS:-} ${KAFKA_OPTS:-} -cp "$libs" kafka.Kafka "$config"
