/**
 * refine never reads or writes the lab's own records, whatever the case of the name: refining into silver.quarantine
 * used to ALTER it, and every later ingest and refine of that lab failed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ingestFile, QualityError, refine } from "../../../kernel-helpers/src/index.js";
import { count, file, withLab } from "../helpers.js";

test("a bookkeeping table is refused as target or source in any case, before anything is touched", async () => {
  await withLab(async (lab, dir) => {
    await ingestFile(lab, { file: await file(dir, "o.csv", "id,amount\n1,2.50\n"), table: "orders" });
    await refine(lab, { source: "bronze.orders", target: "silver.orders", columns: { id: "INTEGER", amount: "DECIMAL(12,2)" }, rules: [] });
    const columnsBefore = await lab.catalog.columns("silver.quarantine");
    const snapshot = await lab.catalog.currentSnapshot();
    const columns = { id: "INTEGER" };
    for (const target of ["silver.quarantine", "Silver.Quarantine", "SILVER.QUALITY_RUNS", "silver.live_progress", "bronze.ingestion_log", "Bronze.Dead_Letter"]) {
      await assert.rejects(refine(lab, { source: "bronze.orders", target, columns, rules: [] }),
        (e: unknown) => e instanceof QualityError && /keeps its own records; refine cannot write into it/.test(e.message) && /Choose another silver table/.test(e.message), target);
    }
    for (const source of ["bronze.Ingestion_Log", "BRONZE.REJECTED_RECORDS", "bronze.stream_offsets", "silver.Quarantine"]) {
      await assert.rejects(refine(lab, { source, target: "silver.x", columns, rules: [] }),
        (e: unknown) => e instanceof QualityError && /holds the lab's own records/.test(e.message), source);
    }
    await assert.rejects(refine(lab, { source: "bronze.orders", target: "gold.orders", columns, rules: [] }), /not in the silver layer/);
    await assert.rejects(refine(lab, { source: "bronze.orders", target: "bronze.orders2", columns, rules: [] }), /not in the silver layer/);
    await assert.rejects(refine(lab, { source: "silver.orders", target: "Silver.Orders", columns, rules: [] }), /source and the target are both/);
    assert.deepEqual(await lab.catalog.columns("silver.quarantine"), columnsBefore, "silver.quarantine is unchanged");
    assert.equal(await lab.catalog.currentSnapshot(), snapshot, "nothing was committed");

    // Still usable afterwards: a new batch ingests and refines.
    await ingestFile(lab, { file: await file(dir, "o2.csv", "id,amount\n2,3.00\n"), table: "orders" });
    const next = await refine(lab, { source: "bronze.orders", target: "silver.orders", columns: { id: "INTEGER", amount: "DECIMAL(12,2)" }, rules: [] });
    assert.equal(next.clean, 1);
  });
});

test("declared columns cannot take lineage or working names; names are case-insensitive like DuckDB's", async () => {
  await withLab(async (lab, dir) => {
    await ingestFile(lab, { file: await file(dir, "o.csv", "id,amount\n1,2.50\n1,x\n"), table: "orders" });
    const base = { source: "bronze.orders", target: "silver.orders", rules: [] };
    for (const name of ["_batch_id", "_Source_File", "_ROW_NUMBER"]) {
      await assert.rejects(refine(lab, { ...base, columns: { id: "INTEGER", [name]: { type: "VARCHAR", expr: "s.id" } } }),
        (e: unknown) => e instanceof QualityError && e.message.includes(`Column "${name}" of silver.orders is named like a lineage column`), name);
    }
    await assert.rejects(refine(lab, { ...base, columns: { id: "INTEGER", __failed: { type: "VARCHAR", expr: "s.id" } } }), /starts with "__"/);
    await assert.rejects(refine(lab, { ...base, columns: { id: "INTEGER", ID: "INTEGER" } }), /"id" and "ID" of silver\.orders are the same column/);
    assert.equal(await lab.catalog.tableExists("silver.orders"), false);

    // Another spelling of the same tables is the same tables: the batch is not refined twice.
    const first = await refine(lab, { source: "Bronze.Orders", target: "Silver.Orders", columns: { id: "INTEGER", amount: "DECIMAL(12,2)" }, rules: [] });
    assert.deepEqual([first.clean, first.quarantined], [1, 1]);
    const again = await refine(lab, { ...base, columns: { id: "INTEGER", amount: "DECIMAL(12,2)" } });
    assert.equal(again.rowsIn, 0);
    assert.equal(await count(lab, "silver.quarantine"), 1);
  });
});
