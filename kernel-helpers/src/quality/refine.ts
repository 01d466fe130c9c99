import { randomUUID } from "node:crypto";
import { QualityError } from "../errors.js";
import type { Lab } from "../lab.js";
import { ident, literal, parseTableName, qualified, sqlType } from "../catalog/sql.js";
import { failureSql, parseRuleName, ruleName, type Rule } from "./rules.js";

/** A silver column: its SQL type, and optionally an expression over the bronze columns. */
export type ColumnSpec = string | { readonly type: string; readonly expr: string };

export interface RefineSpec {
  /** The bronze table to read, e.g. "bronze.orders". */
  readonly source: string;
  /** The silver table to write, e.g. "silver.orders". */
  readonly target: string;
  /** Silver columns and their types; a value that does not cast to its type fails `parse(col as TYPE)`. */
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
const LINEAGE = ["_batch_id", "_source_file", "_row_number"] as const;

/**
 * Clean the bronze batches not yet processed into silver: rows passing every rule go to the
 * target, the others to silver.quarantine with the rules they failed. One transaction, so a
 * re-run after a failure starts clean, and a re-run after success finds nothing new.
 */
export async function refine(lab: Lab, spec: RefineSpec): Promise<QualityReport> {
  const started = performance.now();
  const source = qualified(parseTableName(spec.source, "source table"));
  const targetName = parseTableName(spec.target, "target table");
  const target = qualified(targetName);
  await validate(lab, spec);
  await ensureQualityTables(lab);

  const targetCols = Object.entries(spec.columns).map(([name, c]) => ({
    name,
    type: sqlType(typeof c === "string" ? c : c.type, name),
    rawExpr: typeof c === "string" ? `s.${ident(name)}` : `(${c.expr})`,
  }));
  const colDefs = [...targetCols.map((c) => `${ident(c.name)} ${c.type}`), "_batch_id VARCHAR", "_source_file VARCHAR", "_row_number BIGINT"];
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${target} (${colDefs.join(", ")})`);
  const have = new Map((await lab.catalog.columns(spec.target)).map((c) => [c.name, c.type]));
  for (const c of targetCols) {
    const existing = have.get(c.name);
    if (existing === undefined) {
      await lab.catalog.run(`ALTER TABLE ${target} ADD COLUMN ${ident(c.name)} ${c.type}`);
    } else if (existing.toUpperCase().replace(/\s+/g, "") !== c.type.replace(/\s+/g, "")) {
      // Casting the stored rows silently could lose data (2.99 as INTEGER is 3): the change is the trainee's call.
      throw new QualityError(`${spec.target}.${c.name} is ${existing}, but the spec now declares ${c.type}; nothing was refined.`, {
        fix: `Keep ${existing} in the spec, or evolve the table explicitly first: ALTER TABLE ${spec.target} ALTER ${c.name} TYPE ${c.type} `
          + `(fails if a stored value does not fit), or drop ${spec.target} and refine again from bronze.`,
        context: { table: spec.target, column: c.name },
      });
    }
  }

  const id = randomUUID().replaceAll("-", "").slice(0, 12);
  const stage = `temp.main.refine_${id}`;
  const targetExisted = (await lab.sql(`SELECT count(*) FROM ${target}`)).number() > 0;
  const ctx = {
    typed: (c: string) => `s.${ident(c)}`,
    raw: (c: string) => `s.${ident("__raw_" + c)}`,
    target,
    targetExists: targetExisted,
  };
  const checks: { name: string; sql: string }[] = [
    // Text columns always cast; only typed columns can fail to parse.
    ...targetCols.filter((c) => c.type !== "VARCHAR").map((c) => ({
      name: parseRuleName(c.name, c.type),
      sql: `(s.${ident("__raw_" + c.name)} IS NOT NULL AND s.${ident(c.name)} IS NULL)`,
    })),
    ...spec.rules.map((r) => ({ name: ruleName(r), sql: failureSql(r, ctx) })),
  ];
  const failed = `list_filter([${checks.map((c) => `CASE WHEN ${c.sql} THEN ${literal(c.name)} END`).join(", ")}], x -> x IS NOT NULL)`;
  const ranks = spec.rules.filter((r) => r.kind === "unique").map(
    (r) => `row_number() OVER (PARTITION BY ${ident(r.column)} ORDER BY _ingested_at, _batch_id, _row_number) AS ${ident("__rank_" + r.column)}`,
  );
  // One pass: cast, rank duplicates, evaluate every rule. Only typed values, lineage and the failed
  // rules are kept; the raw row is fetched from bronze for the (few) quarantined rows only.
  await lab.catalog.run(`CREATE TEMP TABLE refine_${id} AS
    WITH base AS (
      SELECT ${targetCols.map((c) => `TRY_CAST(${c.rawExpr} AS ${c.type}) AS ${ident(c.name)}, ${c.rawExpr} AS ${ident("__raw_" + c.name)}`).join(", ")},
             s._batch_id, s._source_file, s._row_number, s._ingested_at
      FROM ${source} s
      WHERE s._batch_id NOT IN (
        SELECT DISTINCT _batch_id FROM ${target} WHERE _batch_id IS NOT NULL
        UNION SELECT DISTINCT batch_id FROM ${QUARANTINE} WHERE target_table = ${literal(spec.target)})
    ), ranked AS (
      SELECT *${ranks.length ? ", " + ranks.join(", ") : ""} FROM base
    )
    SELECT ${targetCols.map((c) => `s.${ident(c.name)}`).join(", ")}, s._batch_id, s._source_file, s._row_number,
           ${failed} AS __failed
    FROM ranked s`);

  try {
    const runId = randomUUID();
    const counts = (await lab.sql(`SELECT count(*) AS rows_in, count(*) FILTER (len(__failed) = 0) AS clean,
        count(DISTINCT _batch_id) AS batches FROM ${stage}`)).rows()[0]!;
    const perRule = await lab.sql(`SELECT r, count(*) AS n FROM (SELECT unnest(__failed) AS r FROM ${stage}) GROUP BY r`);
    const byRule: Record<string, number> = Object.fromEntries(checks.map((c) => [c.name, 0]));
    for (const row of perRule.rows()) byRule[String(row["r"])] = Number(row["n"]);
    const rowsIn = Number(counts["rows_in"]);
    const clean = Number(counts["clean"]);

    const report = {
      runId, source: spec.source, target: spec.target, batches: Number(counts["batches"]), rowsIn, clean,
      quarantined: rowsIn - clean, byRule, seconds: 0,
    };
    // Nothing new: no commit, so a re-run adds no snapshot and no empty run record.
    if (rowsIn === 0) return { ...report, seconds: (performance.now() - started) / 1000 };
    await lab.catalog.transaction(async () => {
      const names = [...targetCols.map((c) => ident(c.name)), ...LINEAGE].join(", ");
      await lab.catalog.run(`INSERT INTO ${target} (${names}) SELECT ${names} FROM ${stage} WHERE len(__failed) = 0`);
      await lab.catalog.run(`INSERT INTO ${QUARANTINE}
        SELECT ${literal(runId)}, ${literal(spec.source)}, ${literal(spec.target)}, q._batch_id, q._source_file, q._row_number,
               q.__failed, to_json(b), now()
        FROM ${stage} q JOIN ${source} b ON b._batch_id = q._batch_id AND b._row_number = q._row_number
        WHERE len(q.__failed) > 0`);
      await lab.catalog.run(`INSERT INTO ${QUALITY_RUNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?::JSON, now())`, [
        runId, spec.source, spec.target, Number(counts["batches"]), rowsIn, clean, rowsIn - clean, JSON.stringify(byRule),
      ]);
    });
    return { ...report, seconds: (performance.now() - started) / 1000 };
  } finally {
    await lab.catalog.run(`DROP TABLE IF EXISTS ${stage}`).catch(() => undefined);
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

/** Fail before touching data when a rule or column names something that is not there. */
async function validate(lab: Lab, spec: RefineSpec): Promise<void> {
  if (!(await lab.catalog.tableExists(spec.source))) {
    throw new QualityError(`Source table ${spec.source} does not exist.`, {
      fix: "Ingest into bronze first (the bronze_ingestion notebook, or ingestFile()).",
      context: { table: spec.source },
    });
  }
  const sourceCols = new Set((await lab.catalog.columns(spec.source)).map((c) => c.name));
  for (const [name, c] of Object.entries(spec.columns)) {
    if (typeof c === "string" && !sourceCols.has(name)) {
      throw new QualityError(`Column "${name}" is not in ${spec.source} (it has: ${[...sourceCols].join(", ")}).`, {
        fix: `Fix the name, or give an expression: ${name}: { type: "${c}", expr: "..." }.`,
        context: { table: spec.source, column: name },
      });
    }
  }
  for (const rule of spec.rules) {
    if (!(rule.column in spec.columns)) {
      throw new QualityError(`Rule ${ruleName(rule)} names column "${rule.column}", which ${spec.target} does not define (columns: ${Object.keys(spec.columns).join(", ")}).`, {
        fix: "Fix the column name in the rule, or add the column to `columns`.",
        context: { table: spec.target, column: rule.column },
      });
    }
    if (rule.kind === "foreign_key") {
      if (!(await lab.catalog.tableExists(rule.references))) {
        throw new QualityError(`Rule ${ruleName(rule)} refers to ${rule.references}, which does not exist yet.`, {
          fix: `Refine ${rule.references} before ${spec.target}.`,
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
}
