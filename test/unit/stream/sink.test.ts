import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runStreamSink, StreamError, type Lab, type StreamSinkOptions } from "../../../kernel-helpers/src/index.js";
import { count, withLab } from "../helpers.js";

const SCHEMA = { transaction_id: "string", amount: "number", user_id: "string", coupon: "string?" } as const;

function tx(i: number): string {
  return JSON.stringify({ transaction_id: `t${i}`, amount: i * 1.5, user_id: `u${i % 3}`, category: "books" });
}
function lines(from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) s += tx(i) + "\n";
  return s;
}

async function landing(lab: Lab, topic = "transactions"): Promise<string> {
  const dir = join(lab.settings.home, "landing", topic);
  await mkdir(dir, { recursive: true });
  return dir;
}

// Small batches and no waiting: each run drains the folder, then stops.
function sink(extra: Partial<StreamSinkOptions> = {}): StreamSinkOptions {
  return { topics: ["transactions"], schemas: { transactions: SCHEMA }, keyField: "user_id", batchSize: 4, maxWaitMs: 20, idleStopMs: 50, ...extra };
}

async function assertExactlyOnce(lab: Lab, expected: number): Promise<void> {
  const r = (await lab.sql(`SELECT count(*) AS n, count(DISTINCT ("_partition", "_offset")) AS d, count(DISTINCT transaction_id) AS t FROM bronze.transactions`)).rows()[0]!;
  assert.deepEqual([Number(r["n"]), Number(r["d"]), Number(r["t"])], [expected, expected, expected]);
}

test("the folder sink loads typed rows with stream metadata, and a restart resumes without duplicates", async () => {
  await withLab(async (lab) => {
    const dir = await landing(lab);
    await writeFile(join(dir, "0001.jsonl"), lines(0, 10));
    const first = await runStreamSink(lab, sink({ maxBatches: 2 }));
    assert.equal(first.rows, 8);
    assert.equal(first.stoppedBecause, "maxBatches");
    const again = await runStreamSink(lab, sink());
    assert.equal(again.rows, 2, "the restart continues after the 8 rows the lake already has");
    assert.equal(again.stoppedBecause, "idle");
    await assertExactlyOnce(lab, 10);

    const row = (await lab.sql(`SELECT amount, _topic, _partition, _offset, _key, _value->>'category' AS category, typeof(amount) AS t
      FROM bronze.transactions WHERE transaction_id = 't3'`)).rows()[0]!;
    assert.deepEqual(row, { amount: 4.5, _topic: "transactions", _partition: 0, _offset: 3, _key: "u0", category: "books", t: "DOUBLE" });
    const pos = (await lab.sql(`SELECT source, topic, "partition", next_offset, anchor FROM bronze.stream_offsets`)).rows();
    assert.deepEqual(pos, [{ source: "folder", topic: "transactions", partition: 0, next_offset: 10, anchor: "0001.jsonl:10" }]);

    assert.equal((await runStreamSink(lab, sink())).rows, 0, "nothing new, nothing added");
    await assertExactlyOnce(lab, 10);
  });
});

test("lines appended to a file, a half-written last line and new files are picked up by later polls", async () => {
  await withLab(async (lab) => {
    const dir = await landing(lab);
    await writeFile(join(dir, "0001.jsonl"), lines(0, 3) + tx(3).slice(0, 10));
    assert.equal((await runStreamSink(lab, sink())).rows, 3, "the unterminated line may still be being written");
    await appendFile(join(dir, "0001.jsonl"), tx(3).slice(10) + "\n" + lines(4, 6));
    assert.equal((await runStreamSink(lab, sink())).rows, 3);
    await writeFile(join(dir, "0002.jsonl"), lines(6, 9));
    assert.equal((await runStreamSink(lab, sink())).rows, 3);
    await assertExactlyOnce(lab, 9);
    const offsets = (await lab.sql(`SELECT list(_offset ORDER BY _offset) AS o FROM bronze.transactions`)).rows()[0]!["o"];
    assert.deepEqual(offsets, [0, 1, 2, 3, 4, 5, 1e9, 1e9 + 1, 1e9 + 2], "offset = file index × 1e9 + line index");
  });
});

test("a file added out of name order is refused instead of shifting offsets", async () => {
  await withLab(async (lab) => {
    const dir = await landing(lab);
    await writeFile(join(dir, "0002.jsonl"), lines(0, 2));
    await runStreamSink(lab, sink());
    await writeFile(join(dir, "0001.jsonl"), lines(2, 4));
    await assert.rejects(runStreamSink(lab, sink()), (e: unknown) => e instanceof StreamError && /sort after the existing ones/.test(e.message));
  });
});

test("poison lines go to bronze.dead_letter with the raw line, the reason and their line offsets", async () => {
  await withLab(async (lab) => {
    const dir = await landing(lab);
    const poison = [
      "{not json",
      "[1,2]",
      JSON.stringify({ transaction_id: "t-x", amount: "12", user_id: "u1" }),
      JSON.stringify({ amount: 3, user_id: "u1", coupon: 5 }),
    ];
    await writeFile(join(dir, "0001.jsonl"), [tx(0), poison[0], tx(1), poison[1], poison[2], "", poison[3], tx(2)].join("\n") + "\n");
    const r = await runStreamSink(lab, sink());
    assert.deepEqual([r.rows, r.deadLetters], [3, 4]);
    const dead = (await lab.sql(`SELECT "offset", raw, error, "key" FROM bronze.dead_letter ORDER BY "offset"`)).rows();
    assert.deepEqual(dead.map((d) => d["offset"]), [1, 3, 4, 6], "line index in the file (the blank line 5 is skipped, not renumbered)");
    assert.deepEqual(dead.map((d) => d["raw"]), poison);
    assert.deepEqual(dead.map((d) => d["error"]), [
      "not valid JSON",
      "valid JSON but not an object",
      "amount must be a number, got string",
      "transaction_id is required; coupon must be a string, got integer",
    ]);
    assert.equal(dead[2]!["key"], "u1");
    assert.equal((await runStreamSink(lab, sink())).deadLetters, 0, "dead letters are exactly-once too");
    assert.equal(await count(lab, "bronze.dead_letter"), 4);
  });
});

test("a crash between writing a batch and committing it leaves nothing; the rerun writes it exactly once", async () => {
  await withLab(async (lab) => {
    const dir = await landing(lab);
    await writeFile(join(dir, "0001.jsonl"), lines(0, 6) + "oops\n");
    // Fail the position update, after rows and dead letters were inserted in the same transaction.
    const run = lab.catalog.run.bind(lab.catalog);
    lab.catalog.run = async (sql, params) => {
      if (/INSERT INTO bronze\.stream_offsets/.test(sql)) throw new Error("simulated crash before commit");
      return run(sql, params);
    };
    await assert.rejects(runStreamSink(lab, sink({ batchSize: 100 })), /simulated crash before commit/);
    assert.equal(await count(lab, "bronze.transactions"), 0);
    assert.equal(await count(lab, "bronze.dead_letter"), 0);
    assert.equal(await count(lab, "bronze.stream_offsets"), 0);
    lab.catalog.run = run;

    const r = await runStreamSink(lab, sink({ batchSize: 100 }));
    assert.deepEqual([r.rows, r.deadLetters, r.batches], [6, 1, 1]);
    await assertExactlyOnce(lab, 6);
  });
});

test("a message redelivered below the lake's position is skipped, not duplicated", async () => {
  await withLab(async (lab) => {
    const dir = await landing(lab);
    await writeFile(join(dir, "0001.jsonl"), lines(0, 5));
    await runStreamSink(lab, sink());
    // A source that replays everything from the start, as Kafka may after a rebalance.
    const replay = {
      name: "folder", topics: ["transactions"], sent: false,
      async start() {},
      async poll() {
        if (this.sent) return [];
        this.sent = true;
        return [0, 1, 2, 3, 4, 5].map((i) => ({ topic: "transactions", partition: 0, offset: i, timestamp: Date.now(), key: null, value: tx(i) }));
      },
      committed() {},
      async close() {},
    };
    const r = await runStreamSink(lab, sink({ source: replay }));
    assert.deepEqual([r.rows, r.duplicates], [1, 5]);
    await assertExactlyOnce(lab, 6);
  });
});

test("bad topic names and schemas are refused up front", async () => {
  await withLab(async (lab) => {
    await assert.rejects(runStreamSink(lab, sink({ topics: ["dead-letter"] })), StreamError);
    await assert.rejects(runStreamSink(lab, sink({ schemas: { transactions: { amount: "money" as "number" } } })), /invalid field "amount"/);
  });
});

test("an AbortSignal stops the sink after the batch in hand is committed", async () => {
  await withLab(async (lab) => {
    const dir = await landing(lab);
    await writeFile(join(dir, "0001.jsonl"), lines(0, 20));
    const stop = new AbortController();
    const r = await runStreamSink(lab, sink({ idleStopMs: undefined, signal: stop.signal, onBatch: () => stop.abort() }));
    assert.deepEqual([r.batches, r.rows, r.stoppedBecause], [1, 4, "aborted"]);
    await assertExactlyOnce(lab, 4);
  });
});
