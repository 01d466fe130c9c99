/**
 * Bad input for silver and gold: every value that does not parse exactly under its declared type and options is
 * quarantined under parse(col as TYPE) with its bronze row, and every bad spec is refused naming the column/option.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildGoldTable, ingestFile, notNull, QUARANTINE, QualityError, refine, type ColumnSpec, type Lab, type Rule } from "../../../kernel-helpers/src/index.js";
import { count, file, withLab } from "../helpers.js";
import type { BadInputCase } from "./case.js";

async function nothingLost(lab: Lab, table: string): Promise<void> {
  const silver = (await lab.catalog.tableExists(`silver.${table}`)) ? await count(lab, `silver.${table}`) : 0;
  const quarantined = (await lab.catalog.tableExists(QUARANTINE))
    ? (await lab.sql(`SELECT count(*) FROM ${QUARANTINE} WHERE target_table = ?`, [`silver.${table}`])).number() : 0;
  assert.equal(silver + quarantined, await count(lab, `bronze.${table}`), "silver rows + quarantined rows = bronze rows");
}

/** A good row and a bad one in a UTF-8 CSV; the bad one must be quarantined under exactly `failed`, with its text. */
function quarantines(kind: string, spec: ColumnSpec, good: string, badValue: string, failed: string, rules: Rule[] = []): BadInputCase {
  return {
    area: "refine", kind, answer: `quarantine: ${failed}`,
    async run() {
      await withLab(async (lab, dir) => {
        const csv = `id,v\n1,"${good}"\n2,"${badValue.replaceAll('"', '""')}"\n`;
        await ingestFile(lab, { file: await file(dir, "t.csv", csv), table: "t" });
        const r = await refine(lab, { source: "bronze.t", target: "silver.t", columns: { id: "INTEGER", v: spec }, rules });
        assert.deepEqual([r.clean, r.quarantined], [1, 1], `${good} is clean, ${badValue} is not`);
        const q = (await lab.sql(`SELECT failed_rules, row_data->>'v' AS v FROM ${QUARANTINE} WHERE target_table = 'silver.t'`)).rows();
        assert.deepEqual(q, [{ failed_rules: [failed], v: badValue }]);
        await nothingLost(lab, "t");
      });
    },
  };
}

/** A spec the lab must refuse with QualityError naming what is wrong, before any row moves. */
function refuses(kind: string, fragment: RegExp, attempt: (lab: Lab) => Promise<unknown>, area = "refine"): BadInputCase {
  return {
    area, kind, answer: "QualityError",
    async run() {
      await withLab(async (lab, dir) => {
        await ingestFile(lab, { file: await file(dir, "t.csv", "id,v\n1,2\n2,3\n"), table: "t" });
        await assert.rejects(attempt(lab), (e: unknown) => e instanceof QualityError && fragment.test(e.message) && e.fix !== undefined);
        assert.equal(await count(lab, "bronze.t"), 2, "bronze is intact");
        assert.equal(await lab.catalog.tableExists("silver.t"), false, "nothing was refined");
      });
    },
  };
}

const spec = (v: unknown) => ({ source: "bronze.t", target: "silver.t", columns: { id: "INTEGER", v } as Record<string, ColumnSpec>, rules: [] });
const D = "DECIMAL(12,2)";

export const cases: BadInputCase[] = [
  quarantines("decimal with more digits than its scale (precision loss)", D, "1.23", "1.234", `parse(v as ${D})`),
  quarantines("decimal that a cast would round up", D, "2.99", "2.999", `parse(v as ${D})`),
  quarantines("hexadecimal integer", "INTEGER", "31", "0x1F", "parse(v as INTEGER)"),
  quarantines("integer with underscores", "INTEGER", "1000", "1_000", "parse(v as INTEGER)"),
  quarantines("non-integral value in an integer column", "INTEGER", "3.0", "2.99", "parse(v as INTEGER)"),
  quarantines("out-of-range TINYINT", "TINYINT", "127", "300", "parse(v as TINYINT)"),
  quarantines("out-of-range BIGINT (2^63)", "BIGINT", "9223372036854775807", "9223372036854775808", "parse(v as BIGINT)"),
  quarantines("infinity as a DATE", "DATE", "2024-12-31", "infinity", "parse(v as DATE)"),
  quarantines("NaN as a DOUBLE", "DOUBLE", "1.5", "nan", "parse(v as DOUBLE)"),
  quarantines("inf as a DECIMAL", D, "1.50", "inf", `parse(v as ${D})`),
  quarantines("impossible ISO date", "DATE", "2024-02-29", "2024-13-45", "parse(v as DATE)"),
  quarantines("impossible date under a declared format", { type: "DATE", format: "%d/%m/%Y" }, "28/02/2025", "31/02/2025", "parse(v as DATE)"),
  quarantines("date with trailing garbage", { type: "DATE", format: "%d/%m/%Y" }, "31/12/2024", "31/12/2024x", "parse(v as DATE)"),
  quarantines("two-digit year under %Y", { type: "DATE", format: "%d/%m/%Y" }, "31/12/2024", "31/12/24", "parse(v as DATE)"),
  quarantines("thousands separator in the wrong place", { type: D, decimal: ",", thousands: "." }, "1.234,56", "1.23,4", `parse(v as ${D})`),
  quarantines("decimal comma without declaring it", D, "1.50", "1,5", `parse(v as ${D})`),
  quarantines("boolean word not in the declared list", { type: "BOOLEAN", trueValues: ["sim"], falseValues: ["não"] }, "sim", "talvez", "parse(v as BOOLEAN)"),
  quarantines("UTC offset in a TIMESTAMP (would be dropped)", "TIMESTAMP", "2024-01-01 10:00:00", "2024-01-01 10:00:00+02", "parse(v as TIMESTAMP)"),
  quarantines("blank text in a typed column (missing, not malformed)", "INTEGER", "1", "   ", "not_null(v)", [notNull("v")]),
  {
    area: "refine", kind: "Parquet double that loses its fraction as INTEGER", answer: "quarantine: parse(v as INTEGER)",
    async run() {
      await withLab(async (lab, dir) => {
        const parquet = join(dir, "t.parquet");
        await lab.sql(`COPY (SELECT * FROM (VALUES (1, 3.0::DOUBLE), (2, 2.99)) x(id, v)) TO '${parquet}' (FORMAT parquet)`);
        await ingestFile(lab, { file: parquet, table: "t" });
        await refine(lab, { source: "bronze.t", target: "silver.t", columns: { id: "INTEGER", v: "INTEGER" }, rules: [] });
        assert.deepEqual((await lab.sql(`SELECT failed_rules FROM ${QUARANTINE}`)).column("failed_rules"), [["parse(v as INTEGER)"]]);
        await nothingLost(lab, "t");
      });
    },
  },
  refuses("unknown column option (dateFormat)", /unknown option "dateFormat"/, (lab) => refine(lab, spec({ type: "DATE", dateFormat: "%d/%m/%Y" }))),
  refuses("option for the wrong type (format on INTEGER)", /INTEGER: the option "format" does not apply/, (lab) => refine(lab, spec({ type: "INTEGER", format: "%d/%m/%Y" }))),
  refuses("thousands equal to the decimal separator", /also the decimal separator/, (lab) => refine(lab, spec({ type: D, thousands: "." }))),
  refuses("date format without a year", /has no year/, (lab) => refine(lab, spec({ type: "DATE", format: "%d/%m" }))),
  refuses("reserved target in another case (Silver.Quarantine)", /keeps its own records/, (lab) => refine(lab, { ...spec("INTEGER"), target: "Silver.Quarantine" })),
  refuses("bookkeeping table as the source", /holds the lab's own records/, (lab) => refine(lab, { ...spec("INTEGER"), source: "BRONZE.INGESTION_LOG" })),
  refuses("a live silver table as the target (silver.transactions)", /maintained by refreshLiveTables/, (lab) => refine(lab, { ...spec("INTEGER"), target: "SILVER.Transactions" })),
  refuses("refine into another layer", /not in the silver layer/, (lab) => refine(lab, { ...spec("INTEGER"), target: "gold.t" })),
  refuses("declared column named like lineage (_Batch_Id)", /named like a lineage column/, (lab) => refine(lab, { ...spec("INTEGER"), columns: { id: "INTEGER", _Batch_Id: { type: "VARCHAR", expr: "s.v" } } })),
  refuses("SQL spliced into a type", /Column "v" declares type/, (lab) => refine(lab, spec("INTEGER); DROP TABLE bronze.t; --"))),
  {
    area: "refine", kind: "type changed between runs", answer: "QualityError",
    async run() {
      await withLab(async (lab, dir) => {
        await ingestFile(lab, { file: await file(dir, "a.csv", "id,v\n1,2.50\n"), table: "t" });
        await refine(lab, spec(D));
        await ingestFile(lab, { file: await file(dir, "b.csv", "id,v\n2,3\n"), table: "t" });
        await assert.rejects(refine(lab, spec("INTEGER")), (e: unknown) => e instanceof QualityError && /is DECIMAL\(12,2\), but the spec now declares INTEGER/.test(e.message));
        assert.deepEqual((await lab.sql("SELECT v::VARCHAR AS v FROM silver.t")).column("v"), ["2.50"], "silver unchanged");
        await refine(lab, spec(D));
        await nothingLost(lab, "t");
      });
    },
  },
  refuses("gold name in another layer (silver.t)", /is not a gold table/, (lab) => buildGoldTable(lab, "silver.t", "SELECT 1 AS v"), "gold"),
  refuses("gold table the library maintains (Gold.Customer_Scores)", /is maintained by writeCustomerScores/, (lab) => buildGoldTable(lab, "Gold.Customer_Scores", "SELECT 1 AS v"), "gold"),
];
