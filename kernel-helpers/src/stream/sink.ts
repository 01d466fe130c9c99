import { ident, isPlainName, literal } from "../catalog/sql.js";
import { userNamespace } from "../config/settings.js";
import { CatalogError, ConflictError, messageOf } from "../errors.js";
import type { Lab } from "../lab.js";
import { FolderSource } from "./folder-source.js";
import { KafkaSource } from "./kafka-source.js";
import { columnDefinitions, errorExpression, fieldExtracts, parseSchema, type TopicSchema } from "./schema.js";
import { positionKey, StreamError, type Position, type StreamMessage, type StreamSource } from "./source.js";

export const STREAM_OFFSETS = "bronze.stream_offsets";
export const DEAD_LETTER = "bronze.dead_letter";
const RESERVED = new Set(["stream_offsets", "dead_letter", "ingestion_log", "rejected_records", "erasure_log", "raw"]);
const STAGE = "temp.main.stream_batch";

export interface StreamSinkOptions {
  /** Topics to consume; each lands in `bronze.<topic with - replaced by _>`. */
  readonly topics: readonly string[];
  /** Per-topic message schema; a topic without one only has to be a JSON object. */
  readonly schemas?: Readonly<Record<string, TopicSchema>>;
  /** Fill `_key` from this payload field when the message has no key (the landing folder never has one). */
  readonly keyField?: string;
  /** Defaults to the lab's stream setting: Kafka when KAFKA_BOOTSTRAP_SERVERS is set, else the landing folder. */
  readonly source?: StreamSource;
  /** Most messages per micro-batch (one DuckLake commit each); default 1000. */
  readonly batchSize?: number;
  /** How long a micro-batch waits to fill up; default 1000 ms. */
  readonly maxWaitMs?: number;
  /** Stop after this many non-empty batches. */
  readonly maxBatches?: number;
  /** Stop once no message has arrived for this long. */
  readonly idleStopMs?: number;
  readonly signal?: AbortSignal;
  /** Called after each committed batch, e.g. to update a progress bar or refresh live tables; awaited before the next poll. */
  readonly onBatch?: (batch: BatchReport) => void | Promise<void>;
}

export interface BatchReport {
  readonly batch: number;
  readonly rows: number;
  readonly deadLetters: number;
  /** Messages the lake already had (redelivered after a restart) and skipped. */
  readonly duplicates: number;
  readonly snapshotId: number;
  readonly seconds: number;
}

export interface StreamSinkReport {
  readonly batches: number;
  readonly rows: number;
  readonly deadLetters: number;
  readonly duplicates: number;
  readonly stoppedBecause: "maxBatches" | "idle" | "aborted";
  readonly seconds: number;
}

/** The bronze table a topic lands in. */
export function bronzeTableFor(topic: string): string {
  const name = topic.replaceAll("-", "_");
  if (!isPlainName(name) || RESERVED.has(name.toLowerCase())) {
    throw new StreamError(`Topic "${topic}" cannot be mapped to a bronze table (bronze.${name}).`, {
      fix: `Use topic names of letters, digits, - and _ (${[...RESERVED].join(", ")} are reserved).`,
      context: { topic },
    });
  }
  return `bronze.${ident(name)}`;
}

/**
 * Consume the stream into bronze in micro-batches, exactly once: each batch's rows, dead letters
 * and the new positions commit in ONE DuckLake transaction, and a (re)start resumes from the
 * positions in bronze.stream_offsets. A crash at any point leaves either the whole batch or none
 * of it; messages the lake already holds are skipped, so redelivery cannot duplicate.
 */
export async function runStreamSink(lab: Lab, options: StreamSinkOptions): Promise<StreamSinkReport> {
  const started = performance.now();
  const topics = [...new Set(options.topics)];
  if (topics.length === 0) throw new StreamError("runStreamSink needs at least one topic.", { fix: 'Pass topics: ["transactions", …].' });
  const specs = topics.map((topic) => ({ topic, table: bronzeTableFor(topic), fields: parseSchema(topic, options.schemas?.[topic]) }));
  const source = options.source ?? streamSourceFor(lab, topics);
  const batchSize = Math.max(1, options.batchSize ?? 1000);
  const maxWaitMs = options.maxWaitMs ?? 1000;

  await ensureTables(lab, specs);
  const positions = await storedPositions(lab, source.name);
  const totals = { batches: 0, rows: 0, deadLetters: 0, duplicates: 0 };
  let stoppedBecause: StreamSinkReport["stoppedBecause"] = "aborted";
  try {
    await source.start(positions);
    let lastMessageAt = Date.now();
    for (;;) {
      if (options.signal?.aborted) break;
      if (options.maxBatches !== undefined && totals.batches >= options.maxBatches) {
        stoppedBecause = "maxBatches";
        break;
      }
      const messages = await source.poll(batchSize, maxWaitMs, options.signal);
      if (messages.length === 0) {
        if (options.idleStopMs !== undefined && Date.now() - lastMessageAt >= options.idleStopMs) {
          stoppedBecause = "idle";
          break;
        }
        continue;
      }
      lastMessageAt = Date.now();
      const t0 = performance.now();
      // A connection of its own per batch: cells, the live refresh or the API running meanwhile never join its transaction.
      const committed = await lab.catalog.session(() => commitBatch(lab, source, specs, messages, options.keyField));
      source.committed(committed.positions);
      totals.batches++;
      totals.rows += committed.rows;
      totals.deadLetters += committed.deadLetters;
      totals.duplicates += committed.duplicates;
      await options.onBatch?.({
        batch: totals.batches, rows: committed.rows, deadLetters: committed.deadLetters, duplicates: committed.duplicates,
        snapshotId: await lab.catalog.currentSnapshot(), seconds: (performance.now() - t0) / 1000,
      });
    }
  } finally {
    await source.close();
  }
  return { ...totals, stoppedBecause, seconds: (performance.now() - started) / 1000 };
}

/** A one-line account of a sink run, for notebooks and logs. */
export function describeStreamSink(r: StreamSinkReport): string {
  const dl = r.deadLetters ? `, ${r.deadLetters} dead letter(s) → ${DEAD_LETTER}` : "";
  const dup = r.duplicates ? `, ${r.duplicates} redelivered message(s) skipped` : "";
  return `stream → bronze: +${r.rows.toLocaleString("en-US")} rows in ${r.batches} batch(es), ${r.seconds.toFixed(2)}s${dl}${dup} (stopped: ${r.stoppedBecause})`;
}

/** The lab's stream: Kafka when KAFKA_BOOTSTRAP_SERVERS is set, else the landing folder. */
export function streamSourceFor(lab: Lab, topics: readonly string[]): StreamSource {
  const s = lab.settings.stream;
  return s.kind === "kafka"
    ? new KafkaSource({ brokers: s.bootstrapServers, topics, groupId: `${userNamespace(lab.settings.user).consumerGroupPrefix}-bronze-${[...topics].sort().join("+")}` })
    : new FolderSource({ path: s.path, topics });
}

type Spec = { topic: string; table: string; fields: ReturnType<typeof parseSchema> };

async function ensureTables(lab: Lab, specs: Spec[]): Promise<void> {
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${STREAM_OFFSETS} (
    source VARCHAR, topic VARCHAR, "partition" INTEGER, next_offset BIGINT, anchor VARCHAR, updated_at TIMESTAMPTZ)`);
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${DEAD_LETTER} (
    topic VARCHAR, "partition" INTEGER, "offset" BIGINT, "key" VARCHAR, raw VARCHAR, error VARCHAR, received_at TIMESTAMPTZ)`);
  for (const s of specs) {
    const cols = [...columnDefinitions(s.fields), "_value JSON", "_topic VARCHAR", "_partition INTEGER", "_offset BIGINT",
      "_timestamp TIMESTAMPTZ", "_key VARCHAR", "_ingested_at TIMESTAMPTZ"];
    await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${s.table} (${cols.join(", ")})`);
  }
}

async function storedPositions(lab: Lab, source: string): Promise<Position[]> {
  const r = await lab.sql(`SELECT topic, "partition", next_offset, anchor FROM ${STREAM_OFFSETS} WHERE source = ?`, [source]);
  return r.rows().map((row) => ({
    topic: String(row["topic"]), partition: Number(row["partition"]), nextOffset: Number(row["next_offset"]),
    anchor: (row["anchor"] as string | null) ?? null,
  }));
}

/** The batch as column arrays, bound as one JSON text per column and unnested by DuckDB. */
function columns(messages: StreamMessage[]): Record<string, string> {
  return {
    topic: JSON.stringify(messages.map((m) => m.topic)),
    partition: JSON.stringify(messages.map((m) => m.partition)),
    offset: JSON.stringify(messages.map((m) => m.offset)),
    ts: JSON.stringify(messages.map((m) => m.timestamp)),
    key: JSON.stringify(messages.map((m) => m.key)),
    raw: JSON.stringify(messages.map((m) => m.value)),
  };
}

async function commitBatch(lab: Lab, source: StreamSource, specs: Spec[], messages: StreamMessage[], keyField: string | undefined) {
  const last = new Map<string, StreamMessage>();
  for (const m of messages) {
    const k = positionKey(m.topic, m.partition);
    if ((last.get(k)?.offset ?? -1) < m.offset) last.set(k, m);
  }
  const positions: Position[] = [...last.values()].map((m) => ({
    topic: m.topic, partition: m.partition, nextOffset: m.offset + 1, anchor: source.anchorAfter?.(m) ?? null,
  }));
  const key = keyField
    ? `coalesce(key, CASE WHEN json_valid(raw) AND json_type(raw) = 'OBJECT' THEN json_extract_string(raw, ${literal(`$.${keyField}`)}) END)`
    : "key";
  // Staged in a temp table before the transaction: DuckDB commits one writable database per transaction.
  await lab.catalog.run(`CREATE OR REPLACE TEMP TABLE stream_batch AS
    SELECT topic, "partition", "offset", ts, ${key} AS "key", raw FROM (SELECT
      unnest(from_json($topic::JSON, '["VARCHAR"]')) AS topic, unnest(from_json($partition::JSON, '["INTEGER"]')) AS "partition",
      unnest(from_json($offset::JSON, '["BIGINT"]')) AS "offset", unnest(from_json($ts::JSON, '["DOUBLE"]')) AS ts,
      unnest(from_json($key::JSON, '["VARCHAR"]')) AS "key", unnest(from_json($raw::JSON, '["VARCHAR"]')) AS raw)`, columns(messages));
  const pos = {
    source: source.name,
    ptopic: JSON.stringify(positions.map((p) => p.topic)),
    ppartition: JSON.stringify(positions.map((p) => p.partition)),
    pnext: JSON.stringify(positions.map((p) => p.nextOffset)),
    panchor: JSON.stringify(positions.map((p) => p.anchor ?? null)),
  };
  const newPositions = `(SELECT unnest(from_json($ptopic::JSON, '["VARCHAR"]')) AS topic, unnest(from_json($ppartition::JSON, '["INTEGER"]')) AS "partition",
      unnest(from_json($pnext::JSON, '["BIGINT"]')) AS next_offset, unnest(from_json($panchor::JSON, '["VARCHAR"]')) AS anchor)`;
  try {
    return await lab.catalog.transaction(async () => {
      // Only messages past the lake's position count: redelivered ones are already in bronze.
      const fresh = `SELECT s.* FROM ${STAGE} s LEFT JOIN ${STREAM_OFFSETS} o
        ON o.source = ${literal(source.name)} AND o.topic = s.topic AND o."partition" = s."partition"
        WHERE s."offset" >= coalesce(o.next_offset, 0)`;
      const total = (await lab.sql(`SELECT count(*) FROM (${fresh})`)).number();
      let rows = 0;
      let deadLetters = 0;
      for (const spec of specs) {
        const checked = `SELECT *, ${errorExpression(spec.fields, "raw")} AS error FROM (${fresh}) WHERE topic = ${literal(spec.topic)}`;
        const extracts = fieldExtracts(spec.fields, "raw");
        rows += await lab.catalog.run(`INSERT INTO ${spec.table} SELECT ${extracts.length ? extracts.join(", ") + "," : ""}
          raw::JSON, topic, "partition", "offset", to_timestamp(ts / 1000.0), "key", now() FROM (${checked}) WHERE error IS NULL`);
        deadLetters += await lab.catalog.run(`INSERT INTO ${DEAD_LETTER}
          SELECT topic, "partition", "offset", "key", raw, error, now() FROM (${checked}) WHERE error IS NOT NULL`);
      }
      // Never move a position backwards (another sink may have gone further); that row update is also
      // what makes two sinks committing the same partition at once conflict instead of both succeeding.
      await lab.catalog.run(`UPDATE ${STREAM_OFFSETS} o SET
          next_offset = greatest(o.next_offset, n.next_offset),
          anchor = CASE WHEN n.next_offset > o.next_offset THEN n.anchor ELSE o.anchor END, updated_at = now()
        FROM ${newPositions} n WHERE o.source = $source AND o.topic = n.topic AND o."partition" = n."partition"`, pos);
      await lab.catalog.run(`INSERT INTO ${STREAM_OFFSETS} SELECT $source, n.topic, n."partition", n.next_offset, n.anchor, now()
        FROM ${newPositions} n WHERE NOT EXISTS (SELECT 1 FROM ${STREAM_OFFSETS} o
          WHERE o.source = $source AND o.topic = n.topic AND o."partition" = n."partition")`, pos);
      return { rows, deadLetters, duplicates: messages.length - total, positions };
    });
  } catch (e) {
    if (!(e instanceof CatalogError || e instanceof ConflictError)) throw e;
    throw new StreamError(`Could not commit a batch of ${messages.length} message(s) from ${describePositions(positions)} to bronze: ${messageOf(e)}`, {
      fix: /conflict/i.test(messageOf(e))
        ? "Another sink committed the same partitions at the same time; run one sink per source and topic, then restart this one (nothing was written)."
        : "Nothing of this batch was written; fix the cause above and run the sink again: it resumes where the lake says.",
      context: { source: source.name, topics: [...new Set(positions.map((p) => p.topic))].join(", ") },
      cause: e,
    });
  } finally {
    await lab.catalog.run(`DROP TABLE IF EXISTS ${STAGE}`).catch(() => undefined);
  }
}

function describePositions(positions: Position[]): string {
  return positions.map((p) => `${p.topic}[${p.partition}]`).join(", ");
}
