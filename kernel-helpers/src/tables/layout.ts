import { randomUUID } from "node:crypto";
import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { LAKE } from "../catalog/catalog.js";
import { ident, literal, parseTableName, qualified, type TableName } from "../catalog/sql.js";
import { InputError, QualityError } from "../errors.js";
import type { Lab } from "../lab.js";
import { formatBytes, metadataCatalog } from "./maintenance.js";

export interface LayoutReport {
  readonly table: string;
  /** The layout as applied, e.g. ["year(order_date)", "month(order_date)"]; [] when it was reset. */
  readonly by: readonly string[];
  /** Rows rewritten into the new layout; 0 unless `rewrite` was asked. */
  readonly rewritten: number;
  readonly filesBefore: number;
  readonly filesAfter: number;
  /** The snapshot before the change: `AT (VERSION => previousSnapshot)` reads the table as it was. */
  readonly previousSnapshot: number;
  /** How the rows already in the table get the layout. */
  readonly note: string;
  readonly seconds: number;
}

export interface LayoutOptions {
  /**
   * Rewrite the rows already in the table into the new layout, in one commit (an INSERT of the table's rows, then
   * a DELETE of the old ones). Without it only later writes use the layout. The old files stay for time travel
   * until their snapshots are expired; the change feed of that commit lists every row as deleted and inserted.
   */
  readonly rewrite?: boolean;
}

export interface ScanStats {
  readonly sql: string;
  /** Rows the query returned. */
  readonly rows: number;
  /** Distinct Parquet files the query opened. */
  readonly files: number;
  /** Bytes it read from them (footers and the column chunks it needed). */
  readonly bytesRead: number;
  /** Their whole size on storage, as the catalog records it (files outside the lake count 0). */
  readonly fileBytes: number;
  /** DuckLake's own account per table scanned: files it read after pruning, files skipped by statistics, inlined tables read. */
  readonly scans: readonly { table: string; filesRead: number; filesSkipped: number; inlinedTables: number; filters: string | null }[];
  readonly seconds: number;
}

export type ParquetCodec = "uncompressed" | "snappy" | "gzip" | "zstd" | "brotli" | "lz4" | "lz4_raw";
const CODECS: readonly ParquetCodec[] = ["uncompressed", "snappy", "gzip", "zstd", "brotli", "lz4", "lz4_raw"];

export interface CompressionSizes {
  readonly table: string;
  readonly rows: number;
  /** What the lake writes for this table now (DuckLake's parquet_compression option; DuckDB's default is snappy). */
  readonly lakeCodec: string;
  readonly sizes: readonly { codec: ParquetCodec; bytes: number; seconds: number }[];
}

/** DuckLake's functions that commit, callable as ducklake_x('lake', …) or lake.x(…), even inside a SELECT. */
const LAKE_WRITES = /(merge_adjacent_files|flush_inlined_data|expire_snapshots|cleanup_old_files|delete_orphaned_files|rewrite_data_files|add_data_files|set_option|set_commit_message)\s*\(/i;

/** Each partition value is at least one file per write: more distinct values than this make the small-files problem. */
const MAX_PARTITIONS = 1000;
const TEMPORAL = ["year", "month", "day", "hour"] as const;
type Transform = (typeof TEMPORAL)[number] | "identity" | "bucket";

/**
 * Partition a table: `by` lists a column, year/month/day/hour(column) or bucket(n, column), in order
 * (`["year(order_date)", "month(order_date)"]`); `[]` removes the partitioning. DuckLake 1.0's month, day and hour
 * are the month of the year, day of the month and hour of the day (the file path says year=2025/month=3/day=7),
 * so each needs the coarser ones before it. Queries prune by a filter on the column itself
 * (`order_date >= DATE '2025-03-01'`), not on `month(order_date) = 3`.
 *
 * ALTER TABLE … SET PARTITIONED BY applies to later writes only, and compaction merges files within a partition
 * without repartitioning them: `{ rewrite: true }` rewrites the existing rows too.
 */
export async function partitionTable(lab: Lab, table: string, by: readonly string[], options: LayoutOptions = {}): Promise<LayoutReport> {
  const name = parseTableName(table);
  checkOptions(options, table);
  const columns = await tableColumns(lab, name, table);
  const parts = checkList(by, "partition").map((e) => partitionExpression(e, columns, table));
  const seen = new Set<string>();
  for (const p of parts) {
    if (seen.has(p.sql)) refusePartition(table, p.text, "is listed twice", "List each expression once.");
    if (p.transform !== "identity" && p.transform !== "bucket" && p.transform !== "year") {
      const needs = TEMPORAL.slice(0, TEMPORAL.indexOf(p.transform));
      const missing = needs.filter((t) => !seen.has(`${t}(${ident(p.column)})`));
      if (missing.length) {
        const mixes = { month: "March of every year", day: "the 1st of every month", hour: "10:00 of every day" }[p.transform];
        refusePartition(table, p.text, `needs ${missing.map((t) => `${t}(${p.column})`).join(", ")} before it: DuckLake's ${p.transform}() alone puts ${mixes} in one partition`,
          `Write ${[...needs, p.transform].map((t) => `"${t}(${p.column})"`).join(", ")}.`);
      }
    }
    seen.add(p.sql);
  }
  if (parts.length) {
    const keys = parts.map((p) => p.distinctSql);
    const n = (await lab.sql(`SELECT count(*) FROM (SELECT DISTINCT ${keys.join(", ")} FROM ${qualified(name)})`)).number();
    if (n > MAX_PARTITIONS) {
      throw new InputError(`Partitioning ${table} by ${parts.map((p) => p.text).join(", ")} would make ${n.toLocaleString("en-US")} partitions, each at least one file per write; nothing was changed.`, {
        fix: `Choose a coarser layout (at most ${MAX_PARTITIONS}): year and month instead of day, or bucket(16, column) instead of a column with many values.`,
        context: { table, partitions: n },
      });
    }
  }
  const clause = parts.length ? `SET PARTITIONED BY (${parts.map((p) => p.sql).join(", ")})` : "RESET PARTITIONED BY";
  // year()… of a TIMESTAMP WITH TIME ZONE are taken in the writing session's time zone: the same instant can land
  // under another day from a kernel elsewhere. Query results stay right (pruning reads min/max statistics).
  const zoned = parts.filter((p) => p.transform !== "identity" && p.transform !== "bucket" && /WITH TIME ZONE/i.test(columns.get(p.column.toLowerCase())!.type));
  const zone = zoned.length ? String((await lab.sql("SELECT current_setting('TimeZone')")).scalar()) : "";
  const caveat = zoned.length ? ` ${zoned[0]!.column} is a TIMESTAMP WITH TIME ZONE: its ${zoned.at(-1)!.transform} is taken in the writing session's TimeZone (here ${zone}), so set the same TimeZone in every kernel that writes it.` : "";
  return relayout(lab, name, table, clause, parts.map((p) => p.text), options,
    parts.length ? "partitioned" : "no longer partitioned", caveat);
}

/**
 * Sort a table's files: `by` lists columns with an optional ASC/DESC and NULLS FIRST/LAST (`["customer_id"]`); `[]`
 * removes the sort. DuckLake 1.0 sorts each later insert, each flush of inlined rows and each compaction by it, so
 * files hold narrow min/max ranges and a filter on the column skips most of them; `{ rewrite: true }` sorts the
 * existing rows at once. It pays for columns that queries filter or join on and that arrive unordered.
 */
export async function sortTable(lab: Lab, table: string, by: readonly string[], options: LayoutOptions = {}): Promise<LayoutReport> {
  const name = parseTableName(table);
  checkOptions(options, table);
  const columns = await tableColumns(lab, name, table);
  const keys = checkList(by, "sort").map((e) => {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)(?:\s+(ASC|DESC))?(?:\s+NULLS\s+(FIRST|LAST))?\s*$/i.exec(typeof e === "string" ? e : "");
    if (!m) {
      throw new QualityError(`${JSON.stringify(e)} is not a sort key the lab accepts for ${table}.`, {
        fix: 'Write a column, optionally with ASC or DESC and NULLS FIRST or NULLS LAST, e.g. "customer_id" or "amount DESC".',
        context: { table, expression: String(e) },
      });
    }
    const col = column(columns, m[1]!, table, String(e));
    return [ident(col.name), m[2]?.toUpperCase(), m[3] ? `NULLS ${m[3].toUpperCase()}` : undefined].filter(Boolean).join(" ");
  });
  const clause = keys.length ? `SET SORTED BY (${keys.join(", ")})` : "RESET SORTED BY";
  return relayout(lab, name, table, clause, keys.map((k) => k.replaceAll('"', "")), options, keys.length ? "sorted" : "no longer sorted");
}

/**
 * How many files and bytes one query reads: run it once with DuckDB's file-system log on (the query's own
 * connection only) and EXPLAIN ANALYZE's DuckLake scan counts. Only a single read-only query is accepted.
 */
export async function scanStats(lab: Lab, sql: string): Promise<ScanStats> {
  const text = typeof sql === "string" ? sql.trim().replace(/;\s*$/, "") : "";
  const parsed = JSON.parse(String((await lab.sql("SELECT json_serialize_sql($q::VARCHAR)", { q: text })).scalar())) as { error: boolean; statements?: unknown[]; error_message?: string };
  if (parsed.error || parsed.statements?.length !== 1 || LAKE_WRITES.test(text)) {
    throw new InputError(`scanStats measures one read-only query; this is not one: ${parsed.error_message ?? (parsed.statements?.length !== 1 ? `${parsed.statements?.length ?? 0} statements` : "it calls a DuckLake maintenance function")}.`, {
      fix: "Pass a single SELECT (or WITH … SELECT, FROM …) and nothing that writes.",
      context: { sql: text.slice(0, 200) },
    });
  }
  // Logging is one setting for the whole engine: two measurements take turns, and the settings are put back.
  return lab.catalog.exclusive("scan-stats (DuckDB logging)", () => lab.catalog.session(async () => {
    const settings = ["enable_logging", "enabled_log_types", "logging_level", "logging_mode", "enable_external_file_cache"];
    const saved = (await lab.sql(`SELECT name, value FROM duckdb_settings() WHERE name IN (${settings.map((s) => literal(s)).join(", ")})`)).rows();
    const connection = (await lab.sql("SELECT current_connection_id()")).number();
    const t0 = performance.now();
    let plan: PlanNode;
    try {
      // Cached file ranges would hide reads from the log: measure what comes from storage.
      await lab.sql("SET enable_external_file_cache = false");
      await lab.sql("CALL enable_logging('FileSystem')");
      plan = JSON.parse(String((await lab.sql(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`)).rows()[0]!["explain_value"])) as PlanNode;
    } finally {
      for (const s of saved) {
        const v = String(s["value"]);
        const value = s["name"] === "enable_logging" || s["name"] === "enable_external_file_cache" ? (v === "1" || v === "true" ? "true" : "false") : literal(v);
        await lab.sql(`SET ${String(s["name"])} = ${value}`);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const reads = (await lab.sql(`SELECT path, coalesce(sum(bytes) FILTER (WHERE op = 'READ'), 0) AS bytes FROM duckdb_logs_parsed('FileSystem')
      WHERE connection_id = $c AND path LIKE '%.parquet' GROUP BY path`, { c: connection })).rows();
    // Nobody else was logging: leave no log behind.
    if (!["1", "true"].includes(String(saved.find((s) => s["name"] === "enable_logging")?.["value"]))) await lab.sql("CALL truncate_duckdb_logs()");
    const paths = reads.map((r) => String(r["path"]));
    const sizes = paths.length ? await fileSizes(lab, paths) : new Map<string, number>();
    const scans: ScanStats["scans"][number][] = [];
    walk(plan, (n) => {
      if (n.operator_name !== "DUCKLAKE_SCAN") return;
      const x = n.extra_info ?? {};
      scans.push({
        table: String(x["Table"] ?? ""), filesRead: Number(x["Total Files Read"] ?? 0), filesSkipped: Number(x["Total Files Skipped"] ?? 0),
        inlinedTables: Number(x["Inlined Tables Read"] ?? 0), filters: typeof x["Filters"] === "string" ? x["Filters"] : null,
      });
    });
    const top = plan.children?.[0];
    return {
      sql: text, rows: Number(top?.children?.[0]?.operator_cardinality ?? top?.operator_cardinality ?? 0),
      files: paths.length, bytesRead: reads.reduce((n, r) => n + Number(r["bytes"]), 0),
      fileBytes: paths.reduce((n, p) => n + (sizes.get(p) ?? 0), 0), scans, seconds,
    };
  }));
}

/** One line: files and bytes a query read. */
export function describeScan(s: ScanStats): string {
  const skipped = s.scans.reduce((n, x) => n + x.filesSkipped, 0);
  return `${s.files} file(s) opened${skipped ? ` (${skipped} more skipped by min/max statistics)` : ""}, ${formatBytes(s.bytesRead)} read of ${formatBytes(s.fileBytes)} on storage, ${s.rows} row(s), ${s.seconds.toFixed(3)}s`;
}

/**
 * The table written as Parquet with each codec, and the bytes each takes: temp files under the lab folder, removed
 * afterwards. The lake's own files use DuckLake's parquet_compression option
 * (`CALL lake.set_option('parquet_compression', 'zstd')`, or per table with `table_name =>`, `schema =>`).
 */
export async function compressionSizes(lab: Lab, table: string, codecs: readonly ParquetCodec[] = ["uncompressed", "snappy", "zstd", "gzip"]): Promise<CompressionSizes> {
  const name = parseTableName(table);
  await tableColumns(lab, name, table);
  if (!Array.isArray(codecs) || codecs.length === 0) {
    throw new InputError(`compressionSizes needs a list of codecs, got ${JSON.stringify(codecs)}.`, { fix: `Pass some of ${CODECS.join(", ")}.`, context: { table } });
  }
  for (const c of codecs) {
    if (!CODECS.includes(c)) throw new InputError(`${JSON.stringify(c)} is not a Parquet codec.`, { fix: `Use ${CODECS.join(", ")}.`, context: { table, codec: String(c) } });
  }
  const dir = join(lab.settings.home, ".compression-tmp", randomUUID());
  await mkdir(dir, { recursive: true });
  try {
    const sizes: { codec: ParquetCodec; bytes: number; seconds: number }[] = [];
    for (const codec of new Set(codecs)) {
      const file = join(dir, `${codec}.parquet`);
      const t0 = performance.now();
      await lab.catalog.run(`COPY (SELECT * FROM ${qualified(name)}) TO ${literal(file)} (FORMAT parquet, COMPRESSION ${literal(codec)})`);
      sizes.push({ codec, bytes: (await stat(file)).size, seconds: (performance.now() - t0) / 1000 });
    }
    return { table, rows: (await lab.sql(`SELECT count(*) FROM ${qualified(name)}`)).number(), lakeCodec: await lakeCodec(lab, name), sizes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------

interface PlanNode {
  operator_name?: string;
  operator_cardinality?: number;
  extra_info?: Record<string, unknown>;
  children?: PlanNode[];
}

function walk(n: PlanNode, visit: (n: PlanNode) => void): void {
  visit(n);
  for (const c of n.children ?? []) walk(c, visit);
}

type Columns = ReadonlyMap<string, { name: string; type: string }>;

async function tableColumns(lab: Lab, name: TableName, table: string): Promise<Columns> {
  const cols = await lab.catalog.columns(`${name.schema}.${name.table}`);
  if (cols.length === 0) {
    throw new InputError(`${table} does not exist.`, { fix: "Check the name; lab.catalog.tables() lists the lake's tables.", context: { table } });
  }
  return new Map(cols.map((c) => [c.name.toLowerCase(), c]));
}

function column(columns: Columns, wanted: string, table: string, expression: string): { name: string; type: string } {
  const c = columns.get(wanted.toLowerCase());
  if (!c) {
    throw new QualityError(`${JSON.stringify(expression)} names column "${wanted}", which ${table} does not have.`, {
      fix: `Use one of ${[...columns.values()].map((x) => x.name).join(", ")}.`,
      context: { table, column: wanted, expression },
    });
  }
  return c;
}

function checkList(by: unknown, what: string): unknown[] {
  if (!Array.isArray(by)) {
    throw new InputError(`The ${what} expressions must be a list, got ${JSON.stringify(by)}.`, {
      fix: what === "partition" ? 'Pass e.g. ["year(order_date)", "month(order_date)"], or [] to remove the partitioning.' : 'Pass e.g. ["customer_id"], or [] to remove the sort.',
    });
  }
  return by;
}

function checkOptions(options: unknown, table: string): LayoutOptions {
  const o = options as LayoutOptions;
  if (typeof o !== "object" || o === null || Object.keys(o).some((k) => k !== "rewrite") || (o.rewrite !== undefined && typeof o.rewrite !== "boolean")) {
    throw new InputError(`Layout options must be { rewrite?: boolean }, got ${JSON.stringify(options)}.`, { fix: "Pass { rewrite: true } to rewrite the existing rows, or nothing.", context: { table } });
  }
  return o;
}

function refusePartition(table: string, expression: string, problem: string, fix: string): never {
  throw new QualityError(`Partition expression ${JSON.stringify(expression)} for ${table} ${problem}; nothing was changed.`, { fix, context: { table, expression } });
}

interface PartitionPart {
  readonly text: string;
  readonly sql: string;
  /** The partition key's value per row, for counting partitions. */
  readonly distinctSql: string;
  readonly transform: Transform;
  readonly column: string;
}

const TEMPORAL_TYPES = /^(DATE|TIMESTAMP(_S|_MS|_NS)?|TIMESTAMP WITH TIME ZONE)$/i;
const TIMESTAMP_TYPES = /^(TIMESTAMP(_S|_MS|_NS)?|TIMESTAMP WITH TIME ZONE)$/i;
// Values a partition key can be: no floats (equal-looking values split), no nested or binary values.
const PARTITIONABLE = /^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|DECIMAL\(\d+,\d+\)|VARCHAR|DATE|TIMESTAMP(_S|_MS|_NS)?|TIMESTAMP WITH TIME ZONE|UUID)$/i;

function partitionExpression(e: unknown, columns: Columns, table: string): PartitionPart {
  const text = typeof e === "string" ? e.trim() : "";
  const plain = /^([A-Za-z_][A-Za-z0-9_]*)$/.exec(text);
  const temporal = /^(year|month|day|hour)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$/i.exec(text);
  const bucket = /^bucket\s*\(\s*(\d+)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$/i.exec(text);
  if (!plain && !temporal && !bucket) {
    refusePartition(table, typeof e === "string" ? e : String(e), "is not one the lab accepts",
      'Write a column ("status"), year/month/day/hour(column) ("year(order_date)"), or bucket(n, column) ("bucket(16, customer_id)").');
  }
  const col = column(columns, (plain?.[1] ?? temporal?.[2] ?? bucket?.[2])!, table, text);
  const q = ident(col.name);
  if (temporal) {
    const t = temporal[1]!.toLowerCase() as (typeof TEMPORAL)[number];
    if (!(t === "hour" ? TIMESTAMP_TYPES : TEMPORAL_TYPES).test(col.type)) {
      refusePartition(table, text, `applies ${t}() to ${col.name}, which is ${col.type}`, `${t}() needs a ${t === "hour" ? "TIMESTAMP" : "DATE or TIMESTAMP"} column.`);
    }
    return { text: `${t}(${col.name})`, sql: `${t}(${q})`, distinctSql: `date_trunc('${t}', ${q})`, transform: t, column: col.name };
  }
  if (!PARTITIONABLE.test(col.type)) {
    refusePartition(table, text, `uses ${col.name}, which is ${col.type}`, "Partition by an integer, text, date, timestamp, boolean, decimal or UUID column.");
  }
  if (bucket) {
    const n = Number(bucket[1]);
    if (!Number.isSafeInteger(n) || n < 2 || n > MAX_PARTITIONS) {
      refusePartition(table, text, `asks for ${bucket[1]} buckets`, `Use 2 to ${MAX_PARTITIONS} buckets, e.g. bucket(16, ${col.name}).`);
    }
    return { text: `bucket(${n}, ${col.name})`, sql: `bucket(${n}, ${q})`, distinctSql: `hash(${q}) % ${n}`, transform: "bucket", column: col.name };
  }
  return { text: col.name, sql: q, distinctSql: q, transform: "identity", column: col.name };
}

async function dataFiles(lab: Lab, name: TableName): Promise<number> {
  return (await lab.sql(`SELECT count(*) FROM ducklake_list_files('${LAKE}', $t, schema => $s)`, { t: name.table, s: name.schema })).number();
}

/** Change the layout, and with `rewrite` move the existing rows into it, in one commit. */
async function relayout(lab: Lab, name: TableName, table: string, clause: string, by: string[], options: LayoutOptions, what: string, caveat = ""): Promise<LayoutReport> {
  const started = performance.now();
  const t = qualified(name);
  return lab.catalog.exclusive(`${name.schema}.${name.table}`, async () => {
    const filesBefore = await dataFiles(lab, name);
    const { previous, rewritten } = await lab.catalog.transaction(async () => {
      const previous = (await lab.sql(`SELECT max(snapshot_id) FROM ducklake_snapshots('${LAKE}')`)).number();
      await lab.catalog.run(`ALTER TABLE ${t} ${clause}`);
      if (!options.rewrite) return { previous, rewritten: 0 };
      // Row ids only grow: the rows inserted here get ids above every existing one, so the DELETE takes exactly
      // the rows that were there, and a concurrent commit elsewhere conflicts instead of being lost.
      const last = (await lab.sql(`SELECT max(rowid) FROM ${t}`)).scalar();
      if (last === null) return { previous, rewritten: 0 };
      const rewritten = await lab.catalog.run(`INSERT INTO ${t} SELECT * FROM ${t}`);
      await lab.catalog.run(`DELETE FROM ${t} WHERE rowid <= $last`, { last: Number(last) });
      return { previous, rewritten };
    });
    const filesAfter = await dataFiles(lab, name);
    const note = options.rewrite
      ? `${rewritten} existing row(s) rewritten ${what}; the files they were in stay for time travel until snapshot ${previous} and older are expired and cleaned up (maintainLake).`
      : `Later writes are ${what}; the rows already there stay in their files (compaction merges within a partition, it does not repartition): pass { rewrite: true } to move them.`;
    return { table, by, rewritten, filesBefore, filesAfter, previousSnapshot: previous, note: note + caveat, seconds: (performance.now() - started) / 1000 };
  });
}

/** The sizes of these lake files per the catalog (falls back to nothing for files it does not know). */
async function fileSizes(lab: Lab, paths: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const m = metadataCatalog(lab);
  const names = paths.map((p) => p.slice(p.lastIndexOf("/") + 1));
  const r = await lab.sql(`SELECT path, file_size_bytes FROM ${m}.ducklake_data_file WHERE list_contains($n::VARCHAR[], regexp_extract(path, '[^/]*$'))
    UNION ALL SELECT path, file_size_bytes FROM ${m}.ducklake_delete_file WHERE list_contains($n::VARCHAR[], regexp_extract(path, '[^/]*$'))`, { n: JSON.stringify(names) });
  const byName = new Map(r.rows().map((x) => [String(x["path"]).slice(String(x["path"]).lastIndexOf("/") + 1), Number(x["file_size_bytes"])]));
  for (const p of paths) {
    const size = byName.get(p.slice(p.lastIndexOf("/") + 1));
    if (size !== undefined) out.set(p, size);
  }
  return out;
}

async function lakeCodec(lab: Lab, name: TableName): Promise<string> {
  const r = (await lab.sql(`SELECT value, scope, scope_entry FROM ducklake_options('${LAKE}') WHERE option_name = 'parquet_compression'`)).rows();
  const pick = (scope: string, entry: string | null) => r.find((x) => x["scope"] === scope && (entry === null || String(x["scope_entry"]).toLowerCase() === entry.toLowerCase()));
  const hit = pick("TABLE", `${name.schema}.${name.table}`) ?? pick("SCHEMA", name.schema) ?? pick("GLOBAL", null);
  return hit ? String(hit["value"]) : "snappy";
}
