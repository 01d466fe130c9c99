import { randomUUID } from "node:crypto";
import { LAKE } from "../catalog/catalog.js";
import type { QueryResult } from "../catalog/result.js";
import { ident, literal, parseTableName, qualified, type TableName } from "../catalog/sql.js";
import { CatalogError, QualityError } from "../errors.js";
import type { Lab } from "../lab.js";
import { CUSTOMER_SCORES } from "../ml/scores.js";
import { QUALITY_RUNS, QUARANTINE } from "../quality/refine.js";
import { ACTIVE_USERS_PER_MINUTE, LIVE_PROGRESS, LIVE_SILVER, REVENUE_PER_MINUTE } from "../stream/live-tables.js";
import { checkKeys, drop, plainNames, sourceColumn, stageSource, type Staged } from "./staging.js";

export interface MergeSpec {
  /** The table to upsert into, in silver or gold, e.g. "silver.crm_customers". Created from the source's columns if missing. */
  readonly target: string;
  /** A table ("bronze.crm_customers") or a query (SELECT / WITH / FROM …) giving the new version of the rows. */
  readonly source: string;
  /** The column(s) identifying a row in both; unique and never NULL in the source. */
  readonly key: string | readonly string[];
  /**
   * The columns to merge (the key is added if left out). Default: every source column except the lab's ingestion
   * columns (`_batch_id`, `_source_file`, `_row_number`, `_ingested_at`), which differ on every load of the same data.
   */
  readonly columns?: readonly string[];
}

export interface MergeReport {
  readonly target: string;
  /** Whether this merge created the target. */
  readonly created: boolean;
  readonly inserted: number;
  readonly updated: number;
  /** Source rows whose key exists in the target with every merged column equal: not rewritten. */
  readonly unchanged: number;
  /** The snapshot this merge committed; null when nothing changed (then nothing was committed). */
  readonly snapshotId: number | null;
  readonly seconds: number;
}

/** Tables the lab keeps its own records in or that other steps maintain: a merge into one would corrupt it. */
const MAINTAINED: Readonly<Record<string, string>> = {
  [QUARANTINE]: "refine()", [QUALITY_RUNS]: "refine()", [LIVE_PROGRESS]: "refreshLiveTables()",
  [LIVE_SILVER.transactions]: "refreshLiveTables()", [LIVE_SILVER.interactions]: "refreshLiveTables()",
  [REVENUE_PER_MINUTE]: "refreshLiveTables()", [ACTIVE_USERS_PER_MINUTE]: "refreshLiveTables()",
  [CUSTOMER_SCORES]: "writeCustomerScores()",
};

/**
 * Upsert `source` into `target` by `key` with DuckDB's MERGE INTO: rows with a new key are inserted, rows whose key
 * exists are updated only when a merged column differs (`IS DISTINCT FROM`, so NULL = NULL), the others are left
 * alone. The counts are computed in the same transaction as the MERGE, against the same snapshot, and checked
 * against the rows it changed. Idempotent: merging the same export again changes nothing and commits no snapshot.
 * A source with a missing or repeated key is refused before anything is written.
 */
export async function mergeInto(lab: Lab, spec: MergeSpec): Promise<MergeReport> {
  const started = performance.now();
  if (typeof spec !== "object" || spec === null) {
    throw new QualityError(`mergeInto needs a spec object { target, source, key }.`, { fix: "See the function's documentation for an example." });
  }
  const target = mergeTarget(spec.target);
  const targetName = `${target.schema}.${target.table}`;
  const keys = plainNames(spec.key, "key", targetName);
  const wanted = spec.columns === undefined ? undefined : plainNames(spec.columns, "columns", targetName);
  return lab.catalog.exclusive(targetName, () => lab.catalog.session(async () => {
    let staged: Staged | undefined;
    try {
      staged = await stageSource(lab, spec.source, targetName, "merged");
      if (staged.label.toLowerCase() === targetName.toLowerCase()) {
        throw new QualityError(`The source and the target are both ${targetName}.`, {
          fix: 'Merge a new export into it, e.g. source: "bronze.crm_customers" or a SELECT over the latest batch.',
          context: { table: targetName },
        });
      }
      const keyCols = keys.map((k) => sourceColumn(staged!, k, "key", targetName));
      const chosen = wanted === undefined
        ? staged.columns.filter((c) => ![...staged!.lineage.values()].includes(c.name))
        : wanted.map((c) => sourceColumn(staged!, c, "merged", targetName));
      const columns = staged.columns.filter((c) => keyCols.includes(c) || chosen.includes(c));
      await checkKeys(lab, staged, keyCols.map((k) => k.name), targetName, "merged");

      const created = !(await lab.catalog.tableExists(targetName));
      const types = created ? new Map(columns.map((c) => [c.name.toLowerCase(), c.type])) : await targetTypes(lab, targetName, columns);
      const run = randomUUID();
      const counts = await lab.catalog.transaction(async () => {
        const t = qualified(target);
        if (created) await lab.catalog.run(`CREATE TABLE ${t} AS SELECT ${columns.map((c) => ident(c.name)).join(", ")} FROM ${staged!.table} LIMIT 0`);
        else await checkTargetKeys(lab, t, targetName, keyCols.map((k) => k.name));
        // The source value as the target stores it: compared and written the same way, so a merge that wrote a value
        // finds it equal next time (1.5 into an INTEGER column is 2 on both sides, not "different" forever).
        const value = (c: { name: string; type: string }) => {
          const stored = types.get(c.name.toLowerCase())!;
          // The type comes from DuckDB's own catalog, not from the caller.
          return stored === c.type ? `s.${ident(c.name)}` : `CAST(s.${ident(c.name)} AS ${stored})`;
        };
        const on = keyCols.map((k) => `t.${ident(k.name)} = ${value(k)}`).join(" AND ");
        const others = columns.filter((c) => !keyCols.includes(c));
        const differs = others.length ? others.map((c) => `t.${ident(c.name)} IS DISTINCT FROM ${value(c)}`).join(" OR ") : "false";
        // A key matched at most once (the target's key is unique, checked above), so these are what MERGE will do.
        const row = (await lab.sql(`SELECT count(*) FILTER (t.${ident(keyCols[0]!.name)} IS NULL) AS inserted,
            count(*) FILTER (t.${ident(keyCols[0]!.name)} IS NOT NULL AND (${differs})) AS updated,
            count(*) FILTER (t.${ident(keyCols[0]!.name)} IS NOT NULL AND NOT (${differs})) AS unchanged
          FROM ${staged!.table} s LEFT JOIN ${t} t ON ${on}`)).rows()[0]!;
        const n = { inserted: Number(row["inserted"]), updated: Number(row["updated"]), unchanged: Number(row["unchanged"]) };
        if (n.inserted + n.updated === 0 && !created) return n;
        await lab.catalog.run(`CALL ducklake_set_commit_message(${literal(LAKE)}, ?, ?, extra_info => ?)`, [
          "dataflow-lab", `mergeInto ${targetName}: ${n.inserted} inserted, ${n.updated} updated`, commitInfo(run, targetName),
        ]);
        if (n.inserted + n.updated === 0) return n;
        const matched = others.length
          ? `WHEN MATCHED AND (${differs}) THEN UPDATE SET ${others.map((c) => `${ident(c.name)} = ${value(c)}`).join(", ")}\n`
          : "";
        const changed = await lab.catalog.run(`MERGE INTO ${t} AS t USING ${staged!.table} AS s ON ${on}
          ${matched}WHEN NOT MATCHED THEN INSERT (${columns.map((c) => ident(c.name)).join(", ")}) VALUES (${columns.map(value).join(", ")})`);
        if (changed !== n.inserted + n.updated) {
          // Never expected: the counts and the MERGE read the same snapshot. Rolled back rather than reported wrong.
          throw new CatalogError(`MERGE into ${targetName} changed ${changed} rows, but ${n.inserted} inserts and ${n.updated} updates were counted; nothing was merged.`, {
            fix: "Report this with the source and the target; the merge was rolled back.",
            context: { table: targetName },
          });
        }
        return n;
      });
      const wrote = created || counts.inserted + counts.updated > 0;
      return {
        target: targetName, created, ...counts,
        snapshotId: wrote ? await snapshotOf(lab, run, targetName) : null,
        seconds: (performance.now() - started) / 1000,
      };
    } finally {
      await drop(lab, staged);
    }
  }));
}

export function describeMerge(r: MergeReport): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const counts = `${n(r.inserted)} inserted, ${n(r.updated)} updated, ${n(r.unchanged)} unchanged`;
  if (r.snapshotId === null) return `${r.target}: nothing changed (${counts}); no snapshot committed, in ${r.seconds.toFixed(2)}s`;
  return `${r.target}${r.created ? " (created)" : ""}: ${counts} (snapshot ${r.snapshotId}) in ${r.seconds.toFixed(2)}s`;
}

/**
 * The change feed of `table` between two snapshots: every row change that takes the table from its state at
 * `fromSnapshot` to its state at `toSnapshot` (default: now), i.e. the changes committed after `fromSnapshot` up to
 * and including `toSnapshot`, so `tableChanges(lab, t, before.snapshotId, after.snapshotId)` is exactly what the
 * second commit did. One row per change with `snapshot_id`, `rowid`, `change_type` (insert, delete, update_preimage:
 * the row before an update, update_postimage: after) and the table's columns as of `toSnapshot`; ordered by snapshot,
 * row, and a preimage before its postimage. DuckLake's `ducklake_table_changes` (inclusive bounds) underneath.
 */
export async function tableChanges(lab: Lab, table: string, fromSnapshot: number, toSnapshot?: number): Promise<QueryResult> {
  const name = parseTableName(table);
  const current = await lab.catalog.currentSnapshot();
  const to = toSnapshot ?? current;
  for (const [option, v] of [["fromSnapshot", fromSnapshot], ["toSnapshot", to]] as const) {
    if (!Number.isSafeInteger(v) || v < 0 || v > current) {
      throw new QualityError(`${option} must be a snapshot of this lake (0 to ${current}), got ${JSON.stringify(v)}.`, {
        fix: "Use the snapshotId a report gave (mergeInto, buildScd2…), or pick one from lab.catalog.snapshots().",
        context: { table, option, snapshot: String(v) },
      });
    }
  }
  if (fromSnapshot > to) {
    throw new QualityError(`fromSnapshot ${fromSnapshot} is after toSnapshot ${to}.`, {
      fix: "Give the older snapshot first: tableChanges(lab, table, older, newer).",
      context: { table, fromSnapshot, toSnapshot: to },
    });
  }
  // With nothing in between, DuckLake's bounds (to + 1, to) may name a snapshot that does not exist yet: ask for none of to's rows instead.
  const [start, filter] = fromSnapshot === to ? [to, "WHERE false"] : [fromSnapshot + 1, ""];
  return lab.sql(`SELECT * FROM ducklake_table_changes(${literal(LAKE)}, ?, ?, ?::BIGINT, ?::BIGINT) ${filter}
    ORDER BY snapshot_id, rowid, CASE change_type WHEN 'delete' THEN 0 WHEN 'update_preimage' THEN 1 WHEN 'update_postimage' THEN 2 ELSE 3 END`,
  [name.schema, name.table, start, to]);
}

/** What a lab commit records in the snapshot's extra info, so the report can name its own snapshot even if others commit meanwhile. */
export function commitInfo(run: string, table: string): string {
  return JSON.stringify({ by: "dataflow-lab", table, run });
}

/** The snapshot committed with `commitInfo(run, table)`. */
export async function snapshotOf(lab: Lab, run: string, table: string): Promise<number> {
  return (await lab.sql(`SELECT max(snapshot_id) FROM ducklake_snapshots(${literal(LAKE)}) WHERE commit_extra_info = ?`, [commitInfo(run, table)])).number();
}

/** The target, refusing bad names, other layers and the tables other steps maintain. */
function mergeTarget(target: unknown): TableName {
  const name = parseTableName(String(target), "target table");
  const key = `${name.schema}.${name.table}`.toLowerCase();
  if (name.schema.toLowerCase() !== "silver" && name.schema.toLowerCase() !== "gold") {
    throw new QualityError(`mergeInto writes silver and gold tables, not ${String(target)}.`, {
      fix: `Merge into silver (e.g. target: "silver.${name.table}"); bronze keeps every export as it arrived, with ingestFile().`,
      context: { table: String(target), option: "target" },
    });
  }
  const owner = MAINTAINED[key];
  if (owner) {
    throw new QualityError(`${String(target)} is maintained by ${owner}; a merge would change what that step keeps.`, {
      fix: `Merge into a table of your own, e.g. target: "${name.schema}.${name.table}_copy".`,
      context: { table: String(target), option: "target" },
    });
  }
  return { schema: name.schema.toLowerCase(), table: name.table };
}

/** The target's stored type of each merged column; a column it lacks is refused (adding one is a schema change to make on purpose). */
async function targetTypes(lab: Lab, table: string, columns: readonly { name: string }[]): Promise<Map<string, string>> {
  const have = new Map((await lab.catalog.columns(table)).map((c) => [c.name.toLowerCase(), c.type]));
  const missing = columns.filter((c) => !have.has(c.name.toLowerCase()));
  if (missing.length) {
    throw new QualityError(`${table} has no column ${missing.map((c) => c.name).join(", ")}, which the source has; nothing was merged.`, {
      fix: `Add it first (ALTER TABLE ${table} ADD COLUMN ${missing[0]!.name} <type>), or leave it out with columns: [...].`,
      context: { table, column: missing.map((c) => c.name).join(", ") },
    });
  }
  return have;
}

/** A target with a repeated key would have several rows updated from one source row: refuse it, naming the key. */
async function checkTargetKeys(lab: Lab, t: string, table: string, keys: readonly string[]): Promise<void> {
  const k = keys.map(ident).join(", ");
  const dup = await lab.sql(`SELECT ${keys.map((c, i) => `${ident(c)}::VARCHAR AS k${i}`).join(", ")}, count(*) AS n, count(*) OVER () AS keys
    FROM ${t} GROUP BY ${k} HAVING count(*) > 1 ORDER BY ${k} LIMIT 1`);
  if (dup.numRows === 0) return;
  const r = dup.rows()[0]!;
  const value = keys.map((_, i) => String(r[`k${i}`])).join(", ");
  throw new QualityError(`${table} already has ${Number(r["n"])} rows for ${keys.join(", ")} ${value} (${Number(r["keys"])} key(s) repeated): a merge by that key would update all of them; nothing was merged.`, {
    fix: `Pick a key that is unique in ${table}, or remove the repeated rows first.`,
    context: { table, key: keys.join(", "), value },
  });
}
