import { mkdir, open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from "kafkajs";
import { messageOf, PublishRefusedError, PublishUnavailableError } from "../errors.js";
import type { LabSettings } from "../config/settings.js";
import { landingFiles, landingOffset, newLandingFile, topicDir } from "../stream/landing.js";

/** Where an accepted event was stored: what the API's 202 reports, and what bronze `_offset` will say. */
export interface Ack {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface OutgoingEvent {
  readonly key: string;
  readonly value: string;
}

/**
 * Stores events durably before the API answers. `publish` resolves only once every event is
 * acknowledged (Kafka: all in-sync replicas; folder: written and fsynced), else it throws
 * PublishUnavailableError and the API answers 503.
 */
export interface EventPublisher {
  /** e.g. "Kafka at 127.0.0.1:19092" — for /ready and logs. */
  readonly description: string;
  ready(): Promise<{ ready: boolean; detail: string }>;
  publish(topic: string, events: readonly OutgoingEvent[]): Promise<Ack[]>;
  close(): Promise<void>;
}

export { PublishRefusedError, PublishUnavailableError };

export function defaultPublisher(settings: LabSettings, topics: readonly string[]): EventPublisher {
  const s = settings.stream;
  return s.kind === "kafka" ? new KafkaPublisher({ brokers: s.bootstrapServers, topics }) : new FolderPublisher({ path: s.path });
}

export interface KafkaPublisherOptions {
  readonly brokers: string;
  /** Created with `partitions` partitions when missing. */
  readonly topics: readonly string[];
  readonly partitions?: number;
  /** How long one publish may wait for the broker before the API gives up with 503; default 5 s. */
  readonly ackTimeoutMs?: number;
}

/**
 * kafkajs with the idempotent producer (acks from all in-sync replicas; a retried send cannot
 * duplicate). Partitions are chosen here with Kafka's default key hashing so the API can report
 * each event's exact offset: the broker answers with one base offset per partition.
 */
export class KafkaPublisher implements EventPublisher {
  readonly description: string;
  private readonly kafka: Kafka;
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private readonly partitionCounts = new Map<string, number>();
  private readonly partitioner = Partitioners.DefaultPartitioner();

  constructor(private readonly options: KafkaPublisherOptions) {
    const brokers = options.brokers.split(",").map((b) => b.trim()).filter(Boolean);
    this.description = `Kafka at ${brokers.join(",")}`;
    // Short, bounded retries: a client waiting on the API is better served by a quick 503 it can retry.
    this.kafka = new Kafka({
      clientId: "dataflow-lab-api", brokers, logLevel: logLevel.NOTHING,
      connectionTimeout: 2000, requestTimeout: options.ackTimeoutMs ?? 5000,
      retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 },
    });
  }

  async ready(): Promise<{ ready: boolean; detail: string }> {
    try {
      await this.withAdmin((admin) => admin.describeCluster());
      return { ready: true, detail: `${this.description} reachable` };
    } catch (e) {
      return { ready: false, detail: `${this.description} unreachable: ${messageOf(e)}` };
    }
  }

  async publish(topic: string, events: readonly OutgoingEvent[]): Promise<Ack[]> {
    try {
      const producer = await this.connect();
      const partitions = await this.partitionsOf(topic);
      const partitionMetadata = Array.from({ length: partitions }, (_, id) => ({ partitionId: id, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
      const byPartition = new Map<number, number[]>();
      const partitionOf = events.map((e, i) => {
        const p = this.partitioner({ topic, partitionMetadata, message: { key: e.key, value: e.value } });
        byPartition.set(p, [...(byPartition.get(p) ?? []), i]);
        return p;
      });
      const result = await producer.send({
        topic, acks: -1, timeout: this.options.ackTimeoutMs ?? 5000,
        messages: events.map((e, i) => ({ key: e.key, value: e.value, partition: partitionOf[i]! })),
      });
      const base = new Map(result.map((r) => [r.partition, Number(r.baseOffset)]));
      const acks: Ack[] = new Array(events.length);
      for (const [partition, indexes] of byPartition) {
        const first = base.get(partition);
        if (first === undefined) throw new Error(`the broker did not acknowledge partition ${partition}`);
        indexes.forEach((index, n) => (acks[index] = { topic, partition, offset: first + n }));
      }
      return acks;
    } catch (e) {
      // A failed producer may hold a broken connection; the next request reconnects.
      await this.reset();
      const refusal = kafkaRefusal(e);
      if (refusal) {
        throw new PublishRefusedError(`${this.description} refused ${events.length} event(s) for topic "${topic}": ${refusal.type}`, {
          fix: refusal.type === "MESSAGE_TOO_LARGE" || refusal.type === "RECORD_LIST_TOO_LARGE"
            ? "Send fewer events per request; retrying the same request fails the same way."
            : "Retrying will not help: the broker refuses this topic or client (see the error type); ask the trainer to check the topic and its permissions.",
          context: { topic, brokers: this.options.brokers, type: refusal.type, status: refusal.status }, cause: e,
        });
      }
      throw new PublishUnavailableError(`${this.description} did not acknowledge ${events.length} event(s) for topic "${topic}": ${messageOf(e)}`, {
        fix: "Nothing was reported as stored; retry the request when the broker is back (GET /ready says when).",
        context: { topic, brokers: this.options.brokers }, cause: e,
      });
    }
  }

  async close(): Promise<void> {
    await this.reset();
  }

  private async connect(): Promise<Producer> {
    if (this.producer) return this.producer;
    this.connecting ??= (async () => {
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      try {
        await producer.connect();
        await this.ensureTopics();
      } catch (e) {
        await producer.disconnect().catch(() => undefined);
        throw e;
      }
      this.producer = producer;
      return producer;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async reset(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    await p?.disconnect().catch(() => undefined);
  }

  private async ensureTopics(): Promise<void> {
    const wanted = this.options.topics.filter((t) => !this.partitionCounts.has(t));
    if (wanted.length === 0) return;
    await this.withAdmin(async (admin) => {
      const existing = new Set(await admin.listTopics());
      const missing = wanted.filter((t) => !existing.has(t));
      if (missing.length) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({ topic, numPartitions: this.options.partitions ?? 3, replicationFactor: 1 })),
        }).catch((e: unknown) => {
          // Two APIs starting together may both try; the loser sees TOPIC_ALREADY_EXISTS.
          if (!/already exists/i.test(messageOf(e))) throw e;
        });
      }
      const meta = await admin.fetchTopicMetadata({ topics: wanted });
      for (const t of meta.topics) this.partitionCounts.set(t.name, t.partitions.length);
    });
  }

  private async partitionsOf(topic: string): Promise<number> {
    if (!this.partitionCounts.has(topic)) {
      if (!this.options.topics.includes(topic)) throw new Error(`topic "${topic}" is not one this API publishes to`);
      await this.ensureTopics();
    }
    return this.partitionCounts.get(topic)!;
  }

  private async withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

// Kafka error codes a retry cannot cure, and the HTTP status the API answers them with.
const REFUSED: Record<string, number> = {
  MESSAGE_TOO_LARGE: 413, RECORD_LIST_TOO_LARGE: 413, INVALID_TOPIC_EXCEPTION: 502, TOPIC_AUTHORIZATION_FAILED: 502,
  CLUSTER_AUTHORIZATION_FAILED: 502, INVALID_RECORD: 502, INVALID_REQUIRED_ACKS: 502, UNSUPPORTED_VERSION: 502,
};

/** The broker's refusal in a kafkajs error (or the errors it wraps) that retrying cannot fix. */
function kafkaRefusal(e: unknown): { type: string; status: number } | undefined {
  for (let cur = e as { type?: unknown; cause?: unknown; originalError?: unknown } | undefined, n = 0; cur && n < 5; n++) {
    if (typeof cur.type === "string" && cur.type in REFUSED) return { type: cur.type, status: REFUSED[cur.type]! };
    cur = (cur.originalError ?? cur.cause) as typeof cur;
  }
  return undefined;
}

export interface FolderPublisherOptions {
  /** The landing folder FolderSource reads: `<path>/<topic>/*.jsonl`. */
  readonly path: string;
}

/**
 * The embedded stand-in for Kafka: appends each topic's events to one JSON-lines file of this
 * publisher, named to sort after every existing file (FolderSource consumes files in name order),
 * fsynced before the API answers. Offsets are FolderSource's: file index × 1e9 + line.
 */
export class FolderPublisher implements EventPublisher {
  readonly description: string;
  private readonly files = new Map<string, Promise<{ handle: FileHandle; fileIndex: number; lines: number }>>();
  // Appends are serialised so concurrent requests never interleave lines or offsets.
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: FolderPublisherOptions) {
    this.description = `landing folder ${options.path}`;
  }

  async ready(): Promise<{ ready: boolean; detail: string }> {
    try {
      await mkdir(this.options.path, { recursive: true });
      const probe = await open(join(this.options.path, ".ready-probe"), "w");
      await probe.close();
      return { ready: true, detail: `${this.description} writable` };
    } catch (e) {
      return { ready: false, detail: `${this.description} not writable: ${messageOf(e)}` };
    }
  }

  publish(topic: string, events: readonly OutgoingEvent[]): Promise<Ack[]> {
    const run = this.tail.then(() => this.append(topic, events));
    this.tail = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.tail;
    for (const f of this.files.values()) await (await f).handle.close().catch(() => undefined);
    this.files.clear();
  }

  private async append(topic: string, events: readonly OutgoingEvent[]): Promise<Ack[]> {
    try {
      const file = await this.fileFor(topic);
      const first = file.lines;
      await file.handle.appendFile(events.map((e) => e.value + "\n").join(""));
      await file.handle.datasync();
      file.lines += events.length;
      return events.map((_, i) => ({ topic, partition: 0, offset: landingOffset(file.fileIndex, first + i) }));
    } catch (e) {
      // Start a new file next time: this one may end in a partial line, which the sink dead-letters.
      this.files.delete(topic);
      const code = (e as { code?: string }).code;
      if (code === "EACCES" || code === "EPERM" || code === "EROFS" || code === "ENOTDIR" || code === "EISDIR") {
        throw new PublishRefusedError(`The ${this.description} cannot be written (topic "${topic}", ${code}): ${messageOf(e)}`, {
          fix: "Retrying will not help: make the landing folder writable by the API (or point DATAFLOW_LAB_HOME elsewhere); nothing was stored.",
          context: { topic, folder: join(this.options.path, topic), status: 502 }, cause: e,
        });
      }
      throw new PublishUnavailableError(`Could not append ${events.length} event(s) to the ${this.description} (topic "${topic}"): ${messageOf(e)}`, {
        fix: "Check that the lab folder exists and has free space; nothing was reported as stored.",
        context: { topic, folder: join(this.options.path, topic) }, cause: e,
      });
    }
  }

  private fileFor(topic: string): Promise<{ handle: FileHandle; fileIndex: number; lines: number }> {
    let f = this.files.get(topic);
    if (!f) {
      f = (async () => {
        const dir = topicDir(this.options.path, topic);
        await mkdir(dir, { recursive: true });
        const name = newLandingFile("api");
        const handle = await open(join(dir, name), "a");
        const fileIndex = landingFiles(this.options.path, topic).indexOf(name);
        return { handle, fileIndex, lines: 0 };
      })();
      f.catch(() => this.files.delete(topic));
      this.files.set(topic, f);
    }
    return f;
  }
}
