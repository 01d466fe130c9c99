/**
 * Live silver and gold on the real services (PostgreSQL catalog, MinIO data): a refresh killed with
 * SIGKILL after it wrote silver and while it rewrites gold leaves silver, gold and the progress table
 * as they were; the next refresh counts every row once, and a later one reads only the new bronze
 * rows and rewrites only the gold minutes they fall in.
 * This file is also the child process it kills: with LIVE_REFRESH_CHILD set it only runs one refresh.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FolderSource, MARKETPLACE_SCHEMAS, openLab, refreshLiveTables, runStreamSink, TOPICS, type Lab } from "../../kernel-helpers/src/index.js";
import { runChild, stallAt, withServicesLab } from "./services.js";

if (process.env["LIVE_REFRESH_CHILD"]) {
  // Child: one refresh that announces and stalls once it is inside the gold rewrite (silver already
  // inserted in the same transaction), so the parent can kill it there.
  const lab = await openLab({ quiet: true });
  stallAt(lab, /INSERT INTO gold\.revenue_per_minute/, "MID-REFRESH", 60_000);
  await refreshLiveTables(lab);
  process.stdout.write("DONE\n");
  lab.close();
} else {
  test("a live refresh killed mid-transaction on the PostgreSQL catalog leaves nothing half-counted; the next reads only new rows", { timeout: 180_000 }, async () => {
    await withServicesLab(async (lab, ctx) => {
      const landing = join(ctx.home, "landing-live-test");
      // A folder source keeps the test about the live tables; the Kafka path to bronze has its own tests.
      const sink = () => runStreamSink(lab, {
        topics: Object.values(TOPICS), schemas: MARKETPLACE_SCHEMAS, keyField: "user_id", maxWaitMs: 10, idleStopMs: 200,
        source: new FolderSource({ path: landing, topics: Object.values(TOPICS) }),
      });
      let file = 0;
      const land = async (topic: string, events: object[]) => {
        await mkdir(join(landing, topic), { recursive: true });
        await writeFile(join(landing, topic, `${String(++file).padStart(4, "0")}.jsonl`), events.map((e) => JSON.stringify(e) + "\n").join(""));
      };
      // 120 transactions over minutes 10:00–10:05 (one with quantity 0 for quarantine), 60 views.
      const tx = Array.from({ length: 120 }, (_, i) => ({
        transaction_id: `t${i}`, user_id: 1 + (i % 7), product_id: 1, category: ["Books", "Toys", "Garden"][Math.floor(i / 6) % 3], quantity: i === 5 ? 0 : 1,
        amount: 1 + i, currency: "EUR", event_time: `2026-11-21T10:0${i % 6}:${String(i % 60).padStart(2, "0")}Z`,
      }));
      const views = Array.from({ length: 60 }, (_, i) => ({
        interaction_id: `v${i}`, user_id: 10 + (i % 11), interaction_type: "view", event_time: `2026-11-21T10:0${i % 6}:05Z`,
      }));
      await land(TOPICS.transactions, tx);
      await land(TOPICS.interactions, views);
      assert.equal((await sink()).rows, 180);

      const env = { ...process.env, LIVE_REFRESH_CHILD: "1", DATAFLOW_CATALOG_URL: ctx.catalogUrl, DATAFLOW_LAB_HOME: ctx.home };
      const killed = await runChild(import.meta.url, env, (line, kill) => {
        if (line === "MID-REFRESH") kill();
      });
      assert.equal(killed.signal, "SIGKILL", `the refresh was killed inside its transaction\n${killed.output}`);
      assert.deepEqual(await state(lab), { silverTx: 0, silverViews: 0, quarantined: 0, goldRows: 0, progress: 0 }, "nothing of the killed refresh is visible");

      const first = await refreshLiveTables(lab);
      assert.deepEqual([first.rowsIn.transactions, first.clean.transactions, first.quarantined.transactions, first.rowsIn["user-interactions"]], [120, 119, 1, 60]);
      assert.equal(first.minutesTouched, 6);
      assert.deepEqual(await state(lab), { silverTx: 119, silverViews: 60, quarantined: 1, goldRows: 18, progress: 2 });
      await assertGoldMatchesSilver(lab);

      // A second wave: three transactions in minute 10:05 and one in 10:07. Only those four rows are
      // read, and only gold minutes 10:05 and 10:07 are rewritten (DuckLake's change feed of gold says so).
      await land(TOPICS.transactions, [
        ...[0, 1, 2].map((i) => ({ ...tx[0]!, transaction_id: `w${i}`, category: "Books", amount: 100, event_time: "2026-11-21T10:05:59Z" })),
        { ...tx[0]!, transaction_id: "w3", category: "Toys", amount: 7, event_time: "2026-11-21T10:07:00Z" },
      ]);
      assert.equal((await sink()).rows, 4);
      const afterSink = await lab.catalog.currentSnapshot();
      const second = await refreshLiveTables(lab);
      assert.deepEqual([second.rowsIn.transactions, second.rowsIn["user-interactions"], second.minutesTouched], [4, 0, 2]);
      const rewritten = (await lab.sql(`SELECT DISTINCT strftime(minute AT TIME ZONE 'UTC', '%H:%M') AS m FROM ducklake_table_insertions('lake', 'gold', 'revenue_per_minute', ${afterSink + 1}, ${await lab.catalog.currentSnapshot()}) ORDER BY m`)).column("m");
      assert.deepEqual(rewritten, ["10:05", "10:07"]);
      await assertGoldMatchesSilver(lab);

      const idle = await refreshLiveTables(lab);
      assert.equal(idle.fromSnapshot, null, "a refresh with nothing new reads nothing");
    });
  });
}

async function state(lab: Lab) {
  const exists = async (t: string) => lab.catalog.tableExists(t);
  const n = async (t: string) => ((await exists(t)) ? (await lab.sql(`SELECT count(*) FROM ${t}`)).number() : 0);
  return {
    silverTx: await n("silver.transactions"), silverViews: await n("silver.user_interactions"), quarantined: await n("silver.quarantine"),
    goldRows: await n("gold.revenue_per_minute"), progress: await n("silver.live_progress"),
  };
}

async function assertGoldMatchesSilver(lab: Lab): Promise<void> {
  const diff = (await lab.sql(`SELECT count(*) FROM (
      SELECT event_minute AS minute, category, sum(amount) AS revenue, count(*) AS transactions FROM silver.transactions GROUP BY ALL
      EXCEPT SELECT minute, category, revenue, transactions FROM gold.revenue_per_minute)`)).number();
  assert.equal(diff, 0, "every gold revenue row equals the silver aggregate of its minute and category");
  const users = (await lab.sql(`SELECT count(*) FROM (
      SELECT minute, count(DISTINCT user_id) AS n FROM (
        SELECT event_minute AS minute, user_id FROM silver.transactions UNION ALL SELECT event_minute, user_id FROM silver.user_interactions) GROUP BY minute
      EXCEPT SELECT minute, active_users FROM gold.active_users_per_minute)`)).number();
  assert.equal(users, 0, "every gold active-users row equals the distinct users of its minute in silver");
}
