import { Kafka, logLevel, type Consumer, type EachBatchPayload } from "kafkajs";
import { messageOf } from "../errors.js";
import { positionKey, sleep, StreamError, type Position, type StreamMessage, type StreamSource } from "./source.js";

export interface KafkaSourceOptions {
  /** Comma-separated host:port list, as in KAFKA_BOOTSTRAP_SERVERS. */
  readonly brokers: string;
  readonly topics: readonly string[];
  /** The consumer group; it only spreads partitions over sinks, offsets live in the lake. */
  readonly groupId?: string;
  /** Stored in bronze.stream_offsets.source; default "kafka". */
  readonly name?: string;
  /** A killed sink holds its partitions this long before a restarted one gets them; default 10 s. */
  readonly sessionTimeoutMs?: number;
}

/**
 * Kafka through kafkajs with the positions owned by the lake: offsets are never committed to Kafka;
 * on every partition assignment the consumer seeks to bronze.stream_offsets (or the earliest offset).
 */
export class KafkaSource implements StreamSource {
  readonly name: string;
  readonly topics: readonly string[];
  private readonly brokers: string[];
  private readonly kafka: Kafka;
  private consumer: Consumer | undefined;
  private buffer: StreamMessage[] = [];
  private highWater = 1000;
  /** The lake's positions: messages below them are already in bronze. */
  private readonly committedNext = new Map<string, number>();
  private failure: unknown;

  constructor(private readonly options: KafkaSourceOptions) {
    this.name = options.name ?? "kafka";
    this.topics = options.topics;
    this.brokers = options.brokers.split(",").map((b) => b.trim()).filter(Boolean);
    this.kafka = new Kafka({ clientId: "dataflow-lab-sink", brokers: this.brokers, logLevel: logLevel.NOTHING, retry: { retries: 5 } });
  }

  async start(positions: readonly Position[]): Promise<void> {
    for (const p of positions) this.committedNext.set(positionKey(p.topic, p.partition), p.nextOffset);
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId ?? `dataflow-lab-bronze-${[...this.topics].sort().join("+")}`,
      sessionTimeout: this.options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 250,
    });
    this.consumer = consumer;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...this.topics], fromBeginning: true });
    } catch (e) {
      await consumer.disconnect().catch(() => undefined);
      throw this.error(`Could not subscribe to ${this.topics.join(", ")} on Kafka at ${this.brokers.join(",")}: ${messageOf(e)}`, e);
    }
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      // Whatever was buffered may be for partitions we no longer own: drop it, and re-read every
      // assigned partition from the lake's position (or the start, before any commit).
      this.buffer = [];
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions) {
          const next = this.committedNext.get(positionKey(topic, partition));
          consumer.seek({ topic, partition, offset: next === undefined ? "-2" : String(next) });
        }
      }
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.failure = payload.error;
    });
    await consumer.run({ autoCommit: false, eachBatch: (b) => this.take(b) });
  }

  private async take({ batch, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const floor = this.committedNext.get(positionKey(batch.topic, batch.partition)) ?? 0;
    for (const m of batch.messages) {
      if (!isRunning() || isStale()) return;
      const offset = Number(m.offset);
      if (offset < floor) continue;
      this.buffer.push({
        topic: batch.topic, partition: batch.partition, offset, timestamp: Number(m.timestamp),
        key: m.key ? m.key.toString("utf8") : null, value: m.value ? m.value.toString("utf8") : null,
      });
    }
    // Back-pressure: hold the fetch loop (heartbeating) until the sink has drained the buffer.
    while (this.buffer.length >= this.highWater && isRunning() && !isStale()) {
      await heartbeat();
      await sleep(20);
    }
  }

  async poll(max: number, maxWaitMs: number, signal?: AbortSignal): Promise<StreamMessage[]> {
    this.highWater = Math.max(max, 1);
    const deadline = Date.now() + maxWaitMs;
    while (this.buffer.length < max && Date.now() < deadline && !signal?.aborted) {
      if (this.failure) throw this.error(`The Kafka consumer stopped: ${messageOf(this.failure)}`, this.failure);
      await sleep(Math.min(20, deadline - Date.now()), signal);
    }
    return this.buffer.splice(0, max);
  }

  committed(positions: readonly Position[]): void {
    for (const p of positions) this.committedNext.set(positionKey(p.topic, p.partition), p.nextOffset);
  }

  async close(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }

  private error(message: string, cause: unknown): StreamError {
    return new StreamError(message, {
      fix: `Check that Kafka is running (bash scripts/services/status.sh) and that KAFKA_BOOTSTRAP_SERVERS (${this.brokers.join(",")}) points at it, and that the topics exist.`,
      context: { broker: this.brokers.join(","), topic: this.topics.join(",") },
      cause,
    });
  }
}
