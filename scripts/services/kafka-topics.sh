#!/usr/bin/env bash
# Kafka's kafka-topics tool for the native broker (the jars have no bin/ scripts), pointed at it.
#
#   bash scripts/services/kafka-topics.sh --list
#   bash scripts/services/kafka-topics.sh --describe --topic transactions
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$SERVICES_SCRIPTS/kafka.sh"
[ -f "$KAFKA_LIBS/.resolved" ] || die "kafka-topics: no Kafka jars in $KAFKA_LIBS (run scripts/services/up.sh)"
kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" "$@"
