/**
 * The fast paths of the bronze load keep its guarantees: lines numbered by position in a parallel read (files big
 * enough to be split between threads), the UTF-8 check done while hashing (a character split between read chunks, a
 * bad byte far into the file), and a CSV whose column is named like DuckDB's row position.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ingestFile, IngestError, REJECTED_RECORDS } from "../../../kernel-helpers/src/index.js";
import { file, withLab } from "../helpers.js";

const LINES = 250_000;
const PAD = "p".repeat(60);

test("JSON lines split between reader threads keep their physical line numbers; blank and broken lines too", { timeout: 60_000 }, async () => {
  await withLab(async (lab, dir) => {
    const blank = new Set([7, 123_457, 200_001]);
    const broken = new Set([3, 99_999, LINES]);
    const out: string[] = [];
    for (let k = 1; k <= LINES; k++) out.push(blank.has(k) ? "" : broken.has(k) ? `{"n":${k},` : `{"n":${k},"pad":"${PAD}"}`);
    const src = await file(dir, "many.jsonl", out.join("\n") + "\n");
    const r = await ingestFile(lab, { file: src, table: "many" });
    assert.deepEqual([r.lines, r.rows, r.rejected, r.blankLines], [LINES, LINES - 6, 3, 3]);
    const wrong = await lab.sql("SELECT count(*) FILTER (_row_number <> n::BIGINT) AS wrong, count(DISTINCT _row_number) AS distinct_lines FROM bronze.many");
    assert.deepEqual(wrong.rows()[0], { wrong: 0, distinct_lines: LINES - 6 });
    const rejected = (await lab.sql(`SELECT line FROM ${REJECTED_RECORDS} WHERE table_name = 'many' ORDER BY line`)).column("line");
    assert.deepEqual(rejected, [...broken].sort((a, b) => a - b));
    assert.equal(r.sha256, createHash("sha256").update(await readFile(src)).digest("hex"));
  });
});

test("a CSV split between reader threads numbers each row by its line, also with a column named rowid", { timeout: 60_000 }, async () => {
  await withLab(async (lab, dir) => {
    const rows = Array.from({ length: LINES }, (_, i) => `${i + 1},${PAD}`);
    const src = await file(dir, "many.csv", `n,pad\n${rows.join("\n")}\n`);
    const r = await ingestFile(lab, { file: src, table: "many_csv" });
    assert.deepEqual([r.lines, r.rows, r.rejected, r.blankLines], [LINES, LINES, 0, 0]);
    assert.equal((await lab.sql("SELECT count(*) FILTER (_row_number <> n::BIGINT + 1) FROM bronze.many_csv")).number(), 0);

    const named = await file(dir, "rowid.csv", "rowid,v\n10,a\n20,b\n\n30,c\n");
    const r2 = await ingestFile(lab, { file: named, table: "with_rowid" });
    assert.deepEqual([r2.rows, r2.blankLines], [3, 1]);
    assert.deepEqual((await lab.sql('SELECT "rowid" AS id, v, _row_number FROM bronze.with_rowid ORDER BY _row_number')).rows(), [
      { id: "10", v: "a", _row_number: 2 }, { id: "20", v: "b", _row_number: 3 }, { id: "30", v: "c", _row_number: 5 },
    ]);
    const plain = await file(dir, "rowid2.csv", "ROWID,v\n1,x\n2,y\n");
    await ingestFile(lab, { file: plain, table: "with_rowid2" });
    assert.deepEqual((await lab.sql("SELECT v, _row_number FROM bronze.with_rowid2 ORDER BY _row_number")).rows(), [
      { v: "x", _row_number: 2 }, { v: "y", _row_number: 3 },
    ]);
  });
});

test("UTF-8 is checked across the hash's read chunks: a character split between chunks is fine, a bad byte far in is named", { timeout: 60_000 }, async () => {
  await withLab(async (lab, dir) => {
    // The hash reads 4 MiB at a time: put a 3-byte character across the first boundary.
    const chunk = 4 * 1024 * 1024;
    const header = Buffer.from("id,name\n");
    const filler = Buffer.from("1,".padEnd(99, "a") + "\n");
    const parts: Buffer[] = [header];
    let size = header.length;
    let line = 1;
    while (size + filler.length < chunk - 4) {
      parts.push(filler);
      size += filler.length;
      line++;
    }
    const split = Buffer.concat([Buffer.from("2,".padEnd(chunk - size - 1, "b")), Buffer.from("€\n"), Buffer.from("3,c\n")]);
    parts.push(split);
    const good = join(dir, "split.csv");
    await writeFile(good, Buffer.concat(parts));
    const r = await ingestFile(lab, { file: good, table: "split" });
    assert.equal(r.encoding, "utf-8");
    assert.equal(r.rows, line + 1);
    assert.equal((await lab.sql("SELECT name FROM bronze.split WHERE id = '2'")).scalar(), "".padEnd(chunk - size - 3, "b") + "€");

    // A Latin-1 byte in the second chunk: the error names its line, as before.
    const bad = join(dir, "bad.csv");
    await writeFile(bad, Buffer.concat([...parts.slice(0, -1), Buffer.from("2,caf"), Buffer.from([0xe9]), Buffer.from("\n".padStart(chunk, "x")), Buffer.from("3,c\n")]));
    await assert.rejects(ingestFile(lab, { file: bad, table: "bad" }), (e: unknown) => {
      assert.ok(e instanceof IngestError, String(e));
      assert.match(e.message, new RegExp(`not valid UTF-8: the first invalid byte sequence is at line ${line + 1}, byte 6 of the line`));
      return true;
    });
    assert.equal((await lab.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'bad'")).number(), 0);
  });
});
