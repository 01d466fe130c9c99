import { randomUUID } from "node:crypto";
import { basename } from "node:path";
import { METADATA } from "../bronze/readers.js";
import { ident, isPlainName, parseTableName, qualified, type TableName } from "../catalog/sql.js";
import { QualityError } from "../errors.js";
import type { Lab } from "../lab.js";

/** A source copied into a temp table of the caller's session, so every count and the write that follows read the same rows. */
export interface Staged {
  /** `temp.main.<name>`, quoted. */
  readonly table: string;
  /** How to name the source in messages: the table, or "the source query". */
  readonly label: string;
  readonly columns: readonly { name: string; type: string }[];
  /** The lab's ingestion columns found in the source (`_row_number`, `_source_file`, …), by lower-case name. */
  readonly lineage: ReadonlyMap<string, string>;
}

const QUERY = /^\s*(\(|SELECT\b|WITH\b|FROM\b|VALUES\b|TABLE\b)/i;

/**
 * Copy `source` (a `layer.table` name or a query) into a temp table. Must run inside `lab.catalog.session`, whose
 * connection owns the temp table; `drop` removes it.
 */
export async function stageSource(lab: Lab, source: string, target: string, what: string): Promise<Staged> {
  let from: string;
  let label: string;
  if (typeof source === "string" && QUERY.test(source)) {
    // The query is the trainee's own SQL, as in buildGoldTable: it runs as written, inside a subquery.
    from = `(${source.trim().replace(/;\s*$/, "")})`;
    label = "the source query";
  } else {
    let name: TableName;
    try {
      name = parseTableName(String(source), "source table");
    } catch {
      throw new QualityError(`The ${what} source ${JSON.stringify(source)} is neither a layer.table name nor a query.`, {
        fix: 'Pass a table, e.g. source: "bronze.crm_customers", or a query, e.g. source: "SELECT customer_id::INTEGER AS customer_id, … FROM bronze.crm_customers".',
        context: { table: target, source: String(source) },
      });
    }
    if (!(await lab.catalog.tableExists(`${name.schema}.${name.table}`))) {
      throw new QualityError(`The ${what} source ${source} does not exist.`, {
        fix: "Check the name (lab.catalog.tables() lists the tables), or ingest the export first with ingestFile().",
        context: { table: target, source },
      });
    }
    from = qualified(name);
    label = source;
  }
  const temp = `stage_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await lab.catalog.run(`CREATE TEMP TABLE ${ident(temp)} AS SELECT * FROM ${from}`);
  const columns = (await lab.sql(
    "SELECT column_name AS name, data_type AS type FROM duckdb_columns() WHERE database_name = 'temp' AND table_name = ? ORDER BY column_index",
    [temp],
  )).rows() as { name: string; type: string }[];
  const lineage = new Map(columns.filter((c) => (METADATA as readonly string[]).includes(c.name.toLowerCase())).map((c) => [c.name.toLowerCase(), c.name]));
  return { table: `temp.main.${ident(temp)}`, label, columns, lineage };
}

export async function drop(lab: Lab, staged: Staged | undefined): Promise<void> {
  if (staged) await lab.catalog.run(`DROP TABLE IF EXISTS ${staged.table}`).catch(() => undefined);
}

/** Column names as given, validated, each once (case-insensitively). */
export function plainNames(names: unknown, option: string, table: string): string[] {
  const list = typeof names === "string" ? [names] : Array.isArray(names) ? (names as unknown[]) : [];
  if (list.length === 0) {
    throw new QualityError(`${option} must name at least one column.`, {
      fix: `Pass a column name or a list of them, e.g. ${option}: "customer_id".`,
      context: { table, option },
    });
  }
  const seen = new Set<string>();
  for (const n of list) {
    if (typeof n !== "string" || !isPlainName(n)) {
      throw new QualityError(`${option} has ${JSON.stringify(n)}, which is not a column name.`, {
        fix: "Use letters, digits and underscores, starting with a letter or underscore, e.g. customer_id.",
        context: { table, option, column: String(n) },
      });
    }
    if (seen.has(n.toLowerCase())) {
      throw new QualityError(`${option} names ${n} twice.`, { fix: `Name each column once in ${option}.`, context: { table, option, column: n } });
    }
    seen.add(n.toLowerCase());
  }
  return list as string[];
}

/** The staged column spelled `name` in any case, or a QualityError listing the ones there are. */
export function sourceColumn(staged: Staged, name: string, role: string, table: string): { name: string; type: string } {
  const found = staged.columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (!found) {
    throw new QualityError(`The ${role} column ${name} is not in ${staged.label}.`, {
      fix: `Use one of its columns: ${staged.columns.map((c) => c.name).join(", ")}; or select it under that name in the source query.`,
      context: { table, column: name, source: staged.label },
    });
  }
  return found;
}

/**
 * Refuse a source whose key is missing on some rows or not unique, before anything is written: an update from two
 * rows of one key would be applied in no defined order. The error names the key values, how many rows each has and,
 * when the source came from bronze, their line numbers.
 */
export async function checkKeys(lab: Lab, staged: Staged, keys: readonly string[], table: string, what: string): Promise<void> {
  const line = staged.lineage.get("_row_number");
  const file = staged.lineage.get("_source_file");
  const lines = line ? `list(${ident(line)} ORDER BY ${ident(line)})` : "[]::BIGINT[]";
  const files = file ? `list(DISTINCT ${ident(file)} ORDER BY ${ident(file)})` : "[]::VARCHAR[]";
  const keyList = keys.join(", ");
  const where = (rows: number, ls: number[], fs: string[]) => {
    const shown = ls.slice(0, 10).join(", ") + (ls.length > 10 ? ", …" : "");
    const of = fs.length === 1 ? ` of ${basename(fs[0]!)}` : "";
    return ls.length ? ` (${rows === 1 ? "line" : "lines"} ${shown}${of})` : "";
  };

  const nulls = (await lab.sql(`SELECT count(*) AS n, ${lines} AS lines, ${files} AS files FROM ${staged.table}
    WHERE ${keys.map((k) => `${ident(k)} IS NULL`).join(" OR ")}`)).rows()[0]!;
  const missing = Number(nulls["n"]);
  if (missing > 0) {
    const ls = (nulls["lines"] as number[]) ?? [];
    throw new QualityError(`${missing === 1 ? "1 row" : `${missing} rows`} of ${staged.label} ${missing === 1 ? "has" : "have"} no ${keyList}${where(missing, ls, (nulls["files"] as string[]) ?? [])}: a row without its key cannot be matched, so nothing was ${what}.`, {
      fix: `Filter them out of the source (WHERE ${keys.map((k) => `${k} IS NOT NULL`).join(" AND ")}), or refine the source first with a not_null rule, which quarantines them.`,
      context: { table, source: staged.label, key: keyList, rows: missing, lines: ls.slice(0, 10).join(", ") || undefined },
    });
  }

  const k = keys.map(ident).join(", ");
  const dups = (await lab.sql(`SELECT ${keys.map((c, i) => `${ident(c)}::VARCHAR AS k${i}`).join(", ")}, n, lines, files,
      count(*) OVER () AS keys, sum(n) OVER () AS rows
    FROM (SELECT ${k}, count(*) AS n, ${lines} AS lines, ${files} AS files FROM ${staged.table} GROUP BY ${k} HAVING count(*) > 1)
    ORDER BY n DESC, ${k} LIMIT 5`)).rows();
  if (dups.length === 0) return;
  const value = (r: Record<string, unknown>) => keys.length === 1 ? String(r["k0"]) : `(${keys.map((c, i) => `${c}=${String(r[`k${i}`])}`).join(", ")})`;
  const at = (r: Record<string, unknown>) => where(Number(r["n"]), (r["lines"] as number[]) ?? [], (r["files"] as string[]) ?? []);
  const first = dups[0]!;
  const keysDup = Number(first["keys"]);
  const head = keysDup === 1
    ? `${sentence(staged.label)} has ${Number(first["n"])} rows for ${keyList} ${value(first)}${at(first)}`
    : `${sentence(staged.label)} has ${keysDup} ${keyList} values on more than one row (${Number(first["rows"])} rows): `
      + dups.map((r) => `${value(r)} on ${Number(r["n"])} rows${at(r)}`).join("; ") + (keysDup > dups.length ? "; …" : "");
  const order = staged.columns.some((c) => c.name.toLowerCase() === "updated_at") ? "updated_at DESC" : "<newest first>";
  throw new QualityError(`${head}. A key must identify one row, so nothing was ${what}.`, {
    fix: `Keep one row per key in the source, e.g. SELECT … QUALIFY row_number() OVER (PARTITION BY ${keyList} ORDER BY ${order}) = 1, or fix the export.`,
    context: {
      table, source: staged.label, key: keyList, value: value(first), rows: Number(first["n"]),
      lines: ((first["lines"] as number[]) ?? []).join(", ") || undefined,
    },
  });
}

/** A label at the start of a sentence: "the source query" → "The source query"; table names stay as written. */
export function sentence(label: string): string {
  return label.startsWith("the ") ? `T${label.slice(1)}` : label;
}
