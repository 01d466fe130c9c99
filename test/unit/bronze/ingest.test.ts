import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ingestFile, IngestError, REJECTED_RECORDS } from "../../../kernel-helpers/src/index.js";
import { count, file, withLab } from "../helpers.js";

test("a CSV lands unchanged and loads as text with ingestion metadata", async () => {
  await withLab(async (lab, dir) => {
    const src = await file(dir, "orders.csv", "order_id,amount,order_date\n1,10.5,2024-01-02\n2,-3,2024-13-45\n");
    const r = await ingestFile(lab, { file: src, table: "orders" });
    assert.equal(r.rows, 2);
    assert.equal(r.skipped, false);
    const cols = await lab.catalog.columns("bronze.orders");
    assert.deepEqual(cols.map((c) => c.name), ["order_id", "amount", "order_date", "_row_number", "_ingested_at", "_source_file", "_batch_id"]);
    assert.equal(cols.find((c) => c.name === "order_date")!.type, "VARCHAR", "bronze keeps malformed dates as text");
    const rows = (await lab.sql("SELECT order_date, _row_number, _batch_id, _source_file FROM bronze.orders ORDER BY _row_number")).rows();
    assert.deepEqual(rows.map((x) => x["order_date"]), ["2024-01-02", "2024-13-45"]);
    assert.deepEqual(rows.map((x) => x["_row_number"]), [2, 3], "_row_number is the file line: the header is line 1");
    assert.equal(rows[0]!["_batch_id"], r.batchId);
    assert.equal(rows[0]!["_source_file"], r.landedAs);
    const objects = await lab.storage.list("bronze", "raw/orders/");
    assert.equal(objects.length, 1);
    assert.match(objects[0]!.key, /^raw\/orders\/[0-9a-f]{12}\/orders\.csv$/);
  });
});

test("ingesting the same bytes twice adds nothing; a changed file is a new batch that does not overwrite the first", async () => {
  await withLab(async (lab, dir) => {
    const src = await file(dir, "c.csv", "id,name\n1,a\n");
    await ingestFile(lab, { file: src, table: "c" });
    const again = await ingestFile(lab, { file: src, table: "c" });
    assert.equal(again.skipped, true);
    assert.equal(await count(lab, "bronze.c"), 1);
    await writeFile(src, "id,name\n2,b\n");
    const changed = await ingestFile(lab, { file: src, table: "c" });
    assert.equal(changed.skipped, false);
    assert.equal(await count(lab, "bronze.c"), 2);
    assert.equal((await lab.storage.list("bronze", "raw/c/")).length, 2, "both versions of the file are kept");
  });
});

test("JSON lines: corrupt lines go to rejected_records with their line number, the rest load", async () => {
  await withLab(async (lab, dir) => {
    const src = await file(dir, "e.jsonl", '{"id":1,"t":"view"}\n{"id":2,"t":"cl\n[1,2]\n{"id":3,"t":"buy","extra":{"a":1}}\n');
    const r = await ingestFile(lab, { file: src, table: "events" });
    assert.equal(r.rows, 2);
    assert.equal(r.rejected, 2);
    const rej = (await lab.sql(`SELECT line, error FROM ${REJECTED_RECORDS} ORDER BY line`)).rows();
    assert.deepEqual(rej, [
      { line: 2, error: "line is not valid JSON" },
      { line: 3, error: "valid JSON but not an object" },
    ]);
    const rows = (await lab.sql("SELECT id, t, extra, _row_number FROM bronze.events ORDER BY id")).rows();
    assert.deepEqual(rows, [
      { id: "1", t: "view", extra: null, _row_number: 1 },
      { id: "3", t: "buy", extra: '{"a":1}', _row_number: 4 },
    ]);
  });
});

test("a CSV line with the wrong number of fields is rejected with its line, not dropped", async () => {
  await withLab(async (lab, dir) => {
    const src = await file(dir, "bad.csv", "a,b\n1,2\n3,4,5,6\n7,8\n");
    const r = await ingestFile(lab, { file: src, table: "bad" });
    assert.equal(r.rows, 2);
    assert.equal(r.rejected, 1);
    assert.equal(r.rejectedSample[0]!.line, 3);
  });
});

test("Parquet keeps its types; a new column in a later file evolves the schema", async () => {
  await withLab(async (lab, dir) => {
    const p1 = join(dir, "p1.parquet");
    const p2 = join(dir, "p2.parquet");
    await lab.sql(`COPY (SELECT 1::INTEGER AS id, 2.5::DOUBLE AS price) TO '${p1}' (FORMAT parquet)`);
    await lab.sql(`COPY (SELECT 2::INTEGER AS id, 3.5::DOUBLE AS price, 'new' AS label) TO '${p2}' (FORMAT parquet)`);
    await ingestFile(lab, { file: p1, table: "p" });
    const r = await ingestFile(lab, { file: p2, table: "p" });
    assert.deepEqual(r.newColumns, ["label"]);
    const types = Object.fromEntries((await lab.catalog.columns("bronze.p")).map((c) => [c.name, c.type]));
    assert.equal(types["id"], "INTEGER");
    assert.deepEqual((await lab.sql("SELECT label FROM bronze.p ORDER BY id")).column("label"), [null, "new"]);
  });
});

test("bad input: missing file, unknown extension, reserved table name, unreadable file", async () => {
  await withLab(async (lab, dir) => {
    await assert.rejects(ingestFile(lab, { file: join(dir, "nope.csv"), table: "x" }), (e: Error) => e instanceof IngestError && e.message.includes("nope.csv"));
    const txt = await file(dir, "notes.txt", "hi");
    await assert.rejects(ingestFile(lab, { file: txt, table: "x" }), /Cannot tell the format of .*notes\.txt/);
    const ok = await file(dir, "ok.csv", "a\n1\n");
    await assert.rejects(ingestFile(lab, { file: ok, table: "ingestion_log" }), /cannot be a bronze table name/);
    await assert.rejects(ingestFile(lab, { file: ok, table: "bad name" }), IngestError);
    const broken = await file(dir, "broken.parquet", "PAR1 this is not parquet");
    await assert.rejects(ingestFile(lab, { file: broken, table: "x" }), (e: Error) => e instanceof IngestError && /broken\.parquet/.test(e.message));
    assert.equal(await lab.catalog.tableExists("bronze.x"), false, "a failed load registers no table");
  });
});

test("a column named like ingestion metadata is refused with the column named", async () => {
  await withLab(async (lab, dir) => {
    const src = await file(dir, "m.csv", "id,_batch_id\n1,x\n");
    await assert.rejects(ingestFile(lab, { file: src, table: "m" }), /_batch_id/);
  });
});

test("a load that fails midway leaves bronze as it was, and the fixed file can then be ingested", async () => {
  await withLab(async (lab, dir) => {
    const good = join(dir, "v1.parquet");
    const bad = join(dir, "v2.parquet");
    const fixed = join(dir, "v3.parquet");
    await lab.sql(`COPY (SELECT range::INTEGER AS id FROM range(5)) TO '${good}' (FORMAT parquet)`);
    // Same column, incompatible type: the insert into bronze.items fails after the scan has started.
    await lab.sql(`COPY (SELECT CASE WHEN range < 3 THEN range::VARCHAR ELSE 'x' || range END AS id FROM range(5)) TO '${bad}' (FORMAT parquet)`);
    await lab.sql(`COPY (SELECT (range + 10)::INTEGER AS id FROM range(5)) TO '${fixed}' (FORMAT parquet)`);
    await ingestFile(lab, { file: good, table: "items" });
    const snapshot = await lab.catalog.currentSnapshot();
    await assert.rejects(ingestFile(lab, { file: bad, table: "items" }), (e: Error) => e instanceof IngestError && e.message.includes("v2.parquet"));
    assert.equal(await count(lab, "bronze.items"), 5, "the earlier rows are intact and no partial rows were added");
    assert.equal(await lab.catalog.currentSnapshot(), snapshot, "nothing was committed");
    assert.equal(await count(lab, "bronze.ingestion_log"), 1, "the failed file is not marked as ingested");
    const r = await ingestFile(lab, { file: fixed, table: "items" });
    assert.equal(r.rows, 5);
    assert.equal(await count(lab, "bronze.items"), 10);
  });
});

test("an empty or binary file named .csv gets an error naming the file", async () => {
  await withLab(async (lab, dir) => {
    const empty = await file(dir, "empty.csv", "");
    await assert.rejects(ingestFile(lab, { file: empty, table: "e" }), (e: Error) => e instanceof IngestError && /empty\.csv is empty/.test(e.message));
    const binary = join(dir, "image.csv");
    await writeFile(binary, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x01]));
    await assert.rejects(ingestFile(lab, { file: binary, table: "b" }), /image\.csv is not a text file/);
    assert.equal(await lab.catalog.tableExists("bronze.e"), false);
  });
});
