import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openLab, CatalogError } from "../../../kernel-helpers/src/index.js";
import { DATA_INLINING_ROW_LIMIT } from "../../../kernel-helpers/src/catalog/catalog.js";
import { count, withLab } from "../helpers.js";

test("the lake has one schema per layer", async () => {
  await withLab(async (lab) => {
    const schemas = (await lab.sql("SELECT schema_name FROM duckdb_schemas() WHERE database_name = 'lake'")).column("schema_name");
    for (const layer of ["bronze", "silver", "gold"]) assert.ok(schemas.includes(layer), `missing schema ${layer}`);
  });
});

test("snapshots are listed and a table is readable as of an earlier snapshot", async () => {
  await withLab(async (lab) => {
    await lab.catalog.run("CREATE TABLE gold.t AS SELECT 1 AS v");
    const first = await lab.catalog.currentSnapshot();
    await lab.catalog.run("INSERT INTO gold.t VALUES (2), (3)");
    const snaps = await lab.catalog.snapshots();
    assert.ok(snaps.length >= 3);
    assert.deepEqual(snaps.map((s) => s.snapshotId), [...snaps.map((s) => s.snapshotId)].sort((a, b) => a - b));
    // Two rows are under the inlining limit (DATA_INLINING_ROW_LIMIT): DuckLake 1.0 keeps them in the catalog
    // and says so in the snapshot's changes, where a Parquet write says tables_inserted_into.
    assert.deepEqual(snaps.at(-1)!.changes["inlined_insert"]?.length, 1, JSON.stringify(snaps.at(-1)!.changes));
    assert.equal(snaps.at(-1)!.changes["tables_inserted_into"], undefined);
    assert.deepEqual((await lab.catalog.readAsOf("gold.t", first)).column("v"), [1]);
    assert.equal(await count(lab, "gold.t"), 3);
  });
});

test("a failed transaction leaves no table and no rows behind", async () => {
  await withLab(async (lab) => {
    await lab.catalog.run("CREATE TABLE silver.kept AS SELECT 1 AS v");
    const before = await lab.catalog.currentSnapshot();
    await assert.rejects(
      lab.catalog.transaction(async () => {
        await lab.catalog.run("CREATE TABLE silver.half AS SELECT 1 AS v");
        await lab.catalog.run("INSERT INTO silver.kept VALUES (2)");
        await lab.catalog.run("SELECT no_such_column FROM silver.kept");
      }),
      CatalogError,
    );
    assert.equal(await lab.catalog.tableExists("silver.half"), false);
    assert.equal(await count(lab, "silver.kept"), 1);
    assert.equal(await lab.catalog.currentSnapshot(), before, "no snapshot was committed");
  });
});

test("SQL errors quote DuckDB's message and the statement", async () => {
  await withLab(async (lab) => {
    await assert.rejects(lab.sql("SELECT * FROM silver.nope"), (e: Error) => {
      assert.ok(e instanceof CatalogError);
      assert.match(e.message, /nope/);
      assert.match(e.message, /in: SELECT \* FROM silver.nope/);
      return true;
    });
  });
});

test("openLab returns the same lab for the same home (a re-run cell reuses the engine)", async () => {
  await withLab(async (lab, dir) => {
    const again = await openLab({ home: join(dir, "lab"), quiet: true });
    assert.equal(again, lab);
  });
});

test("tables() lists each table with its layer; preview carries the total row count", async () => {
  await withLab(async (lab) => {
    await lab.catalog.run("CREATE TABLE bronze.n AS SELECT range AS i FROM range(25)");
    const t = (await lab.catalog.tables()).find((x) => x.table === "n");
    assert.equal(t?.layer, "bronze");
    const p = await lab.catalog.preview("bronze.n", 5);
    assert.equal(p.numRows, 5);
    assert.equal(p.totalRows, 25);
  });
});

test("small inserts are inlined in the catalog until flushed; larger ones are written as Parquet at once", async () => {
  await withLab(async (lab) => {
    const files = async (table: string) => (await lab.sql(
      `SELECT count(*) FROM ducklake_list_files('lake', ?, schema => 'silver')`, [table])).number();
    await lab.catalog.run("CREATE TABLE silver.small (v INTEGER)");
    await lab.catalog.run(`INSERT INTO silver.small SELECT range FROM range(${DATA_INLINING_ROW_LIMIT})`);
    assert.equal(await files("small"), 0, "a micro-batch at the limit stays in the catalog");
    assert.equal(await count(lab, "silver.small"), DATA_INLINING_ROW_LIMIT);
    await lab.catalog.run("CALL ducklake_flush_inlined_data('lake', schema_name => 'silver', table_name => 'small')");
    assert.equal(await files("small"), 1, "flushing writes the inlined rows out as one Parquet file");
    assert.equal(await count(lab, "silver.small"), DATA_INLINING_ROW_LIMIT);

    await lab.catalog.run(`CREATE TABLE silver.big AS SELECT range AS v FROM range(${DATA_INLINING_ROW_LIMIT + 1})`);
    assert.equal(await files("big"), 1);
  });
});
