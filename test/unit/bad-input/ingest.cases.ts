/**
 * Bad input for bronze ingestion (ingestFile): each kind answered with a named error (and nothing loaded or logged), or
 * rows plus rejected records with their reason whose counts add up to the lines of the file.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ingestFile, IngestError, REJECTED_RECORDS, type IngestOptions, type IngestReport, type Lab } from "../../../kernel-helpers/src/index.js";
import { LIMITS } from "../../../kernel-helpers/src/bronze/readers.js";
import { withLab } from "../helpers.js";
import type { BadInputCase } from "./case.js";

type Input = string | Buffer;

async function put(dir: string, name: string, content: Input): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

/** Nothing of a refused file reached bronze: no table, no log entry. */
async function nothingLoaded(lab: Lab, table: string): Promise<void> {
  assert.equal(await lab.catalog.tableExists(`bronze.${table}`), false, `bronze.${table} was not created`);
  if (await lab.catalog.tableExists("bronze.ingestion_log")) {
    assert.equal((await lab.sql("SELECT count(*) FROM bronze.ingestion_log WHERE lower(table_name) = lower(?)", [table])).number(), 0, "the file is not logged as ingested");
  }
}

function refused(kind: string, fragment: RegExp, name: string, content: Input, options: Partial<IngestOptions> = {}): BadInputCase {
  return {
    area: "ingest", kind, answer: `IngestError: ${fragment.source.replaceAll("\\", "")}`,
    run: () => withLab(async (lab, dir) => {
      const table = (options.table as string | undefined) ?? "t";
      const src = await put(dir, name, content);
      await assert.rejects(ingestFile(lab, { file: src, table, ...options } as IngestOptions), (e: Error) => {
        assert.ok(e instanceof IngestError, `expected IngestError, got ${e.name}: ${e.message}`);
        assert.match(e.message, fragment);
        assert.match(e.message, /→ /, "the message carries a fix");
        return true;
      });
      await nothingLoaded(lab, table);
    }),
  };
}

/** Loaded: rows + rejected + blank = lines of the file, and the reasons are the expected ones at the expected lines. */
function kept(kind: string, reason: string, name: string, content: Input, want: { lines: number; rows: number; rejected: number; blank?: number; at?: number[] }, options: Partial<IngestOptions> = {}): BadInputCase {
  return {
    area: "ingest", kind, answer: reason === "" ? "loaded, counts add up" : `rejected: ${reason}`,
    run: () => withLab(async (lab, dir) => {
      const src = await put(dir, name, content);
      const r: IngestReport = await ingestFile(lab, { file: src, table: "t", ...options } as IngestOptions);
      assert.equal(r.rows + r.rejected + r.blankLines, r.lines, "nothing lost: rows + rejected + blank = lines");
      assert.deepEqual([r.lines, r.rows, r.rejected, r.blankLines], [want.lines, want.rows, want.rejected, want.blank ?? 0]);
      assert.equal(r.rows ? (await lab.sql("SELECT count(*) FROM bronze.t")).number() : 0, r.rows);
      const rej = (await lab.sql(`SELECT line, error FROM ${REJECTED_RECORDS} ORDER BY line`)).rows();
      assert.equal(rej.length, r.rejected);
      if (want.at) assert.deepEqual(rej.map((x) => x["line"]), want.at);
      for (const x of rej) assert.ok(String(x["error"]).includes(reason), `reason ${JSON.stringify(x["error"])} names ${reason}`);
    }),
  };
}

const latin1Csv = Buffer.from("nome;cidade\nJoão;São Paulo\n", "latin1");
const utf16NoBom = Buffer.from("id,nome\n1,Ana\n", "utf16le");
const gzipped = gzipSync("id,nome\n1,Ana\n2,Bia\n");

export const cases: BadInputCase[] = [
  refused("empty file", /is empty/, "empty.csv", ""),
  refused("empty file once uncompressed", /is empty once uncompressed/, "empty.csv.gz", gzipSync("")),
  refused("binary file named .csv", /is not a text file/, "image.csv", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d, 0xff])),
  refused("truncated gzip", /is not a complete gzip file/, "orders.csv.gz", gzipped.subarray(0, gzipped.length - 12)),
  refused("compression: gzip for a file that is not gzip", /is not a complete gzip file/, "plain.csv", "a\n1\n", { compression: "gzip" }),
  refused("Latin-1 CSV without a declared encoding", /not valid UTF-8.*line 2, byte 3/, "vendas.csv", latin1Csv),
  refused("UTF-16 without a byte-order mark", /looks like UTF-16 without a byte-order mark/, "u16.csv", utf16NoBom),
  refused("UTF-8 BOM with a contradicting declared encoding", /UTF-8 byte-order mark, but encoding "windows-1252"/, "bom.csv", "\ufeffa\n1\n", { encoding: "windows-1252" }),
  refused("wrong delimiter declared", /delimiter "," does not occur in the header line/, "semi.csv", "a;b\n1;2\n", { delimiter: "," }),
  refused("unknown option (misspelt)", /unknown option "delimeter"/, "o.csv", "a,b\n1,2\n", { delimeter: ";" } as Partial<IngestOptions>),
  refused("CSV option for a JSON-lines file", /option\(s\) header apply to CSV only/, "e.jsonl", '{"a":1}\n', { header: false }),
  refused("CSV option for a Parquet file", /delimiter apply to CSV only/, "p.parquet", Buffer.from("PAR1"), { delimiter: ";" }),
  refused("delimiter of two characters", /delimiter: ";;" must be a single character/, "o.csv", "a\n1\n", { delimiter: ";;" }),
  refused("unknown encoding", /encoding: "ebcdic" is not one of/, "o.csv", "a\n1\n", { encoding: "ebcdic" as never }),
  refused("reserved table name in other case (stream sink's offsets)", /"STREAM_OFFSETS" cannot be a bronze table name/, "o.csv", "a\n1\n", { table: "STREAM_OFFSETS" }),
  refused("reserved table name in other case (ingestion log)", /"Ingestion_Log" cannot be a bronze table name/, "o.csv", "a\n1\n", { table: "Ingestion_Log" }),
  refused("metadata column in the source, other case", /_ROW_NUMBER, which bronze reserves/, "m.csv", "id,_ROW_NUMBER\n1,2\n"),
  refused("column names differing only by case (CSV)", /two columns named "Id" and "ID"/, "d.csv", "Id,ID\n1,2\n"),
  refused("keys differing only by case (JSON lines)", /two columns named "Name" and "name"/, "d.jsonl", '{"name":1}\n{"Name":2}\n'),
  refused("unterminated quote with the quote declared", /Could not tell which line .* each CSV record starts on.*A quote opened on line 3 is never closed/s, "q.csv", 'a,b\n1,2\n3,"oops\n5,6\n', { quote: '"' }),
  refused("malformed JSON array", /as JSON: .*Malformed JSON/, "bad.json", '[\n {"id": 1},\n {"id": 2\n]\n'),
  refused("truncated Parquet file", /Could not read .*p\.parquet as PARQUET/, "p.parquet", Buffer.from("PAR1 not really parquet")),
  refused("unknown extension", /Cannot tell the format/, "notes.txt", "hello\n"),
  {
    area: "ingest", kind: "Parquet whose column type conflicts with the existing table", answer: "IngestError: does not fit bronze.<table>: <column> is <type> … but <type> in the file",
    run: () => withLab(async (lab, dir) => {
      await lab.sql(`COPY (SELECT 1::INTEGER AS id) TO '${join(dir, "v1.parquet")}' (FORMAT parquet)`);
      await lab.sql(`COPY (SELECT 'x' AS id) TO '${join(dir, "v2.parquet")}' (FORMAT parquet)`);
      await ingestFile(lab, { file: join(dir, "v1.parquet"), table: "t" });
      await assert.rejects(ingestFile(lab, { file: join(dir, "v2.parquet"), table: "t" }), (e: Error) =>
        e instanceof IngestError && /v2\.parquet does not fit bronze\.t: id is INTEGER in bronze\.t but VARCHAR in the file/.test(e.message));
      assert.equal((await lab.sql("SELECT count(*) FROM bronze.t")).number(), 1, "the earlier row is intact, nothing added");
      assert.equal((await lab.sql("SELECT count(*) FROM bronze.ingestion_log")).number(), 1, "the refused file is not logged");
    }),
  },
  kept("ragged CSV rows (too many / missing fields)", "COLUMNS", "r.csv", "a,b\n1,2\n3,4,5\n6\n7,8\n", { lines: 4, rows: 2, rejected: 2, at: [3, 4] }),
  kept("truncated JSON line", "line is not valid JSON", "e.jsonl", '{"id":1}\n{"id":2,"t":"cl\n{"id":3}\n', { lines: 3, rows: 2, rejected: 1, at: [2] }),
  kept("JSON line that is not an object", "valid JSON but not an object", "e.jsonl", '{"id":1}\n[1,2]\n"x"\n', { lines: 3, rows: 1, rejected: 2, at: [2, 3] }),
  kept("JSON array element that is not an object", "valid JSON but not an object", "a.json", '[\n {"id":1},\n 42\n]\n', { lines: 2, rows: 1, rejected: 1, at: [2] }),
  kept("blank lines between CSV rows", "", "b.csv", "a,b\n\n1,2\n\n\n3,4\n", { lines: 5, rows: 2, rejected: 0, blank: 3 }),
  kept("header-only CSV", "", "h.csv", "a,b\n", { lines: 0, rows: 0, rejected: 0 }),
  kept("Excel sep= first line", "", "x.csv", "sep=;\r\na;b\r\n1;2\r\n", { lines: 1, rows: 1, rejected: 0 }),
  {
    area: "ingest", kind: "JSON line over the reader's limit", answer: "rejected: line longer than the reader's limit … (max_line_size)",
    run: async () => {
      const saved = LIMITS.maxLineBytes;
      LIMITS.maxLineBytes = 1024 * 1024;
      try {
        await kept("over-long line", "longer than the reader's limit of 1 MiB (max_line_size)", "long.jsonl",
          `{"id":1}\n{"id":2,"b":"${"x".repeat(2 * 1024 * 1024)}"}\n{"id":3}\n`, { lines: 3, rows: 2, rejected: 1, at: [2] }).run();
      } finally {
        LIMITS.maxLineBytes = saved;
      }
    },
  },
  {
    area: "ingest", kind: "same file again under the table name in other case", answer: "skipped: already ingested, nothing duplicated",
    run: () => withLab(async (lab, dir) => {
      const src = await put(dir, "o.csv", "a\n1\n2\n");
      await ingestFile(lab, { file: src, table: "orders" });
      const again = await ingestFile(lab, { file: src, table: "ORDERS" });
      assert.equal(again.skipped, true);
      assert.equal((await lab.sql("SELECT count(*) FROM bronze.orders")).number(), 2);
    }),
  },
];
