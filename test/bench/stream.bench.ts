/**
 * Benchmark: the streaming path. Prints a table and writes JSON:
 *  - API → store: sustained events/s through the ingestion API (202s) at several events-per-POST,
 *    with the POST round-trip p50/p95;
 *  - store → bronze: rows/s of runStreamSink draining a backlog, at several sink batch sizes;
 *  - accept → queryable: p50/p95 from the API's 202 to the DuckLake commit that makes the event
 *    visible in bronze, with producer and sink running together at a paced rate;
 *  - the broker's ceiling: the same-size records through Kafka's own ProducerPerformance tool
 *    (acks=all, idempotent, like the API), on the native stack's jars.
 * The store follows the environment like the notebooks: Kafka when KAFKA_BOOTSTRAP_SERVERS is set
 * (then a fresh catalog database and topics of its own, deleted afterwards), else the landing folder.
 *
 *   npm run benchmark:stream
 *   npm run benchmark:stream -- --events 50000 --post-sizes 1,100,1000 --sink-sizes 500,5000 --out out/bench/stream.json
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import {
  FolderSource, KafkaSource, marketplaceEvents, MARKETPLACE_SCHEMAS, openLab, runStreamSink, startApi, TOPICS, type Lab, type StreamSource,
} from "../../kernel-helpers/src/index.js";
import { freshCatalogDatabase } from "../integration/services.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "20000" },
    "single-events": { type: "string", default: "2000" },
    "post-sizes": { type: "string", default: "1,100,1000" },
    "sink-sizes": { type: "string", default: "500,5000" },
    concurrency: { type: "string", default: "4" },
    "latency-rate": { type: "string", default: "500" },
    "latency-events": { type: "string", default: "3000" },
    "perf-records": { type: "string", default: "200000" },
    out: { type: "string", default: "out/bench/stream.json" },
    help: { type: "boolean", default: false },
  },
});

const USAGE = "usage: npm run benchmark:stream -- [--events N] [--single-events N] [--post-sizes 1,100,1000] [--sink-sizes 500,5000] [--concurrency C] [--latency-rate R] [--latency-events N] [--perf-records N] [--out file.json]";

interface Settings {
  events: number; singleEvents: number; postSizes: number[]; sinkSizes: number[]; concurrency: number;
  latencyRate: number; latencyEvents: number; perfRecords: number; out: string;
}

function settingsFromArgs(): Settings {
  const int = (name: keyof typeof args, min: number): number => {
    const n = Number(args[name]);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${String(args[name])}"`);
    return n;
  };
  const list = (name: "post-sizes" | "sink-sizes"): number[] => {
    const xs = args[name]!.split(",").map(Number);
    if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`--${name} must be a comma-separated list of positive integers, got "${args[name]}"`);
    return xs;
  };
  return {
    events: int("events", 10), singleEvents: int("single-events", 1), postSizes: list("post-sizes"), sinkSizes: list("sink-sizes"),
    concurrency: int("concurrency", 1), latencyRate: int("latency-rate", 1), latencyEvents: int("latency-events", 1),
    perfRecords: int("perf-records", 0), out: resolve(args.out!),
  };
}

const log = (msg: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

if (args.help) console.log(USAGE);
else await benchmark(settingsFromArgs());

async function benchmark(s: Settings): Promise<void> {
  const brokers = process.env["KAFKA_BOOTSTRAP_SERVERS"];
  const mode = brokers ? "kafka" : "landing-folder";
  const runId = `bench-${randomUUID().slice(0, 8)}`;
  const work = await mkdtemp(join(tmpdir(), "stream-bench-"));
  const cleanups: (() => Promise<void> | void)[] = [() => rm(work, { recursive: true, force: true })];
  const topicsMade: string[] = [];
  const txSize = JSON.stringify(transactions(runId, 1)[0]).length;

  // A lab of its own: a fresh catalog database on the services, or a fresh embedded folder.
  const newLab = async (tag: string): Promise<Lab> => {
    const home = join(work, tag);
    if (process.env["DATAFLOW_CATALOG_URL"]) {
      const saved = process.env["DATAFLOW_CATALOG_URL"];
      const db = freshCatalogDatabase();
      cleanups.push(db.drop);
      process.env["DATAFLOW_CATALOG_URL"] = db.url;
      try {
        return await openLab({ home, quiet: true });
      } finally {
        process.env["DATAFLOW_CATALOG_URL"] = saved;
      }
    }
    return openLab({ home, quiet: true });
  };
  const labs: Lab[] = [];
  const lab = await newLab("main");
  labs.push(lab);
  const topicFor = (tag: string) => {
    const t = `${runId}-${tag}`;
    topicsMade.push(t, `${t}-ix`);
    return t;
  };

  try {
    log(`mode ${mode}; ${s.events} events per scenario (${s.singleEvents} at 1 per POST), ${s.concurrency} concurrent clients; transaction JSON ~${txSize} bytes`);

    // 1. API → store, full speed.
    const api: ApiResult[] = [];
    let backlogTopic = "";
    for (const postSize of s.postSizes) {
      const topic = topicFor(`p${postSize}`);
      const count = postSize === 1 ? Math.min(s.events, s.singleEvents) : s.events;
      const r = await postAll(lab, topic, transactions(`${runId}-p${postSize}`, count), postSize, s.concurrency, null);
      api.push({ postSize, events: r.accepted, seconds: round(r.seconds, 3), eventsPerSecond: Math.round(r.accepted / r.seconds), postP50Ms: round(quantile(r.postMs, 0.5)), postP95Ms: round(quantile(r.postMs, 0.95)), unavailable: r.unavailable });
      log(`API ${postSize}/POST: ${r.accepted} events in ${r.seconds.toFixed(2)}s = ${Math.round(r.accepted / r.seconds)} events/s`);
      if (count === s.events) backlogTopic = topic;
    }
    if (!backlogTopic) backlogTopic = `${runId}-p${s.postSizes.at(-1)}`;

    // 2. store → bronze: each sink batch size drains the same backlog into a lab of its own.
    const sink: SinkResult[] = [];
    for (const batchSize of s.sinkSizes) {
      const sinkLab = await newLab(`sink-${batchSize}`);
      labs.push(sinkLab);
      const source: StreamSource = brokers
        ? new KafkaSource({ brokers, topics: [backlogTopic], groupId: `${runId}-sink-${batchSize}` })
        : new FolderSource({ path: landingOf(lab), topics: [backlogTopic] });
      // Timed from the first batch's commit start to the last commit's end: joining the consumer group
      // and the idle wait at the end are not throughput.
      let first = 0;
      let last = 0;
      const r = await runStreamSink(sinkLab, {
        topics: [backlogTopic], schemas: { [backlogTopic]: MARKETPLACE_SCHEMAS.transactions }, source, batchSize, maxWaitMs: 500, idleStopMs: 3000,
        onBatch: (b) => {
          last = performance.now();
          if (!first) first = last - b.seconds * 1000;
        },
      });
      const seconds = (last - first) / 1000;
      sink.push({ batchSize, rows: r.rows, batches: r.batches, seconds: round(seconds, 3), rowsPerSecond: Math.round(r.rows / seconds), deadLetters: r.deadLetters });
      log(`sink batch ${batchSize}: ${r.rows} rows in ${r.batches} commits, ${seconds.toFixed(2)}s = ${Math.round(r.rows / seconds)} rows/s`);
    }

    // 3. accept → queryable: producer at a paced rate, sink running alongside.
    const latencyTopic = topicFor("latency");
    const commits: { snapshot: number; at: number }[] = [];
    const stop = new AbortController();
    let sunk = 0;
    let expected = Infinity;
    // The sink owns the lab's connection while it runs: progress comes from its callback, not from queries.
    const sinkRun = runStreamSink(lab, {
      topics: [latencyTopic], schemas: { [latencyTopic]: MARKETPLACE_SCHEMAS.transactions }, batchSize: 500, maxWaitMs: 50, signal: stop.signal,
      onBatch: (b) => {
        commits.push({ snapshot: b.snapshotId, at: Date.now() });
        sunk += b.rows;
        if (sunk >= expected) stop.abort();
      },
    });
    const paced = await postAll(lab, latencyTopic, transactions(`${runId}-lat`, s.latencyEvents), 10, 1, s.latencyRate);
    expected = paced.accepted;
    if (sunk >= expected) stop.abort();
    const timeout = setTimeout(() => stop.abort(), 60_000);
    await sinkRun;
    clearTimeout(timeout);
    if (sunk !== expected) throw new Error(`the sink loaded ${sunk} of ${expected} accepted events within 60 s`);
    const latency = await acceptToQueryable(lab, latencyTopic, paced.acceptedAt, commits);
    log(`accept → queryable at ${s.latencyRate} events/s: p50 ${latency.p50Ms} ms, p95 ${latency.p95Ms} ms over ${latency.events} events`);

    // 4. The broker's own ceiling.
    const ceiling = brokers && s.perfRecords > 0 ? await producerPerformance(brokers, topicFor("perf"), s.perfRecords, txSize) : null;
    if (ceiling) log(`Kafka ProducerPerformance: ${ceiling.recordsPerSecond} records/s (${ceiling.mbPerSecond} MB/s), p50 ${ceiling.p50Ms} ms, p95 ${ceiling.p95Ms} ms`);

    const result = {
      benchmark: "stream", mode, finishedAt: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", memoryGB: round(totalmem() / 2 ** 30), node: process.version },
      settings: { ...s, out: undefined, transactionBytes: txSize },
      api, sink, latency, brokerCeiling: ceiling,
    };
    printTable(result);
    await mkdir(dirname(s.out), { recursive: true });
    await writeFile(s.out, JSON.stringify(result, null, 2) + "\n");
    log(`wrote ${s.out}`);
  } finally {
    for (const l of labs) l.close();
    if (brokers && topicsMade.length) {
      const admin = new Kafka({ clientId: "stream-bench", brokers: brokers.split(","), logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: topicsMade }).catch(() => undefined);
      await admin.disconnect();
    }
    for (const c of cleanups.reverse()) await c();
  }
}

interface ApiResult { postSize: number; events: number; seconds: number; eventsPerSecond: number; postP50Ms: number; postP95Ms: number; unavailable: number }
interface SinkResult { batchSize: number; rows: number; batches: number; seconds: number; rowsPerSecond: number; deadLetters: number }

function transactions(runId: string, count: number): Record<string, unknown>[] {
  const gen = marketplaceEvents({ runId, seed: 3, interactionsPerTransaction: 0 });
  return Array.from({ length: count }, () => gen.next().value!.event as Record<string, unknown>);
}

function landingOf(lab: Lab): string {
  const s = lab.settings.stream;
  if (s.kind !== "landing-folder") throw new Error("not an embedded lab");
  return s.path;
}

/**
 * POST the events in batches of `postSize` from `concurrency` clients, through an API publishing to
 * `topic`; with `rate`, paced to that many events per second. Every batch must be answered 202.
 */
async function postAll(lab: Lab, topic: string, events: Record<string, unknown>[], postSize: number, concurrency: number, rate: number | null) {
  const api = await startApi({ settings: lab.settings, topicNames: { [TOPICS.transactions]: topic, [TOPICS.interactions]: `${topic}-ix` } });
  // Bodies are built before the clock starts: the benchmark times the API, not JSON.stringify.
  const bodies: string[] = [];
  for (let i = 0; i < events.length; i += postSize) bodies.push(JSON.stringify(postSize === 1 ? events[i] : events.slice(i, i + postSize)));
  const url = new URL("/api/v1/transactions", api.url);
  const postMs: number[] = [];
  const acceptedAt = { ids: [] as string[], at: [] as number[] };
  let next = 0;
  let accepted = 0;
  let unavailable = 0;
  try {
    // Warm-up: the first request connects the producer and creates the topics.
    const warm = await fetch(new URL("/ready", api.url));
    if (warm.status !== 200) throw new Error(`the API is not ready: ${await warm.text()}`);
    const started = performance.now();
    const client = async () => {
      for (;;) {
        const b = next++;
        if (b >= bodies.length) return;
        if (rate) {
          const due = ((b * postSize) / rate) * 1000 - (performance.now() - started);
          if (due > 0) await new Promise((r) => setTimeout(r, due));
        }
        const t0 = performance.now();
        const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: bodies[b] });
        const body = (await r.json()) as { events?: { id: string }[]; message?: string };
        if (r.status === 503) {
          unavailable += postSize;
          continue;
        }
        if (r.status !== 202) throw new Error(`POST ${url} answered ${r.status}: ${body.message}`);
        postMs.push(performance.now() - t0);
        accepted += body.events!.length;
        const now = Date.now();
        for (const e of body.events!) {
          acceptedAt.ids.push(e.id);
          acceptedAt.at.push(now);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, client));
    return { accepted, unavailable, seconds: (performance.now() - started) / 1000, postMs, acceptedAt };
  } finally {
    await api.close();
  }
}

/** p50/p95 of (commit that made the row visible) − (its 202), joined in DuckDB on the change feed. */
async function acceptToQueryable(lab: Lab, topic: string, acceptedAt: { ids: string[]; at: number[] }, commits: { snapshot: number; at: number }[]) {
  const table = topic.replaceAll("-", "_");
  const current = await lab.catalog.currentSnapshot();
  const r = (await lab.sql(`
    WITH accepted AS (SELECT unnest(from_json($ids::JSON, '["VARCHAR"]')) AS transaction_id, unnest(from_json($at::JSON, '["BIGINT"]')) AS accepted_ms),
         commits AS (SELECT unnest(from_json($snap::JSON, '["BIGINT"]')) AS snapshot_id, unnest(from_json($cat::JSON, '["BIGINT"]')) AS committed_ms),
         inserted AS (SELECT snapshot_id, transaction_id FROM ducklake_table_changes('lake', 'bronze', '${table}', 0, ${current}) WHERE change_type = 'insert'),
         lat AS (SELECT committed_ms - accepted_ms AS ms FROM inserted JOIN accepted USING (transaction_id) JOIN commits USING (snapshot_id))
    SELECT count(*) AS n, quantile_cont(ms, 0.5) AS p50, quantile_cont(ms, 0.95) AS p95, max(ms) AS mx FROM lat`,
  { ids: JSON.stringify(acceptedAt.ids), at: JSON.stringify(acceptedAt.at), snap: JSON.stringify(commits.map((c) => c.snapshot)), cat: JSON.stringify(commits.map((c) => c.at)) })).rows()[0]!;
  const n = Number(r["n"]);
  if (n !== acceptedAt.ids.length) throw new Error(`latency: matched ${n} bronze rows to their 202 and commit, expected ${acceptedAt.ids.length}`);
  return { ratePerSecond: Number(args["latency-rate"]), postSize: 10, events: n, p50Ms: round(Number(r["p50"])), p95Ms: round(Number(r["p95"])), maxMs: Number(r["mx"]) };
}

/** Kafka's own producer benchmark, run with the native stack's jars and log config (scripts/services/kafka.sh). */
async function producerPerformance(brokers: string, topic: string, records: number, recordSize: number) {
  const admin = new Kafka({ clientId: "stream-bench", brokers: brokers.split(","), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const cmd = `set -euo pipefail; source scripts/services/lib.sh; source scripts/services/kafka.sh; ` +
    `kafka_java org.apache.kafka.tools.ProducerPerformance --topic ${topic} --num-records ${records} --record-size ${recordSize} --throughput -1 ` +
    `--producer-props bootstrap.servers=${brokers} acks=all enable.idempotence=true`;
  const r = spawnSync("bash", ["-c", cmd], { cwd: REPO, encoding: "utf8", timeout: 300_000 });
  // The last summary line: "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency, P50 ms 50th, P95 ms 95th, …".
  const line = r.stdout.split("\n").reverse().find((l) => /records sent/.test(l) && /50th/.test(l));
  if (r.status !== 0 || !line) throw new Error(`ProducerPerformance failed (exit ${r.status}): ${r.stderr.slice(-2000)}${r.stdout.slice(-1000)}`);
  const num = (re: RegExp) => Number(re.exec(line)?.[1]);
  return {
    tool: "org.apache.kafka.tools.ProducerPerformance (acks=all, enable.idempotence=true)", records: num(/^(\d+) records sent/), recordSize,
    recordsPerSecond: Math.round(num(/([\d.]+) records\/sec/)), mbPerSecond: num(/\(([\d.]+) MB\/sec\)/),
    avgLatencyMs: num(/([\d.]+) ms avg latency/), p50Ms: num(/(\d+) ms 50th/), p95Ms: num(/(\d+) ms 95th/),
  };
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  return sorted[lo]! + (sorted[Math.min(lo + 1, sorted.length - 1)]! - sorted[lo]!) * (pos - lo);
}

function printTable(r: { mode: string; api: ApiResult[]; sink: SinkResult[]; latency: { p50Ms: number; p95Ms: number; ratePerSecond: number; events: number }; brokerCeiling: { recordsPerSecond: number; p50Ms: number; p95Ms: number } | null }): void {
  const rows: [string, string, string][] = [["stage", "throughput", "latency p50 / p95"]];
  for (const a of r.api) rows.push([`API → ${r.mode}, ${a.postSize}/POST`, `${a.eventsPerSecond} events/s`, `${a.postP50Ms} / ${a.postP95Ms} ms (POST → 202)`]);
  for (const k of r.sink) rows.push([`${r.mode} → bronze, batch ${k.batchSize}`, `${k.rowsPerSecond} rows/s`, ""]);
  rows.push([`202 → queryable in bronze`, `at ${r.latency.ratePerSecond} events/s`, `${r.latency.p50Ms} / ${r.latency.p95Ms} ms`]);
  if (r.brokerCeiling) rows.push(["Kafka ProducerPerformance", `${r.brokerCeiling.recordsPerSecond} records/s`, `${r.brokerCeiling.p50Ms} / ${r.brokerCeiling.p95Ms} ms (send → ack)`]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join("  "));
}
