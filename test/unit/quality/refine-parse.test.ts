/**
 * Bad input is never silently wrong: a value becomes its declared type only when it parses exactly under the type and
 * the options that describe the source; anything else is quarantined under parse(col as TYPE), with the bronze row.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ingestFile, notNull, QualityError, refine } from "../../../kernel-helpers/src/index.js";
import { count, file, withLab } from "../helpers.js";
import { parseEach } from "./parse-helpers.js";

const bad = (type: string) => `✗ parse(v as ${type})`;

test("numbers parse only when exact: no rounding, no hex or underscores, no infinities, no overflow", async () => {
  await withLab(async (lab, dir) => {
    assert.deepEqual(await parseEach(lab, dir, "INTEGER", ["42", " 7 ", "+5", "-12", "3.0", "3.00", "3.000", "2.99", "0x1F", "1_000", "1e3", "1,000", "0b101"]), {
      "42": "42", " 7 ": "7", "+5": "5", "-12": "-12", "3.0": "3", "3.00": "3",
      // "3.000" is three thousand in many exports: declare thousands to read it so.
      "3.000": bad("INTEGER"), "2.99": bad("INTEGER"), "0x1F": bad("INTEGER"), "1_000": bad("INTEGER"), "1e3": bad("INTEGER"),
      "1,000": bad("INTEGER"), "0b101": bad("INTEGER"),
    });
    assert.deepEqual(await parseEach(lab, dir, "TINYINT", ["127", "300", "-129"]), { "127": "127", "300": bad("TINYINT"), "-129": bad("TINYINT") });
    assert.deepEqual(await parseEach(lab, dir, "BIGINT", ["9223372036854775807", "9223372036854775808"]), {
      "9223372036854775807": "9223372036854775807", "9223372036854775808": bad("BIGINT"),
    });
    const D = "DECIMAL(12,2)";
    assert.deepEqual(await parseEach(lab, dir, D, ["1.23", "1.2", "5", "-0.5", "1.234", "2.999", "1.230", "inf", "nan", "1e3", "1,5", "12345678901.00"]), {
      "1.23": "1.23", "1.2": "1.20", "5": "5.00", "-0.5": "-0.50",
      "1.234": bad(D), "2.999": bad(D), "1.230": bad(D), inf: bad(D), nan: bad(D), "1e3": bad(D), "1,5": bad(D), "12345678901.00": bad(D),
    });
    assert.deepEqual(await parseEach(lab, dir, "DOUBLE", ["1.5", "-2e3", ".5", "inf", "-infinity", "NaN", "1e400", "0x10"]), {
      "1.5": "1.5", "-2e3": "-2000.0", ".5": "0.5",
      inf: bad("DOUBLE"), "-infinity": bad("DOUBLE"), NaN: bad("DOUBLE"), "1e400": bad("DOUBLE"), "0x10": bad("DOUBLE"),
    });
    assert.deepEqual(await parseEach(lab, dir, "FLOAT", ["1e39"]), { "1e39": bad("FLOAT") });
  });
});

test("dates and timestamps parse as ISO 8601 unless a format is declared; impossible dates and infinities fail", async () => {
  await withLab(async (lab, dir) => {
    assert.deepEqual(await parseEach(lab, dir, "DATE", ["2024-02-29", "2023-02-29", "2024-13-45", "infinity", "-infinity", "2024-1-5", "31/12/2024"]), {
      "2024-02-29": "2024-02-29", "2023-02-29": bad("DATE"), "2024-13-45": bad("DATE"), infinity: bad("DATE"), "-infinity": bad("DATE"),
      "2024-1-5": bad("DATE"), "31/12/2024": bad("DATE"),
    });
    assert.deepEqual(await parseEach(lab, dir, "TIMESTAMP", ["2024-01-01 10:00:00", "2024-01-01T10:00:00Z", "2024-01-01 10:00:00+02", "infinity"]), {
      "2024-01-01 10:00:00": "2024-01-01 10:00:00", "2024-01-01T10:00:00Z": "2024-01-01 10:00:00",
      // TIMESTAMP would drop the offset: the value belongs in a TIMESTAMPTZ column.
      "2024-01-01 10:00:00+02": bad("TIMESTAMP"), infinity: bad("TIMESTAMP"),
    });
    const TZ = "TIMESTAMP WITH TIME ZONE";
    assert.deepEqual(await parseEach(lab, dir, "TIMESTAMPTZ", ["2024-01-21T03:03:37Z", "2024-01-01 10:00:00+02:00", "epoch"]), {
      "2024-01-21T03:03:37Z": "2024-01-21 03:03:37+00", "2024-01-01 10:00:00+02:00": "2024-01-01 08:00:00+00", epoch: bad(TZ),
    });
  });
});

test("a Brazilian export is described, not worked around: decimal comma, dotted thousands, dd/mm/yyyy, sim/não", async () => {
  await withLab(async (lab, dir) => {
    const D = "DECIMAL(12,2)";
    assert.deepEqual(await parseEach(lab, dir, { type: D, decimal: ",", thousands: "." }, ["1.234,56", "1234,56", "-0,5", "1.234.567,8", "1.23,4", "1234.56", "1,234"]), {
      "1.234,56": "1234.56", "1234,56": "1234.56", "-0,5": "-0.50", "1.234.567,8": "1234567.80",
      "1.23,4": bad(D), "1234.56": bad(D), "1,234": bad(D),
    });
    assert.deepEqual(await parseEach(lab, dir, { type: "INTEGER", decimal: ",", thousands: "." }, ["1.000", "1,5"]), { "1.000": "1000", "1,5": bad("INTEGER") });
    assert.deepEqual(await parseEach(lab, dir, { type: "DOUBLE", decimal: ",", thousands: " " }, ["1 234,5", "1\u00a0234,5", "12 34,5"]), {
      "1 234,5": "1234.5", "1\u00a0234,5": "1234.5", "12 34,5": bad("DOUBLE"),
    });
    assert.deepEqual(await parseEach(lab, dir, { type: "DATE", format: "%d/%m/%Y" }, ["31/12/2024", "1/2/2024", "31/02/2025", "31/12/2024x", "31/12/24", "2024-12-31", "infinity"]), {
      "31/12/2024": "2024-12-31", "1/2/2024": "2024-02-01",
      // strptime alone would read "24" as the year 24 and "infinity" as 1900-01-01.
      "31/02/2025": bad("DATE"), "31/12/2024x": bad("DATE"), "31/12/24": bad("DATE"), "2024-12-31": bad("DATE"), infinity: bad("DATE"),
    });
    assert.deepEqual(await parseEach(lab, dir, { type: "DATE", format: ["%d/%m/%Y", "%Y-%m-%d"] }, ["31/12/2024", "2024-12-31", "12/31/2024"]), {
      "31/12/2024": "2024-12-31", "2024-12-31": "2024-12-31", "12/31/2024": bad("DATE"),
    });
    assert.deepEqual(await parseEach(lab, dir, { type: "DATE", format: "%d/%m/%Y %H:%M" }, ["31/12/2024 00:00", "31/12/2024 10:30"]), {
      "31/12/2024 00:00": "2024-12-31", "31/12/2024 10:30": bad("DATE"),
    });
    assert.deepEqual(await parseEach(lab, dir, { type: "TIMESTAMPTZ", format: "%d/%m/%Y %H:%M %z" }, ["31/12/2024 10:00 +0200"]), {
      "31/12/2024 10:00 +0200": "2024-12-31 08:00:00+00",
    });
    assert.deepEqual(await parseEach(lab, dir, { type: "BOOLEAN", trueValues: ["sim", "s"], falseValues: ["não", "n"] }, ["SIM", "Não", "s", "true"]), {
      SIM: "true", "Não": "false", s: "true", true: bad("BOOLEAN"),
    });
    assert.deepEqual(await parseEach(lab, dir, "BOOLEAN", ["true", "F", "yes", "0", "sim"]), { true: "true", F: "false", yes: "true", "0": "false", sim: bad("BOOLEAN") });
  });
});

test("blank text in a typed column is missing, so not_null reports it; a list parses element by element", async () => {
  await withLab(async (lab, dir) => {
    assert.deepEqual(await parseEach(lab, dir, "INTEGER", ["   ", "1"], [notNull("v")]), { "   ": "✗ not_null(v)", "1": "1" });
    assert.deepEqual(await parseEach(lab, dir, "VARCHAR", ["  "], [notNull("v")]), { "  ": "  " }, "text keeps its padding");
    assert.deepEqual(await parseEach(lab, dir, "INTEGER[]", ["[1, 2]", "[1, 2.5]"]), { "[1, 2]": "[1, 2]", "[1, 2.5]": bad("INTEGER[]") });
  });
});

test("an option that does not apply, an unknown option or a bad value is refused naming the column and the option", async () => {
  await withLab(async (lab, dir) => {
    await ingestFile(lab, { file: await file(dir, "t.csv", "id,v\n1,2\n"), table: "t" });
    const attempt = (v: unknown) => refine(lab, { source: "bronze.t", target: "silver.t", columns: { id: "INTEGER", v } as never, rules: [] });
    const refused = async (v: unknown, ...fragments: RegExp[]) => {
      await assert.rejects(attempt(v), (e: unknown) => e instanceof QualityError && fragments.every((f) => f.test(e.message)), JSON.stringify(v));
    };
    await refused({ type: "INTEGER", format: "%d/%m/%Y" }, /silver\.t\.v is INTEGER: the option "format" does not apply/, /INTEGER accepts decimal, thousands/);
    await refused({ type: "DATE", decimal: "," }, /the option "decimal" does not apply/, /DATE accepts format/);
    await refused({ type: "DATE", dateFormat: "%d/%m/%Y" }, /unknown option "dateFormat"/, /Use only type, expr, decimal, thousands, format, trueValues, falseValues/);
    await refused({ type: "DECIMAL(12,2)", thousands: "." }, /thousands "\." is also the decimal separator \(the default\)/, /decimal: ","/);
    await refused({ type: "DECIMAL(12,2)", decimal: ";" }, /decimal ";" is not a decimal separator/);
    await refused({ type: "BOOLEAN", trueValues: ["sim"] }, /trueValues and falseValues go together/);
    await refused({ type: "BOOLEAN", trueValues: ["s"], falseValues: ["S"] }, /"s" is in both/);
    await refused({ type: "DATE", format: "%d/%m" }, /format "%d\/%m" has no year/);
    await refused({ type: "DATE", format: "%Y-%m" }, /lacks the month or the day/);
    await refused({ type: "TIMESTAMP", format: "%Y-%m-%d %H:%M %z" }, /UTC offset/, /TIMESTAMPTZ/);
    await refused({ type: "DATE", format: "%Y-%m-%d %Q" }, /DuckDB does not understand format/);
    await refused({ type: "DATE", format: [] }, /is not a strptime format/);
    await refused({ expr: "s.v" }, /Column silver\.t\.v has no type/);
    await refused({ type: "INTEGER", expr: "s.nope + 1" }, /its expression \(s\.nope \+ 1\) does not run on bronze\.t/);
    await refused(42, /expected a type/);
    assert.equal(await lab.catalog.tableExists("silver.t"), false, "nothing was created");
  });
});

test("a value the reader already typed converts only when nothing is lost, and text options are refused for it", async () => {
  await withLab(async (lab, dir) => {
    const parquet = join(dir, "typed.parquet");
    await lab.sql(`COPY (SELECT * FROM (VALUES (1, 2.99::DOUBLE, 1.234::DOUBLE, 300, TIMESTAMP '2024-01-01 10:00'), (2, 3.0, 1.5, 7, TIMESTAMP '2024-01-02'))
      t(id, d, x, n, ts)) TO '${parquet}' (FORMAT parquet)`);
    await ingestFile(lab, { file: parquet, table: "typed" });
    const r = await refine(lab, { source: "bronze.typed", target: "silver.typed", columns: { id: "INTEGER", d: "INTEGER", x: "DECIMAL(12,2)", n: "TINYINT", ts: "DATE" }, rules: [] });
    assert.deepEqual([r.clean, r.quarantined], [1, 1]);
    const failed = (await lab.sql("SELECT failed_rules FROM silver.quarantine WHERE row_data->>'id' = '1'")).scalar();
    assert.deepEqual(failed, ["parse(d as INTEGER)", "parse(x as DECIMAL(12,2))", "parse(n as TINYINT)", "parse(ts as DATE)"]);
    await assert.rejects(
      refine(lab, { source: "bronze.typed", target: "silver.typed2", columns: { x: { type: "DECIMAL(12,2)", decimal: "," } }, rules: [] }),
      (e: unknown) => e instanceof QualityError && /bronze value is already DOUBLE, so decimal has no text to read/.test(e.message),
    );
  });
});

test("the format may change between runs (it describes the source); silver + quarantine = bronze", async () => {
  await withLab(async (lab, dir) => {
    await writeFile(join(dir, "a.csv"), "id,day\n1,31/12/2024\n2,31/02/2025\n");
    await ingestFile(lab, { file: join(dir, "a.csv"), table: "d" });
    const spec = { source: "bronze.d", target: "silver.d", rules: [] };
    await refine(lab, { ...spec, columns: { id: "INTEGER", day: { type: "DATE", format: "%d/%m/%Y" } } });
    await writeFile(join(dir, "b.csv"), "id,day\n3,2025-01-15\n");
    await ingestFile(lab, { file: join(dir, "b.csv"), table: "d" });
    const second = await refine(lab, { ...spec, columns: { id: "INTEGER", day: { type: "DATE", format: "%Y-%m-%d" } } });
    assert.equal(second.clean, 1);
    assert.deepEqual((await lab.sql("SELECT day::VARCHAR AS d FROM silver.d ORDER BY id")).column("d"), ["2024-12-31", "2025-01-15"]);
    const q = (await lab.sql("SELECT failed_rules, row_data->>'day' AS day FROM silver.quarantine")).rows();
    assert.deepEqual(q, [{ failed_rules: ["parse(day as DATE)"], day: "31/02/2025" }], "quarantined with the original text");
    assert.equal(await count(lab, "silver.d") + await count(lab, "silver.quarantine"), await count(lab, "bronze.d"));
  });
});

test("values written exactly as DuckDB writes them (the fast path) read as the strict patterns say, infinities still fail", async () => {
  await withLab(async (lab, dir) => {
    assert.deepEqual(await parseEach(lab, dir, "DATE", ["2025-06-21", "0024-01-01", "infinity", "-infinity", "2025-02-29"]), {
      "2025-06-21": "2025-06-21", "0024-01-01": "0024-01-01", infinity: bad("DATE"), "-infinity": bad("DATE"), "2025-02-29": bad("DATE"),
    });
    assert.deepEqual(await parseEach(lab, dir, "TIMESTAMP", ["2025-06-21 10:00:00", "2025-06-21 10:00:00.5", "infinity"]), {
      "2025-06-21 10:00:00": "2025-06-21 10:00:00", "2025-06-21 10:00:00.5": "2025-06-21 10:00:00.5", infinity: bad("TIMESTAMP"),
    });
    assert.deepEqual(await parseEach(lab, dir, "DOUBLE", ["1e+20", "0.1", "-0.0", "nan", "inf"]), {
      "1e+20": "1e+20", "0.1": "0.1", "-0.0": "-0.0", nan: bad("DOUBLE"), inf: bad("DOUBLE"),
    });
    assert.deepEqual(await parseEach(lab, dir, "DECIMAL(12,2)", ["12.50", "0.00", "-0.00"]), { "12.50": "12.50", "0.00": "0.00", "-0.00": "0.00" });
    // With separators declared, a canonical-looking value means something else: 1.50 with thousands "." is not a number.
    assert.deepEqual(await parseEach(lab, dir, { type: "DECIMAL(12,2)", decimal: ",", thousands: "." }, ["1.50", "1.500", "1.500,25"]), {
      "1.50": bad("DECIMAL(12,2)"), "1.500": "1500.00", "1.500,25": "1500.25",
    });
  });
});
