import { createHash, randomUUID } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { basename, extname, resolve } from "node:path";
import { CatalogError, IngestError, messageOf } from "../errors.js";
import type { Lab } from "../lab.js";
import { ident, isPlainName, literal } from "../catalog/sql.js";

export type SourceFormat = "csv" | "jsonl" | "parquet";

export interface IngestOptions {
  /** The file to ingest (CSV with a header row, JSON lines, or Parquet). */
  readonly file: string;
  /** The bronze table to load into, without the layer: "orders" → bronze.orders. */
  readonly table: string;
  /** Overrides the format guessed from the file extension. */
  readonly format?: SourceFormat;
}

export interface RejectedLine {
  readonly line: number;
  readonly error: string;
}

export interface IngestReport {
  readonly table: string;
  readonly sourceFile: string;
  /** Where the unchanged file landed in the bronze bucket. */
  readonly landedAs: string;
  readonly sha256: string;
  readonly batchId: string;
  readonly rows: number;
  /** Lines that could not be parsed; kept in bronze.rejected_records with the reason. */
  readonly rejected: number;
  readonly rejectedSample: readonly RejectedLine[];
  /** True when this exact file was already ingested into this table: nothing was added. */
  readonly skipped: boolean;
  /** Columns added to the bronze table by this file (schema evolution). */
  readonly newColumns: readonly string[];
  readonly seconds: number;
}

/** Bronze bookkeeping tables; their names are reserved. */
export const INGESTION_LOG = "bronze.ingestion_log";
export const REJECTED_RECORDS = "bronze.rejected_records";
const RESERVED = new Set(["ingestion_log", "rejected_records", "raw"]);
const METADATA = ["_ingested_at", "_source_file", "_batch_id", "_row_number"] as const;

/**
 * Land a raw file unchanged in the bronze bucket and load it into `bronze.<table>` with
 * ingestion metadata, in one transaction. Ingesting the same file (same bytes) again adds nothing.
 */
export async function ingestFile(lab: Lab, options: IngestOptions): Promise<IngestReport> {
  const started = performance.now();
  const file = resolve(options.file);
  const table = options.table;
  checkTableName(table);
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new IngestError(`File not found: ${file}`, {
      fix: "Check the path. The sample data is in data/samples/; `npm run generate` makes more.",
      context: { file },
    });
  }
  const format = options.format ?? formatOf(file);
  await checkLooksLikeText(file, format);
  const sha256 = await hashFile(file);
  await ensureBookkeeping(lab);

  const previous = await lab.sql(`SELECT batch_id, landed_as FROM ${INGESTION_LOG} WHERE table_name = ? AND sha256 = ?`, [table, sha256]);
  if (previous.numRows > 0) {
    const row = previous.rows()[0]!;
    return {
      table: `bronze.${table}`, sourceFile: file, landedAs: String(row["landed_as"]), sha256,
      batchId: String(row["batch_id"]), rows: 0, rejected: 0, rejectedSample: [], skipped: true, newColumns: [],
      seconds: (performance.now() - started) / 1000,
    };
  }

  // Keyed by content hash: two different files with the same name never overwrite each other.
  const key = `raw/${table}/${sha256.slice(0, 12)}/${basename(file)}`;
  const landed = (await lab.storage.exists("bronze", key))
    ? { uri: lab.storage.uri("bronze", key) }
    : await lab.storage.putFile("bronze", key, file);
  const batchId = randomUUID();

  const source = await openSource(lab, landed.uri, format, file);
  try {
    return await lab.catalog.transaction(async () => {
      const newColumns = await createOrEvolve(lab, table, source.columns);
      const meta = `now() AS _ingested_at, ${literal(landed.uri)} AS _source_file, ${literal(batchId)} AS _batch_id`;
      const rows = await lab.catalog.run(`INSERT INTO bronze.${ident(table)} BY NAME SELECT *, ${meta} FROM (${source.rowsSql})`);
      const rejected = await lab.catalog.run(
        `INSERT INTO ${REJECTED_RECORDS} SELECT ${literal(batchId)}, ${literal(table)}, ${literal(landed.uri)}, line, raw, error, now() FROM (${source.rejectsSql()})`,
      );
      const sample = await lab.sql(`SELECT line, error FROM ${REJECTED_RECORDS} WHERE batch_id = ? ORDER BY line LIMIT 5`, [batchId]);
      await lab.catalog.run(
        `INSERT INTO ${INGESTION_LOG} VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())`,
        [batchId, table, file, landed.uri, sha256, format, rows, rejected],
      );
      return {
        table: `bronze.${table}`, sourceFile: file, landedAs: landed.uri, sha256, batchId, rows, rejected,
        rejectedSample: sample.rows().map((r) => ({ line: Number(r["line"]), error: String(r["error"]) })),
        skipped: false, newColumns, seconds: (performance.now() - started) / 1000,
      };
    });
  } catch (e) {
    throw e instanceof CatalogError ? readError(file, format, e) : e;
  } finally {
    await source.cleanup();
  }
}

/** A one-line account of an ingestion, for notebooks and logs. */
export function describeIngest(r: IngestReport): string {
  if (r.skipped) return `${r.table}: ${basename(r.sourceFile)} was already ingested (batch ${r.batchId.slice(0, 8)}), nothing added`;
  const rej = r.rejected
    ? `, ${r.rejected} rejected line(s) → ${REJECTED_RECORDS} (${r.rejectedSample.map((x) => `line ${x.line}: ${x.error}`).join("; ")})`
    : "";
  const cols = r.newColumns.length ? `, new columns: ${r.newColumns.join(", ")}` : "";
  return `${r.table}: +${r.rows.toLocaleString("en-US")} rows from ${basename(r.sourceFile)} in ${r.seconds.toFixed(2)}s${rej}${cols}`;
}

function checkTableName(table: string): void {
  if (!isPlainName(table) || RESERVED.has(table) || METADATA.some((m) => m === table)) {
    throw new IngestError(`"${table}" cannot be a bronze table name.`, {
      fix: `Use letters, digits and underscores (e.g. "orders"); ${[...RESERVED].join(", ")} are reserved.`,
      context: { table },
    });
  }
}

function formatOf(file: string): SourceFormat {
  const ext = extname(file).toLowerCase();
  if (ext === ".csv") return "csv";
  if (ext === ".jsonl" || ext === ".ndjson" || ext === ".json") return "jsonl";
  if (ext === ".parquet") return "parquet";
  throw new IngestError(`Cannot tell the format of ${file} from its extension "${ext}".`, {
    fix: 'Use .csv, .jsonl or .parquet, or pass format: "csv" | "jsonl" | "parquet".',
    context: { file },
  });
}

/** Empty files and binary files named .csv/.jsonl would otherwise load as zero rows without a word. */
async function checkLooksLikeText(file: string, format: SourceFormat): Promise<void> {
  if (statSync(file).size === 0) {
    throw new IngestError(`${file} is empty.`, { fix: "Check that the export that wrote it finished; an empty file has nothing to ingest.", context: { file } });
  }
  if (format === "parquet") return;
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(65536), 0, 65536, 0);
    if (buffer.subarray(0, bytesRead).includes(0)) {
      throw new IngestError(`${file} is not a text file (it contains NUL bytes), so it cannot be ${format.toUpperCase()}.`, {
        fix: "Check that you picked the right file, or pass the right format (e.g. format: \"parquet\").",
        context: { file, format },
      });
    }
  } finally {
    await handle.close();
  }
}

function hashFile(file: string): Promise<string> {
  return new Promise((ok, fail) => {
    const h = createHash("sha256");
    createReadStream(file).on("data", (d) => h.update(d)).on("error", fail).on("end", () => ok(h.digest("hex")));
  });
}

async function ensureBookkeeping(lab: Lab): Promise<void> {
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${INGESTION_LOG} (
    batch_id VARCHAR, table_name VARCHAR, source_file VARCHAR, landed_as VARCHAR, sha256 VARCHAR,
    format VARCHAR, rows BIGINT, rejected BIGINT, ingested_at TIMESTAMPTZ)`);
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${REJECTED_RECORDS} (
    batch_id VARCHAR, table_name VARCHAR, source_file VARCHAR, line BIGINT, raw VARCHAR, error VARCHAR, rejected_at TIMESTAMPTZ)`);
}

interface Source {
  /** A SELECT of the file's columns plus _row_number; streamed straight into the bronze table. */
  readonly rowsSql: string;
  /** A SELECT of (line, raw, error) for lines that could not be parsed; valid after rowsSql ran. */
  rejectsSql(): string;
  readonly columns: { name: string; type: string }[];
  cleanup(): Promise<void>;
}

/**
 * Describe how to read the landed file, without materialising it: rows stream from the file into
 * the bronze table (a row_number() OVER () window streams in DuckDB and keeps file order).
 * Bronze keeps CSV and JSON values as text, so malformed dates and numbers survive to be judged
 * (and quarantined) in silver.
 */
async function openSource(lab: Lab, uri: string, format: SourceFormat, original: string): Promise<Source> {
  const id = randomUUID().replaceAll("-", "").slice(0, 12);
  const src = literal(uri);
  const describe = async (sql: string) =>
    (await lab.sql(`DESCRIBE ${sql}`)).rows().map((r) => ({ name: String(r["column_name"]), type: String(r["column_type"]) }));
  const temp: string[] = [];
  const cleanup = async () => {
    for (const t of temp) await lab.catalog.run(`DROP ${t}`).catch(() => undefined);
  };
  try {
    let source: Omit<Source, "cleanup">;
    if (format === "csv") {
      // store_rejects keeps malformed lines (wrong column count, bad quoting) instead of failing the
      // whole file; it writes one reject row per bad field, hence the GROUP BY line.
      // The columns are described with the very options of the load: store_rejects changes how the header is sniffed.
      const read = (tag: string) => `read_csv(${src}, header = true, all_varchar = true, store_rejects = true,
                      rejects_table = 'csv_rejects_${tag}', rejects_scan = 'csv_scan_${tag}')`;
      for (const tag of [id, `${id}_d`]) temp.push(`TABLE IF EXISTS temp.main.csv_rejects_${tag}`, `TABLE IF EXISTS temp.main.csv_scan_${tag}`);
      source = {
        rowsSql: `SELECT *, row_number() OVER () AS _row_number FROM ${read(id)}`,
        columns: await describe(`SELECT *, 0::BIGINT AS _row_number FROM ${read(`${id}_d`)}`),
        rejectsSql: () => `SELECT line::BIGINT AS line, any_value(csv_line) AS raw, string_agg(DISTINCT error_type, '; ') AS error
          FROM temp.main.csv_rejects_${id} GROUP BY line`,
      };
    } else if (format === "jsonl") {
      // Each line is read as text first, so a line that does not parse is kept with its number
      // rather than aborting the load. Numbering needs one ordered pass; the numbered lines are
      // materialised (spilling to disk if large) so JSON parsing afterwards runs on every core.
      const lines = `temp.main.lines_${id}`;
      await lab.catalog.run(`CREATE TEMP TABLE numbered_${id} AS
        SELECT row_number() OVER () AS line, text AS raw
        FROM read_csv(${src}, columns = {'text': 'VARCHAR'}, header = false, delim = E'\\x01',
                      quote = '', escape = '', auto_detect = false, strict_mode = false)`);
      temp.push(`TABLE IF EXISTS temp.main.numbered_${id}`);
      await lab.catalog.run(`CREATE TEMP VIEW lines_${id} AS
        SELECT line, raw, CASE WHEN json_valid(raw) THEN json_type(raw) = 'OBJECT' ELSE false END AS ok
        FROM temp.main.numbered_${id} WHERE raw IS NOT NULL AND trim(raw) <> ''`);
      temp.unshift(`VIEW IF EXISTS ${lines}`);
      const keys = (await lab.sql(`SELECT DISTINCT unnest(json_keys(raw)) AS k FROM ${lines} WHERE ok ORDER BY k`)).column("k") as string[];
      const reserved = keys.filter((k) => (METADATA as readonly string[]).includes(k));
      if (reserved.length) throw reservedColumns(original, reserved);
      const cols = keys.map((k) => `json_extract_string(raw, ${literal("$." + jsonPathKey(k))}) AS ${ident(k)}`);
      source = {
        rowsSql: `SELECT ${cols.length ? cols.join(", ") + "," : ""} line AS _row_number FROM ${lines} WHERE ok`,
        columns: [...keys.map((k) => ({ name: k, type: "VARCHAR" })), { name: "_row_number", type: "BIGINT" }],
        rejectsSql: () => `SELECT line, raw, CASE WHEN json_valid(raw) THEN 'valid JSON but not an object' ELSE 'line is not valid JSON' END AS error
          FROM ${lines} WHERE NOT ok`,
      };
    } else {
      const rowsSql = `SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _row_number FROM read_parquet(${src}, file_row_number = true)`;
      source = { rowsSql, columns: await describe(rowsSql), rejectsSql: () => "SELECT NULL::BIGINT AS line, NULL AS raw, NULL AS error WHERE false" };
    }
    const clash = source.columns.map((c) => c.name).filter((n) => n !== "_row_number" && (METADATA as readonly string[]).includes(n));
    if (clash.length) throw reservedColumns(original, clash);
    return { ...source, cleanup };
  } catch (e) {
    await cleanup();
    if (e instanceof IngestError) throw e;
    throw readError(original, format, e);
  }
}

function readError(file: string, format: SourceFormat, e: unknown): IngestError {
  return new IngestError(`Could not read ${file} as ${format.toUpperCase()}: ${messageOf(e instanceof CatalogError && e.cause ? e.cause : e)}`, {
    fix: format === "csv"
      ? "Check that the file is a CSV with a header row (open it in a text editor); or pass the right format."
      : format === "parquet" ? "Check that the file is a complete Parquet file (a truncated upload cannot be read)." : "Check that the file has one JSON object per line.",
    context: { file, format },
    cause: e,
  });
}

function reservedColumns(file: string, names: string[]): IngestError {
  return new IngestError(`${file} has column(s) ${names.join(", ")}, which bronze reserves for ingestion metadata.`, {
    fix: "Rename those columns in the source before ingesting.",
    context: { file, column: names.join(", ") },
  });
}

// Keys with dots or quotes must be quoted inside a JSON path.
function jsonPathKey(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `"${k.replaceAll('"', '\\"')}"`;
}

/** Create bronze.<table> from the staged columns, or add the columns it lacks (schema evolution). */
async function createOrEvolve(lab: Lab, table: string, staged: { name: string; type: string }[]): Promise<string[]> {
  const full = `bronze.${table}`;
  const metaTypes = "_ingested_at TIMESTAMPTZ, _source_file VARCHAR, _batch_id VARCHAR";
  if (!(await lab.catalog.tableExists(full))) {
    const cols = staged.map((c) => `${ident(c.name)} ${c.type}`).join(", ");
    await lab.catalog.run(`CREATE TABLE bronze.${ident(table)} (${cols}, ${metaTypes})`);
    return [];
  }
  const existing = new Set((await lab.catalog.columns(full)).map((c) => c.name));
  const added: string[] = [];
  for (const c of staged) {
    if (!existing.has(c.name)) {
      await lab.catalog.run(`ALTER TABLE bronze.${ident(table)} ADD COLUMN ${ident(c.name)} ${c.type}`);
      added.push(c.name);
    }
  }
  return added;
}
