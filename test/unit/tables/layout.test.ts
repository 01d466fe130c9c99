/**
 * Physical layout on a real embedded DuckLake 1.0: partition pruning measured in files and bytes read,
 * sorted files, Parquet codecs compared, and layouts the lab refuses.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { InputError, QualityError, type Lab } from "../../../kernel-helpers/src/index.js";
import { compressionSizes, describeScan, partitionTable, scanStats, sortTable } from "../../../kernel-helpers/src/tables/layout.js";
import { withLab } from "../helpers.js";

/** 12,000 orders over the 12 months of 2024 (1,000 a month), arriving in one file, unordered by customer. */
async function orders(lab: Lab): Promise<void> {
  await lab.sql(`CREATE TABLE silver.orders AS
    SELECT range AS order_id, (range * 7919) % 500 AS customer_id,
           make_date(2024, (range % 12 + 1)::INTEGER, (1 + (range // 12) % 28)::INTEGER) AS order_date,
           ((range % 997) / 10)::DECIMAL(12,2) AS amount, md5(range::VARCHAR) AS note
    FROM range(12000)`);
}

const MARCH = "SELECT sum(amount) FROM silver.orders WHERE order_date >= DATE '2024-03-01' AND order_date < DATE '2024-04-01'";
const ALL = "SELECT sum(amount) FROM silver.orders";

test("orders partitioned by month: a filter on one month reads 1 of 12 files and about a twelfth of the bytes", async () => {
  await withLab(async (lab) => {
    await orders(lab);
    const sum = async (sql: string) => String((await lab.sql(sql)).scalar());
    const [marchSum, allSum] = [await sum(MARCH), await sum(ALL)];

    // One file: the filter changes nothing about what is read.
    const flatMarch = await scanStats(lab, MARCH);
    const flatAll = await scanStats(lab, ALL);
    assert.deepEqual([flatMarch.files, flatAll.files], [1, 1]);

    const p = await partitionTable(lab, "silver.orders", ["year(order_date)", "month(order_date)"], { rewrite: true });
    assert.deepEqual(p.by, ["year(order_date)", "month(order_date)"]);
    assert.deepEqual([p.rewritten, p.filesBefore, p.filesAfter], [12000, 1, 12]);
    assert.equal((await lab.sql(`SELECT count(*) FROM silver.orders AT (VERSION => ${p.previousSnapshot})`)).number(), 12000, "the table before the change is still readable");
    const folders = (await lab.sql("SELECT DISTINCT regexp_extract(data_file, 'year=\\d+/month=\\d+') AS f FROM ducklake_list_files('lake', 'orders', schema => 'silver')")).column("f");
    assert.equal(folders.length, 12);
    assert.ok(folders.includes("year=2024/month=3"), folders.join(", "));

    const march = await scanStats(lab, MARCH);
    const all = await scanStats(lab, ALL);
    assert.deepEqual([march.files, all.files], [1, 12], `${describeScan(march)} / ${describeScan(all)}`);
    assert.deepEqual([march.scans[0]!.filesRead, all.scans[0]!.filesRead], [1, 12], "DuckLake's own scan count agrees");
    assert.ok(march.bytesRead > 0 && march.bytesRead * 6 < all.bytesRead, `bytes read ${march.bytesRead} vs ${all.bytesRead}: about 1/12, surely under 1/6`);
    assert.ok(march.fileBytes * 6 < all.fileBytes, `file bytes ${march.fileBytes} vs ${all.fileBytes}`);
    assert.deepEqual([march.rows, all.rows], [1, 1]);
    // Same answers, whatever the layout.
    assert.deepEqual([await sum(MARCH), await sum(ALL)], [marchSum, allSum]);

    // The filter must be on the column: month(order_date) = 3 prunes nothing.
    assert.equal((await scanStats(lab, "SELECT sum(amount) FROM silver.orders WHERE month(order_date) = 3")).files, 12);

    // Later inserts land in their month's folder too.
    await lab.sql("INSERT INTO silver.orders SELECT 20000 + range, 1, DATE '2024-03-15', 1, 'late' FROM range(200)");
    assert.equal((await scanStats(lab, MARCH)).files, 2);
  });
});

test("partitioning without rewrite changes only later writes, and says how to move the existing rows", async () => {
  await withLab(async (lab) => {
    await orders(lab);
    const p = await partitionTable(lab, "silver.orders", ["year(order_date)", "month(order_date)"]);
    assert.deepEqual([p.rewritten, p.filesBefore, p.filesAfter], [0, 1, 1]);
    assert.match(p.note, /rewrite: true/);
    assert.equal((await scanStats(lab, MARCH)).files, 1, "the old file holds every month");
    const reset = await partitionTable(lab, "silver.orders", []);
    assert.deepEqual(reset.by, []);
    assert.equal((await lab.sql("SELECT count(*) FROM silver.orders")).number(), 12000);
  });
});

test("events partitioned by day: year, month and day of a TIMESTAMPTZ, with the time-zone caveat in the report", async () => {
  await withLab(async (lab) => {
    await lab.sql(`CREATE TABLE silver.events AS SELECT range AS event_id, TIMESTAMPTZ '2024-02-28 00:00:00+00' + to_minutes(range * 5) AS event_time
      FROM range(3 * 288)`);
    const p = await partitionTable(lab, "silver.events", ["year(event_time)", "month(event_time)", "day(event_time)"], { rewrite: true });
    assert.equal(p.filesAfter, 3, "28 and 29 February, 1 March");
    assert.match(p.note, /event_time is a TIMESTAMP WITH TIME ZONE: its day is taken in the writing session's TimeZone/);
    const day = await scanStats(lab, "SELECT count(*) FROM silver.events WHERE event_time >= TIMESTAMPTZ '2024-02-29 00:00:00+00' AND event_time < TIMESTAMPTZ '2024-03-01 00:00:00+00'");
    assert.equal(day.files, 1);
    assert.equal((await lab.sql("SELECT count(*) FROM silver.events WHERE event_time::DATE = DATE '2024-02-29'")).number(), 288);
  });
});

test("invalid partition expressions are refused naming them, and nothing changes", async () => {
  await withLab(async (lab) => {
    await orders(lab);
    const before = await lab.catalog.currentSnapshot();
    const bad: [unknown, RegExp][] = [
      [["lower(note)"], /"lower\(note\)" .* is not one the lab accepts/],
      [["order_date; DROP TABLE silver.orders"], /is not one the lab accepts/],
      [["month(order_date)"], /needs year\(order_date\) before it/],
      [["year(order_date)", "day(order_date)"], /needs month\(order_date\) before it/],
      [["year(amount)"], /applies year\(\) to amount, which is DECIMAL/],
      [["hour(order_date)"], /applies hour\(\) to order_date, which is DATE/],
      [["bucket(1, customer_id)"], /asks for 1 buckets/],
      [["bucket(16, nope)"], /names column "nope", which silver\.orders does not have/],
      [["year(order_date)", "year(order_date)"], /is listed twice/],
      [["order_id"], /would make 12,000 partitions/],
      ["year(order_date)", /must be a list/],
    ];
    for (const [by, message] of bad) {
      await assert.rejects(partitionTable(lab, "silver.orders", by as string[]), (e: unknown) => {
        assert.ok(e instanceof InputError, `${JSON.stringify(by)}: ${String(e)}`);
        assert.match(e.message, message);
        return true;
      });
    }
    await assert.rejects(partitionTable(lab, "silver.nope", ["customer_id"]), (e: unknown) => e instanceof InputError && /silver\.nope does not exist/.test(e.message));
    await assert.rejects(partitionTable(lab, "silver.orders; --", ["customer_id"]), QualityError);
    await assert.rejects(partitionTable(lab, "silver.orders", ["customer_id"], { rewrite: "yes" } as never), /Layout options/);
    assert.equal(await lab.catalog.currentSnapshot(), before, "no snapshot was committed");
    // What is accepted: a plain low-cardinality column and a bucket of a high-cardinality one.
    const ok = await partitionTable(lab, "silver.orders", ["bucket(8, customer_id)"], { rewrite: true });
    assert.equal(ok.filesAfter, 8);
  });
});

test("a sorted table's files are in key order after a rewrite, and a point filter on the key reads less", async () => {
  await withLab(async (lab) => {
    await orders(lab);
    // Several row groups per file, so that min/max statistics have something to skip.
    await lab.sql("CALL lake.set_option('parquet_row_group_size', '1000', table_name => 'orders', schema => 'silver')");
    const unsorted = await scanStats(lab, "SELECT count(*) FROM silver.orders WHERE customer_id = 42");
    const s = await sortTable(lab, "silver.orders", ["customer_id", "order_id DESC"], { rewrite: true });
    assert.deepEqual(s.by, ["customer_id", "order_id DESC"]);
    const files = (await lab.sql("SELECT data_file FROM ducklake_list_files('lake', 'orders', schema => 'silver')")).column("data_file").map(String);
    assert.equal(files.length, 1);
    const out = (await lab.sql(`SELECT count(*) FILTER (WHERE ok) AS ordered, count(*) AS n FROM (
        SELECT (customer_id, -order_id) >= lag((customer_id, -order_id)) OVER (ORDER BY file_row_number) IS NOT FALSE AS ok
        FROM read_parquet('${files[0]}', file_row_number = true))`)).rows()[0]!;
    assert.equal(out["ordered"], out["n"], "every row follows its predecessor in (customer_id, order_id DESC) order");
    const sorted = await scanStats(lab, "SELECT count(*) FROM silver.orders WHERE customer_id = 42");
    assert.ok(sorted.bytesRead < unsorted.bytesRead, `${describeScan(sorted)} vs unsorted ${describeScan(unsorted)}`);
    assert.equal((await lab.sql("SELECT count(*) FROM silver.orders WHERE customer_id = 42")).number(), 24);

    for (const bad of ["customer_id; DROP TABLE x", "lower(note)", "nope", "amount SIDEWAYS"]) {
      await assert.rejects(sortTable(lab, "silver.orders", [bad]), (e: unknown) => e instanceof QualityError && e.message.includes(JSON.stringify(bad)));
    }
  });
});

test("compression sizes per codec: positive, zstd below uncompressed, temp files removed; bad codecs refused", async () => {
  await withLab(async (lab) => {
    await orders(lab);
    const c = await compressionSizes(lab, "silver.orders");
    assert.equal(c.rows, 12000);
    assert.equal(c.lakeCodec, "snappy", "DuckDB's default until the lake's parquet_compression option is set");
    const bytes = Object.fromEntries(c.sizes.map((s) => [s.codec, s.bytes]));
    assert.deepEqual(Object.keys(bytes), ["uncompressed", "snappy", "zstd", "gzip"]);
    for (const [codec, n] of Object.entries(bytes)) assert.ok(n > 0, `${codec}: ${n}`);
    assert.ok(bytes["zstd"]! < bytes["uncompressed"]!, JSON.stringify(bytes));
    assert.deepEqual(await readdir(join(lab.settings.home, ".compression-tmp")), [], "temp files removed");

    await lab.sql("CALL lake.set_option('parquet_compression', 'zstd', table_name => 'orders', schema => 'silver')");
    assert.equal((await compressionSizes(lab, "silver.orders", ["zstd"])).lakeCodec, "zstd");
    await assert.rejects(compressionSizes(lab, "silver.orders", ["zip" as never]), (e: unknown) => e instanceof InputError && /"zip" is not a Parquet codec/.test(e.message));
    await assert.rejects(compressionSizes(lab, "silver.orders", []), InputError);
    await assert.rejects(compressionSizes(lab, "silver.none"), InputError);
  });
});

test("scanStats measures only a single read-only query and never runs anything else", async () => {
  await withLab(async (lab) => {
    await orders(lab);
    for (const sql of [
      "INSERT INTO silver.orders SELECT * FROM silver.orders",
      "SELECT 1; DELETE FROM silver.orders",
      "SELECT * FROM ducklake_merge_adjacent_files('lake')",
      "SELECT * FROM lake.merge_adjacent_files()",
      "DROP TABLE silver.orders",
    ]) {
      await assert.rejects(scanStats(lab, sql), (e: unknown) => e instanceof InputError && /one read-only query/.test(e.message), sql);
    }
    assert.equal((await lab.sql("SELECT count(*) FROM silver.orders")).number(), 12000);
    const settings = async () => (await lab.sql("SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_logging', 'enable_external_file_cache') ORDER BY name")).rows();
    const saved = await settings();
    const s = await scanStats(lab, "SELECT * FROM silver.orders WHERE order_id < 10;");
    assert.deepEqual([s.rows, s.files], [10, 1]);
    assert.deepEqual(await settings(), saved, "logging and the file cache are as they were");
  });
});
