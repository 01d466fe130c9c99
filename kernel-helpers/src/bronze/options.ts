import { IngestError } from "../errors.js";

/** What a source file holds. "json" is one JSON array of objects (or a single object); "jsonl" is one object per line. */
export type SourceFormat = "csv" | "jsonl" | "json" | "parquet";
/** How a text file's bytes are decoded. "auto": a byte-order mark decides, else the file must be valid UTF-8. */
export type SourceEncoding = "auto" | "utf-8" | "utf-16" | "windows-1252" | "latin1";
/** "auto": gzip when the name ends in .gz or the bytes start with gzip's magic number. */
export type SourceCompression = "auto" | "none" | "gzip";

export interface IngestOptions {
  /** The file to ingest: CSV, JSON lines, a JSON array, or Parquet; optionally gzip-compressed (`orders.csv.gz`). */
  readonly file: string;
  /** The bronze table to load into, without the layer: "orders" → bronze.orders. */
  readonly table: string;
  /**
   * Overrides the format guessed from the extension (`.csv`, `.tsv`, `.jsonl`/`.ndjson`, `.json`, `.parquet`; under `.gz`
   * the inner one). A `.json` file is a JSON array when its first non-space character is `[`, else JSON lines.
   */
  readonly format?: SourceFormat;
  /**
   * Text files only. Default "auto": a UTF-8 byte-order mark is dropped, a UTF-16 one (LE or BE) selects UTF-16; without
   * one the file must be valid UTF-8, else the error names the line and byte of the first invalid sequence.
   * "utf-16" without a byte-order mark is read as little-endian (what Windows writes). "latin1" is read as
   * windows-1252, as browsers do: the two differ only in 0x80–0x9F, where real Latin-1 files hold no text.
   */
  readonly encoding?: SourceEncoding;
  /** Default "auto". The landed object is always the original compressed file. */
  readonly compression?: SourceCompression;
  /**
   * CSV only: the field separator, one character (`";"`, `"\t"`). Default: detected by DuckDB. A first line
   * `sep=X`, as Excel writes, sets it, and is not read as data (it still counts as a file line).
   */
  readonly delimiter?: string;
  /** CSV only: the quote character, one character, or "" for none. Default: detected by DuckDB. */
  readonly quote?: string;
  /** CSV only: the character that escapes a quote inside a quoted field (usually the quote itself), or "" for none. Default: detected. */
  readonly escape?: string;
  /**
   * CSV only. Default true. With false every line is data and the columns are named as DuckDB names them:
   * column0, column1, … (0-based).
   */
  readonly header?: boolean;
  /**
   * CSV only: field values read as NULL in bronze, in addition to an empty unquoted field (which is always NULL,
   * as DuckDB reads it). Default none: bronze keeps every other value as the text it was, e.g. "NA" or "-".
   */
  readonly nullTokens?: readonly string[];
}

const COMMON = ["file", "table", "format", "encoding", "compression"] as const;
const CSV_ONLY = ["delimiter", "quote", "escape", "header", "nullTokens"] as const;
const ACCEPTED: readonly string[] = [...COMMON, ...CSV_ONLY];
const FORMATS: readonly SourceFormat[] = ["csv", "jsonl", "json", "parquet"];
const ENCODINGS: readonly SourceEncoding[] = ["auto", "utf-8", "utf-16", "windows-1252", "latin1"];
const COMPRESSIONS: readonly SourceCompression[] = ["auto", "none", "gzip"];

function refuse(file: string, option: string, message: string, fix: string): never {
  throw new IngestError(`ingestFile(${JSON.stringify(file)}): ${message}`, { fix, context: { file, option } });
}

/**
 * The options as given, checked before anything is read: notebooks are untyped at run time, so a misspelt option
 * (`delimeter`) would otherwise be ignored and the file read with the wrong settings.
 */
export function checkOptions(options: IngestOptions): void {
  const file = String((options as { file?: unknown }).file ?? "");
  const given = options as unknown as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (given[key] !== undefined && !ACCEPTED.includes(key)) {
      refuse(file, key, `unknown option "${key}".`, `Use only ${ACCEPTED.join(", ")}.`);
    }
  }
  if (typeof options.file !== "string" || options.file === "") refuse(file, "file", "option file must be a path.", 'Pass file: "data/samples/orders.csv".');
  if (typeof options.table !== "string") refuse(file, "table", "option table must be a table name.", 'Pass table: "orders".');
  const oneOf = (key: string, allowed: readonly string[]) => {
    const v = given[key];
    if (v !== undefined && !allowed.includes(v as string)) {
      refuse(file, key, `${key}: ${JSON.stringify(v)} is not one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}.`, `Pass ${key}: ${allowed.map((a) => JSON.stringify(a)).join(" | ")}, or leave it out.`);
    }
  };
  oneOf("format", FORMATS);
  oneOf("encoding", ENCODINGS);
  oneOf("compression", COMPRESSIONS);
  const char = (key: "delimiter" | "quote" | "escape", emptyOk: boolean) => {
    const v = given[key];
    if (v === undefined) return;
    const ok = typeof v === "string" && (v.length === 1 || (emptyOk && v === "")) && v !== "\n" && v !== "\r";
    if (!ok) {
      refuse(file, key, `${key}: ${JSON.stringify(v)} must be a single character${emptyOk ? ' or ""' : ""}, not a line break.`,
        key === "delimiter" ? 'Pass delimiter: ";" (or "," "\\t" "|"), or leave it out to let DuckDB detect it.' : `Pass ${key}: '"', or leave it out to let DuckDB detect it.`);
    }
  };
  char("delimiter", false);
  char("quote", true);
  char("escape", true);
  if (options.header !== undefined && typeof options.header !== "boolean") refuse(file, "header", `header: ${JSON.stringify(options.header)} must be true or false.`, "Pass header: false when the first line is data.");
  const nt = given["nullTokens"];
  if (nt !== undefined && !(Array.isArray(nt) && nt.every((t) => typeof t === "string" && !/[\r\n]/.test(t)))) {
    refuse(file, "nullTokens", `nullTokens: ${JSON.stringify(nt)} must be a list of strings.`, 'Pass nullTokens: ["NA", "-"].');
  }
  if (options.delimiter !== undefined && options.delimiter === options.quote) {
    refuse(file, "quote", `delimiter and quote are both ${JSON.stringify(options.delimiter)}.`, "Pass different characters (the usual quote is '\"').");
  }
}

/** The CSV-only options given for a file that is not CSV: an error, since they would silently do nothing. */
export function checkOptionsFit(options: IngestOptions, format: SourceFormat, file: string): void {
  if (format === "csv") return;
  const given = options as unknown as Record<string, unknown>;
  const wrong = CSV_ONLY.filter((k) => given[k] !== undefined);
  if (wrong.length) {
    refuse(file, wrong.join(", "), `option(s) ${wrong.join(", ")} apply to CSV only, and this file is read as ${format.toUpperCase()}.`,
      `Leave out ${wrong.join(", ")}, or pass format: "csv" if the file really is CSV.`);
  }
  if (format === "parquet" && ((options.encoding ?? "auto") !== "auto" || (options.compression ?? "auto") !== "auto")) {
    refuse(file, options.encoding !== undefined ? "encoding" : "compression", "encoding and compression apply to text files; Parquet carries its own.",
      "Leave out encoding and compression for a Parquet file.");
  }
}

/** The format named by the file's extension (the inner one under `.gz`); undefined for `.json`, which must be looked at. */
export function formatFromName(name: string): SourceFormat | "json?" | undefined {
  const lower = name.toLowerCase().replace(/\.gz$/, "");
  if (lower.endsWith(".csv") || lower.endsWith(".tsv")) return "csv";
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl";
  if (lower.endsWith(".json")) return "json?";
  if (lower.endsWith(".parquet")) return "parquet";
  return undefined;
}
