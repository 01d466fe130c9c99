/**
 * The landed copies of source files in the bronze bucket, as an erasure rewrites them: the customer's lines blanked
 * in place, every other byte as it was, so the lineage of every other row (`_source_file`, `_row_number`) still holds.
 */

import { mkdir, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, sep } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { listValue, type DuckDBValue } from "@duckdb/node-api";
import { INGESTION_LOG } from "../bronze/ingest.js";
import { ident, literal } from "../catalog/sql.js";
import type { Lab } from "../lab.js";

/** What identifies a person in text: one pattern for JS, the same for DuckDB (RE2, with its (?i) flag); null without identifiers. */
export interface TextMatch {
  readonly pattern: RegExp | null;
  readonly sqlPattern: string | null;
}

export function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}\-]/g, "\\$&");
}

/** Types whose text can never hold an identifier. */
export const NOT_TEXT = /^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|DECIMAL|NUMERIC|FLOAT|DOUBLE|REAL|DATE|TIME|TIMESTAMP|INTERVAL|UUID|BIT)\b/i;

export interface LandedFile {
  /** As the ingestion log and the rows' lineage name it. */
  readonly uri: string;
  readonly key: string;
  /** Where it is now: the same, unless the lab folder moved since it was landed. */
  readonly location: string;
  readonly format: string;
  readonly options: Readonly<Record<string, unknown>>;
}

/** The landed files the ingestion log knows (given its columns: an older lab's log has no options), with how they were read. */
export async function landedLog(lab: Lab, logColumns: ReadonlySet<string>): Promise<Map<string, LandedFile>> {
  const out = new Map<string, LandedFile>();
  const rows = (await lab.sql(`SELECT landed_as, any_value(format) AS format, ${logColumns.has("options") ? "any_value(options)" : "NULL"} AS options
    FROM ${INGESTION_LOG} WHERE landed_as IS NOT NULL GROUP BY landed_as ORDER BY landed_as`)).rows();
  const base = lab.storage.uri("bronze", "x").slice(0, -1);
  for (const r of rows) {
    const uri = String(r["landed_as"]);
    // Landed keys are raw/<table>/<sha>/<name>: a lab folder copied elsewhere still has them under its bronze bucket.
    const key = uri.startsWith(base) ? uri.slice(base.length) : /(?:^|[/\\])(raw[/\\].+)$/.exec(uri)?.[1]?.split(sep).join("/");
    if (key === undefined || !(await lab.storage.exists("bronze", key))) continue;
    let options: Record<string, unknown> = {};
    try {
      options = r["options"] ? JSON.parse(String(r["options"])) : {};
    } catch {
      // A lab from before the options column: defaults below.
    }
    out.set(uri, { uri, key, location: lab.storage.uri("bronze", key), format: String(r["format"] ?? "csv"), options });
  }
  return out;
}

export interface LandedPlan extends LandedFile {
  /** Lines (CSV, JSON lines), elements (JSON) or rows (Parquet), 1-based, that hold the customer. */
  readonly units: ReadonlySet<number>;
}

export interface Dialect {
  readonly delimiter: string;
  readonly quote: string;
  readonly escape: string;
  readonly header: boolean;
  readonly sepLine: boolean;
}

export function dialectOf(o: Readonly<Record<string, unknown>>): Dialect {
  const str = (k: string, d: string) => (typeof o[k] === "string" ? (o[k] as string) : d);
  return { delimiter: str("delimiter", ","), quote: str("quote", '"'), escape: str("escape", '"'), header: o["header"] !== false, sepLine: o["sepLine"] === true };
}

/** Fields of one CSV record as the reader would split them (quotes removed, doubled or escaped quotes kept once). */
export function splitCsv(line: string, d: Dialect): string[] {
  const out: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (quoted) {
      if (d.escape && d.escape !== d.quote && line.startsWith(d.escape, i) && i + d.escape.length < line.length) {
        field += line[i + d.escape.length];
        i += d.escape.length;
      } else if (line.startsWith(d.quote, i)) {
        if (d.escape === d.quote && line.startsWith(d.quote, i + d.quote.length)) {
          field += d.quote;
          i += 2 * d.quote.length - 1;
        } else {
          quoted = false;
          i += d.quote.length - 1;
        }
      } else {
        field += line[i];
      }
    } else if (d.quote && line.startsWith(d.quote, i)) {
      quoted = true;
      i += d.quote.length - 1;
    } else if (line.startsWith(d.delimiter, i)) {
      out.push(field);
      field = "";
      i += d.delimiter.length - 1;
    } else {
      field += line[i];
    }
  }
  out.push(field);
  return out;
}

/**
 * A landed text file as a JS string whose every character maps back to its bytes: byte encodings (UTF-8,
 * Windows-1252) are viewed as Latin-1, one character per byte, so blanking lines never re-encodes the others;
 * UTF-16 is decoded and encoded again. `readable` decodes a piece for matching.
 */
interface Doc {
  readonly text: string;
  encode(text: string): Buffer;
  readable(piece: string): string;
}

function openDoc(bytes: Uint8Array, options: Readonly<Record<string, unknown>>): Doc {
  const gzip = options["compression"] === "gzip";
  const raw = Buffer.from(gzip ? gunzipSync(bytes) : bytes);
  const encoding = typeof options["encoding"] === "string" ? options["encoding"] : "utf-8";
  const zip = (b: Buffer) => (gzip ? gzipSync(b) : b);
  if (encoding === "utf-16le" || encoding === "utf-16be") {
    const text = new TextDecoder(encoding, { ignoreBOM: true }).decode(raw);
    return {
      text,
      encode: (t) => {
        const b = Buffer.from(t, "utf16le");
        return zip(encoding === "utf-16be" ? b.swap16() : b);
      },
      readable: (p) => p,
    };
  }
  const decoder = new TextDecoder(encoding === "windows-1252" ? "windows-1252" : "utf-8");
  return { text: raw.toString("latin1"), encode: (t) => zip(Buffer.from(t, "latin1")), readable: (p) => decoder.decode(Buffer.from(p, "latin1")) };
}

/** Landed files read at most once per erasure. */
export class DocCache {
  private readonly docs = new Map<string, Promise<Doc>>();

  constructor(private readonly lab: Lab) {}

  doc(f: LandedFile): Promise<Doc> {
    let d = this.docs.get(f.uri);
    if (!d) {
      d = this.lab.storage.getBytes("bronze", f.key).then((b) => openDoc(b, f.options));
      this.docs.set(f.uri, d);
    }
    return d;
  }

  /** A CSV file's header fields, or null when it has none. */
  async header(f: LandedFile): Promise<string[] | null> {
    const d = dialectOf(f.options);
    if (!d.header) return null;
    const lines = splitLines((await this.doc(f)).text);
    const line = lines[d.sepLine ? 1 : 0];
    return line === undefined ? null : splitCsv((await this.doc(f)).readable(line).replace(/^\uFEFF/, "").replace(/\r$/, ""), d);
  }

  /** The units (lines, elements, rows) of a landed file where an identifier appears. */
  async identifierUnits(f: LandedFile, s: TextMatch): Promise<number[]> {
    if (f.format === "parquet") return parquetRows(this.lab, f, s, new Set());
    const doc = await this.doc(f);
    if (f.format === "json") return jsonElements(doc.text).flatMap((e, i) => (s.pattern!.test(doc.readable(doc.text.slice(e.start, e.end))) ? [i + 1] : []));
    const records = recordStarts(doc, f);
    const lines = splitLines(doc.text);
    const out = new Set<number>();
    lines.forEach((line, i) => {
      if (i + 1 > records.headerLines && s.pattern!.test(doc.readable(line))) out.add(records.startOf(i + 1));
    });
    return [...out];
  }
}

/** Lines without the byte-order mark (kept aside so a blanked first line keeps it). */
function splitLines(text: string): string[] {
  return text.slice(bomOf(text).length).split("\n");
}

function bomOf(text: string): string {
  return text.startsWith("\uFEFF") ? "\uFEFF" : text.startsWith("\xEF\xBB\xBF") ? "\xEF\xBB\xBF" : "";
}

/**
 * Which physical lines start a record: for CSV, a line starts one unless an odd number of quotes precede it (a
 * quoted field spanning line breaks), the rule bronze numbered `_row_number` by; JSON lines: every line.
 */
function recordStarts(doc: Doc, f: LandedFile): { headerLines: number; startOf(line: number): number; endOf(start: number): number } {
  const lines = splitLines(doc.text);
  const starts: boolean[] = new Array(lines.length + 2).fill(true);
  let headerLines = 0;
  if (f.format === "csv") {
    const d = dialectOf(f.options);
    headerLines = (d.sepLine ? 1 : 0) + (d.header ? 1 : 0);
    if (d.quote) {
      let odd = false;
      const quote = new RegExp(escapeRegExp(d.quote), "g");
      const escaped = d.escape && d.escape !== d.quote ? new RegExp(`${escapeRegExp(d.escape)}.`, "gs") : null;
      lines.forEach((line, i) => {
        starts[i + 1] = !odd;
        const text = escaped ? line.replace(escaped, "") : line;
        if ((text.match(quote)?.length ?? 0) % 2 === 1) odd = !odd;
      });
    }
  }
  return {
    headerLines,
    startOf: (line) => {
      let l = line;
      while (l > 1 && !starts[l]) l--;
      return l;
    },
    endOf: (start) => {
      let l = start + 1;
      while (l <= lines.length && !starts[l]) l++;
      return l - 1;
    },
  };
}

// JSON's own whitespace only: in the Latin-1 view of UTF-8 text, \s would also match bytes inside characters (0xA0).
const JSON_SPACE = /[ \t\r\n]/;

/** Spans of the top-level records of a JSON file: the elements of an array, or concatenated values. */
function jsonElements(text: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let i = bomOf(text).length;
  const ws = () => {
    while (i < text.length && JSON_SPACE.test(text[i]!)) i++;
  };
  const value = () => {
    const start = i;
    let depth = 0;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (c === '"') {
        for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      } else if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        if (depth === 0) break;
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      } else if (depth === 0 && (c === "," || JSON_SPACE.test(c))) break;
    }
    let end = i;
    while (end > start && JSON_SPACE.test(text[end - 1]!)) end--;
    out.push({ start, end });
  };
  ws();
  if (text[i] === "[") {
    i++;
    for (;;) {
      ws();
      if (i >= text.length || text[i] === "]") break;
      value();
      ws();
      if (text[i] === ",") i++;
      else break;
    }
  } else {
    while (ws(), i < text.length) {
      const before = i;
      value();
      if (i === before) i++;
    }
  }
  return out;
}

/** Rows (1-based) of a landed Parquet file that are in `rows` or hold an identifier. */
async function parquetRows(lab: Lab, f: LandedFile, s: TextMatch, rows: ReadonlySet<number>): Promise<number[]> {
  const { where, params } = await parquetCondition(lab, f, s, rows);
  if (!where) return [];
  return ((await lab.sql(`SELECT file_row_number + 1 AS n FROM read_parquet($uri, file_row_number = true) WHERE ${where}`, { uri: f.location, ...params })).column("n") as number[]).map(Number);
}

async function parquetCondition(lab: Lab, f: LandedFile, s: TextMatch, rows: ReadonlySet<number>) {
  const columns = (await lab.sql("DESCRIBE SELECT * FROM read_parquet($uri)", { uri: f.location })).rows()
    .map((r) => ({ name: String(r["column_name"]), type: String(r["column_type"]) }));
  const conds: string[] = [];
  const params: Record<string, DuckDBValue> = {};
  if (rows.size) {
    conds.push("list_contains($rows, file_row_number + 1)");
    params["rows"] = listValue([...rows].map((n) => BigInt(n)));
  }
  if (s.sqlPattern) {
    for (const c of columns.filter((c) => !NOT_TEXT.test(c.type))) conds.push(`regexp_matches(CAST(${ident(c.name)} AS VARCHAR), $pat)`);
    if (conds.length > (rows.size ? 1 : 0)) params["pat"] = s.sqlPattern;
  }
  return { columns, where: conds.map((c) => `(${c})`).join(" OR "), params };
}

/**
 * Rewrite each landed file without the customer and put it back under its key; returns the keys rewritten. A text
 * line becomes empty (a CRLF line keeps its \r), so the file keeps its line count and every other row's
 * `_row_number` still points at its own line; a header is never touched.
 */
export async function rewriteLanded(lab: Lab, s: TextMatch, files: readonly LandedPlan[], docs: DocCache, erasureId: string): Promise<string[]> {
  if (files.length === 0) return [];
  const tmp = join(lab.settings.home, ".erase-tmp", erasureId);
  await mkdir(tmp, { recursive: true });
  const done: string[] = [];
  try {
    for (const [i, f] of files.entries()) {
      const path = join(tmp, `${i}-${basename(f.key)}`);
      if (f.format === "parquet") {
        const { columns, where, params } = await parquetCondition(lab, f, s, f.units);
        if (!where) continue;
        const select = columns.map((c) => `CASE WHEN ${where} THEN NULL ELSE ${ident(c.name)} END AS ${ident(c.name)}`).join(", ");
        // Row order is the lineage (`_row_number` is a row's position), so the copy keeps it.
        await lab.catalog.run(`COPY (SELECT ${select} FROM read_parquet($uri, file_row_number = true) ORDER BY file_row_number) TO ${literal(path)} (FORMAT parquet)`,
          { uri: f.location, ...params });
      } else {
        const doc = await docs.doc(f);
        const text = f.format === "json" ? blankJson(doc, f, s) : blankLines(doc, f, s);
        if (text === doc.text) continue;
        await writeFile(path, doc.encode(text));
      }
      await lab.storage.putFile("bronze", f.key, path);
      done.push(f.key);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await rmdir(dirname(tmp)).catch(() => undefined);
  }
  return done;
}

function blankLines(doc: Doc, f: LandedPlan, s: TextMatch): string {
  const bom = bomOf(doc.text);
  const lines = splitLines(doc.text);
  const records = recordStarts(doc, f);
  const starts = new Set<number>();
  for (const n of f.units) if (n > records.headerLines && n <= lines.length) starts.add(records.startOf(n));
  lines.forEach((line, i) => {
    if (s.pattern && i + 1 > records.headerLines && s.pattern.test(doc.readable(line))) starts.add(records.startOf(i + 1));
  });
  for (const start of starts) {
    for (let l = start; l <= records.endOf(start); l++) lines[l - 1] = lines[l - 1]!.endsWith("\r") ? "\r" : "";
  }
  return bom + lines.join("\n");
}

function blankJson(doc: Doc, f: LandedPlan, s: TextMatch): string {
  const elements = jsonElements(doc.text);
  let text = doc.text;
  for (let i = elements.length - 1; i >= 0; i--) {
    const e = elements[i]!;
    if (f.units.has(i + 1) || s.pattern?.test(doc.readable(text.slice(e.start, e.end)))) text = text.slice(0, e.start) + "{}" + text.slice(e.end);
  }
  return text;
}

