#!/usr/bin/env bash
# Kafka's command-line tools at apache/kafka's paths (/opt/kafka/bin/kafka-topics.sh, ...): each
# name is a symlink to this script, which runs that tool's main class from the broker's jars. A
# client JVM that exits in a second or two: C1 only, a small heap, warnings only (the healthcheck
# runs one every few seconds, next to the broker).
set -euo pipefail
case "$(basename "$0")" in
  kafka-topics.sh) main=org.apache.kafka.tools.TopicCommand ;;
  kafka-broker-api-versions.sh) main=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
  kafka-console-producer.sh) main=org.apache.kafka.tools.ConsoleProducer ;;
  kafka-console-consumer.sh) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  kafka-consumer-groups.sh) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  kafka-metadata-quorum.sh) main=org.apache.kafka.tools.MetadataQuorumCommand ;;
  kafka-storage.sh) main=kafka.tools.StorageTool ;;
  *) echo "kafka-tool.sh: no Kafka tool is named $(basename "$0")" >&2; exit 2 ;;
esac
exec java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -Dkafka.log.level=WARN \
  -cp '/opt/kafka/libs/*' "$main" "$@"
