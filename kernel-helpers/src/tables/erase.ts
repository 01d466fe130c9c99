import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { basename, dirname, join, posix, sep } from "node:path";
import { listValue, type DuckDBValue } from "@duckdb/node-api";
import { ERASURE_LOG, INGESTION_LOG, REJECTED_RECORDS } from "../bronze/ingest.js";
import { LAKE } from "../catalog/catalog.js";
import { ident, literal } from "../catalog/sql.js";
import { LAYERS, userNamespace, type Bucket } from "../config/settings.js";
import { CatalogError, InputError } from "../errors.js";
import type { Lab } from "../lab.js";
import { QUARANTINE } from "../quality/refine.js";
import { DEAD_LETTER } from "../stream/sink.js";
import { dialectOf, DocCache, escapeRegExp, landedLog, NOT_TEXT, rewriteLanded, splitCsv, type Dialect, type LandedFile, type LandedPlan, type TextMatch } from "./landed.js";

export { ERASURE_LOG };

export interface EraseOptions {
  /** The key column that names the person in every table that holds them, e.g. "customer_id" (any case). */
  readonly key: string;
  /** Their key value, e.g. 5007. Bronze keeps values as text, so it is compared as text there, typed elsewhere. */
  readonly value: number | string;
  /**
   * Other things that identify them in raw text and in tables without the key column: an e-mail, a phone number.
   * Matched whole (never inside a longer address or word) and ignoring case. Never stored.
   */
  readonly identifiers?: readonly string[];
  /** Why, for the audit log (a ticket number, "LGPD request"): must not name the person. */
  readonly reason?: string;
}

export interface ErasureReport {
  /** The audit row in bronze.erasure_log; null when nothing was erased now. */
  readonly erasureId: string | null;
  readonly customer: { readonly key: string; readonly value: string; readonly sha256: string };
  /** Whether anything of the customer was found (and so erased) by this run. */
  readonly found: boolean;
  /** The erasure that already removed them, when this run found nothing left; null otherwise. */
  readonly alreadyErased: { readonly erasureId: string; readonly erasedAt: string } | null;
  /** Rows deleted per table (`layer.table`), only tables that held the customer. */
  readonly rowsDeleted: Readonly<Record<string, number>>;
  /** Landed source files (bronze bucket keys) rewritten with the customer's lines blanked. */
  readonly landedFilesRewritten: readonly string[];
  /** Snapshots expired: every one older than the erasure's last, so none can show the customer again. */
  readonly snapshotsExpired: number;
  /** Data and delete files removed from storage because no snapshot referenced them any more. */
  readonly filesDeleted: number;
  /** Noncurrent object versions and delete markers removed from versioned buckets (S3). */
  readonly oldVersionsDeleted: number;
  /** Whether the DuckDB catalog file was rewritten so that freed pages no longer hold the deleted rows. */
  readonly catalogRewritten: boolean;
  /** Files deleted beside the catalog: copies kept when an older catalog was migrated, which still held the customer. */
  readonly catalogCopiesDeleted: readonly string[];
  /** The lake's newest snapshot once the erasure finished (its audit row's commit). */
  readonly snapshotId: number;
  /** The oldest snapshot left: time travel reaches no further back. */
  readonly historyStartsAt: number;
  readonly seconds: number;
}

/**
 * Erase one person from the lake (the right to be forgotten): every row that holds their key or one of their
 * identifiers, in every layer, and every copy the lake keeps of those rows.
 *
 * 1. Every lake table with the key column loses the rows with that key; every text column is searched for the
 *    identifiers; raw-text tables (bronze.rejected_records, bronze.dead_letter) lose the records that carry the key
 *    as a whole CSV field or JSON value, and silver.quarantine the rows whose kept bronze row has it. All deletes
 *    and the audit row commit in ONE transaction (one snapshot). Matching is exact: id 50 never erases 5007.
 * 2. Before that commit, the landed source files in the bronze bucket that hold the customer are rewritten with
 *    their lines blanked (an empty line, so every other row's `_row_number` still points at its line; a JSON
 *    array element becomes `{}`, a Parquet row all NULLs). The ingestion log keeps the original file's sha256, so
 *    ingesting the original export again is skipped and cannot bring the customer back.
 * 3. A DuckLake delete only hides rows: the old Parquet files, rows inlined in the catalog and every earlier
 *    snapshot still hold them. So the tables' inlined rows are flushed, files with deleted rows are rewritten,
 *    every older snapshot is expired, the files no snapshot needs are deleted, old object versions are removed
 *    from versioned buckets, and a DuckDB catalog file is rewritten (DuckDB leaves deleted rows in freed pages).
 *
 * What time travel loses: every snapshot before the erasure. `AT (VERSION => n)` for an older n, the change feed
 * (`ducklake_table_changes`) across the erasure, and any snapshot recorded elsewhere (an ML run's training data, a
 * report's snapshotId) can no longer be read, for every table, not only the customer's: a lake cannot keep a past
 * that still contains them. History starts again at the erasure.
 *
 * Steps of this kernel wait for it: its commits take the lake's write turn, and the catalog file is rewritten
 * (embedded mode) while nothing else of the kernel runs. Another process on the same PostgreSQL catalog is not held.
 * Not covered: the stream's landing folder or Kafka topics, MLflow artifacts, and PostgreSQL's dead row versions
 * until its autovacuum runs.
 *
 * An unknown customer changes nothing (`found: false`, no snapshot). Running it again after a complete erasure
 * says so from the audit log and changes nothing; after an interrupted one it finishes the job.
 */
export async function eraseCustomer(lab: Lab, options: EraseOptions): Promise<ErasureReport> {
  const started = performance.now();
  const subject = checkOptions(options);
  const tables = await lakeTables(lab);
  if (!tables.some((t) => t.columns.some((c) => c.name.toLowerCase() === subject.key))) {
    const keys = [...new Set(tables.flatMap((t) => t.columns.map((c) => c.name)).filter((n) => /_id$|^id$/i.test(n)))].slice(0, 8);
    throw new InputError(`No lake table has a column "${options.key}", so there is nothing to erase it by.`, {
      fix: `Pass the key column as the tables name it${keys.length ? ` (key columns in this lake: ${keys.join(", ")})` : ""}; load the data first if the lake is empty.`,
      context: { column: options.key },
    });
  }
  const names = tables.filter((t) => t.name.toLowerCase() !== ERASURE_LOG).map((t) => t.name);
  // Steps of this kernel on these tables (ingest, refine, gold builds) wait until the erasure is done.
  return inTurn(lab, names, async () => {
    const previous = await auditRows(lab, subject);
    const plan = await planErasure(lab, subject, tables);
    const nothing = plan.tables.length === 0 && plan.landed.length === 0;
    const unfinished = previous.find((p) => p.finishedAt === null);
    const base = { customer: { key: subject.key, value: subject.value, sha256: subject.sha256 }, rowsDeleted: {}, landedFilesRewritten: [] };
    if (nothing && !unfinished) {
      const done = previous[0];
      return {
        ...base, erasureId: null, found: false, alreadyErased: done ? { erasureId: done.erasureId, erasedAt: done.startedAt } : null,
        snapshotsExpired: 0, filesDeleted: 0, oldVersionsDeleted: 0, catalogRewritten: false, catalogCopiesDeleted: [],
        historyStartsAt: await oldestSnapshot(lab), snapshotId: await lab.catalog.currentSnapshot(), seconds: (performance.now() - started) / 1000,
      };
    }
    let erasureId: string;
    let rowsDeleted: Record<string, number> = {};
    let landed: string[] = [];
    if (nothing) {
      // An earlier run committed its deletes but stopped before the clean-up: finish that one.
      erasureId = unfinished!.erasureId;
      rowsDeleted = unfinished!.rowsDeleted;
      landed = [];
    } else {
      erasureId = randomUUID();
      landed = await rewriteLanded(lab, subject, plan.landed, plan.docs, erasureId);
      rowsDeleted = await deleteRows(lab, subject, plan.tables, landed, erasureId);
    }
    const cleaned = await cleanUp(lab, subject, Object.keys(rowsDeleted), nothing ? unfinished!.landedFiles : landed);
    return {
      ...base, erasureId, found: !nothing, alreadyErased: null, rowsDeleted: nothing ? {} : rowsDeleted, landedFilesRewritten: landed,
      ...cleaned, seconds: (performance.now() - started) / 1000,
    };
  });
}

/** A short account of an erasure for the notebook; it never prints an identifier. */
export function describeErasure(r: ErasureReport): string {
  const who = `${r.customer.key} ${r.customer.value}`;
  if (!r.found && r.alreadyErased) {
    return `${who} was already erased (erasure ${r.alreadyErased.erasureId.slice(0, 8)} at ${r.alreadyErased.erasedAt}); nothing of them is left, nothing changed`;
  }
  if (!r.found && r.erasureId === null) return `${who}: no row, record or landed line holds them; nothing changed`;
  const tables = Object.entries(r.rowsDeleted).map(([t, n]) => `${t} ${n}`).join(", ");
  const total = Object.values(r.rowsDeleted).reduce((a, b) => a + b, 0);
  const what = r.found
    ? `${who} erased: ${total} row(s) from ${Object.keys(r.rowsDeleted).length} table(s) (${tables}), ${r.landedFilesRewritten.length} landed file(s) rewritten`
    : `${who}: finished the interrupted erasure ${r.erasureId?.slice(0, 8)}`;
  const versions = r.oldVersionsDeleted ? `, ${r.oldVersionsDeleted} old object version(s) removed` : "";
  const catalog = r.catalogRewritten ? ", catalog file rewritten" : "";
  const copies = r.catalogCopiesDeleted.length ? `, ${r.catalogCopiesDeleted.length} old catalog copy(ies) deleted` : "";
  return `${what}; ${r.snapshotsExpired} snapshot(s) expired, ${r.filesDeleted} file(s) deleted${versions}${catalog}${copies} `
    + `in ${r.seconds.toFixed(2)}s. Time travel now starts at snapshot ${r.historyStartsAt}: earlier snapshots are gone.`;
}

// ————————————————————————————————————————— what to match —————————————————————————————————————————

interface Subject extends TextMatch {
  /** The key column, lower case (DuckDB names ignore case). */
  readonly key: string;
  readonly value: string;
  readonly sha256: string;
  readonly identifiers: number;
  readonly reason: string | null;
}

function checkOptions(options: EraseOptions): Subject {
  if (typeof options !== "object" || options === null) {
    throw new InputError("eraseCustomer needs options: { key, value }.", { fix: 'Pass e.g. { key: "customer_id", value: 5007 }.' });
  }
  const key = typeof options.key === "string" ? options.key.trim() : "";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
    throw new InputError(`${JSON.stringify(options.key)} is not a column name.`, {
      fix: 'Pass the key column, e.g. key: "customer_id".', context: { option: "key" },
    });
  }
  const v = options.value;
  const value = typeof v === "number" ? (Number.isFinite(v) ? String(v) : "") : typeof v === "string" ? v.trim() : "";
  if (value === "" || value.length > 256 || /[\u0000-\u001f]/.test(value)) {
    throw new InputError(`The key value ${JSON.stringify(v)} cannot name a customer: give a non-empty number or text (at most 256 characters, one line).`, {
      fix: 'Pass e.g. value: 5007 or value: "C-5007".', context: { option: "value", column: key },
    });
  }
  if (options.identifiers !== undefined && !Array.isArray(options.identifiers)) {
    throw new InputError("identifiers must be a list of strings.", { fix: 'Pass e.g. identifiers: ["ana@example.org"].', context: { option: "identifiers" } });
  }
  const identifiers = (options.identifiers ?? []).map((x) => (typeof x === "string" ? x.trim() : x));
  for (const id of identifiers) {
    if (typeof id !== "string" || id.length < 3 || id.length > 320 || /[\u0000-\u001f]/.test(id)) {
      throw new InputError(`Identifier ${JSON.stringify(id)} is not usable: each must be one line of 3 to 320 characters.`, {
        fix: 'Pass what identifies the person in raw text, e.g. identifiers: ["ana@example.org"].', context: { option: "identifiers" },
      });
    }
  }
  // Whole matches only: bob@x.org must not match jimbob@x.org or bob@x.org.br, while "bob@x.org." ending a sentence does.
  const core = identifiers.length ? `(?:${identifiers.map(escapeRegExp).join("|")})` : null;
  const source = core && `(^|[^a-z0-9._%+\\-])${core}($|[^a-z0-9_%+\\-@.]|\\.($|[^a-z0-9]))`;
  const pattern = source ? new RegExp(source, "i") : null;
  const reason = options.reason === undefined ? null : String(options.reason).trim();
  if (reason !== null && (reason.length > 500 || pattern?.test(reason) || new RegExp(`(^|[^A-Za-z0-9])${escapeRegExp(value)}($|[^A-Za-z0-9])`).test(reason))) {
    throw new InputError(reason.length > 500 ? "The reason is longer than 500 characters." : "The reason names the customer; the audit log must not.", {
      fix: 'Give a reason without the key value or identifiers, e.g. reason: "LGPD request, ticket T-123".', context: { option: "reason" },
    });
  }
  return {
    key: key.toLowerCase(), value, sha256: createHash("sha256").update(value).digest("hex"), identifiers: identifiers.length,
    sqlPattern: source && `(?i)${source}`, pattern, reason,
  };
}

interface LakeTable {
  /** `schema.table` as the catalog spells it. */
  readonly name: string;
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly { name: string; type: string }[];
}

async function lakeTables(lab: Lab): Promise<LakeTable[]> {
  const rows = (await lab.sql(
    `SELECT c.schema_name AS s, c.table_name AS t, list(c.column_name ORDER BY c.column_index) AS names, list(c.data_type ORDER BY c.column_index) AS types
       FROM duckdb_columns() c JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
      WHERE c.database_name = ? GROUP BY 1, 2 ORDER BY 1, 2`, [LAKE])).rows();
  return rows.map((r) => {
    const names = r["names"] as string[];
    const types = r["types"] as string[];
    return { name: `${r["s"]}.${r["t"]}`, schema: String(r["s"]), table: String(r["t"]), columns: names.map((name, i) => ({ name, type: types[i]! })) };
  });
}

const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/i;
const NUMERIC = /^(DECIMAL|NUMERIC|FLOAT|DOUBLE|REAL)\b/i;

/** The key column equals the value: typed where the table is typed, as trimmed text in bronze. */
function keyCondition(column: string, type: string): string {
  const c = ident(column);
  if (INTEGER.test(type)) return `${c} = TRY_CAST($v AS HUGEINT)`;
  if (NUMERIC.test(type)) return `${c} = TRY_CAST($v AS DOUBLE)`;
  if (/^VARCHAR$/i.test(type)) return `trim(${c}) = $v`;
  return `trim(CAST(${c} AS VARCHAR), ' "') = $v`;
}

interface TablePlan {
  readonly name: string;
  readonly where: string;
  readonly params: Record<string, DuckDBValue>;
  readonly rows: number;
}

/** Every table row and landed line that holds the customer; reads only. */
async function planErasure(lab: Lab, s: Subject, tables: readonly LakeTable[]): Promise<{ tables: TablePlan[]; landed: LandedPlan[]; docs: DocCache }> {
  const log = tables.find((t) => t.name.toLowerCase() === INGESTION_LOG);
  const landedFiles = log ? await landedLog(lab, new Set(log.columns.map((c) => c.name.toLowerCase()))) : new Map<string, LandedFile>();
  const docs = new DocCache(lab);
  const plans: TablePlan[] = [];
  const units = new Map<string, Set<number>>();
  for (const t of tables) {
    if (t.name.toLowerCase() === ERASURE_LOG) continue;
    const q = `${ident(t.schema)}.${ident(t.table)}`;
    const params: Record<string, DuckDBValue> = {};
    const conds: string[] = [];
    for (const c of t.columns.filter((c) => c.name.toLowerCase() === s.key)) conds.push(keyCondition(c.name, c.type));
    if (s.sqlPattern) {
      for (const c of t.columns.filter((c) => !NOT_TEXT.test(c.type))) conds.push(`regexp_matches(CAST(${ident(c.name)} AS VARCHAR), $pat)`);
    }
    // JSON records (a quarantined row, a stream event's value) carry the key as a field.
    for (const c of t.columns.filter((c) => /^JSON$/i.test(c.type))) {
      const keys = (await lab.sql(`SELECT DISTINCT k FROM (SELECT unnest(json_keys(${ident(c.name)})) AS k FROM ${q} WHERE json_type(${ident(c.name)}) = 'OBJECT') WHERE lower(k) = $key`,
        { key: s.key })).column("k") as string[];
      for (const k of keys) {
        const name = `path${Object.keys(params).length}`;
        params[name] = `$."${k.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
        conds.push(`trim(json_extract_string(${ident(c.name)}, $${name})) = $v`);
      }
    }
    const raw = rawColumn(t);
    if (raw) {
      const ids = await rawMentions(lab, s, t, raw, landedFiles, docs);
      if (ids.length) {
        params["ids"] = listValue(ids);
        conds.push("list_contains($ids, rowid)");
      }
    }
    if (conds.length === 0) continue;
    const where = conds.map((c) => `(${c})`).join(" OR ");
    const used = bound(where, { ...params, v: s.value, ...(s.sqlPattern ? { pat: s.sqlPattern } : {}) });
    const rows = (await lab.sql(`SELECT count(*) FROM ${q} WHERE ${where}`, used)).number();
    if (rows === 0) continue;
    plans.push({ name: t.name, where, params: used, rows });
    // Where each deleted row came from: its landed file and line.
    const lineage = lineageColumns(t);
    if (lineage) {
      const found = (await lab.sql(`SELECT ${ident(lineage[0])} AS f, list(DISTINCT ${ident(lineage[1])}) AS n FROM ${q}
        WHERE (${where}) AND ${ident(lineage[0])} IS NOT NULL AND ${ident(lineage[1])} IS NOT NULL GROUP BY 1`, used)).rows();
      for (const r of found) {
        const set = units.get(String(r["f"])) ?? new Set<number>();
        for (const n of r["n"] as number[]) set.add(Number(n));
        units.set(String(r["f"]), set);
      }
    }
  }
  const landed: LandedPlan[] = [];
  for (const f of landedFiles.values()) {
    const set = new Set(units.get(f.uri) ?? []);
    // Identifiers can sit in lines no table row points to any more (a row deleted earlier, a header-less note).
    if (s.pattern) for (const n of await docs.identifierUnits(f, s)) set.add(n);
    if (set.size) landed.push({ ...f, units: set });
  }
  return { tables: plans, landed, docs };
}

async function oldestSnapshot(lab: Lab): Promise<number> {
  return (await lab.sql(`SELECT min(snapshot_id) FROM ducklake_snapshots(${literal(LAKE)})`)).number();
}

/** Only the parameters a statement names: DuckDB refuses unused ones. */
function bound(sql: string, params: Record<string, DuckDBValue>): Record<string, DuckDBValue> {
  return Object.fromEntries(Object.entries(params).filter(([k]) => new RegExp(`\\$${k}\\b`).test(sql)));
}

/** The column of a raw-text table holding the record as it arrived. */
function rawColumn(t: LakeTable): string | undefined {
  const name = t.name.toLowerCase();
  return name === REJECTED_RECORDS || name === DEAD_LETTER ? t.columns.find((c) => c.name.toLowerCase() === "raw")?.name : undefined;
}

/** The (file, line) columns of a table whose rows came from landed files. */
function lineageColumns(t: LakeTable): [string, string] | undefined {
  const has = (n: string) => t.columns.find((c) => c.name.toLowerCase() === n)?.name;
  const name = t.name.toLowerCase();
  const pair = name === REJECTED_RECORDS ? [has("source_file"), has("line")]
    : name === QUARANTINE ? [has("source_file"), has("row_number")]
      : [has("_source_file"), has("_row_number")];
  return pair[0] && pair[1] ? [pair[0], pair[1]] : undefined;
}

/**
 * Row ids of a raw-text table whose record carries the key as a whole field: in a CSV line, the field in the key
 * column of its file's header (a malformed line may have shifted it by as many places as it has fields too many or
 * too few); in JSON text, the value of a member named like the key. A substring never counts: 50 is not in 5007.
 */
async function rawMentions(lab: Lab, s: Subject, t: LakeTable, raw: string, files: Map<string, LandedFile>, docs: DocCache): Promise<bigint[]> {
  const q = `${ident(t.schema)}.${ident(t.table)}`;
  const rejected = t.name.toLowerCase() === REJECTED_RECORDS;
  const file = rejected ? t.columns.find((c) => c.name.toLowerCase() === "source_file")?.name : undefined;
  const rows = (await lab.sql(`SELECT rowid AS id, ${ident(raw)} AS raw${file ? `, ${ident(file)} AS f` : ""} FROM ${q} WHERE contains(${ident(raw)}, $v)`, { v: s.value })).rows();
  const out: bigint[] = [];
  for (const r of rows) {
    const text = String(r["raw"]);
    const landed = r["f"] ? files.get(String(r["f"])) : undefined;
    // A dead letter, or a record whose file the log does not know: a whole CSV field or a JSON value, either way.
    const hit = landed === undefined ? csvMentions(text, s, dialectOf({}), null) || jsonMentions(text, s)
      : landed.format === "csv" ? csvMentions(text, s, dialectOf(landed.options), await docs.header(landed)) : jsonMentions(text, s);
    if (hit) out.push(BigInt(r["id"] as number));
  }
  return out;
}

function csvMentions(line: string, s: Subject, d: Dialect, header: readonly string[] | null): boolean {
  const fields = splitCsv(line.replace(/\r$/, ""), d).map((f) => f.trim());
  if (header === null) return fields.includes(s.value);
  const k = header.findIndex((h) => h.trim().toLowerCase() === s.key);
  if (k < 0) return false;
  const shift = fields.length - header.length;
  const [from, to] = shift >= 0 ? [k, k + shift] : [Math.max(0, k + shift), k];
  return fields.slice(from, to + 1).includes(s.value);
}

function jsonMentions(text: string, s: Subject): boolean {
  const key = escapeRegExp(s.key);
  const value = escapeRegExp(s.value);
  return new RegExp(`"${key}"\\s*:\\s*(${value}|"\\s*${value}\\s*")\\s*([,}\\]]|$)`, "i").test(text);
}

// ————————————————————————————————————————— the commit and the clean-up —————————————————————————————————————————

/** Run `work` holding this kernel's turn on every table, taken in one order so two erasures cannot deadlock. */
function inTurn<T>(lab: Lab, tables: readonly string[], work: () => Promise<T>): Promise<T> {
  return [...tables].sort().reduceRight<() => Promise<T>>((inner, t) => () => lab.catalog.exclusive(t, inner), work)();
}

/** The deletes and the audit row, in one transaction: one snapshot, all or nothing. */
async function deleteRows(lab: Lab, s: Subject, plans: readonly TablePlan[], landed: readonly string[], erasureId: string): Promise<Record<string, number>> {
  const deleted: Record<string, number> = {};
  await lab.catalog.transaction(async () => {
    for (const p of plans) {
      const [schema, table] = [p.name.slice(0, p.name.indexOf(".")), p.name.slice(p.name.indexOf(".") + 1)];
      deleted[p.name] = await lab.catalog.run(`DELETE FROM ${ident(schema)}.${ident(table)} WHERE ${p.where}`, p.params);
    }
    await ensureLog(lab);
    await lab.catalog.run(`INSERT INTO ${ERASURE_LOG} (erasure_id, key_column, key_sha256, identifiers, reason, rows_deleted, landed_files, started_at)
      VALUES (?, ?, ?, ?, ?, ?::JSON, ?::JSON, now())`,
    [erasureId, s.key, s.sha256, s.identifiers, s.reason, JSON.stringify(deleted), JSON.stringify(landed)]);
  });
  return deleted;
}

async function ensureLog(lab: Lab): Promise<void> {
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${ERASURE_LOG} (
    erasure_id VARCHAR, key_column VARCHAR, key_sha256 VARCHAR, identifiers INTEGER, reason VARCHAR, rows_deleted JSON,
    landed_files JSON, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, snapshot_id BIGINT, snapshots_expired BIGINT,
    files_deleted BIGINT, old_versions_deleted BIGINT)`);
}

interface AuditRow {
  readonly erasureId: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly rowsDeleted: Record<string, number>;
  readonly landedFiles: string[];
}

async function auditRows(lab: Lab, s: Subject): Promise<AuditRow[]> {
  if (!(await lab.catalog.tableExists(ERASURE_LOG))) return [];
  const rows = (await lab.sql(`SELECT erasure_id, started_at::VARCHAR AS started_at, finished_at::VARCHAR AS finished_at, rows_deleted::VARCHAR AS rows_deleted,
      landed_files::VARCHAR AS landed_files
    FROM ${ERASURE_LOG} WHERE key_column = ? AND key_sha256 = ? ORDER BY started_at DESC`, [s.key, s.sha256])).rows();
  return rows.map((r) => ({
    erasureId: String(r["erasure_id"]), startedAt: String(r["started_at"]), finishedAt: (r["finished_at"] as string | null) ?? null,
    rowsDeleted: JSON.parse(String(r["rows_deleted"] ?? "{}")) as Record<string, number>,
    landedFiles: JSON.parse(String(r["landed_files"] ?? "[]")) as string[],
  }));
}

/**
 * Make the deletes physical. Each step is safe to run again, so an interrupted erasure is finished by the next run:
 * flush inlined rows to Parquet where deleted ones are among them (they go out with their delete files), rewrite
 * every data file with deleted rows (in any table: a row deleted by hand earlier is in them too), expire every
 * snapshot but the newest, delete the files no snapshot needs, remove old object versions, delete old catalog
 * copies and rewrite a catalog file; then mark the audit rows finished.
 */
async function cleanUp(lab: Lab, s: Subject, tables: readonly string[], landed: readonly string[]) {
  for (const [schema, table] of await tablesToFlush(lab, tables)) {
    await lab.sql(`FROM ducklake_flush_inlined_data(${literal(LAKE)}, schema_name => ${literal(schema)}, table_name => ${literal(table)})`);
  }
  await lab.sql(`FROM ducklake_rewrite_data_files(${literal(LAKE)}, delete_threshold => 0)`);
  const newest = await lab.catalog.currentSnapshot();
  const older = (await lab.sql(`SELECT snapshot_id FROM ducklake_snapshots(${literal(LAKE)}) WHERE snapshot_id < ? ORDER BY 1`, [newest]))
    .column("snapshot_id").map(Number).filter(Number.isSafeInteger);
  if (older.length) await lab.sql(`FROM ducklake_expire_snapshots(${literal(LAKE)}, versions => [${older.join(", ")}])`);
  const deletedFiles = (await lab.sql(`FROM ducklake_cleanup_old_files(${literal(LAKE)}, cleanup_all => true)`)).column("path").map(String);
  // A versioned bucket keeps what was deleted or overwritten as old versions: remove those under each folder that
  // lost a file (a table's data folder: also files an earlier compaction deleted) and of each rewritten landed file.
  // Only there: other labs and tests may share the buckets.
  const sweep = new Map<string, { bucket: Bucket; prefix: string }>();
  const folders = [...deletedFiles.map((f) => posix.dirname(f.split(sep).join("/")) + "/"), ...await tableFolders(lab, tables)];
  for (const folder of folders) {
    const at = locate(lab, folder);
    if (at) sweep.set(`${at.bucket}/${at.key}`, { bucket: at.bucket, prefix: at.key });
  }
  for (const key of landed) sweep.set(`bronze/${key}`, { bucket: "bronze", prefix: key });
  let oldVersionsDeleted = 0;
  for (const { bucket, prefix } of sweep.values()) oldVersionsDeleted += await lab.storage.deleteOldVersions(bucket, prefix);
  const filesDeleted = deletedFiles.length;
  const catalogCopiesDeleted = await deleteCatalogCopies(lab);
  const catalogRewritten = await rewriteCatalogFile(lab);
  await lab.catalog.run(`UPDATE ${ERASURE_LOG} SET finished_at = now(), snapshot_id = ?, snapshots_expired = coalesce(snapshots_expired, 0) + ?,
      files_deleted = coalesce(files_deleted, 0) + ?, old_versions_deleted = coalesce(old_versions_deleted, 0) + ?
    WHERE key_column = ? AND key_sha256 = ? AND finished_at IS NULL`,
  [newest, older.length, filesDeleted, oldVersionsDeleted, s.key, s.sha256]);
  return {
    snapshotsExpired: older.length, filesDeleted, oldVersionsDeleted, catalogRewritten, catalogCopiesDeleted,
    historyStartsAt: newest, snapshotId: await lab.catalog.currentSnapshot(),
  };
}

/**
 * The tables erased from, and any other whose rows inlined in the catalog include deleted ones: DuckLake only
 * marks an inlined row deleted (end_snapshot), and expiring snapshots does not remove it; flushing does.
 */
async function tablesToFlush(lab: Lab, erased: readonly string[]): Promise<[string, string][]> {
  const out = new Map<string, [string, string]>();
  for (const name of erased) out.set(name.toLowerCase(), [name.slice(0, name.indexOf(".")), name.slice(name.indexOf(".") + 1)]);
  const inlined = (await lab.sql(`SELECT s.schema_name AS s, t.table_name AS t, i.table_name AS i
      FROM ${meta(lab, "ducklake_inlined_data_tables")} i
      JOIN ${meta(lab, "ducklake_table")} t ON t.table_id = i.table_id AND t.end_snapshot IS NULL
      JOIN ${meta(lab, "ducklake_schema")} s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL`)).rows();
  for (const r of inlined) {
    const key = `${r["s"]}.${r["t"]}`.toLowerCase();
    if (out.has(key)) continue;
    const deleted = await lab.sql(`SELECT count(*) FROM ${meta(lab, String(r["i"]))} WHERE end_snapshot IS NOT NULL`).then((q) => q.number(), () => 0);
    if (deleted > 0) out.set(key, [String(r["s"]), String(r["t"])]);
  }
  // Only tables that still exist (one may have been dropped since an interrupted run).
  const existing = new Set((await lab.sql("SELECT lower(schema_name || '.' || table_name) AS n FROM duckdb_tables() WHERE database_name = ?", [LAKE])).column("n"));
  return [...out.entries()].filter(([k]) => existing.has(k)).map(([, v]) => v);
}

/**
 * The data folder of each table (`<data path><schema path><table path>`, each part absolute or relative to the one
 * before, as the DuckLake spec stores them), partition folders included beneath it. An erasure interrupted after
 * the clean-up still finds the old object versions there on its next run.
 */
async function tableFolders(lab: Lab, tables: readonly string[]): Promise<string[]> {
  const dataPath = String((await lab.sql(`SELECT value FROM ${meta(lab, "ducklake_metadata")} WHERE key = 'data_path' AND scope IS NULL`)).scalar() ?? "");
  const rows = (await lab.sql(`SELECT lower(s.schema_name || '.' || t.table_name) AS name, s.path AS sp, s.path_is_relative AS sr, t.path AS tp, t.path_is_relative AS tr
      FROM ${meta(lab, "ducklake_table")} t JOIN ${meta(lab, "ducklake_schema")} s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
     WHERE t.end_snapshot IS NULL`)).rows();
  const wanted = new Set(tables.map((t) => t.toLowerCase()));
  const join = (base: string, path: unknown, relative: unknown) => (relative === false ? String(path ?? "") : base + String(path ?? ""));
  return rows.filter((r) => wanted.has(String(r["name"])))
    .map((r) => join(join(dataPath, r["sp"], r["sr"]), r["tp"], r["tr"]))
    .filter((f) => f.endsWith("/") && f.length > 1);
}

/** The bucket and key of a path DuckLake or the ingestion log names, when it is in one of the lab's buckets. */
function locate(lab: Lab, path: string): { bucket: Bucket; key: string } | undefined {
  for (const bucket of LAYERS) {
    const base = lab.storage.uri(bucket, "x").slice(0, -1);
    const normal = path.split(sep).join("/");
    const root = base.split(sep).join("/");
    if (normal.startsWith(root) && normal.length > root.length) return { bucket, key: normal.slice(root.length) };
  }
  return undefined;
}

/** A table of the DuckLake metadata catalog (in a workshop user's own schema on PostgreSQL). */
function meta(lab: Lab, table: string): string {
  const schema = lab.settings.catalog.kind === "postgres" ? userNamespace(lab.settings.user).metadataSchema : undefined;
  return `${ident(`__ducklake_metadata_${LAKE}`)}.${schema ? `${ident(schema)}.` : ""}${ident(table)}`;
}

/** The copies Catalog.open keeps of a catalog file it migrated (`<file>.v<version>.bak`) still hold the customer. */
async function deleteCatalogCopies(lab: Lab): Promise<string[]> {
  if (lab.settings.catalog.kind !== "duckdb-file") return [];
  const file = lab.settings.catalog.path;
  const dir = dirname(file);
  if (!existsSync(dir)) return [];
  const copies = (await readdir(dir)).filter((n) => n.startsWith(`${basename(file)}.v`) && n.endsWith(".bak")).map((n) => join(dir, n));
  for (const c of copies) await rm(c, { force: true });
  return copies;
}

/**
 * DuckDB keeps deleted rows in the freed pages of its file until they happen to be reused, so a DuckDB catalog file
 * is copied into a fresh one (DuckDB's own advice for reclaiming space: COPY FROM DATABASE) and put in its place.
 * The lake is detached meanwhile, and attached again as Catalog.open attaches it (the data path is in the catalog).
 * PostgreSQL catalogs are left to autovacuum.
 */
async function rewriteCatalogFile(lab: Lab): Promise<boolean> {
  const file = lab.settings.catalog.kind === "duckdb-file" ? lab.settings.catalog.path : null;
  try {
    return await lab.catalog.rewriteFile(file);
  } catch (e) {
    if (!(e instanceof CatalogError)) throw e;
    throw new CatalogError(`${e.message} The customer's rows are deleted and their files removed, but freed pages of the catalog file may still hold them.`, {
      fix: "Run eraseCustomer again to finish.", context: e.context, cause: e,
    });
  }
}
