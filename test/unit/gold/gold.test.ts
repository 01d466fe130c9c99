import { test } from "node:test";
import assert from "node:assert/strict";
import { buildGoldTable, QualityError } from "../../../kernel-helpers/src/index.js";
import { withLab } from "../helpers.js";

test("a gold rebuild replaces the table and the previous version stays readable by snapshot", async () => {
  await withLab(async (lab) => {
    const v1 = await buildGoldTable(lab, "totals", "SELECT 10 AS total", { description: "first" });
    const v2 = await buildGoldTable(lab, "gold.totals", "SELECT 20 AS total UNION ALL SELECT 30", { description: "second" });
    assert.equal(v1.rows, 1);
    assert.equal(v2.rows, 2);
    assert.ok(v2.snapshotId > v1.snapshotId);
    assert.deepEqual((await lab.catalog.readAsOf("gold.totals", v1.snapshotId)).column("total"), [10]);
    const comment = (await lab.sql("SELECT comment FROM duckdb_tables() WHERE table_name = 'totals'")).scalar();
    assert.equal(comment, "second", "the description travels with each rebuild");
  });
});

test("a failing gold query leaves the previous table intact", async () => {
  await withLab(async (lab) => {
    await buildGoldTable(lab, "totals", "SELECT 10 AS total");
    await assert.rejects(buildGoldTable(lab, "totals", "SELECT nope FROM gold.totals"));
    assert.deepEqual((await lab.sql("SELECT total FROM gold.totals")).column("total"), [10]);
    await assert.rejects(buildGoldTable(lab, "bad-name", "SELECT 1"), QualityError);
  });
});
