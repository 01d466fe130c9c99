import { randomUUID } from "node:crypto";
import { ERASURE_LOG, INGESTION_LOG, REJECTED_RECORDS } from "../bronze/ingest.js";
import { LAKE } from "../catalog/catalog.js";
import { messageOf, QualityError } from "../errors.js";
import type { Lab } from "../lab.js";
import { ident, literal, parseTableName, qualified, type TableName } from "../catalog/sql.js";
import { DEAD_LETTER, STREAM_OFFSETS } from "../stream/sink.js";
import { LIVE_PROGRESS, LIVE_SILVER } from "../stream/live-tables.js";
import { formatProbes, isText, planColumn, type ColumnPlan, type ColumnSpec } from "./parse.js";
import { ruleName, type Rule } from "./rules.js";
import { stageSql } from "./stage.js";

export type { ColumnSpec } from "./parse.js";

export interface RefineSpec {
  /** The bronze table to read, e.g. "bronze.orders". */
  readonly source: string;
  /** The silver table to write, e.g. "silver.orders". */
  readonly target: string;
  /**
   * Silver columns and their types. A value that does not parse exactly under its type and options (see
   * ColumnSpec) fails `parse(col as TYPE)`; blank text in a typed column counts as missing (see not_null).
   */
  readonly columns: Readonly<Record<string, ColumnSpec>>;
  readonly rules: readonly Rule[];
}

export interface QualityReport {
  readonly runId: string;
  readonly source: string;
  readonly target: string;
  readonly batches: number;
  readonly rowsIn: number;
  readonly clean: number;
  readonly quarantined: number;
  /** Failures per rule (a row can fail several). Every rule is listed, zeros included. */
  readonly byRule: Readonly<Record<string, number>>;
  readonly seconds: number;
}

export const QUARANTINE = "silver.quarantine";
export const QUALITY_RUNS = "silver.quality_runs";
/** Tables the lab keeps its own records in, or that the live refresh maintains: refine neither reads nor writes them. */
const BOOKKEEPING = [QUARANTINE, QUALITY_RUNS, LIVE_PROGRESS, INGESTION_LOG, REJECTED_RECORDS, ERASURE_LOG, STREAM_OFFSETS, DEAD_LETTER];
const LIVE = Object.values(LIVE_SILVER) as string[];
const LINEAGE = ["_batch_id", "_source_file", "_row_number"] as const;

/**
 * Clean the bronze batches not yet processed into silver: rows passing every rule go to the
 * target, the others to silver.quarantine with the rules they failed. One transaction, so a
 * re-run after a failure starts clean, and a re-run after success finds nothing new.
 */
export async function refine(lab: Lab, spec: RefineSpec): Promise<QualityReport> {
  const names = checkNames(spec);
  // Two refines of one target in this kernel take turns; the staging table stays on a connection of its own.
  return lab.catalog.exclusive(`${names.target.schema}.${names.target.table}`, () => lab.catalog.session(() => refineOnce(lab, spec, names)));
}

async function refineOnce(lab: Lab, spec: RefineSpec, names: { source: TableName; target: TableName }): Promise<QualityReport> {
  const started = performance.now();
  const sourceName = await storedName(lab, names.source);
  const targetName = (await storedName(lab, names.target)) ?? `silver.${names.target.table}`;
  const source = qualified(names.source);
  const target = qualified(names.target);
  const plans = planColumns(targetName, spec.columns);
  const rawTypes = await validate(lab, spec, sourceName, targetName, plans);
  await ensureQualityTables(lab);

  const colDefs = [...plans.map((c) => `${ident(c.name)} ${c.type}`), "_batch_id VARCHAR", "_source_file VARCHAR", "_row_number BIGINT"];
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${target} (${colDefs.join(", ")})`);
  const have = new Map((await lab.catalog.columns(targetName)).map((c) => [c.name.toLowerCase(), c.type]));
  for (const c of plans) {
    const existing = have.get(c.name.toLowerCase());
    if (existing !== undefined && existing.toUpperCase().replace(/\s+/g, "") !== c.type.replace(/\s+/g, "")) {
      // Casting the stored rows silently could lose data (2.99 as INTEGER is 3): the change is the trainee's call.
      // A changed format or separator is fine: options describe the source, not the table.
      throw new QualityError(`${targetName}.${c.name} is ${existing}, but the spec now declares ${c.type}; nothing was refined.`, {
        fix: `Keep ${existing} in the spec, or evolve the table explicitly first: ALTER TABLE ${targetName} ALTER ${c.name} TYPE ${c.type} `
          + `(fails if a stored value does not fit), or drop ${targetName} and refine again from bronze.`,
        context: { table: targetName, column: c.name },
      });
    }
  }
  // Only once every declared type is known to fit, so a refused spec leaves the table as it was.
  for (const c of plans.filter((x) => !have.has(x.name.toLowerCase()))) {
    await lab.catalog.run(`ALTER TABLE ${target} ADD COLUMN ${ident(c.name)} ${c.type}`);
  }

  const id = randomUUID().replaceAll("-", "").slice(0, 12);
  const stage = `temp.main.refine_${id}`;
  const targetExisted = (await lab.sql(`SELECT count(*) FROM ${target}`)).number() > 0;
  const from = `${source} s WHERE s._batch_id NOT IN (
        SELECT DISTINCT _batch_id FROM ${target} WHERE _batch_id IS NOT NULL
        UNION SELECT DISTINCT batch_id FROM ${QUARANTINE} WHERE lower(target_table) = ${literal(targetName.toLowerCase())})`;
  // A batch is one landed file, so the file's path need not be staged with every row (at 20M rows it was a third of
  // the staging's memory and time): it is looked up per batch when the rows are written. Only a source where one
  // batch holds several files carries the path row by row.
  const files = `temp.main.refine_files_${id}`;
  await lab.catalog.run(`CREATE TEMP TABLE refine_files_${id} AS SELECT DISTINCT s._batch_id, s._source_file FROM ${from}`);
  const perBatch = (await lab.sql(`SELECT count(*) = count(DISTINCT _batch_id) FROM ${files}`)).scalar() === true;
  // Only typed values, lineage, the failed rules and, for the (few) failing rows, the bronze row are kept.
  const staged = stageSql({
    from,
    columns: plans.map((plan, i) => ({ plan, rawType: rawTypes[i]! })),
    rules: spec.rules, target, targetExists: targetExisted,
    carry: ["_batch_id", ...(perBatch ? [] : ["_source_file"]), "_row_number", "_ingested_at"],
    order: ["_ingested_at", "_batch_id", "_row_number"], rowData: true,
  });
  const withFile = perBatch ? `(SELECT st.*, f._source_file FROM ${stage} st JOIN ${files} f USING (_batch_id))` : stage;
  await lab.catalog.run(`CREATE TEMP TABLE refine_${id} AS ${staged.sql}`).catch(async (e) => {
    await lab.catalog.run(`DROP TABLE IF EXISTS ${files}`).catch(() => undefined);
    throw e;
  });

  try {
    const runId = randomUUID();
    const counts = (await lab.sql(`SELECT count(*) AS rows_in, count(*) FILTER (len(__failed) = 0) AS clean,
        count(DISTINCT _batch_id) AS batches FROM ${stage}`)).rows()[0]!;
    const perRule = await lab.sql(`SELECT r, count(*) AS n FROM (SELECT unnest(__failed) AS r FROM ${stage}) GROUP BY r`);
    const byRule: Record<string, number> = Object.fromEntries(staged.rules.map((name) => [name, 0]));
    for (const row of perRule.rows()) byRule[String(row["r"])] = Number(row["n"]);
    const rowsIn = Number(counts["rows_in"]);
    const clean = Number(counts["clean"]);

    const report = {
      runId, source: sourceName!, target: targetName, batches: Number(counts["batches"]), rowsIn, clean,
      quarantined: rowsIn - clean, byRule, seconds: 0,
    };
    // Nothing new: no commit, so a re-run adds no snapshot and no empty run record.
    if (rowsIn === 0) return { ...report, seconds: (performance.now() - started) / 1000 };
    await lab.catalog.transaction(async () => {
      const names = [...plans.map((c) => ident(c.name)), ...LINEAGE].join(", ");
      await lab.catalog.run(`INSERT INTO ${target} (${names}) SELECT ${names} FROM ${withFile} WHERE len(__failed) = 0`);
      await lab.catalog.run(`INSERT INTO ${QUARANTINE}
        SELECT ${literal(runId)}, ${literal(sourceName!)}, ${literal(targetName)}, q._batch_id, q._source_file, q._row_number,
               q.__failed, q.__row_data, now()
        FROM ${withFile} q WHERE len(q.__failed) > 0`);
      await lab.catalog.run(`INSERT INTO ${QUALITY_RUNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?::JSON, now())`, [
        runId, sourceName!, targetName, Number(counts["batches"]), rowsIn, clean, rowsIn - clean, JSON.stringify(byRule),
      ]);
    });
    return { ...report, seconds: (performance.now() - started) / 1000 };
  } finally {
    await lab.catalog.run(`DROP TABLE IF EXISTS ${stage}`).catch(() => undefined);
    await lab.catalog.run(`DROP TABLE IF EXISTS ${files}`).catch(() => undefined);
  }
}

export function describeQuality(r: QualityReport): string {
  const rules = Object.entries(r.byRule).filter(([, n]) => n > 0).map(([k, n]) => `${k}: ${n}`).join(", ");
  if (r.rowsIn === 0) return `${r.target}: no new bronze batches in ${r.source}, nothing to do`;
  return `${r.target}: ${r.rowsIn.toLocaleString("en-US")} rows in from ${r.batches} batch(es) → ${r.clean.toLocaleString("en-US")} clean, ${r.quarantined.toLocaleString("en-US")} quarantined${rules ? ` (${rules})` : ""} in ${r.seconds.toFixed(2)}s`;
}

async function ensureQualityTables(lab: Lab): Promise<void> {
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${QUARANTINE} (
    run_id VARCHAR, source_table VARCHAR, target_table VARCHAR, batch_id VARCHAR, source_file VARCHAR,
    row_number BIGINT, failed_rules VARCHAR[], row_data JSON, quarantined_at TIMESTAMPTZ)`);
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${QUALITY_RUNS} (
    run_id VARCHAR, source_table VARCHAR, target_table VARCHAR, batches BIGINT, rows_in BIGINT, clean BIGINT,
    quarantined BIGINT, by_rule JSON, finished_at TIMESTAMPTZ)`);
}

/**
 * Refuse, before anything is read, a target that is not a silver table or is one of the lab's own records
 * (refining into silver.quarantine would alter it, and every later run would fail), and a bookkeeping source.
 * DuckDB names are case-insensitive, so the comparison is too.
 */
function checkNames(spec: RefineSpec): { source: TableName; target: TableName } {
  const source = parseTableName(spec.source, "source table");
  const target = parseTableName(spec.target, "target table");
  const key = (t: TableName) => `${t.schema}.${t.table}`.toLowerCase();
  const reserved = (t: TableName) => BOOKKEEPING.includes(key(t));
  if (reserved(target)) {
    throw new QualityError(`${spec.target} is where the lab keeps its own records; refine cannot write into it.`, {
      fix: `Choose another silver table for the target, e.g. "silver.${target.table.toLowerCase() === "quarantine" ? "orders" : "orders_clean"}"; `
        + `the reserved tables are ${BOOKKEEPING.join(", ")}.`,
      context: { table: spec.target, option: "target" },
    });
  }
  if (LIVE.includes(key(target))) {
    throw new QualityError(`${spec.target} is maintained by refreshLiveTables() (the streaming notebook); refine would mix batch rows into it.`, {
      fix: `Choose another silver table, e.g. "silver.${target.table.toLowerCase()}_batch", or let refreshLiveTables() fill ${key(target)}.`,
      context: { table: spec.target, option: "target" },
    });
  }
  if (target.schema.toLowerCase() !== "silver") {
    throw new QualityError(`The target ${spec.target} is not in the silver layer: refine writes silver tables.`, {
      fix: `Use target: "silver.${target.table}"; gold tables are built with buildGoldTable(), bronze ones with ingestFile().`,
      context: { table: spec.target, option: "target" },
    });
  }
  if (reserved(source)) {
    throw new QualityError(`${spec.source} holds the lab's own records, not data to refine.`, {
      fix: `Refine a table ingested into bronze, e.g. source: "bronze.orders"; the reserved tables are ${BOOKKEEPING.join(", ")}.`,
      context: { table: spec.source, option: "source" },
    });
  }
  if (key(source) === key(target)) {
    throw new QualityError(`The source and the target are both ${spec.target}.`, {
      fix: "Refine from the bronze table into a silver table, e.g. source: \"bronze.orders\", target: \"silver.orders\".",
      context: { table: spec.target },
    });
  }
  return { source, target };
}

/** The table's name as the catalog spells it, when it exists under any case. */
async function storedName(lab: Lab, t: TableName): Promise<string | undefined> {
  const r = await lab.sql(
    "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE database_name = ? AND lower(schema_name) = lower(?) AND lower(table_name) = lower(?)",
    [LAKE, t.schema, t.table],
  );
  return r.rows().length ? String(r.scalar()) : undefined;
}

function planColumns(target: string, columns: unknown): ColumnPlan[] {
  if (columns === null || typeof columns !== "object" || Array.isArray(columns) || Object.keys(columns).length === 0) {
    throw new QualityError(`The spec for ${target} declares no columns.`, {
      fix: 'Give columns: { name: "TYPE", … }, e.g. columns: { order_id: "BIGINT", amount: "DECIMAL(12,2)" }.',
      context: { table: target, option: "columns" },
    });
  }
  const seen = new Map<string, string>();
  return Object.entries(columns).map(([name, c]) => {
    const lower = name.toLowerCase();
    if ((LINEAGE as readonly string[]).includes(lower)) {
      throw new QualityError(`Column "${name}" of ${target} is named like a lineage column; refine fills ${LINEAGE.join(", ")} itself.`, {
        fix: `Rename the column (e.g. "${name.replace(/^_+/, "")}"); the lineage of every silver row is already kept.`,
        context: { table: target, column: name },
      });
    }
    if (lower.startsWith("__")) {
      throw new QualityError(`Column "${name}" of ${target} starts with "__", which refine uses for its working columns.`, {
        fix: `Rename the column, e.g. "${name.replace(/^_+/, "")}".`,
        context: { table: target, column: name },
      });
    }
    const twin = seen.get(lower);
    if (twin !== undefined) {
      throw new QualityError(`Columns "${twin}" and "${name}" of ${target} are the same column: DuckDB names ignore case.`, {
        fix: "Keep one of them.",
        context: { table: target, column: name },
      });
    }
    seen.set(lower, name);
    return planColumn(target, name, c);
  });
}

/**
 * Fail before touching data when a rule or column names something that is not there, or an option cannot
 * apply to the bronze value. Returns the type DuckDB gives each column's bronze value.
 */
async function validate(lab: Lab, spec: RefineSpec, source: string | undefined, target: string, plans: readonly ColumnPlan[]): Promise<string[]> {
  if (source === undefined) {
    throw new QualityError(`Source table ${spec.source} does not exist.`, {
      fix: "Ingest into bronze first (the bronze_ingestion notebook, or ingestFile()).",
      context: { table: spec.source },
    });
  }
  const sourceColumns = await lab.catalog.columns(source);
  const sourceCols = new Set(sourceColumns.map((c) => c.name.toLowerCase()));
  const missing = ["_batch_id", "_source_file", "_row_number", "_ingested_at"].filter((c) => !sourceCols.has(c));
  if (missing.length) {
    throw new QualityError(`${source} has no ingestion lineage (${missing.join(", ")}), so refine cannot tell its batches apart.`, {
      fix: "Refine a bronze table loaded by ingestFile() (or the stream sink); load other data into bronze that way first.",
      context: { table: source },
    });
  }
  const rawTypes: string[] = [];
  for (const [i, p] of plans.entries()) {
    const c = spec.columns[p.name];
    if (typeof c === "string" && !sourceCols.has(p.name.toLowerCase())) {
      throw new QualityError(`Column "${p.name}" is not in ${source} (it has: ${sourceColumns.map((x) => x.name).join(", ")}).`, {
        fix: `Fix the name, or give an expression: ${p.name}: { type: "${c}", expr: "..." }.`,
        context: { table: source, column: p.name },
      });
    }
    let rawType: string;
    try {
      rawType = String((await lab.sql(`DESCRIBE SELECT ${p.rawExpr} AS v FROM ${source} s`)).rows()[0]!["column_type"]);
    } catch (e) {
      throw new QualityError(`Column "${p.name}" of ${target}: its expression ${p.rawExpr} does not run on ${source}: ${messageOf(e).split("\n")[0]}`, {
        fix: `Write expr over the bronze columns with alias s (e.g. "lower(s.${sourceColumns[0]?.name ?? "col"})"); ${source} has ${sourceColumns.map((x) => x.name).join(", ")}.`,
        context: { table: target, column: p.name, option: "expr" },
        cause: e,
      });
    }
    rawTypes[i] = rawType;
    if (!isText(rawType) && p.given.length) {
      throw new QualityError(`Column "${p.name}" of ${target}: its bronze value is already ${rawType}, so ${p.given.join(", ")} has no text to read.`, {
        fix: `Remove ${p.given.join(", ")} from ${p.name}; options describe how a text export writes values. A value converts only when nothing is lost.`,
        context: { table: target, column: p.name, option: p.given[0] },
      });
    }
    for (const probe of formatProbes(p)) {
      try {
        await lab.sql(`SELECT ${probe}`);
      } catch (e) {
        throw new QualityError(`Column "${p.name}" of ${target}: DuckDB does not understand format ${p.formats.join(" / ")}: ${messageOf(e).split("\n")[0]}`, {
          fix: "Use DuckDB strptime specifiers: %Y year, %m month, %d day, %H:%M:%S time, %z offset (https://duckdb.org/docs/sql/functions/dateformat).",
          context: { table: target, column: p.name, option: "format" },
          cause: e,
        });
      }
    }
  }
  for (const rule of spec.rules) {
    if (!(rule.column in spec.columns)) {
      throw new QualityError(`Rule ${ruleName(rule)} names column "${rule.column}", which ${target} does not define (columns: ${Object.keys(spec.columns).join(", ")}).`, {
        fix: "Fix the column name in the rule, or add the column to `columns`.",
        context: { table: target, column: rule.column },
      });
    }
    if (rule.kind === "foreign_key") {
      if (!(await lab.catalog.tableExists(rule.references))) {
        throw new QualityError(`Rule ${ruleName(rule)} refers to ${rule.references}, which does not exist yet.`, {
          fix: `Refine ${rule.references} before ${target}.`,
          context: { table: rule.references, column: rule.referencedColumn },
        });
      }
      const refCols = (await lab.catalog.columns(rule.references)).map((c) => c.name);
      if (!refCols.includes(rule.referencedColumn)) {
        throw new QualityError(`Rule ${ruleName(rule)}: ${rule.references} has no column "${rule.referencedColumn}" (it has: ${refCols.join(", ")}).`, {
          fix: "Pass the referenced column as the third argument of foreignKey().",
          context: { table: rule.references, column: rule.referencedColumn },
        });
      }
    }
  }
  return rawTypes;
}
