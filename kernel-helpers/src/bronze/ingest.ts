import { randomUUID } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { CatalogError, IngestError, messageOf } from "../errors.js";
import type { Lab } from "../lab.js";
import { LAKE } from "../catalog/catalog.js";
import { ident, isPlainName, literal } from "../catalog/sql.js";
import { DEAD_LETTER, STREAM_OFFSETS } from "../stream/sink.js";
import { decodeText, detectCompression, hashFile, type DecodedText } from "./decode.js";
import { checkOptions, checkOptionsFit, formatFromName, type IngestOptions, type SourceFormat } from "./options.js";
import { METADATA, openSource, readErrorFix, type Source } from "./readers.js";

export type { IngestOptions, SourceCompression, SourceEncoding, SourceFormat } from "./options.js";

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
  /** What the file was read as. */
  readonly format: SourceFormat;
  /** How its text was decoded: "utf-8", "utf-8 with BOM", "utf-16le", "utf-16be", "windows-1252"; "binary" for Parquet. */
  readonly encoding: string;
  readonly compression: "none" | "gzip";
  /**
   * Data lines (or records) read: for CSV the records after the header and a `sep=` line, blank lines included (a
   * record whose quoted field spans line breaks counts once); for JSON lines every line; for a JSON array its
   * elements; for Parquet its rows. Always rows + rejected + blankLines = lines.
   */
  readonly lines: number;
  readonly rows: number;
  /** Lines that could not be parsed; kept in bronze.rejected_records with the reason. */
  readonly rejected: number;
  /** Empty lines, which hold no record and are skipped (a one-column CSV reads them as NULL rows instead). */
  readonly blankLines: number;
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
/** The audit of erasures (tables/erase.ts): which customer (as a hash), when, how many rows per table. */
export const ERASURE_LOG = "bronze.erasure_log";
const bare = (qualified: string) => qualified.slice(qualified.indexOf(".") + 1);
// The stream sink's tables live in bronze too: ingesting into one would corrupt the sink's positions.
const RESERVED = new Set([bare(INGESTION_LOG), bare(REJECTED_RECORDS), "raw", bare(STREAM_OFFSETS), bare(DEAD_LETTER), bare(ERASURE_LOG)]);

/**
 * Land a raw file unchanged in the bronze bucket and load it into `bronze.<table>` with ingestion metadata, in one
 * transaction. Ingesting the same file (same bytes) again adds nothing. Every data line ends up as a row, a rejected
 * record with its reason, or a counted blank line; `_row_number` (and a rejected record's `line`) is the 1-based
 * physical line of the file where the record starts, header and `sep=` line counted (JSON arrays: the element's
 * index; Parquet: the record's position).
 */
export async function ingestFile(lab: Lab, options: IngestOptions): Promise<IngestReport> {
  const started = performance.now();
  checkOptions(options);
  const file = resolve(options.file);
  const table = options.table;
  checkTableName(table);
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new IngestError(`File not found: ${file}`, {
      fix: "Check the path. The sample data is in data/samples/; `npm run generate` makes more.",
      context: { file },
    });
  }
  if (statSync(file).size === 0) {
    throw new IngestError(`${file} is empty.`, { fix: "Check that the export that wrote it finished; an empty file has nothing to ingest.", context: { file } });
  }
  const named = options.format ?? formatFromName(basename(file));
  if (named === undefined) {
    throw new IngestError(`Cannot tell the format of ${file} from its name.`, {
      fix: 'Use .csv, .jsonl, .json or .parquet (optionally .gz), or pass format: "csv" | "jsonl" | "json" | "parquet".',
      context: { file },
    });
  }
  if (named === "parquet") checkOptionsFit(options, "parquet", file);
  // Plain UTF-8 text is checked while it is hashed, so it is read once before DuckDB reads it.
  const compression = named === "parquet" ? "none" : await detectCompression(file, options.compression);
  const utf8 = options.encoding === undefined || options.encoding === "auto" || options.encoding === "utf-8";
  const { sha256, plain } = await hashFile(file, named !== "parquet" && compression === "none" && utf8);
  await ensureBookkeeping(lab);

  // One connection for the whole load (the temp tables it stages are per connection), and one load per table at a time.
  return lab.catalog.exclusive(`bronze.${table}`, () => lab.catalog.session(async () => {
    const previous = await lab.sql(`SELECT batch_id, landed_as FROM ${INGESTION_LOG} WHERE lower(table_name) = lower(?) AND sha256 = ?`, [table, sha256]);
    if (previous.numRows > 0) {
      const row = previous.rows()[0]!;
      return {
        table: `bronze.${table}`, sourceFile: file, landedAs: String(row["landed_as"]), sha256, batchId: String(row["batch_id"]),
        format: named === "json?" ? "json" : named, encoding: "", compression: "none",
        lines: 0, rows: 0, rejected: 0, blankLines: 0, rejectedSample: [], skipped: true, newColumns: [],
        seconds: (performance.now() - started) / 1000,
      };
    }

    const id = randomUUID();
    const tempDir = join(lab.settings.home, ".ingest-tmp", id);
    const temp: string[] = [];
    try {
      let decoded: DecodedText = { copy: undefined, encoding: "binary", compression: "none", head: "" };
      let format: SourceFormat = named === "json?" ? "jsonl" : named;
      if (named !== "parquet") {
        await mkdir(tempDir, { recursive: true });
        decoded = plain ?? await decodeText(file, options.encoding, compression, join(tempDir, "source.txt"));
        if (named === "json?") format = jsonShape(decoded.head);
        checkOptionsFit(options, format, file);
      }

      // Keyed by content hash: two different files with the same name never overwrite each other.
      const key = `raw/${table}/${sha256.slice(0, 12)}/${basename(file)}`;
      const landed = (await lab.storage.exists("bronze", key))
        ? { uri: lab.storage.uri("bronze", key) }
        : await lab.storage.putFile("bronze", key, file);
      const batchId = id;
      const path = decoded.copy ?? landed.uri;

      let source: Source;
      try {
        source = await openSource({ lab, path, file, format, options, head: decoded.head, temp });
      } catch (e) {
        throw understood(e, file, format, [path]);
      }
      const logged = JSON.stringify({ encoding: decoded.encoding, compression: decoded.compression, ...source.read });
      return await lab.catalog.transaction(async () => {
        const newColumns = await createOrEvolve(lab, table, source.columns, source);
        const meta = `now() AS _ingested_at, ${literal(landed.uri)} AS _source_file, ${literal(batchId)} AS _batch_id`;
        let rows: number;
        try {
          rows = await lab.catalog.run(`INSERT INTO bronze.${ident(table)} BY NAME SELECT *, ${meta} FROM (${source.rowsSql})`);
        } catch (e) {
          throw understoodInsert(e, file, format, table, source);
        }
        if (rows !== source.rows) {
          throw new IngestError(`Loading ${file} gave ${rows} rows where the first pass counted ${source.rows}; nothing was loaded rather than lose or invent rows.`, {
            fix: "Report this with the file; meanwhile re-save it as plain UTF-8 CSV with \\n line ends.",
            context: { file },
          });
        }
        const rejected = await lab.catalog.run(
          `INSERT INTO ${REJECTED_RECORDS} SELECT ${literal(batchId)}, ${literal(table)}, ${literal(landed.uri)}, line, raw, error, now() FROM (${source.rejectsSql})`,
        );
        const sample = await lab.sql(`SELECT line, error FROM ${REJECTED_RECORDS} WHERE batch_id = ? ORDER BY line LIMIT 5`, [batchId]);
        await lab.catalog.run(
          `INSERT INTO ${INGESTION_LOG} (batch_id, table_name, source_file, landed_as, sha256, format, rows, rejected, ingested_at, lines, blank_lines, options)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?)`,
          [batchId, table, file, landed.uri, sha256, format, rows, rejected, source.lines, source.blankLines, logged],
        );
        return {
          table: `bronze.${table}`, sourceFile: file, landedAs: landed.uri, sha256, batchId,
          format, encoding: decoded.encoding, compression: decoded.compression,
          lines: source.lines, rows, rejected, blankLines: source.blankLines,
          rejectedSample: sample.rows().map((r) => ({ line: Number(r["line"]), error: String(r["error"]) })),
          skipped: false, newColumns, seconds: (performance.now() - started) / 1000,
        };
      });
    } finally {
      for (const t of temp) await lab.catalog.run(`DROP ${t}`).catch(() => undefined);
      await rm(tempDir, { recursive: true, force: true });
    }
  }));
}

/** A one-line account of an ingestion, for notebooks and logs. */
export function describeIngest(r: IngestReport): string {
  if (r.skipped) return `${r.table}: ${basename(r.sourceFile)} was already ingested (batch ${r.batchId.slice(0, 8)}), nothing added`;
  const rej = r.rejected
    ? `, ${r.rejected} rejected line(s) → ${REJECTED_RECORDS} (${r.rejectedSample.map((x) => `line ${x.line}: ${x.error}`).join("; ")})`
    : "";
  const blank = r.blankLines ? `, ${r.blankLines} blank line(s) skipped` : "";
  const cols = r.newColumns.length ? `, new columns: ${r.newColumns.join(", ")}` : "";
  const how = [r.format, r.encoding !== "utf-8" && r.encoding !== "binary" ? r.encoding : "", r.compression === "gzip" ? "gzip" : ""].filter(Boolean).join(", ");
  return `${r.table}: +${r.rows.toLocaleString("en-US")} rows of ${r.lines.toLocaleString("en-US")} line(s) from ${basename(r.sourceFile)} (${how}) in ${r.seconds.toFixed(2)}s${rej}${blank}${cols}`;
}

function checkTableName(table: string): void {
  // DuckDB names ignore case: INGESTION_LOG is bronze.ingestion_log.
  const lower = table.toLowerCase();
  if (!isPlainName(table) || RESERVED.has(lower) || METADATA.some((m) => m === lower)) {
    throw new IngestError(`"${table}" cannot be a bronze table name.`, {
      fix: `Use letters, digits and underscores (e.g. "orders"); ${[...RESERVED].join(", ")} are reserved in any case.`,
      context: { table },
    });
  }
}

/** `.json` holds a JSON array when it starts with "[", JSON lines when its first line is a whole value, else one pretty-printed object. */
function jsonShape(head: string): SourceFormat {
  const text = head.replace(/^\uFEFF/, "").trimStart();
  if (text.startsWith("[")) return "json";
  const firstLine = text.split("\n", 1)[0]!.trim();
  try {
    JSON.parse(firstLine);
    return "jsonl";
  } catch {
    // A first line that is not a whole value: one pretty-printed object, or JSON lines whose first line is broken.
    return text.startsWith("{") && text.includes("\n") ? "json" : "jsonl";
  }
}

async function ensureBookkeeping(lab: Lab): Promise<void> {
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${INGESTION_LOG} (
    batch_id VARCHAR, table_name VARCHAR, source_file VARCHAR, landed_as VARCHAR, sha256 VARCHAR,
    format VARCHAR, rows BIGINT, rejected BIGINT, ingested_at TIMESTAMPTZ)`);
  // Labs made before these columns existed get them added; old rows read NULL.
  for (const col of ["lines BIGINT", "blank_lines BIGINT", "options VARCHAR"]) {
    await lab.catalog.run(`ALTER TABLE ${INGESTION_LOG} ADD COLUMN IF NOT EXISTS ${col}`);
  }
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${REJECTED_RECORDS} (
    batch_id VARCHAR, table_name VARCHAR, source_file VARCHAR, line BIGINT, raw VARCHAR, error VARCHAR, rejected_at TIMESTAMPTZ)`);
}

interface Conflict { column: string; tableType: string; fileType: string }
const conflicts = new WeakMap<Source, Conflict[]>();

/** Create bronze.<table> from the staged columns, or add the columns it lacks (schema evolution); names match in any case. */
async function createOrEvolve(lab: Lab, table: string, staged: Source["columns"], source: Source): Promise<string[]> {
  const found = await lab.sql(
    "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'bronze' AND lower(table_name) = lower(?)", [LAKE, table]);
  const metaTypes = "_ingested_at TIMESTAMPTZ, _source_file VARCHAR, _batch_id VARCHAR";
  if (found.numRows === 0) {
    const cols = staged.map((c) => `${ident(c.name)} ${c.type}`).join(", ");
    await lab.catalog.run(`CREATE TABLE bronze.${ident(table)} (${cols}, ${metaTypes})`);
    return [];
  }
  const existing = new Map((await lab.catalog.columns(`bronze.${String(found.rows()[0]!["table_name"])}`)).map((c) => [c.name.toLowerCase(), c]));
  const added: string[] = [];
  const differ: Conflict[] = [];
  for (const c of staged) {
    const have = existing.get(c.name.toLowerCase());
    if (!have) {
      await lab.catalog.run(`ALTER TABLE bronze.${ident(table)} ADD COLUMN ${ident(c.name)} ${c.type}`);
      added.push(c.name);
    } else if (have.type !== c.type) {
      differ.push({ column: have.name, tableType: have.type, fileType: c.type });
    }
  }
  conflicts.set(source, differ);
  return added;
}

/** A read or parse failure of the file becomes a read error naming it; anything else is not ours to relabel. */
function understood(e: unknown, file: string, format: SourceFormat, paths: readonly string[]): unknown {
  if (e instanceof IngestError) return e;
  const msg = messageOf(e instanceof CatalogError && e.cause ? e.cause : e);
  const aboutFile = paths.some((p) => msg.includes(p)) || /CSV Error|Malformed JSON|magic bytes|not a parquet file|sniffing|Invalid unicode/i.test(msg);
  if (!aboutFile) return e;
  return new IngestError(`Could not read ${file} as ${format.toUpperCase()}: ${msg.replaceAll(paths[0] ?? "\0", basename(file))}`, {
    fix: readErrorFix(format),
    context: { file, format },
    cause: e,
  });
}

/** The insert can fail on the file (a read error) or on a value that does not fit the table's column type. */
function understoodInsert(e: unknown, file: string, format: SourceFormat, table: string, source: Source): unknown {
  const msg = messageOf(e instanceof CatalogError && e.cause ? e.cause : e);
  const differ = conflicts.get(source) ?? [];
  if (differ.length && /Conversion Error|Could not convert|Type mismatch|cast/i.test(msg)) {
    const list = differ.map((d) => `${d.column} is ${d.tableType} in bronze.${table} but ${d.fileType} in the file`).join("; ");
    return new IngestError(`${file} does not fit bronze.${table}: ${list}. DuckDB: ${msg.split("\n")[0]}`, {
      fix: `Cast the column in the source to ${differ[0]!.tableType} (or fix the values that do not convert), or ingest the file into a new table (e.g. table: "${table}_v2").`,
      context: { file, table: `bronze.${table}`, column: differ.map((d) => d.column).join(", ") },
      cause: e,
    });
  }
  return understood(e, file, format, source.paths);
}
