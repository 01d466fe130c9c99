/**
 * The ingestion API against the real broker: what it answers 202 is exactly what reaches bronze
 * through Kafka (keys, partitions, offsets), and when the broker is restarted in the middle of
 * production, the events answered 503 are the only ones missing — none lost, none duplicated.
 * Each test publishes to topics of its own, so the lab's shared `transactions` stream is untouched.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import {
  marketplaceEvents, MARKETPLACE_SCHEMAS, produceToApi, runStreamSink, startApi, TOPICS, type Lab, type MarketplaceTopic, type RunningApi,
} from "../../kernel-helpers/src/index.js";
import { requireEnv, withServicesLab } from "./services.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** Topic names of this test run, per event type, and the sink options that read them. */
function ownTopics(tag: string): { names: Record<MarketplaceTopic, string>; sink: Parameters<typeof runStreamSink>[1] } {
  const id = randomUUID().slice(0, 8);
  const names = { [TOPICS.transactions]: `${tag}-${id}-tx`, [TOPICS.interactions]: `${tag}-${id}-ix` } as Record<MarketplaceTopic, string>;
  return {
    names,
    sink: {
      topics: Object.values(names),
      schemas: { [names.transactions]: MARKETPLACE_SCHEMAS.transactions, [names["user-interactions"]]: MARKETPLACE_SCHEMAS["user-interactions"] },
      batchSize: 250, maxWaitMs: 200, idleStopMs: 4000,
    },
  };
}

const table = (topic: string) => `bronze.${topic.replaceAll("-", "_")}`;

/** Runs a function of scripts/services/{lib,kafka}.sh — the same code up.sh / down.sh use. */
function kafkaScript(fn: "kafka_stop" | "kafka_start"): void {
  const script = `set -euo pipefail; source scripts/services/lib.sh; source scripts/services/kafka.sh; lock_services; ${fn}`;
  const r = spawnSync("bash", ["-c", script], { cwd: REPO, encoding: "utf8", timeout: 150_000 });
  if (r.status !== 0) throw new Error(`${fn} failed (exit ${r.status}): ${r.stderr || r.stdout}`);
}

async function deleteTopics(topics: string[]): Promise<void> {
  const admin = new Kafka({ clientId: "kafka-api-test", brokers: requireEnv("KAFKA_BOOTSTRAP_SERVERS").split(","), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}

async function idsIn(lab: Lab, topic: string, idField: string): Promise<{ ids: string[]; rows: number }> {
  const r = (await lab.sql(`SELECT list(${idField} ORDER BY ${idField}) AS ids, count(*) AS n FROM ${table(topic)}`)).rows()[0]!;
  return { ids: (r["ids"] as string[] | null) ?? [], rows: Number(r["n"]) };
}

test("API → Kafka → bronze: every 202 lands once, keyed by user, at the partition/offset the API reported", { timeout: 120_000 }, async () => {
  requireEnv("KAFKA_BOOTSTRAP_SERVERS");
  await withServicesLab(async (lab) => {
    const { names, sink } = ownTopics("api-e2e");
    const api = await startApi({ settings: lab.settings, topicNames: names });
    const reported = new Map<string, string>();
    let rejected = 0;
    try {
      assert.equal((await fetch(new URL("/ready", api.url))).status, 200);
      const events = marketplaceEvents({ runId: `e2e-${randomUUID().slice(0, 6)}`, seed: 11, invalidShare: 0.1 });
      // Posted by hand (not produceToApi) to keep every 202's partition/offset for the comparison below.
      for (let batch = 0; batch < 24; batch++) {
        const byTopic = new Map<MarketplaceTopic, Record<string, unknown>[]>();
        for (let i = 0; i < 25; i++) {
          const e = events.next().value!;
          const list = byTopic.get(e.topic) ?? [];
          list.push(e.event as Record<string, unknown>);
          byTopic.set(e.topic, list);
        }
        for (const [topic, list] of byTopic) {
          const path = topic === TOPICS.transactions ? "/api/v1/transactions" : "/api/v1/user-interactions";
          const r = await fetch(new URL(path, api.url), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(list) });
          const body = (await r.json()) as { topic: string; events: { id: string; partition: number; offset: number }[] };
          if (r.status === 400) {
            rejected += list.length;
            continue;
          }
          assert.equal(r.status, 202, JSON.stringify(body));
          assert.equal(body.topic, names[topic]);
          for (const e of body.events) reported.set(`${body.topic}/${e.id}`, `${e.partition}/${e.offset}`);
        }
      }
    } finally {
      await api.close();
    }
    assert.ok(rejected > 0 && reported.size > 300, `some batches were rejected whole (${rejected} events), most accepted (${reported.size})`);

    // A producer that bypasses the API can still write garbage to the topic: it goes to dead letters, not bronze.
    const raw = new Kafka({ clientId: "kafka-api-test", brokers: requireEnv("KAFKA_BOOTSTRAP_SERVERS").split(","), logLevel: logLevel.NOTHING }).producer();
    await raw.connect();
    await raw.send({ topic: names.transactions, acks: -1, messages: [{ key: "7", value: JSON.stringify({ transaction_id: "poison", user_id: "seven" }) }] });
    await raw.disconnect();

    const sunk = await runStreamSink(lab, sink).finally(() => deleteTopics(Object.values(names)));
    assert.equal(sunk.rows, reported.size, "bronze rows = events answered 202");
    assert.equal(sunk.deadLetters, 1);
    const dead = (await lab.sql(`SELECT topic, error FROM bronze.dead_letter`)).rows();
    assert.equal(dead[0]!["topic"], names.transactions);
    assert.match(String(dead[0]!["error"]), /user_id must be an integer|product_id/);
    for (const [type, topic] of Object.entries(names) as [MarketplaceTopic, string][]) {
      const idField = type === TOPICS.transactions ? "transaction_id" : "interaction_id";
      const rows = (await lab.sql(`SELECT ${idField} AS id, _partition, _offset, _key, user_id FROM ${table(topic)}`)).rows();
      const stored = new Map(rows.map((r) => [`${topic}/${r["id"]}`, `${r["_partition"]}/${r["_offset"]}`]));
      assert.equal(stored.size, rows.length, `no id twice in ${table(topic)}`);
      for (const [id, where] of stored) assert.equal(reported.get(id), where, `${id}: the 202 said ${reported.get(id)}, bronze has ${where}`);
      assert.ok(rows.every((r) => r["_key"] === String(r["user_id"])), "the Kafka key is the user id");
      // One user's events stay on one partition (the API's key hashing is Kafka's default partitioner).
      const spread = (await lab.sql(`SELECT count(*) AS n FROM (SELECT user_id FROM ${table(topic)} GROUP BY user_id HAVING count(DISTINCT _partition) > 1)`)).number();
      assert.equal(spread, 0, `users spread over partitions in ${topic}`);
      const partitions = (await lab.sql(`SELECT count(DISTINCT _partition) FROM ${table(topic)}`)).number();
      assert.ok(partitions > 1, `the topic's partitions are used (${partitions})`);
    }
  });
});

test("broker restarted during production: bronze holds exactly the 202'd events, only 503'd ones are missing, no duplicates", { timeout: 240_000 }, async () => {
  requireEnv("KAFKA_BOOTSTRAP_SERVERS");
  await withServicesLab(async (lab) => {
    const { names, sink } = ownTopics("api-restart");
    let api: RunningApi | undefined;
    let brokerDown = false;
    const controller = new AbortController();
    try {
      api = await startApi({ settings: lab.settings, topicNames: names });
      const running = api;
      const events = marketplaceEvents({ runId: `rs-${randomUUID().slice(0, 6)}`, seed: 5 });
      const production = produceToApi({ url: running.url, events, count: 1_000_000, ratePerSecond: 300, batchSize: 10, signal: controller.signal });
      const accepted = () => { const s = running.stats(); return s.transactions.accepted + s["user-interactions"].accepted; };
      const unavailable = () => { const s = running.stats(); return s.transactions.unavailable + s["user-interactions"].unavailable; };
      const until = async (what: string, ok: () => boolean, ms: number) => {
        const end = Date.now() + ms;
        while (!ok()) {
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(running.stats())}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };

      await until("the first 202s", () => accepted() >= 200, 30_000);
      brokerDown = true;
      kafkaScript("kafka_stop");
      const acceptedAtStop = accepted();
      await until("503s while the broker is down", () => unavailable() >= 3, 60_000);
      assert.equal((await fetch(new URL("/ready", running.url))).status, 503, "/ready says the broker is unreachable");
      kafkaScript("kafka_start");
      brokerDown = false;
      await until("202s again after the restart", () => accepted() >= acceptedAtStop + 200, 90_000);
      controller.abort();
      const produced = await production;
      await running.close();
      api = undefined;

      const accepted202 = produced.accepted;
      const gave503 = new Set(produced.unavailable);
      assert.ok(gave503.size > 0, "some requests were answered 503");
      const sunk = await runStreamSink(lab, sink);
      assert.equal(sunk.deadLetters, 0);
      let storedDespite503 = 0;
      for (const [type, topic] of Object.entries(names) as [MarketplaceTopic, string][]) {
        const idField = type === TOPICS.transactions ? "transaction_id" : "interaction_id";
        const { ids, rows } = await idsIn(lab, topic, idField);
        assert.equal(new Set(ids).size, rows, `no duplicates in ${table(topic)}`);
        const inBronze = new Set(ids);
        const missing = accepted202[type].filter((id) => !inBronze.has(id));
        assert.deepEqual(missing, [], `every event answered 202 is in ${table(topic)}`);
        const acceptedSet = new Set(accepted202[type]);
        const extra = ids.filter((id) => !acceptedSet.has(id));
        // Anything in bronze that was not answered 202 must have been answered 503 ...
        assert.deepEqual(extra.filter((id) => !gave503.has(id)), [], "bronze holds nothing that was neither 202'd nor 503'd");
        storedDespite503 += extra.length;
      }
      // ... and a 503 means "not acknowledged", not "certainly not written": only a request in flight when
      // the broker went down can be written without its ack reaching us. At most one such batch.
      assert.ok(storedDespite503 <= 10, `at most the one in-flight batch (10 events) stored despite its 503, got ${storedDespite503}`);
      console.log(`# restart: ${produced.accepted.transactions.length + produced.accepted["user-interactions"].length} accepted, ${gave503.size} answered 503, ${storedDespite503} of those stored anyway`);
    } finally {
      controller.abort();
      await api?.close().catch(() => undefined);
      // Other tests and helpers share the broker: it must be back, whatever happened above.
      if (brokerDown) kafkaScript("kafka_start");
      await deleteTopics(Object.values(names));
    }
  });
});

test("a batch the broker refuses as too large is answered 413 with a fix, not 503 to be retried forever; nothing is stored", { timeout: 60_000 }, async () => {
  requireEnv("KAFKA_BOOTSTRAP_SERVERS");
  await withServicesLab(async (lab) => {
    const { names } = ownTopics("api-too-large");
    const api = await startApi({ settings: lab.settings, topicNames: names });
    try {
      // Each event is within the API's own limits; together they exceed the broker's message.max.bytes (1 MB by default).
      const events = Array.from({ length: 150 }, (_, i) => ({
        transaction_id: `big-${i}`, user_id: 1, product_id: 1, category: "books", quantity: 1, amount: 1, currency: "BRL",
        event_time: "2026-12-01T10:00:00Z", note: "x".repeat(60_000),
      }));
      const r = await fetch(`${api.url}/api/v1/transactions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(events) });
      const body = (await r.json()) as { error: string; message: string; fix: string };
      assert.equal(r.status, 413, JSON.stringify(body));
      assert.equal(r.headers.get("retry-after"), null);
      assert.equal(body.error, "payload_too_large");
      assert.match(body.message, /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/);
      assert.match(body.fix, /fewer events/);
      assert.equal(api.stats()[TOPICS.transactions].unavailable, 0);
    } finally {
      await api.close();
      await deleteTopics(Object.values(names));
    }
  });
});
