import { test } from "node:test";
import assert from "node:assert/strict";
import { buildGoldTable, QualityError } from "../../../kernel-helpers/src/index.js";
import { withLab } from "../helpers.js";

test("buildGoldTable writes only gold, and never a table the library maintains", async () => {
  await withLab(async (lab) => {
    await lab.catalog.run("CREATE TABLE silver.x AS SELECT 1 AS v");
    for (const name of ["silver.x", "Silver.X", "bronze.ingestion_log"]) {
      await assert.rejects(buildGoldTable(lab, name, "SELECT 2 AS v"),
        (e: unknown) => e instanceof QualityError && /is not a gold table/.test(e.message) && /Pass "/.test(e.message), name);
    }
    assert.deepEqual((await lab.sql("SELECT v FROM silver.x")).column("v"), [1], "silver.x is intact");
    for (const name of ["customer_scores", "gold.Customer_Scores", "GOLD.REVENUE_PER_MINUTE", "active_users_per_minute"]) {
      await assert.rejects(buildGoldTable(lab, name, "SELECT 1 AS v"),
        (e: unknown) => e instanceof QualityError && /is maintained by/.test(e.message) && /Choose another name/.test(e.message), name);
    }
    await assert.rejects(buildGoldTable(lab, "gold.a.b", "SELECT 1"), /not a valid gold table name/);
    const ok = await buildGoldTable(lab, "Gold.Totals", "SELECT 1 AS v");
    assert.equal(ok.rows, 1);
  });
});
