/**
 * The Kafka → bronze sink against the real broker: a sink killed with SIGKILL in the middle of a
 * batch (rows written, not committed) and restarted ends with every valid event exactly once.
 * This file is also the child process it kills: with KAFKA_SINK_CHILD set it only runs the sink.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { openLab, runStreamSink, type Lab, type StreamSinkOptions } from "../../kernel-helpers/src/index.js";
import { requireEnv, runChild, stallAt, withServicesLab } from "./services.js";

const SCHEMA = { transaction_id: "string", amount: "number", user_id: "string" } as const;
const child = process.env["KAFKA_SINK_CHILD"];

function sinkOptions(topic: string): StreamSinkOptions {
  return { topics: [topic], schemas: { [topic]: SCHEMA }, batchSize: 40, maxWaitMs: 200, idleStopMs: 15_000 };
}

if (child) {
  // Child: run the sink; with KAFKA_SINK_STALL, announce and stall each commit after the batch is written.
  const lab = await openLab({ quiet: true });
  if (process.env["KAFKA_SINK_STALL"]) stallAt(lab, /INSERT INTO bronze\.stream_offsets/, "MID-BATCH", 300);
  const r = await runStreamSink(lab, { ...sinkOptions(child), onBatch: (b) => void process.stdout.write(`BATCH ${b.rows}\n`) });
  process.stdout.write(`DONE ${r.rows} ${r.deadLetters}\n`);
  lab.close();
} else {
  test("a sink killed mid-batch and restarted leaves every valid event in bronze exactly once, poison in dead_letter", { timeout: 120_000 }, async () => {
    const brokers = requireEnv("KAFKA_BOOTSTRAP_SERVERS").split(",");
    await withServicesLab(async (lab, ctx) => {
      const topic = `sink-test-${randomUUID().slice(0, 8)}`;
      const table = `bronze.${topic.replaceAll("-", "_")}`;
      const kafka = new Kafka({ clientId: "kafka-sink-test", brokers, logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
      await admin.disconnect();

      const valid = 400;
      const poison = ["{oops", JSON.stringify({ transaction_id: "p1", amount: "ten", user_id: "u1" }), JSON.stringify({ amount: 1 }), "42", ""];
      const messages = Array.from({ length: valid }, (_, i) => ({
        key: `u${i % 17}`, value: JSON.stringify({ transaction_id: `t${i}`, amount: i / 4, user_id: `u${i % 17}` }),
      }));
      poison.forEach((value, i) => messages.splice(37 + i * 71, 0, { key: `u${i}`, value }));
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, acks: -1, messages });
      await producer.disconnect();

      const env = { ...process.env, KAFKA_SINK_CHILD: topic, DATAFLOW_CATALOG_URL: ctx.catalogUrl, DATAFLOW_LAB_HOME: ctx.home };
      let midBatches = 0;
      // First run: SIGKILL during the second batch's commit, after its rows were inserted.
      const killed = await runChild(import.meta.url, { ...env, KAFKA_SINK_STALL: "1" }, (line, kill) => {
        if (line === "MID-BATCH" && ++midBatches === 2) kill();
      });
      assert.equal(killed.signal, "SIGKILL", `the first sink was killed mid-batch\n${killed.output}`);
      const atKill = await state(lab, table);
      assert.ok(atKill.rows > 0 && atKill.rows < valid, `one batch committed before the kill, not all: ${JSON.stringify(atKill)}`);
      assert.equal(atKill.nextOffsets, atKill.rows + atKill.dead, "the stored positions match exactly what bronze holds");

      const restarted = await runChild(import.meta.url, env, () => undefined);
      assert.equal(restarted.code, 0, restarted.output);
      const end = await state(lab, table);
      assert.deepEqual(end, { rows: valid, distinct: valid, ids: valid, dead: poison.length, nextOffsets: valid + poison.length });
      const errors = (await lab.sql(`SELECT error FROM bronze.dead_letter ORDER BY "partition", "offset"`)).column("error");
      assert.ok(errors.includes("not valid JSON") && errors.includes("amount must be a number, got string"), String(errors));
    });
  });
}

async function state(lab: Lab, table: string) {
  const r = (await lab.sql(`SELECT
      (SELECT count(*) FROM ${table}) AS rows, (SELECT count(DISTINCT (_partition, _offset)) FROM ${table}) AS distinct,
      (SELECT count(DISTINCT transaction_id) FROM ${table}) AS ids, (SELECT count(*) FROM bronze.dead_letter) AS dead,
      (SELECT coalesce(sum(next_offset), 0) FROM bronze.stream_offsets) AS nextOffsets`)).rows()[0]!;
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)])) as Record<"rows" | "distinct" | "ids" | "dead" | "nextOffsets", number>;
}
