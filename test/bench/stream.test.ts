/**
 * The streaming benchmark stays runnable in both modes: a tiny run writes its JSON with every
 * section, and its counts reconcile (every event posted is accepted, every accepted one reaches
 * bronze, every latency sample is matched to its 202 and its commit). Speed is printed, never asserted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { embeddedEnv } from "../embedded.js";

const TINY = ["--events", "300", "--single-events", "40", "--post-sizes", "1,100", "--sink-sizes", "100,1000", "--latency-events", "120", "--latency-rate", "400", "--perf-records", "2000"];

async function runBench(env: NodeJS.ProcessEnv) {
  const dir = await mkdtemp(join(tmpdir(), "stream-bench-test-"));
  try {
    const out = join(dir, "stream.json");
    const r = spawnSync(process.execPath, ["--import", "tsx", "test/bench/stream.bench.ts", ...TINY, "--out", out], { encoding: "utf8", env, timeout: 240_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /202 → queryable in bronze/);
    return { stdout: r.stdout, result: JSON.parse(await readFile(out, "utf8")) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function checkCommon(result: any, mode: string): void {
  assert.equal(result.mode, mode);
  assert.deepEqual(result.api.map((a: any) => [a.postSize, a.events, a.unavailable]), [[1, 40, 0], [100, 300, 0]]);
  for (const a of result.api) assert.ok(a.eventsPerSecond > 0 && a.seconds > 0 && a.postP50Ms > 0 && a.postP50Ms <= a.postP95Ms, JSON.stringify(a));
  // Both sink batch sizes drain the same 300-event backlog: all of it, in the batches the size implies.
  assert.deepEqual(result.sink.map((k: any) => [k.batchSize, k.rows, k.deadLetters]), [[100, 300, 0], [1000, 300, 0]]);
  assert.ok(result.sink[0].batches >= 3, `batch size 100 needs at least 3 commits for 300 rows, got ${result.sink[0].batches}`);
  for (const k of result.sink) assert.ok(k.rowsPerSecond > 0 && k.seconds > 0, JSON.stringify(k));
  assert.equal(result.latency.events, 120);
  assert.ok(result.latency.p50Ms > 0 && result.latency.p50Ms <= result.latency.p95Ms && result.latency.p95Ms <= result.latency.maxMs, JSON.stringify(result.latency));
}

test("stream benchmark, embedded landing folder: JSON with every section, counts reconcile", { timeout: 300_000 }, async () => {
  const { result } = await runBench(embeddedEnv());
  checkCommon(result, "landing-folder");
  assert.equal(result.brokerCeiling, null, "no broker, no ceiling");
});

test("stream benchmark on the native Kafka: the same, plus Kafka's own ProducerPerformance ceiling", { timeout: 300_000 }, async () => {
  if (!process.env["KAFKA_BOOTSTRAP_SERVERS"] || !process.env["DATAFLOW_CATALOG_URL"]) {
    throw new Error("KAFKA_BOOTSTRAP_SERVERS / DATAFLOW_CATALOG_URL are not set: run through `npm test`, which starts the native services and exports their variables.");
  }
  const { result } = await runBench(process.env);
  checkCommon(result, "kafka");
  const c = result.brokerCeiling;
  assert.equal(c.records, 2000);
  assert.equal(c.recordSize, result.settings.transactionBytes);
  assert.ok(c.recordsPerSecond > 0 && c.mbPerSecond > 0 && c.p50Ms <= c.p95Ms, JSON.stringify(c));
});
