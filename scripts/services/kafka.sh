# shellcheck shell=bash
# Kafka in KRaft mode (one process is both broker and controller; no ZooKeeper), from jars Maven
# resolves on Maven Central: clients on 127.0.0.1:19092, the controller on 127.0.0.1:19093, topics
# transactions and user-interactions. Sourced by up.sh / down.sh / status.sh after lib.sh.

KAFKA_HOME="$SERVICES_HOME/kafka"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_PORT=19092
KAFKA_CONTROLLER_PORT=19093
KAFKA_TOPICS=(transactions user-interactions)
KAFKA_PARTITIONS=3
# A lab broker: a modest, fixed heap.
KAFKA_HEAP_OPTS="-Xms256m -Xmx512m"

# What the libs folder was resolved from; a change to any of it resolves again.
kafka_libs_key() { printf '%s %s %s' "$KAFKA_VERSION" "$KAFKA_LOG4J_VERSION" "$(sha256sum <"$SERVICES_SCRIPTS/kafka/pom.xml" | cut -c1-16)"; }

kafka_install() {
  [ "$(cat "$KAFKA_LIBS/.resolved" 2>/dev/null)" = "$(kafka_libs_key)" ] && return 0
  command -v java >/dev/null 2>&1 || die "kafka: needs Java 17+ (apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null 2>&1 || die "kafka: needs Maven to resolve the Kafka jars (apt-get install maven)"
  local java_major
  java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [ "${java_major%%.*}" -ge 17 ] 2>/dev/null || die "kafka: Kafka $KAFKA_VERSION needs Java 17+, found ${java_major:-unknown} ($(command -v java))"
  say "kafka: resolving Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
  local started=$SECONDS
  rm -rf "$KAFKA_LIBS.tmp"
  mkdir -p "$LOG_DIR"
  # Maven's own cache (~/.m2) is reused; the libs folder gets a plain copy of the runtime jars.
  if ! mvn -B -q -f "$SERVICES_SCRIPTS/kafka/pom.xml" \
      -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$KAFKA_LOG4J_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS.tmp" \
      >"$LOG_DIR/kafka-resolve.log" 2>&1; then
    tail -n 25 "$LOG_DIR/kafka-resolve.log" | sed 's/^/  | /' >&2
    die "kafka: mvn dependency:copy-dependencies failed (log: $LOG_DIR/kafka-resolve.log)"
  fi
  kafka_libs_key >"$KAFKA_LIBS.tmp/.resolved"
  rm -rf "$KAFKA_LIBS"
  mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
  say "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - started))s"
}

# kafka_java MAIN_CLASS ARGS...: runs one of Kafka's command-line tools, quietly.
kafka_java() {
  java -Xmx256m -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$SERVICES_SCRIPTS/kafka/log4j2.properties" -Dkafka.log.level=WARN \
    -cp "$KAFKA_LIBS/*" "$@"
}

kafka_probe() { node "$SERVICES_SCRIPTS/kafka-probe.mjs" "127.0.0.1:$KAFKA_PORT"; }
kafka_healthy() { kafka_probe >/dev/null 2>&1; }

kafka_start() {
  if running_pid kafka >/dev/null; then
    wait_for kafka 90 kafka_healthy
  else
    require_free_port kafka "$KAFKA_PORT"
    require_free_port kafka "$KAFKA_CONTROLLER_PORT"
    mkdir -p "$KAFKA_HOME/data"
    sed "s|@KAFKA_HOME@|$KAFKA_HOME|g" "$SERVICES_SCRIPTS/kafka/server.properties.in" >"$KAFKA_HOME/server.properties"
    # KRaft storage is formatted once, with a cluster id of our own (a random UUID in Kafka's
    # base64url form); meta.properties in the data folder marks it done.
    if [ ! -f "$KAFKA_HOME/data/meta.properties" ]; then
      local cluster_id
      cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
      say "kafka: formatting KRaft storage in $KAFKA_HOME/data (cluster id $cluster_id)"
      # "--cluster-id=<id>": an id starting with "-" (1 in 64) would otherwise be read as an option.
      kafka_java kafka.tools.StorageTool format --cluster-id="$cluster_id" \
        --config "$KAFKA_HOME/server.properties" >>"$LOG_DIR/kafka.log" 2>&1 ||
        die_with_log kafka "kafka.tools.StorageTool format failed"
    fi
    say "kafka: starting on 127.0.0.1:$KAFKA_PORT (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)"
    # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a list of flags
    start_detached kafka java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -Djava.awt.headless=true -Dlog4j2.configurationFile="$SERVICES_SCRIPTS/kafka/log4j2.properties" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_HOME/server.properties"
    wait_for kafka 90 kafka_healthy
  fi
  kafka_setup
}

# Creates the topics the probe does not list (so a second run starts no JVM at all).
kafka_setup() {
  local meta topic
  meta="$(kafka_probe)" || die_with_log kafka "broker stopped answering metadata requests"
  for topic in "${KAFKA_TOPICS[@]}"; do
    case "$meta" in *"\"$topic\":"*) continue ;; esac
    kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
      --create --if-not-exists --topic "$topic" --partitions "$KAFKA_PARTITIONS" --replication-factor 1 \
      >>"$LOG_DIR/kafka.log" 2>&1 || die_with_log kafka "could not create topic $topic"
    say "kafka: created topic $topic ($KAFKA_PARTITIONS partitions)"
  done
}

kafka_stop() { stop_pid kafka 45; }

kafka_purge() { rm -rf "$KAFKA_HOME/data" "$KAFKA_HOME/server.properties"; }

kafka_describe() { printf '127.0.0.1:%s (KRaft; controller 127.0.0.1:%s)' "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; }
