import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { CatalogError, ingestFile, IngestError, REJECTED_RECORDS, type IngestOptions } from "../../../kernel-helpers/src/index.js";
import { count, file, withLab } from "../helpers.js";

async function bytes(dir: string, name: string, content: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

function utf16(text: string, endian: "le" | "be"): Buffer {
  const le = Buffer.from("\ufeff" + text, "utf16le");
  return endian === "le" ? le : le.swap16();
}

const BRAZIL = "sep=;\r\nnome;cidade;valor\r\nJoão;São Paulo;1,50\r\nMaría;Brasília;2,00\r\n";

test("a JSON line longer than DuckDB's default limits is read, not dropped, and the counts add up", async () => {
  await withLab(async (lab, dir) => {
    const big = "x".repeat(40 * 1024 * 1024);
    const src = await file(dir, "big.jsonl", `{"id":1}\n{"id":2,"blob":"${big}"}\n{"id":3}\n`);
    const r = await ingestFile(lab, { file: src, table: "big" });
    assert.deepEqual([r.lines, r.rows, r.rejected, r.blankLines], [3, 3, 0, 0]);
    const rows = (await lab.sql("SELECT id, length(blob) AS n, _row_number FROM bronze.big ORDER BY id")).rows();
    assert.deepEqual(rows, [{ id: "1", n: null, _row_number: 1 }, { id: "2", n: big.length, _row_number: 2 }, { id: "3", n: null, _row_number: 3 }]);
  });
});

test("a line over the reader's limit is rejected with its line number and the limit, and the lines after keep their numbers", async () => {
  const { LIMITS } = await import("../../../kernel-helpers/src/bronze/readers.js");
  const saved = LIMITS.maxLineBytes;
  LIMITS.maxLineBytes = 4 * 1024 * 1024;
  try {
    await withLab(async (lab, dir) => {
      const src = await file(dir, "long.jsonl", `{"id":1}\n{"id":2,"b":"${"y".repeat(5 * 1024 * 1024)}"}\n{"id":3}\n`);
      const r = await ingestFile(lab, { file: src, table: "long" });
      assert.deepEqual([r.lines, r.rows, r.rejected], [3, 2, 1]);
      assert.equal(r.rejectedSample[0]!.line, 2);
      assert.match(r.rejectedSample[0]!.error, /longer than the reader's limit of 4 MiB \(max_line_size\)/);
      assert.deepEqual((await lab.sql("SELECT _row_number FROM bronze.long ORDER BY 1")).column("_row_number"), [1, 3]);
      const one = await file(dir, "one.jsonl", `{"id":9,"b":"${"z".repeat(5 * 1024 * 1024)}"}`);
      const r1 = await ingestFile(lab, { file: one, table: "one" });
      assert.deepEqual([r1.lines, r1.rows, r1.rejected], [1, 0, 1], "a file that is one over-long line is a rejected line, not +0 rows");
    });
  } finally {
    LIMITS.maxLineBytes = saved;
  }
});

test("CSV _row_number is the file line after rejected, blank and multi-line records; rejected lines too", async () => {
  await withLab(async (lab, dir) => {
    const src = await file(dir, "mixed.csv", 'a,b\n1,2\n3,4,5\n\n6,"x\ny"\n7\n8,9\n');
    const r = await ingestFile(lab, { file: src, table: "mixed" });
    assert.deepEqual([r.lines, r.rows, r.rejected, r.blankLines], [6, 3, 2, 1]);
    assert.deepEqual((await lab.sql("SELECT a, _row_number FROM bronze.mixed ORDER BY _row_number")).rows(), [
      { a: "1", _row_number: 2 }, { a: "6", _row_number: 5 }, { a: "8", _row_number: 8 },
    ]);
    assert.deepEqual((await lab.sql(`SELECT line FROM ${REJECTED_RECORDS} ORDER BY line`)).column("line"), [3, 7]);
  });
});

test("a Brazilian Excel export: Windows-1252, sep=; line, CRLF; gzip too; the landed object is the original bytes", async () => {
  await withLab(async (lab, dir) => {
    const cp1252 = Buffer.from(BRAZIL, "latin1");
    const plain = await bytes(dir, "vendas.csv", cp1252);
    await assert.rejects(ingestFile(lab, { file: plain, table: "vendas" }), (e: Error) =>
      e instanceof IngestError && /vendas\.csv is not valid UTF-8.*line 3, byte 3/.test(e.message) && e.message.includes('encoding: "windows-1252"'));
    const r = await ingestFile(lab, { file: plain, table: "vendas", encoding: "windows-1252" });
    assert.deepEqual([r.lines, r.rows, r.rejected, r.encoding], [2, 2, 0, "windows-1252"]);
    assert.deepEqual((await lab.sql("SELECT nome, cidade, valor, _row_number FROM bronze.vendas ORDER BY _row_number")).rows(), [
      { nome: "João", cidade: "São Paulo", valor: "1,50", _row_number: 3 },
      { nome: "María", cidade: "Brasília", valor: "2,00", _row_number: 4 },
    ]);
    const landed = await lab.storage.list("bronze", "raw/vendas/");
    assert.equal(landed[0]!.size, cp1252.length, "bronze keeps the original bytes");
    const gz = await bytes(dir, "vendas2.csv.gz", gzipSync(Buffer.from(BRAZIL.replace("2,00", "3,00"), "latin1")));
    const g = await ingestFile(lab, { file: gz, table: "vendas", encoding: "latin1" });
    assert.deepEqual([g.format, g.compression, g.rows], ["csv", "gzip", 2]);
    const log = (await lab.sql("SELECT options FROM bronze.ingestion_log ORDER BY ingested_at")).column("options") as string[];
    assert.equal(JSON.parse(log[1]!).compression, "gzip");
    assert.equal(JSON.parse(log[1]!).delimiter, ";");
  });
});

test("UTF-8 with BOM and UTF-16 LE/BE with BOM land the same rows", async () => {
  await withLab(async (lab, dir) => {
    const text = "id;nome\n1;Conceição\n2;Ícaro\n";
    const expected = [{ id: "1", nome: "Conceição" }, { id: "2", nome: "Ícaro" }];
    for (const [name, content] of [
      ["bom.csv", Buffer.from("\ufeff" + text, "utf8")],
      ["le.csv", utf16(text, "le")],
      ["be.csv", utf16(text, "be")],
    ] as const) {
      const t = name.replace(".csv", "");
      const r = await ingestFile(lab, { file: await bytes(dir, name, content), table: t });
      assert.equal(r.rows, 2, name);
      assert.deepEqual((await lab.sql(`SELECT id, nome FROM bronze.${t} ORDER BY id`)).rows(), expected, name);
    }
  });
});

test("JSON: a pretty-printed array of objects, a .json of JSON lines, .jsonl.gz; a malformed array names where it broke", async () => {
  await withLab(async (lab, dir) => {
    const arr = await file(dir, "a.json", '[\n  {"id": 1, "tags": ["x"]},\n  {"id": 2},\n  7\n]\n');
    const r = await ingestFile(lab, { file: arr, table: "arr" });
    assert.deepEqual([r.format, r.lines, r.rows, r.rejected], ["json", 3, 2, 1]);
    assert.deepEqual((await lab.sql("SELECT id, tags, _row_number FROM bronze.arr ORDER BY id")).rows(), [
      { id: "1", tags: '["x"]', _row_number: 1 }, { id: "2", tags: null, _row_number: 2 },
    ]);
    // Every element of one shape: each is read as the JSON it is, not a STRUCT re-printed by type inference
    // (which rejected the whole array as "not valid JSON"); strings stay strings ("007"), big integers whole.
    const uniform = await file(dir, "u.json", '[{"id": 1, "amount": 2.50, "code": "007"}, {"id": 12345678901234567890, "amount": 10, "code": "x"}]');
    const u = await ingestFile(lab, { file: uniform, table: "uniform" });
    assert.deepEqual([u.rows, u.rejected], [2, 0]);
    assert.deepEqual((await lab.sql("SELECT id, amount, code FROM bronze.uniform ORDER BY _row_number")).rows(), [
      { id: "1", amount: "2.5", code: "007" }, { id: "12345678901234567890", amount: "10", code: "x" },
    ]);
    const lines = await file(dir, "l.json", '{"id":1}\n{"id":2}\n');
    assert.equal((await ingestFile(lab, { file: lines, table: "lj" })).format, "jsonl");
    const gz = await bytes(dir, "e.jsonl.gz", gzipSync('{"id":1}\n\n{"id":2}\n'));
    const g = await ingestFile(lab, { file: gz, table: "gz" });
    assert.deepEqual([g.lines, g.rows, g.blankLines, g.compression], [3, 2, 1, "gzip"]);
    const bad = await file(dir, "bad.json", '[\n {"id": 1},\n {"id": 2\n]\n');
    await assert.rejects(ingestFile(lab, { file: bad, table: "badj" }), (e: Error) => e instanceof IngestError && /bad\.json as JSON: .*Malformed JSON/.test(e.message));
  });
});

test("options: unknown, wrong format, bad values are errors naming the option; header: false; nullTokens", async () => {
  await withLab(async (lab, dir) => {
    const csv = await file(dir, "o.csv", "1|NA|x\n2|b|-\n");
    await assert.rejects(ingestFile(lab, { file: csv, table: "o", delimeter: "|" } as unknown as IngestOptions), /unknown option "delimeter".*\n.*delimiter/);
    await assert.rejects(ingestFile(lab, { file: csv, table: "o", delimiter: "||" }), /delimiter: "\|\|" must be a single character/);
    await assert.rejects(ingestFile(lab, { file: csv, table: "o", encoding: "ascii" as never }), /encoding: "ascii" is not one of/);
    const p = join(dir, "p.parquet");
    await lab.sql(`COPY (SELECT 1 AS id) TO '${p}' (FORMAT parquet)`);
    await assert.rejects(ingestFile(lab, { file: p, table: "p", delimiter: ";" }), /delimiter apply to CSV only/);
    const r = await ingestFile(lab, { file: csv, table: "o", delimiter: "|", header: false, nullTokens: ["NA", "-"] });
    assert.deepEqual([r.lines, r.rows], [2, 2]);
    assert.deepEqual((await lab.sql("SELECT column0, column1, column2, _row_number FROM bronze.o ORDER BY 4")).rows(), [
      { column0: "1", column1: null, column2: "x", _row_number: 1 }, { column0: "2", column1: "b", column2: null, _row_number: 2 },
    ]);
  });
});

test("reserved names in any case, metadata columns in any case, columns differing only by case", async () => {
  await withLab(async (lab, dir) => {
    const ok = await file(dir, "ok.csv", "a\n1\n");
    for (const t of ["stream_offsets", "DEAD_LETTER", "INGESTION_LOG", "Rejected_Records", "RAW", "_Row_Number"]) {
      await assert.rejects(ingestFile(lab, { file: ok, table: t }), /cannot be a bronze table name/, t);
    }
    await assert.rejects(ingestFile(lab, { file: await file(dir, "m.csv", "id,_Batch_ID\n1,x\n"), table: "m" }), /_Batch_ID, which bronze reserves/);
    await assert.rejects(ingestFile(lab, { file: await file(dir, "d.csv", "id,ID\n1,2\n"), table: "d" }), /two columns named "id" and "ID"/);
    await assert.rejects(ingestFile(lab, { file: await file(dir, "d.jsonl", '{"Name":1,"name":2}\n'), table: "dj" }), /two columns named "Name" and "name"/);
    assert.equal(await lab.catalog.tableExists("bronze.d"), false);
  });
});

test("a type conflict with the existing table names table, column and both types; other database errors are not relabelled", async () => {
  await withLab(async (lab, dir) => {
    const good = join(dir, "v1.parquet");
    const bad = join(dir, "v2.parquet");
    await lab.sql(`COPY (SELECT range::INTEGER AS id FROM range(3)) TO '${good}' (FORMAT parquet)`);
    await lab.sql(`COPY (SELECT 'x' || range AS id FROM range(3)) TO '${bad}' (FORMAT parquet)`);
    await ingestFile(lab, { file: good, table: "items" });
    await assert.rejects(ingestFile(lab, { file: bad, table: "items" }), (e: Error) =>
      e instanceof IngestError && /v2\.parquet does not fit bronze\.items: id is INTEGER in bronze\.items but VARCHAR in the file/.test(e.message) && /new table/.test(e.message));
    assert.equal(await count(lab, "bronze.items"), 3);
    // A catalog failure that has nothing to do with the file stays what it is.
    const csv = await file(dir, "c.csv", "a\n1\n");
    await lab.sql("CREATE VIEW bronze.rejected_records_v AS SELECT 1");
    await lab.catalog.run("DROP TABLE bronze.rejected_records");
    await lab.catalog.run("CREATE TABLE bronze.rejected_records (x INTEGER)");
    await assert.rejects(ingestFile(lab, { file: csv, table: "c" }), (e: Error) => e instanceof CatalogError);
  });
});
