/**
 * One kernel, many callers: cells, the stream sink, the live refresh and API handlers share one lab.
 * Their transactions must never interleave.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildGoldTable, CatalogError, runStreamSink } from "../../../kernel-helpers/src/index.js";
import { count, withLab } from "../helpers.js";

test("two gold builds at once both commit, each with its own rows", async () => {
  await withLab(async (lab) => {
    await lab.catalog.run("CREATE TABLE silver.n AS SELECT range AS i FROM range(20000)");
    const builds = await Promise.all(
      Array.from({ length: 4 }, (_, k) => buildGoldTable(lab, `part_${k}`, `SELECT i FROM silver.n WHERE i % 4 = ${k}`)),
    );
    assert.deepEqual(builds.map((b) => b.rows), [5000, 5000, 5000, 5000]);
    for (let k = 0; k < 4; k++) assert.equal(await count(lab, `gold.part_${k}`), 5000);
  });
});

test("a statement run while another caller's transaction is open is not rolled back with it", async () => {
  await withLab(async (lab) => {
    await lab.catalog.run("CREATE TABLE silver.log (v INTEGER)");
    let inside!: () => void;
    const opened = new Promise<void>((ok) => (inside = ok));
    let release!: () => void;
    const hold = new Promise<void>((ok) => (release = ok));
    const failing = lab.catalog.transaction(async () => {
      await lab.catalog.run("INSERT INTO silver.log VALUES (1)");
      inside();
      await hold;
      await lab.catalog.run("SELECT no_such_column FROM silver.log");
    });
    await opened;
    // A cell's own statement, while the transaction above is still open. It commits on its own, so it waits
    // for the open write to end (one DuckLake write at a time per kernel, see Catalog.statement), then lands.
    const cell = lab.catalog.run("INSERT INTO silver.log VALUES (2)");
    release();
    await assert.rejects(failing, CatalogError);
    await cell;
    assert.deepEqual((await lab.sql("SELECT v FROM silver.log ORDER BY v")).column("v"), [2]);
  });
});

test("temp tables of one session are invisible to other callers, and gone when it ends", async () => {
  await withLab(async (lab) => {
    let created!: () => void;
    const ready = new Promise<void>((ok) => (created = ok));
    let release!: () => void;
    const hold = new Promise<void>((ok) => (release = ok));
    const session = lab.catalog.session(async () => {
      await lab.catalog.run("CREATE TEMP TABLE mine AS SELECT 1 AS v");
      await lab.catalog.session(async () => assert.equal((await lab.sql("SELECT v FROM temp.main.mine")).number(), 1, "a nested session is the same one"));
      created();
      await hold;
    });
    await ready;
    await assert.rejects(lab.sql("SELECT * FROM temp.main.mine"), CatalogError, "another caller does not see it");
    release();
    await session;
    await assert.rejects(lab.sql("SELECT * FROM temp.main.mine"), CatalogError);
  });
});

test("gold builds and cell writes while the stream sink commits: every batch and every build lands, nothing mixes", async () => {
  await withLab(async (lab) => {
    const dir = join(lab.settings.home, "landing", "transactions");
    await mkdir(dir, { recursive: true });
    const events = Array.from({ length: 600 }, (_, i) => JSON.stringify({ transaction_id: `t${i}`, amount: i, user_id: `u${i % 7}` }));
    await writeFile(join(dir, "0001.jsonl"), events.join("\n") + "\n");
    await lab.catalog.run("CREATE TABLE silver.base AS SELECT range AS i FROM range(1000)");
    await lab.catalog.run("CREATE TABLE silver.notes (k INTEGER)");

    const sink = runStreamSink(lab, {
      topics: ["transactions"], schemas: { transactions: { transaction_id: "string", amount: "number", user_id: "string" } },
      batchSize: 20, maxWaitMs: 5, idleStopMs: 200,
    });
    const builds: Promise<unknown>[] = [];
    for (let k = 0; k < 12; k++) {
      builds.push(buildGoldTable(lab, `g_${k}`, `SELECT i * ${k} AS v FROM silver.base`));
      builds.push(lab.catalog.run(`INSERT INTO silver.notes VALUES (${k})`));
    }
    const [report] = await Promise.all([sink, ...builds]);
    const r = report as Awaited<typeof sink>;
    assert.equal(r.rows, 600);
    assert.equal(r.deadLetters, 0);
    assert.equal(await count(lab, "bronze.transactions"), 600);
    assert.equal((await lab.sql("SELECT count(DISTINCT transaction_id) FROM bronze.transactions")).number(), 600);
    assert.equal(await count(lab, "silver.notes"), 12);
    for (let k = 0; k < 12; k++) assert.equal(await count(lab, `gold.g_${k}`), 1000);
    const offsets = (await lab.sql("SELECT next_offset FROM bronze.stream_offsets")).column("next_offset");
    assert.deepEqual(offsets, [600]);
  });
});
