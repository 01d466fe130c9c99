import { readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { LAKE } from "../catalog/catalog.js";
import { ident, isPlainName } from "../catalog/sql.js";
import { s3Credentials, userNamespace } from "../config/settings.js";
import { ConflictError, InputError, StorageError, messageOf } from "../errors.js";
import type { Lab } from "../lab.js";

/** What maintenance changes, measured between its steps. */
export interface LakeTotals {
  readonly snapshots: number;
  /** Data and delete files the current snapshot reads. */
  readonly files: number;
  readonly bytes: number;
  /**
   * Parquet files really in the tables' folders: the current ones, those kept for time travel, those awaiting
   * clean-up and orphans (files no commit registered, e.g. from a killed write).
   */
  readonly storedFiles: number;
  readonly storedBytes: number;
  /** Rows kept in the catalog itself (DuckLake's data inlining) until flushed to Parquet. */
  readonly inlinedRows: number;
}

export interface TableStats {
  readonly layer: string;
  readonly table: string;
  readonly rows: number;
  readonly dataFiles: number;
  readonly dataBytes: number;
  readonly deleteFiles: number;
  readonly deleteBytes: number;
  readonly inlinedRows: number;
  /** Everything in the table's folder on storage; more than data + delete files means history, clean-up or orphans. */
  readonly storedFiles: number;
  readonly storedBytes: number;
}

export interface LayerStats {
  readonly layer: string;
  readonly tables: number;
  readonly rows: number;
  readonly dataFiles: number;
  readonly dataBytes: number;
  readonly storedFiles: number;
  readonly storedBytes: number;
}

export interface LakeStats {
  readonly snapshots: number;
  readonly oldestSnapshot: string | null;
  readonly newestSnapshot: string | null;
  /** Files no snapshot reads any more, waiting for `cleanup`. */
  readonly awaitingCleanup: number;
  readonly totals: LakeTotals;
  readonly layers: readonly LayerStats[];
  readonly tables: readonly TableStats[];
}

/** When (how long ago, or before which moment) something counts as old: `"7 days"`, `"1 hour 30 minutes"`, or a Date. */
export type Age = string | Date;

export interface MaintenancePolicy {
  /** Write rows kept in the catalog (inlined inserts of ≤ 100 rows) to Parquet first. Default true. */
  readonly flushInlined?: boolean;
  /**
   * Rewrite files that lost at least `deleteThreshold` (default 0.5) of their rows to deletes, then merge adjacent
   * small files. Default true; `{ tables }` limits it (and the flush) to those tables.
   */
  readonly compact?: boolean | { readonly tables?: readonly string[]; readonly deleteThreshold?: number };
  /**
   * Expire snapshots: those older than `olderThan`, but never the newest `keepLast`. An expired snapshot can no
   * longer be read by time travel. Not done unless asked.
   */
  readonly expire?: { readonly olderThan?: Age; readonly keepLast?: number };
  /**
   * Delete files that no remaining snapshot reads (compacted away, or read only by expired snapshots). Default true.
   * A query of this kernel never overlaps it; `{ olderThan: "10 minutes" }` also spares a query another kernel
   * planned before the compaction and is still running.
   */
  readonly cleanup?: boolean | { readonly olderThan?: Age };
  /**
   * Delete Parquet files in the tables' folders that no commit registered (a killed write's). Default false.
   * Only files older than `olderThan` (default "1 hour"): a younger one may belong to a write another kernel
   * has not committed yet.
   */
  readonly orphans?: boolean | { readonly olderThan?: Age };
}

export type MaintenanceStepName = "flush" | "rewrite" | "merge" | "expire" | "cleanup" | "orphans";

export interface MaintenanceStep {
  readonly step: MaintenanceStepName;
  readonly status: "done" | "nothing to do" | "gave up";
  readonly detail: string;
  /** Rows flushed, files rewritten or merged, snapshots expired, files deleted. */
  readonly count: number;
  readonly attempts: number;
  readonly seconds: number;
  readonly before: LakeTotals;
  readonly after: LakeTotals;
}

export interface MaintenanceReport {
  readonly steps: readonly MaintenanceStep[];
  readonly before: LakeStats;
  readonly after: LakeStats;
  /** False when a step gave up after repeated commit conflicts with another kernel; run it again later. */
  readonly ok: boolean;
  readonly seconds: number;
}

const ATTEMPTS = 3;
const DEFAULT_DELETE_THRESHOLD = 0.5;
const DEFAULT_ORPHAN_AGE = "1 hour";
const UNITS = "microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?|months?|years?";
const INTERVAL = new RegExp(`^\\s*\\d+\\s*(${UNITS})(\\s+\\d+\\s*(${UNITS}))*\\s*$`, "i");

/** Rows, files and bytes per table and layer, inlined rows, snapshots: what the lake holds and where. */
export async function lakeStats(lab: Lab): Promise<LakeStats> {
  return survey(lab, true);
}

/**
 * Keep the lake healthy, in this order: flush inlined rows, rewrite delete-heavy files, merge small adjacent files,
 * expire snapshots, delete files no snapshot reads, delete orphans. Each step commits on its own (per table when
 * `compact.tables` is given), and commits nothing when there is nothing to do, so a second run right after changes
 * nothing; a run killed midway leaves the lake as its last commit left it, and the next run carries on.
 *
 * Safe beside the stream sink and other writers of this kernel: every statement that writes takes the kernel's
 * write turn (Catalog), so none runs inside another's commit or while a file of an uncommitted write is in a
 * table folder. Another kernel's commit can still conflict with a step: the step is tried again, at most three
 * times, and the report says when it gave up.
 */
export async function maintainLake(lab: Lab, policy: MaintenancePolicy = {}): Promise<MaintenanceReport> {
  const plan = checkPolicy(policy);
  const tables = plan.tables ? await existingTables(lab, plan.tables) : null;
  // Two runs in one kernel (a schedule and a cell) take turns rather than interleave their steps.
  return lab.catalog.exclusive("lake maintenance", () => maintain(lab, plan, tables));
}

async function maintain(lab: Lab, plan: Plan, tables: Table[] | null): Promise<MaintenanceReport> {
  const started = performance.now();
  const before = await lakeStats(lab);
  const steps: MaintenanceStep[] = [];
  let totals = before.totals;
  const run = async (step: MaintenanceStepName, work: () => Promise<{ count: number; detail: string }>) => {
    const t0 = performance.now();
    const tried = await withRetry(work);
    const after = await survey(lab, false).then((s) => s.totals);
    steps.push({
      step, attempts: tried.attempts, seconds: (performance.now() - t0) / 1000, before: totals, after,
      ...(tried.value
        ? { status: tried.value.count > 0 ? "done" : "nothing to do", count: tried.value.count, detail: tried.value.detail }
        : { status: "gave up", count: 0, detail: `gave up after ${tried.attempts} commit conflicts with another kernel (${tried.conflict}); nothing of this step was written, run maintenance again later` }),
    });
    totals = after;
  };
  if (plan.flush) await run("flush", () => flush(lab, tables));
  if (plan.compact) {
    await run("rewrite", () => compact(lab, tables, "rewrite", plan.deleteThreshold));
    await run("merge", () => compact(lab, tables, "merge", plan.deleteThreshold));
  }
  if (plan.expire) await run("expire", () => expire(lab, plan.expire!));
  if (plan.cleanup) await run("cleanup", () => cleanup(lab, plan.cleanup!));
  if (plan.orphans) await run("orphans", () => deleteOrphans(lab, plan.orphans!));
  const after = await lakeStats(lab);
  return { steps, before, after, ok: steps.every((s) => s.status !== "gave up"), seconds: (performance.now() - started) / 1000 };
}

/** A few lines for a notebook or a scheduler's log: totals before → after, then one line per step. */
export function describeMaintenance(r: MaintenanceReport): string {
  const b = r.before.totals;
  const a = r.after.totals;
  const lines = [
    `lake maintenance${r.ok ? "" : " (INCOMPLETE)"} in ${r.seconds.toFixed(2)}s: files ${b.files} → ${a.files} (${formatBytes(b.bytes)} → ${formatBytes(a.bytes)}), `
      + `on storage ${b.storedFiles} → ${a.storedFiles} (${formatBytes(b.storedBytes)} → ${formatBytes(a.storedBytes)}), snapshots ${b.snapshots} → ${a.snapshots}, inlined rows ${b.inlinedRows} → ${a.inlinedRows}`,
  ];
  for (const s of r.steps) {
    const retried = s.attempts > 1 ? ` (${s.attempts} attempts)` : "";
    lines.push(`  ${s.step.padEnd(8)} ${s.status === "gave up" ? "GAVE UP: " : ""}${s.detail}${retried}, ${s.seconds.toFixed(2)}s`);
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Policy

interface Plan {
  readonly flush: boolean;
  readonly compact: boolean;
  readonly tables: readonly string[] | null;
  readonly deleteThreshold: number;
  readonly expire: { readonly olderThan: Age | null; readonly keepLast: number | null } | null;
  readonly cleanup: { readonly olderThan: Age | null } | null;
  readonly orphans: { readonly olderThan: Age } | null;
}

function refuse(field: string, problem: string, fix: string): never {
  throw new InputError(`Maintenance policy: ${field} ${problem}.`, { fix, context: { field } });
}

function onlyKeys(value: unknown, field: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date) {
    refuse(field, `must be an object, got ${JSON.stringify(value)}`, `Pass { ${keys.join(", ")} } (all optional).`);
  }
  for (const k of Object.keys(value)) {
    if (!keys.includes(k)) refuse(`${field}.${k}`, "is not a policy setting", `The settings of ${field} are ${keys.join(", ")}.`);
  }
  return value as Record<string, unknown>;
}

function flag(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") refuse(field, `must be true or false, got ${JSON.stringify(value)}`, `Set ${field}: true or false.`);
  return value;
}

function age(value: unknown, field: string): Age {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) refuse(field, "is an invalid Date", "Pass a valid Date, or an interval such as \"7 days\".");
    return value;
  }
  if (typeof value !== "string" || !INTERVAL.test(value)) {
    refuse(field, `is ${JSON.stringify(value)}, not an interval`, 'Write an amount and a unit, e.g. "7 days", "12 hours" or "1 day 6 hours" (units: seconds … years), or pass a Date.');
  }
  return value.trim();
}

/** `true`, `false`, or `{ olderThan }`: whether the step runs, and its age limit (null: none). */
function ageStep(value: unknown, field: string, fallback: boolean, defaultAge: Age | null): { olderThan: Age | null } | null {
  if (value === undefined) return fallback ? { olderThan: defaultAge } : null;
  if (typeof value === "boolean") return value ? { olderThan: defaultAge } : null;
  const o = onlyKeys(value, field, ["olderThan"]);
  return { olderThan: o["olderThan"] === undefined ? defaultAge : age(o["olderThan"], `${field}.olderThan`) };
}

function checkPolicy(policy: unknown): Plan {
  const p = onlyKeys(policy, "policy", ["flushInlined", "compact", "expire", "cleanup", "orphans"]);
  let compact = true;
  let tables: string[] | null = null;
  let deleteThreshold = DEFAULT_DELETE_THRESHOLD;
  if (typeof p["compact"] === "boolean" || p["compact"] === undefined) {
    compact = flag(p["compact"], "policy.compact", true);
  } else {
    const c = onlyKeys(p["compact"], "policy.compact", ["tables", "deleteThreshold"]);
    if (c["tables"] !== undefined) {
      if (!Array.isArray(c["tables"]) || c["tables"].length === 0) {
        refuse("policy.compact.tables", `must be a non-empty list of table names, got ${JSON.stringify(c["tables"])}`, 'Pass e.g. ["bronze.transactions"], or compact: true for every table.');
      }
      tables = c["tables"].map((t, i) => {
        const parts = typeof t === "string" ? t.split(".") : [];
        if (parts.length !== 2 || !parts.every(isPlainName)) {
          refuse(`policy.compact.tables[${i}]`, `is ${JSON.stringify(t)}, not a layer.table name`, 'Use layer.table with letters, digits and underscores, e.g. "bronze.transactions".');
        }
        return t as string;
      });
    }
    if (c["deleteThreshold"] !== undefined) {
      const d = c["deleteThreshold"];
      if (typeof d !== "number" || !(d > 0 && d <= 1)) {
        refuse("policy.compact.deleteThreshold", `must be a fraction above 0 and at most 1, got ${JSON.stringify(d)}`, "E.g. 0.5 rewrites files that lost half their rows or more to deletes.");
      }
      deleteThreshold = d;
    }
  }
  let expire: Plan["expire"] = null;
  if (p["expire"] !== undefined) {
    const e = onlyKeys(p["expire"], "policy.expire", ["olderThan", "keepLast"]);
    const keepLast = e["keepLast"];
    if (keepLast !== undefined && (typeof keepLast !== "number" || !Number.isSafeInteger(keepLast) || keepLast < 1)) {
      refuse("policy.expire.keepLast", `must be a whole number of at least 1, got ${JSON.stringify(keepLast)}`, "keepLast: 10 keeps the 10 newest snapshots readable by time travel.");
    }
    if (e["olderThan"] === undefined && keepLast === undefined) {
      refuse("policy.expire", "names no snapshots to expire", 'Give olderThan (e.g. "7 days"), keepLast (e.g. 10), or both: snapshots older than that, except the newest keepLast.');
    }
    expire = { olderThan: e["olderThan"] === undefined ? null : age(e["olderThan"], "policy.expire.olderThan"), keepLast: (keepLast as number | undefined) ?? null };
  }
  const orphans = ageStep(p["orphans"], "policy.orphans", false, DEFAULT_ORPHAN_AGE);
  return {
    flush: flag(p["flushInlined"], "policy.flushInlined", true),
    compact, tables, deleteThreshold, expire,
    cleanup: ageStep(p["cleanup"], "policy.cleanup", true, null),
    orphans: orphans ? { olderThan: orphans.olderThan! } : null,
  };
}

async function existingTables(lab: Lab, tables: readonly string[]): Promise<{ schema: string; table: string }[]> {
  const out: { schema: string; table: string }[] = [];
  for (const [i, t] of tables.entries()) {
    if (!(await lab.catalog.tableExists(t))) {
      refuse(`policy.compact.tables[${i}]`, `names ${t}, which does not exist`, "lab.catalog.tables() lists the lake's tables.");
    }
    const [schema, table] = t.split(".") as [string, string];
    out.push({ schema, table });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Steps

type Table = { schema: string; table: string };

async function withRetry<T>(work: () => Promise<T>): Promise<{ value?: T; attempts: number; conflict?: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await work(), attempts: attempt };
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      if (attempt >= ATTEMPTS) return { attempts: attempt, conflict: messageOf(e).split("\n")[0] };
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

type Row = Record<string, unknown>;

/** Run a DuckLake table function once for the lake, or once per table (`$s`, `$t` bound), and keep the rows that did something. */
async function perTable(lab: Lab, tables: Table[] | null, whole: string, one: string, params: Record<string, number>, did: string): Promise<Row[]> {
  const rows: Row[] = [];
  if (tables === null) rows.push(...(await lab.sql(whole, Object.keys(params).length ? params : undefined)).rows());
  else for (const t of tables) rows.push(...(await lab.sql(one, { ...params, s: t.schema, t: t.table })).rows());
  return rows.filter((r) => Number(r[did]) > 0);
}

function byTable(rows: Row[], n: string): string {
  return rows.map((r) => `${String(r["schema_name"])}.${String(r["table_name"])}: ${Number(r[n])}`).join(", ");
}

async function flush(lab: Lab, tables: Table[] | null): Promise<{ count: number; detail: string }> {
  const done = await perTable(lab, tables, `SELECT * FROM ducklake_flush_inlined_data('${LAKE}')`,
    `SELECT * FROM ducklake_flush_inlined_data('${LAKE}', schema_name => $s, table_name => $t)`, {}, "rows_flushed");
  const count = done.reduce((n, r) => n + Number(r["rows_flushed"]), 0);
  return { count, detail: count ? `${count} inlined row(s) written to Parquet (${byTable(done, "rows_flushed")})` : "no inlined rows" };
}

async function compact(lab: Lab, tables: Table[] | null, how: "rewrite" | "merge", deleteThreshold: number): Promise<{ count: number; detail: string }> {
  // Rewriting drops the deleted rows from files that lost many (their delete files go too); merging then joins
  // small files that sit next to each other within one partition and schema version, up to DuckLake's target
  // file size, and sorts them when the table is SET SORTED BY.
  const fn = how === "rewrite" ? "ducklake_rewrite_data_files" : "ducklake_merge_adjacent_files";
  const extra = how === "rewrite" ? ", delete_threshold => $d" : "";
  const done = await perTable(lab, tables, `SELECT * FROM ${fn}('${LAKE}'${extra})`, `SELECT * FROM ${fn}('${LAKE}', $t, schema => $s${extra})`,
    how === "rewrite" ? { d: deleteThreshold } : {}, "files_processed");
  const processed = done.reduce((n, r) => n + Number(r["files_processed"]), 0);
  const created = done.reduce((n, r) => n + Number(r["files_created"]), 0);
  const what = how === "rewrite" ? "rewritten without their deleted rows" : "merged";
  if (processed === 0) return { count: 0, detail: how === "rewrite" ? `no file lost ${deleteThreshold * 100}% of its rows or more` : "no small adjacent files to merge" };
  return { count: processed, detail: `${processed} file(s) ${what} into ${created} (${byTable(done, "files_processed")})` };
}

async function expire(lab: Lab, e: NonNullable<Plan["expire"]>): Promise<{ count: number; detail: string }> {
  const params: Record<string, string | number> = {};
  const where: string[] = [];
  if (e.olderThan !== null) {
    where.push(e.olderThan instanceof Date ? "snapshot_time < $cutoff::TIMESTAMPTZ" : "snapshot_time < now() - $cutoff::INTERVAL");
    params["cutoff"] = e.olderThan instanceof Date ? e.olderThan.toISOString() : e.olderThan;
  }
  // DuckLake expires by age or by a list of ids, not both: so the ids are chosen here, the newest keepLast
  // left out. A snapshot committed meanwhile is newer than all of them, so at least keepLast stay.
  if (e.keepLast !== null) {
    where.push("newness > $keep");
    params["keep"] = e.keepLast;
  }
  const ids = (await lab.sql(`SELECT snapshot_id FROM (
      SELECT snapshot_id, snapshot_time, row_number() OVER (ORDER BY snapshot_id DESC) AS newness FROM ducklake_snapshots('${LAKE}'))
    WHERE newness > 1 AND ${where.join(" AND ")} ORDER BY snapshot_id`, params)).column("snapshot_id").map(Number);
  const kept = [e.olderThan === null ? null : e.olderThan instanceof Date ? `from ${e.olderThan.toISOString()} on` : `younger than ${e.olderThan}`,
    e.keepLast !== null ? `the newest ${e.keepLast}` : null].filter(Boolean).join(" or ");
  if (ids.length === 0) return { count: 0, detail: `no snapshot to expire (keeping those ${kept})` };
  const expired = (await lab.sql(`SELECT count(*) FROM ducklake_expire_snapshots('${LAKE}', versions => $v::UBIGINT[])`, { v: JSON.stringify(ids) })).number();
  return { count: expired, detail: `${expired} snapshot(s) expired, ids ${ids[0]} to ${ids.at(-1)} (kept those ${kept}); time travel to them is no longer possible` };
}

async function cleanup(lab: Lab, c: NonNullable<Plan["cleanup"]>): Promise<{ count: number; detail: string }> {
  // DuckLake lists a file for clean-up only once no remaining snapshot reads it (compaction's inputs at once: the
  // merged file carries their snapshot ids; other files when the last snapshot reading them expires).
  const [arg, params] = c.olderThan === null
    ? ["cleanup_all => true", undefined]
    : c.olderThan instanceof Date
      ? ["older_than => $t::TIMESTAMPTZ", { t: c.olderThan.toISOString() }]
      : ["older_than => now() - $t::INTERVAL", { t: c.olderThan }];
  const deleted = (await lab.sql(`SELECT count(*) FROM ducklake_cleanup_old_files('${LAKE}', ${arg})`, params)).number();
  return { count: deleted, detail: deleted ? `${deleted} file(s) no snapshot reads deleted from storage` : "no file awaiting clean-up" };
}

/**
 * Orphans: Parquet files named like DuckLake's own (ducklake-….parquet) in a table's folder that the catalog does
 * not know. Not ducklake_delete_orphaned_files: it deletes every unknown .parquet under DATA_PATH, which in the
 * embedded lab is the lab folder itself, so it would delete landed raw files (bronze/raw/…/x.parquet); and on
 * the services it never looks in the layer buckets, where the tables are.
 */
async function deleteOrphans(lab: Lab, o: NonNullable<Plan["orphans"]>): Promise<{ count: number; detail: string }> {
  const cutoff = o.olderThan instanceof Date ? o.olderThan : new Date((await lab.sql("SELECT epoch_ms(now() - $i::INTERVAL)", { i: o.olderThan })).number());
  const { dirs } = await lakeLayout(lab);
  // Inside the write turn no commit of this kernel can register a file between the listing and the catalog
  // read; the transaction's first catalog read comes after the listing, so a file another kernel committed
  // meanwhile is known too (one still uncommitted is younger than the grace period).
  return lab.catalog.transaction(async () => {
    const stored = await listStored(lab, dirs.map((d) => d.dir));
    const known = await knownFiles(lab);
    const unknown = stored.filter((f) => !known.has(normalize(f.path)) && /^ducklake-[^/]*\.parquet$/.test(f.path.slice(f.path.lastIndexOf("/") + 1)));
    const old = unknown.filter((f) => f.modified < cutoff);
    await deleteStored(lab, old.map((f) => f.path));
    const young = unknown.length - old.length;
    const ageText = o.olderThan instanceof Date ? `before ${o.olderThan.toISOString()}` : `older than ${o.olderThan}`;
    const kept = young ? `${young} orphan file(s) younger than that kept: a write in another kernel may still commit them` : "";
    return {
      count: old.length,
      detail: old.length
        ? `${old.length} orphan file(s) ${ageText} deleted (${formatBytes(old.reduce((n, f) => n + f.size, 0))})${kept ? `; ${kept}` : ""}`
        : kept || "no orphan files",
    };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// What the catalog says, and what is on storage

/** The lake's DuckLake metadata tables: `<catalog>.ducklake_data_file` and so on (in the user's schema on PostgreSQL). */
export function metadataCatalog(lab: Lab): string {
  const db = ident(`__ducklake_metadata_${LAKE}`);
  const schema = lab.settings.catalog.kind === "postgres" ? userNamespace(lab.settings.user).metadataSchema : undefined;
  return schema ? `${db}.${ident(schema)}` : db;
}

interface TableDir {
  readonly dir: string;
  readonly tableId: number;
  readonly layer: string;
  readonly table: string;
  readonly current: boolean;
}

/** Every table's folder (dropped tables' too) as DuckLake resolves paths: file → table → schema → DATA_PATH. */
async function lakeLayout(lab: Lab): Promise<{ dirs: TableDir[] }> {
  const m = metadataCatalog(lab);
  const rows = (await lab.sql(`WITH dp AS (SELECT value AS data_path FROM ${m}.ducklake_metadata WHERE key = 'data_path' AND scope IS NULL)
    SELECT DISTINCT t.table_id, s.schema_name, t.table_name, (t.end_snapshot IS NULL AND s.end_snapshot IS NULL) AS current,
      CASE WHEN NOT t.path_is_relative THEN t.path WHEN NOT s.path_is_relative THEN s.path || t.path ELSE dp.data_path || s.path || t.path END AS dir
    FROM ${m}.ducklake_table t JOIN ${m}.ducklake_schema s USING (schema_id), dp`)).rows();
  return {
    dirs: rows.map((r) => ({
      dir: String(r["dir"]), tableId: Number(r["table_id"]), layer: String(r["schema_name"]), table: String(r["table_name"]), current: r["current"] === true,
    })),
  };
}

async function knownFiles(lab: Lab): Promise<Set<string>> {
  const m = metadataCatalog(lab);
  const r = await lab.sql(`WITH dp AS (SELECT value AS data_path FROM ${m}.ducklake_metadata WHERE key = 'data_path' AND scope IS NULL),
    t AS (SELECT DISTINCT table_id, schema_id, path, path_is_relative FROM ${m}.ducklake_table)
    SELECT CASE WHEN NOT f.path_is_relative THEN f.path WHEN NOT t.path_is_relative THEN t.path || f.path
                WHEN NOT s.path_is_relative THEN s.path || t.path || f.path ELSE dp.data_path || s.path || t.path || f.path END AS path
    FROM (SELECT table_id, path, path_is_relative FROM ${m}.ducklake_data_file
          UNION ALL SELECT table_id, path, path_is_relative FROM ${m}.ducklake_delete_file) f
    JOIN t USING (table_id) JOIN ${m}.ducklake_schema s ON s.schema_id = t.schema_id, dp
    UNION ALL
    SELECT CASE WHEN path_is_relative THEN dp.data_path || path ELSE path END FROM ${m}.ducklake_files_scheduled_for_deletion, dp`);
  return new Set(r.column("path").map((p) => normalize(String(p))));
}

function normalize(path: string): string {
  return path.startsWith("s3://") ? "s3://" + path.slice(5).replace(/\/{2,}/g, "/") : path.replace(/\/{2,}/g, "/");
}

interface StoredFile {
  readonly path: string;
  readonly size: number;
  readonly modified: Date;
}

/** The Parquet files under these folders, with size and modification time (S3: one LIST per 1000 keys, no HEADs). */
export async function listStored(lab: Lab, dirs: readonly string[]): Promise<StoredFile[]> {
  const unique = [...new Set(dirs.map((d) => normalize(d.endsWith("/") ? d : d + "/")))];
  const out: StoredFile[] = [];
  const s3 = unique.some((d) => d.startsWith("s3://")) ? s3Client(lab) : null;
  try {
    for (const dir of unique) {
      if (s3) {
        const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(dir);
        if (m) {
          let token: string | undefined;
          do {
            const page = await s3.send(new ListObjectsV2Command({ Bucket: m[1], Prefix: m[2], ContinuationToken: token })).catch((e: unknown) => {
              throw new StorageError(`Could not list ${dir}: ${messageOf(e)}`, { fix: "Check that object storage is up and the credentials allow listing the lake's buckets.", context: { bucket: m[1], key: m[2] }, cause: e });
            });
            for (const o of page.Contents ?? []) {
              if (o.Key?.endsWith(".parquet")) out.push({ path: `s3://${m[1]}/${o.Key}`, size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) });
            }
            token = page.IsTruncated ? page.NextContinuationToken : undefined;
          } while (token);
          continue;
        }
      }
      let names: string[];
      try {
        names = await readdir(dir, { recursive: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw e;
      }
      for (const name of names) {
        if (!name.endsWith(".parquet")) continue;
        const path = join(dir, name);
        const s = await stat(path).catch(() => null);
        if (s?.isFile()) out.push({ path, size: s.size, modified: s.mtime });
      }
    }
  } finally {
    s3?.destroy();
  }
  return out;
}

async function deleteStored(lab: Lab, paths: readonly string[]): Promise<void> {
  const remote = paths.filter((p) => p.startsWith("s3://"));
  for (const p of paths) if (!p.startsWith("s3://")) await unlink(p).catch((e: NodeJS.ErrnoException) => { if (e.code !== "ENOENT") throw e; });
  if (remote.length === 0) return;
  const s3 = s3Client(lab);
  try {
    const byBucket = new Map<string, string[]>();
    for (const p of remote) {
      const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(p)!;
      byBucket.set(m[1]!, [...(byBucket.get(m[1]!) ?? []), m[2]!]);
    }
    for (const [bucket, keys] of byBucket) {
      for (let i = 0; i < keys.length; i += 1000) {
        const r = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
        if (r.Errors?.length) {
          throw new StorageError(`Could not delete ${r.Errors.length} orphan file(s) in bucket ${bucket}: ${r.Errors[0]!.Key}: ${r.Errors[0]!.Message}`, {
            fix: "Check that the credentials may delete objects in the lake's buckets; the files are unused, so running maintenance again later is safe.",
            context: { bucket, key: r.Errors[0]!.Key },
          });
        }
      }
    }
  } finally {
    s3.destroy();
  }
}

function s3Client(lab: Lab): S3Client {
  const s = lab.settings.storage;
  if (s.kind !== "s3") throw new StorageError("The lake names s3:// files, but this lab's storage is local folders.", { fix: "Open the lab with the same storage settings it was created with." });
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
  return new S3Client({ endpoint: s.endpoint, region: s.region, credentials: s3Credentials(), forcePathStyle: true });
}

async function survey(lab: Lab, withRows: boolean): Promise<LakeStats> {
  const m = metadataCatalog(lab);
  const files = (await lab.sql(`SELECT table_id, 'data' AS kind, count(*) FILTER (WHERE end_snapshot IS NULL) AS files,
        coalesce(sum(file_size_bytes) FILTER (WHERE end_snapshot IS NULL), 0) AS bytes FROM ${m}.ducklake_data_file GROUP BY table_id
      UNION ALL SELECT table_id, 'delete', count(*) FILTER (WHERE end_snapshot IS NULL),
        coalesce(sum(file_size_bytes) FILTER (WHERE end_snapshot IS NULL), 0) FROM ${m}.ducklake_delete_file GROUP BY table_id`)).rows();
  const snap = (await lab.sql(`SELECT count(*) AS n, min(snapshot_time)::VARCHAR AS oldest, max(snapshot_time)::VARCHAR AS newest,
      (SELECT count(*) FROM ${m}.ducklake_files_scheduled_for_deletion) AS scheduled FROM ducklake_snapshots('${LAKE}')`)).rows()[0]!;
  const inlined = await inlinedRows(lab);
  const { dirs } = await lakeLayout(lab);
  const stored = await listStored(lab, dirs.map((d) => d.dir));
  const current = new Map<number, TableDir>();
  for (const d of dirs) if (d.current) current.set(d.tableId, d);

  const tables: TableStats[] = [];
  for (const d of [...current.values()].sort((a, b) => a.layer.localeCompare(b.layer) || a.table.localeCompare(b.table))) {
    const f = (kind: string) => files.find((r) => Number(r["table_id"]) === d.tableId && r["kind"] === kind);
    const prefix = normalize(d.dir.endsWith("/") ? d.dir : d.dir + "/");
    const mine = stored.filter((s) => normalize(s.path).startsWith(prefix));
    tables.push({
      layer: d.layer, table: d.table,
      rows: withRows ? (await lab.sql(`SELECT count(*) FROM ${ident(d.layer)}.${ident(d.table)}`)).number() : 0,
      dataFiles: Number(f("data")?.["files"] ?? 0), dataBytes: Number(f("data")?.["bytes"] ?? 0),
      deleteFiles: Number(f("delete")?.["files"] ?? 0), deleteBytes: Number(f("delete")?.["bytes"] ?? 0),
      inlinedRows: inlined.get(d.tableId) ?? 0,
      storedFiles: mine.length, storedBytes: mine.reduce((n, s) => n + s.size, 0),
    });
  }
  const sum = (xs: readonly TableStats[], k: keyof TableStats) => xs.reduce((n, t) => n + (t[k] as number), 0);
  const layers = [...new Set(tables.map((t) => t.layer))].map((layer) => {
    const ts = tables.filter((t) => t.layer === layer);
    return {
      layer, tables: ts.length, rows: sum(ts, "rows"), dataFiles: sum(ts, "dataFiles"), dataBytes: sum(ts, "dataBytes"),
      storedFiles: sum(ts, "storedFiles"), storedBytes: sum(ts, "storedBytes"),
    };
  });
  return {
    snapshots: Number(snap["n"]), oldestSnapshot: (snap["oldest"] as string | null) ?? null, newestSnapshot: (snap["newest"] as string | null) ?? null,
    awaitingCleanup: Number(snap["scheduled"]),
    totals: {
      snapshots: Number(snap["n"]),
      files: sum(tables, "dataFiles") + sum(tables, "deleteFiles"),
      bytes: sum(tables, "dataBytes") + sum(tables, "deleteBytes"),
      // Over every folder, dropped tables' included.
      storedFiles: stored.length, storedBytes: stored.reduce((n, s) => n + s.size, 0),
      inlinedRows: sum(tables, "inlinedRows"),
    },
    layers, tables,
  };
}

/** Live inlined rows per table id, from DuckLake's ducklake_inlined_data_<table>_<version> tables. */
async function inlinedRows(lab: Lab): Promise<Map<number, number>> {
  const m = metadataCatalog(lab);
  const out = new Map<number, number>();
  const inlinedTables = (await lab.sql(`SELECT table_id, table_name FROM ${m}.ducklake_inlined_data_tables`)).rows();
  for (const t of inlinedTables) {
    const name = String(t["table_name"]);
    if (!isPlainName(name)) continue;
    try {
      const n = (await lab.sql(`SELECT count(*) FROM ${m}.${ident(name)} WHERE end_snapshot IS NULL`)).number();
      out.set(Number(t["table_id"]), (out.get(Number(t["table_id"])) ?? 0) + n);
    } catch (e) {
      // A flush in between may have dropped a superseded inlined table.
      if (!/does not exist/i.test(messageOf(e))) throw e;
    }
  }
  return out;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}
