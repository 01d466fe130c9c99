/**
 * Declared column types are a contract: validated before they reach SQL, and never changed silently between runs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ingestFile, refine, QualityError } from "../../../kernel-helpers/src/index.js";
import { sqlType } from "../../../kernel-helpers/src/catalog/sql.js";
import { withLab } from "../helpers.js";

test("declared types are checked and spelled as DuckDB does; anything else is refused naming the column", () => {
  assert.equal(sqlType("numeric(12, 2)", "amount"), "DECIMAL(12,2)");
  assert.equal(sqlType("text", "name"), "VARCHAR");
  assert.equal(sqlType("int", "id"), "INTEGER");
  assert.equal(sqlType("timestamptz", "at"), "TIMESTAMP WITH TIME ZONE");
  assert.equal(sqlType("varchar[]", "tags"), "VARCHAR[]");
  assert.equal(sqlType("DECIMAL", "x"), "DECIMAL(18,3)");
  for (const bad of ["VARCHAR); DROP TABLE bronze.pedidos; --", "DECIMAL(40,2)", "DECIMAL(5,9)", "INTEGER(4)", "MONEY", ""]) {
    assert.throws(() => sqlType(bad, "amount"), (e: unknown) => e instanceof QualityError && /Column "amount" declares type/.test(e.message), bad);
  }
});

test("a type spliced into the spec cannot touch another table; a changed type between runs is refused, nothing refined", async () => {
  await withLab(async (lab, dir) => {
    const file = join(dir, "pedidos.csv");
    await writeFile(file, "id,amount\n1,2.99\n2,10.50\n");
    await ingestFile(lab, { file, table: "pedidos" });
    await assert.rejects(
      refine(lab, { source: "bronze.pedidos", target: "silver.pedidos", columns: { id: "VARCHAR); DROP TABLE bronze.pedidos; --", amount: "VARCHAR" }, rules: [] }),
      /Column "id" declares type/,
    );
    assert.equal((await lab.sql("SELECT count(*) FROM bronze.pedidos")).number(), 2, "bronze.pedidos is intact");

    const first = await refine(lab, { source: "bronze.pedidos", target: "silver.pedidos", columns: { id: "INTEGER", amount: "DECIMAL(12,2)" }, rules: [] });
    assert.equal(first.clean, 2);
    await writeFile(join(dir, "pedidos2.csv"), "id,amount\n3,1.25\n");
    await ingestFile(lab, { file: join(dir, "pedidos2.csv"), table: "pedidos" });
    await assert.rejects(
      refine(lab, { source: "bronze.pedidos", target: "silver.pedidos", columns: { id: "INTEGER", amount: "INTEGER" }, rules: [] }),
      (e: unknown) => e instanceof QualityError && /silver\.pedidos\.amount is DECIMAL\(12,2\), but the spec now declares INTEGER/.test(e.message)
        && /ALTER TABLE silver\.pedidos ALTER amount TYPE INTEGER/.test(e.message),
    );
    assert.deepEqual((await lab.sql("SELECT amount::VARCHAR AS a FROM silver.pedidos ORDER BY id")).rows().map((r) => r["a"]), ["2.99", "10.50"], "nothing changed");
    // The same spec as before still works: the second file is refined.
    const again = await refine(lab, { source: "bronze.pedidos", target: "silver.pedidos", columns: { id: "int", amount: "numeric(12,2)" }, rules: [] });
    assert.equal(again.clean, 1);
  });
});
