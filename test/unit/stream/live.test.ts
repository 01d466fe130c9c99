/**
 * Live silver and gold: only new bronze rows are read (DuckLake's change feed), rules send bad
 * rows to quarantine, gold minutes are recomputed only where new rows fall, and a failure leaves
 * nothing half-counted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { maintainLake, MARKETPLACE_SCHEMAS, refreshLiveTables, runStreamSink, TOPICS, type Lab } from "../../../kernel-helpers/src/index.js";
import { count, withLab } from "../helpers.js";

let fileNo = 0;
async function land(lab: Lab, topic: string, events: object[]): Promise<void> {
  const dir = join(lab.settings.home, "landing", topic);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${String(++fileNo).padStart(6, "0")}.jsonl`), events.map((e) => JSON.stringify(e) + "\n").join(""));
}
const sink = (lab: Lab) => runStreamSink(lab, { topics: Object.values(TOPICS), schemas: MARKETPLACE_SCHEMAS, keyField: "user_id", maxWaitMs: 10, idleStopMs: 50 });
const tx = (id: string, minute: number, user: number, amount: number, extra: object = {}) => ({
  transaction_id: id, user_id: user, product_id: 1, category: user % 2 ? "Books" : "Toys", quantity: 1, amount, currency: "EUR",
  event_time: `2026-11-21T10:${String(minute).padStart(2, "0")}:30Z`, ...extra,
});
const view = (id: string, minute: number, user: number) => ({ interaction_id: id, user_id: user, interaction_type: "view", event_time: `2026-11-21T10:${String(minute).padStart(2, "0")}:10Z` });

async function gold(lab: Lab): Promise<Record<string, unknown>[]> {
  return (await lab.sql(`SELECT strftime(minute, '%H:%M') AS m, category, revenue::DOUBLE AS revenue, transactions FROM gold.revenue_per_minute ORDER BY m, category`)).rows();
}

test("new bronze rows are cleaned into silver, bad ones quarantined, and gold matches silver", async () => {
  await withLab(async (lab) => {
    await land(lab, TOPICS.transactions, [tx("a", 1, 1, 10), tx("b", 1, 2, 5), tx("c", 2, 1, 7), tx("bad", 2, 1, 3, { quantity: 0 }), tx("a", 1, 1, 10)]);
    await land(lab, TOPICS.interactions, [view("v1", 1, 3), view("v2", 1, 1), view("v3", 2, 4)]);
    await sink(lab);
    const r = await refreshLiveTables(lab);
    assert.deepEqual([r.rowsIn.transactions, r.clean.transactions, r.quarantined.transactions], [5, 3, 2]);
    assert.deepEqual([r.rowsIn["user-interactions"], r.clean["user-interactions"]], [3, 3]);
    const q = (await lab.sql(`SELECT row_data->>'transaction_id' AS id, failed_rules FROM silver.quarantine ORDER BY id`)).rows();
    assert.deepEqual(q, [{ id: "a", failed_rules: ["unique(transaction_id)"] }, { id: "bad", failed_rules: ["range(quantity >= 1)"] }]);
    assert.deepEqual(await gold(lab), [
      { m: "10:01", category: "Books", revenue: 10, transactions: 1 }, { m: "10:01", category: "Toys", revenue: 5, transactions: 1 },
      { m: "10:02", category: "Books", revenue: 7, transactions: 1 },
    ]);
    const users = (await lab.sql(`SELECT strftime(minute, '%H:%M') AS m, active_users FROM gold.active_users_per_minute ORDER BY m`)).rows();
    assert.deepEqual(users, [{ m: "10:01", active_users: 3 }, { m: "10:02", active_users: 2 }]);
  });
});

test("a refresh with nothing new writes nothing; a later one recomputes only the minutes its rows touch", async () => {
  await withLab(async (lab) => {
    await land(lab, TOPICS.transactions, [tx("a", 1, 1, 10), tx("b", 2, 1, 5)]);
    await sink(lab);
    await refreshLiveTables(lab);
    const before = await lab.catalog.currentSnapshot();
    const idle = await refreshLiveTables(lab);
    assert.equal(idle.fromSnapshot, null);
    assert.equal(await lab.catalog.currentSnapshot(), before, "no snapshot for an empty refresh");

    await land(lab, TOPICS.transactions, [tx("c", 2, 2, 1), tx("d", 3, 1, 4)]);
    await sink(lab);
    const afterSink = await lab.catalog.currentSnapshot();
    const r = await refreshLiveTables(lab);
    assert.equal(r.rowsIn.transactions, 2, "only the two new bronze rows are read");
    assert.equal(r.minutesTouched, 2);
    // The change feed of gold itself: minute 10:01 was not rewritten.
    const rewritten = (await lab.sql(`SELECT DISTINCT strftime(minute, '%H:%M') AS m FROM ducklake_table_insertions('lake', 'gold', 'revenue_per_minute', ${afterSink + 1}, ${await lab.catalog.currentSnapshot()}) ORDER BY m`)).rows();
    assert.deepEqual(rewritten.map((x) => x["m"]), ["10:02", "10:03"]);
    assert.deepEqual((await gold(lab)).map((g) => [g["m"], g["category"], g["revenue"]]), [
      ["10:01", "Books", 10], ["10:02", "Books", 5], ["10:02", "Toys", 1], ["10:03", "Books", 4],
    ]);
  });
});

test("a refresh that fails half-way leaves silver, gold and progress as they were; the retry counts each row once", async () => {
  await withLab(async (lab) => {
    await land(lab, TOPICS.transactions, [tx("a", 1, 1, 10), tx("b", 1, 2, 5)]);
    await sink(lab);
    const run = lab.catalog.run.bind(lab.catalog);
    lab.catalog.run = async (sql, params) => {
      if (/INSERT INTO gold\.revenue_per_minute/.test(sql)) throw new Error("injected crash between silver and gold");
      return run(sql, params);
    };
    await assert.rejects(refreshLiveTables(lab), /injected crash/);
    lab.catalog.run = run;
    assert.equal(await count(lab, "silver.transactions"), 0);
    assert.equal(await count(lab, "silver.live_progress"), 0);
    const r = await refreshLiveTables(lab);
    assert.equal(r.clean.transactions, 2);
    assert.equal(await count(lab, "silver.transactions"), 2);
    assert.deepEqual((await gold(lab)).map((g) => g["revenue"]).sort(), [10, 5].sort());
  });
});

test("when the snapshot the last refresh got to was expired, the next one rebuilds the live tables from all of bronze: same result", async () => {
  await withLab(async (lab) => {
    await land(lab, TOPICS.transactions, [tx("a", 1, 1, 10), tx("b", 2, 2, 5), tx("bad", 2, 1, 3, { quantity: 0 })]);
    await land(lab, TOPICS.interactions, [view("v1", 1, 3)]);
    await sink(lab);
    await refreshLiveTables(lab);
    // More events, then every snapshot but the newest expired (as maintainLake or an erasure does): the change feed
    // from the last refresh's snapshot is gone.
    await land(lab, TOPICS.transactions, [tx("c", 3, 1, 4), tx("a", 3, 1, 10)]);
    await sink(lab);
    await lab.catalog.run("DELETE FROM bronze.transactions WHERE transaction_id = 'b'"); // an erased user's event
    const kept = await maintainLake(lab, { expire: { keepLast: 1 } });
    assert.equal(kept.after.snapshots, 1);

    const r = await refreshLiveTables(lab);
    assert.deepEqual(r.rebuilt, ["bronze.transactions", "bronze.user_interactions"]);
    assert.deepEqual([r.rowsIn.transactions, r.clean.transactions, r.quarantined.transactions], [4, 2, 2], "a, bad, c, a again: read once each");
    assert.deepEqual((await lab.sql("SELECT transaction_id FROM silver.transactions ORDER BY 1")).column("transaction_id"), ["a", "c"]);
    assert.equal(await count(lab, "silver.quarantine"), 2, "the quarantine is rebuilt too, not doubled");
    assert.deepEqual(await gold(lab), [
      { m: "10:01", category: "Books", revenue: 10, transactions: 1 }, { m: "10:03", category: "Books", revenue: 4, transactions: 1 },
    ], "minute 10:02 held only the deleted event and the quarantined one: it is gone from gold");
    const again = await refreshLiveTables(lab);
    assert.deepEqual([again.fromSnapshot, again.rebuilt], [null, []], "the next refresh is incremental again");
  });
});
