import { randomUUID } from "node:crypto";
import { IngestError } from "../errors.js";
import type { Lab } from "../lab.js";
import { ident, literal } from "../catalog/sql.js";
import type { IngestOptions, SourceFormat } from "./options.js";

/** Bronze's own columns; a source column of the same name (in any case) is refused. */
export const METADATA = ["_ingested_at", "_source_file", "_batch_id", "_row_number"] as const;

/**
 * The longest line the readers take. DuckDB's default (2 MB, and with strict_mode off whatever fits its 32 MB buffer)
 * dropped longer lines without a word; this one is read, and a longer one is rejected (JSON lines) or refused (CSV)
 * naming the line. Mutable for tests only.
 */
export const LIMITS = { maxLineBytes: 256 * 1024 * 1024 };

/** How a file is read: a SELECT streaming its rows into bronze, and its rejected records, with counts that add up. */
export interface Source {
  /** The file's columns (text for CSV and JSON, Parquet's own types) plus `_row_number`. */
  readonly rowsSql: string;
  readonly columns: { name: string; type: string }[];
  /** (line, raw, error) of each record that could not be read. */
  readonly rejectsSql: string;
  /** Data lines or records read, blank lines included: rows + rejected + blankLines = lines. */
  readonly lines: number;
  readonly rows: number;
  readonly rejected: number;
  readonly blankLines: number;
  /** The dialect DuckDB read with (delimiter, quote…), for the ingestion log. */
  readonly read: Readonly<Record<string, string | boolean | readonly string[]>>;
  /** The paths DuckDB read, for telling its read errors from other errors. */
  readonly paths: readonly string[];
}

export interface SourceContext {
  readonly lab: Lab;
  /** What DuckDB reads: the landed object, or the UTF-8 copy. */
  readonly path: string;
  /** The file as the user named it, for messages. */
  readonly file: string;
  readonly format: SourceFormat;
  readonly options: IngestOptions;
  /** The first decoded characters, for the `sep=` line and telling a JSON array from JSON lines. */
  readonly head: string;
  /** Temp relations to drop afterwards; each reader adds what it creates. */
  readonly temp: string[];
}

export function openSource(ctx: SourceContext): Promise<Source> {
  if (ctx.format === "csv") return csvSource(ctx);
  if (ctx.format === "parquet") return parquetSource(ctx);
  return jsonSource(ctx);
}

const tag = () => randomUUID().replaceAll("-", "").slice(0, 12);
const sizeOptions = () => `max_line_size = ${LIMITS.maxLineBytes}, buffer_size = ${Math.max(2 * LIMITS.maxLineBytes, 1 << 25)}`;
const OVERLONG = "LINE SIZE OVER MAXIMUM";
const overlongReason = () => `line longer than the reader's limit of ${Math.round(LIMITS.maxLineBytes / 1048576)} MiB (max_line_size)`;

async function number(lab: Lab, sql: string): Promise<number> {
  return (await lab.sql(sql)).number();
}

export function readErrorFix(format: SourceFormat): string {
  return format === "csv"
    ? "Check that the file is a CSV (open it in a text editor): pass delimiter, quote or header if DuckDB guessed wrong, or the right format."
    : format === "parquet" ? "Check that the file is a complete Parquet file (a truncated upload cannot be read)."
      : format === "json" ? "Check that the file is one JSON array of objects (a validator such as `jq . file` shows where it breaks), or pass format: \"jsonl\"."
        : "Check that the file has one JSON object per line.";
}

/** A column computed once per line while the lines are read, with the value a line the reader rejected gets. */
interface LineColumn {
  readonly name: string;
  /** SQL over the line's text, `raw`. */
  readonly sql: string;
  readonly rejected: string;
}

/**
 * Every physical line of a text file with its 1-based number, none dropped: DuckDB's CSV reader, with no quote and a
 * delimiter that never occurs, is a parallel line reader. The lines are numbered by their position in the table they
 * are read into (a parallel CREATE TABLE AS keeps the file's order, as `row_number() OVER ()` assumed too, without
 * serialising the scan). A line it cannot take (longer than the limit) is a reject with its line number; the lines
 * after it are renumbered past it, so numbers stay physical. `extra` columns are computed in the same parallel pass,
 * so the passes after it read them instead of working on the text again.
 */
async function physicalLines(ctx: SourceContext, id: string, extra: readonly LineColumn[] = []): Promise<{ name: string; free(): Promise<void> }> {
  const { lab, temp } = ctx;
  const ord = `temp.main.ord_${id}`;
  const phys = `temp.main.phys_${id}`;
  temp.push(`TABLE IF EXISTS ${ord}`, `TABLE IF EXISTS temp.main.lrej_${id}`, `TABLE IF EXISTS temp.main.lscan_${id}`);
  const extraSql = extra.map((c) => `, ${c.sql} AS ${ident(c.name)}`).join("");
  await lab.catalog.run(`CREATE TEMP TABLE ord_${id} AS SELECT raw${extraSql} FROM (SELECT text AS raw
    FROM read_csv(${literal(ctx.path)}, columns = {'text': 'VARCHAR'}, header = false, delim = E'\\x1e\\x1f\\x1e\\x1f', quote = '', escape = '',
                  comment = '', auto_detect = false, compression = 'none', ${sizeOptions()},
                  store_rejects = true, rejects_table = 'lrej_${id}', rejects_scan = 'lscan_${id}'))`);
  const extraNames = extra.map((c) => `, o.${ident(c.name)}`).join("");
  if (await number(lab, `SELECT count(*) FROM temp.main.lrej_${id}`) === 0) {
    // Nothing rejected: the k-th line read is line k.
    temp.unshift(`VIEW IF EXISTS ${phys}`);
    await lab.catalog.run(`CREATE TEMP VIEW phys_${id} AS SELECT o.rowid + 1 AS line, o.raw, NULL::VARCHAR AS err${extraNames} FROM ${ord} o`);
    return { name: phys, free: () => dropAll(lab, [`VIEW IF EXISTS ${phys}`, `TABLE IF EXISTS ${ord}`]) };
  }
  // Accepted line k is physical line k + (rejected lines before it): g = r_i − i counts accepted lines before reject i.
  temp.push(`TABLE IF EXISTS ${phys}`);
  await lab.catalog.run(`CREATE TEMP TABLE phys_${id} AS
    WITH r AS (SELECT line, any_value(error_type)::VARCHAR AS err, left(any_value(csv_line), 1000) AS raw FROM temp.main.lrej_${id} GROUP BY line),
         g AS (SELECT line - row_number() OVER (ORDER BY line) AS gap, row_number() OVER (ORDER BY line) AS i FROM r),
         gg AS (SELECT gap, max(i) AS shift FROM g GROUP BY gap)
    SELECT o.rowid + 1 + coalesce(gg.shift, 0) AS line, o.raw, NULL::VARCHAR AS err${extraNames} FROM ${ord} o ASOF LEFT JOIN gg ON o.rowid + 1 > gg.gap
    UNION ALL SELECT line, raw, err${extra.map((c) => `, ${c.rejected}`).join("")} FROM r`);
  const check = (await lab.sql(`SELECT count(*)::BIGINT AS n, coalesce(max(line), 0)::BIGINT AS last, count(DISTINCT line)::BIGINT AS d FROM ${phys}`)).rows()[0]!;
  if (Number(check["n"]) !== Number(check["last"]) || Number(check["d"]) !== Number(check["n"])) {
    throw new IngestError(`Could not number the lines of ${ctx.file}: ${check["n"]} lines read, the last numbered ${check["last"]}. Nothing was loaded rather than guess.`, {
      fix: "Report this with the file: the lab should never lose a line. Meanwhile re-save the file with plain \\n line ends.",
      context: { file: ctx.file },
    });
  }
  await dropAll(lab, [`TABLE IF EXISTS ${ord}`]);
  return { name: phys, free: () => dropAll(lab, [`TABLE IF EXISTS ${phys}`]) };
}

async function dropAll(lab: Lab, relations: readonly string[]): Promise<void> {
  for (const r of relations) await lab.catalog.run(`DROP ${r}`);
}

function checkNames(file: string, names: readonly string[]): void {
  const lower = names.map((n) => n.toLowerCase());
  const reserved = names.filter((n, i) => (METADATA as readonly string[]).includes(lower[i]!));
  if (reserved.length) {
    throw new IngestError(`${file} has column(s) ${reserved.join(", ")}, which bronze reserves for ingestion metadata (${METADATA.join(", ")}, in any case).`, {
      fix: "Rename those columns in the source before ingesting.",
      context: { file, column: reserved.join(", ") },
    });
  }
  const seen = new Map<string, string>();
  for (const n of names) {
    const other = seen.get(n.toLowerCase());
    if (other !== undefined) {
      throw new IngestError(`${file} has two columns named ${JSON.stringify(other)} and ${JSON.stringify(n)}: DuckDB column names ignore case, so one would overwrite the other.`, {
        fix: "Rename one of them in the source (e.g. add a suffix) before ingesting.",
        context: { file, column: `${other}, ${n}` },
      });
    }
    seen.set(n.toLowerCase(), n);
  }
}

/**
 * CSV, read by DuckDB with the dialect pinned once (sniffed as the load sniffs, then passed explicitly, so the quote
 * used for line numbering is the quote the reader used). `_row_number` is the physical line a record starts on:
 * DuckDB numbers a rejected record by logical line (a blank line counts one, a record whose quoted field spans line
 * breaks counts one), and accepted rows not at all. So the physical lines are split into logical lines (a line starts
 * one unless an odd number of quotes precede it), the k-th accepted row is the k-th logical data line that is neither
 * blank nor rejected, and both counts are checked to agree with DuckDB's before anything is loaded.
 */
async function csvSource(ctx: SourceContext): Promise<Source> {
  const { lab, options, file } = ctx;
  const id = tag();
  const physical = await physicalLines(ctx, id);
  const phys = physical.name;
  const overlong = (await lab.sql(`SELECT min(line) AS line FROM ${phys} WHERE err IS NOT NULL`)).rows()[0]!["line"];
  if (overlong !== null && overlong !== undefined) {
    throw new IngestError(`${file}: line ${overlong} is longer than the CSV reader's limit of ${Math.round(LIMITS.maxLineBytes / 1048576)} MiB, so it cannot be read; nothing was loaded.`, {
      fix: "Split the file, or check that it is really CSV (a binary or single-line export would look like this).",
      context: { file, line: Number(overlong) },
    });
  }
  const firstLine = (await lab.sql(`SELECT raw FROM ${phys} WHERE line = 1`)).rows()[0]?.["raw"];
  const sepLine = typeof firstLine === "string" ? /^sep=(.)$/i.exec(firstLine) : null;
  const header = options.header ?? true;
  const skip = sepLine ? 1 : 0;
  const given = [
    options.delimiter ?? sepLine?.[1],
    options.quote,
    options.escape,
  ];
  const dialectArgs = [
    given[0] !== undefined ? `delim = ${literal(given[0])}` : "",
    given[1] !== undefined ? `quote = ${literal(given[1])}` : "",
    given[2] !== undefined ? `escape = ${literal(given[2])}` : "",
  ].filter(Boolean).join(", ");
  if (options.delimiter !== undefined && header) {
    // A declared delimiter that the header never uses reads every line as one column: nothing fails, all is wrong.
    const headerLine = (await lab.sql(`SELECT raw FROM ${phys} WHERE line = ${skip + 1}`)).rows()[0]?.["raw"];
    const seen = [",", ";", "\t", "|"].find((d) => typeof headerLine === "string" && headerLine.includes(d));
    if (typeof headerLine === "string" && !headerLine.includes(options.delimiter) && seen !== undefined) {
      throw new IngestError(`${file}: the delimiter ${JSON.stringify(options.delimiter)} does not occur in the header line ${JSON.stringify(headerLine.slice(0, 80))}, which looks separated by ${JSON.stringify(seen)}.`, {
        fix: `Pass delimiter: ${JSON.stringify(seen)}, or leave it out to let DuckDB detect it.`,
        context: { file, line: skip + 1, option: "delimiter" },
      });
    }
  }
  const common = `header = ${header}, skip = ${skip}, comment = '', compression = 'none', ${sizeOptions()}`;
  const sniffed = (await lab.sql(`SELECT Delimiter AS d, Quote AS q, Escape AS e FROM sniff_csv(${literal(ctx.path)}, ignore_errors = true, ${common}${dialectArgs ? ", " + dialectArgs : ""})`)).rows()[0]!;
  const unempty = (v: unknown) => (v === "(empty)" ? "" : String(v));
  const delim = given[0] ?? unempty(sniffed["d"]);
  const quote = given[1] ?? unempty(sniffed["q"]);
  const escape = given[2] ?? unempty(sniffed["e"]);
  const nullstr = options.nullTokens?.length ? `, nullstr = [${["", ...options.nullTokens].map(literal).join(", ")}]` : "";
  const dialect = `${common}, delim = ${literal(delim)}, quote = ${literal(quote)}, escape = ${literal(escape)}, all_varchar = true${nullstr}`;
  const read = (t: string) => {
    ctx.temp.push(`TABLE IF EXISTS temp.main.csv_rejects_${t}`, `TABLE IF EXISTS temp.main.csv_scan_${t}`);
    return `read_csv(${literal(ctx.path)}, ${dialect}, store_rejects = true, rejects_table = 'csv_rejects_${t}', rejects_scan = 'csv_scan_${t}')`;
  };
  const described = (await lab.sql(`DESCRIBE SELECT * FROM ${read(`${id}_d`)}`)).rows().map((r) => ({ name: String(r["column_name"]), type: String(r["column_type"]) }));
  if (header) {
    // DuckDB renames a repeated header name (ID → ID_1); the header as written tells the two apart.
    const fields = (await lab.sql(`SELECT * FROM read_csv(${literal(ctx.path)}, ${dialect.replace(`header = ${header}`, "header = false")}, ignore_errors = true) LIMIT 1`)).rows()[0];
    checkNames(file, Object.values(fields ?? {}).map((v) => String(v ?? "")));
  }
  checkNames(file, described.map((c) => c.name));

  // One parse of the records, kept in file order (so the k-th accepted row is the k-th row of the table): it finds
  // the rejected records, so the line of every accepted row is known before one is loaded, and bronze is loaded from it.
  const parsed = `temp.main.csv_rows_${id}`;
  ctx.temp.push(`TABLE IF EXISTS ${parsed}`);
  // A column of the file named rowid would hide the table's position: number the rows while reading instead (serially).
  const ordinal = "__dataflow_ordinal";
  const shadowed = described.some((c) => c.name.toLowerCase() === "rowid");
  const position = shadowed ? ordinal : "rowid + 1";
  const columnsOf = (alias: string) => (shadowed ? `${alias}* EXCLUDE (${ordinal})` : `${alias}*`);
  await lab.catalog.run(`CREATE TEMP TABLE csv_rows_${id} AS SELECT *${shadowed ? `, row_number() OVER () AS ${ordinal}` : ""} FROM ${read(id)}`);
  const rows = await number(lab, `SELECT count(*) FROM ${parsed}`);
  const headerLines = skip + (header ? 1 : 0);
  const multiColumn = described.length > 1;
  const noQuote = quote === "";
  const esc = (c: string) => c.replace(/[\\^$.*+?()[\]{}|-]/g, "\\$&");
  const quotes = noQuote
    ? "0"
    : escape === "" || escape === quote
      ? `(length(coalesce(raw, '')) - length(replace(coalesce(raw, ''), ${literal(quote)}, '')))`
      : `length(regexp_replace(coalesce(raw, ''), ${literal(`${esc(escape)}.|[^${esc(quote)}]`)}, '', 'g'))`;
  const logical = `temp.main.logical_${id}`;
  ctx.temp.push(`TABLE IF EXISTS ${logical}`, `TABLE IF EXISTS temp.main.acc_${id}`, `TABLE IF EXISTS temp.main.rej_${id}`);
  // A quoted field spans lines only if some line has an odd number of quotes; when none has (most files), every
  // physical line starts a record, and the two windows below (serial sorts over every line) are not needed.
  const spanning = !noQuote && await number(lab, `SELECT count(*) FROM ${phys} WHERE ${quotes} % 2 = 1`) > 0;
  await lab.catalog.run(spanning
    ? `CREATE TEMP TABLE logical_${id} AS
      SELECT line, blank, row_number() OVER (ORDER BY line) AS lnum FROM (
        SELECT line, raw IS NULL AS blank,
          coalesce(sum(q) OVER (ORDER BY line ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) % 2 = 1 AS inside
        FROM (SELECT line, raw, ${quotes} AS q FROM ${phys})
      ) WHERE NOT inside`
    : `CREATE TEMP TABLE logical_${id} AS SELECT line, raw IS NULL AS blank, line AS lnum FROM ${phys}`);
  await lab.catalog.run(`CREATE TEMP TABLE rej_${id} AS
    SELECT line AS lnum, any_value(csv_line) AS raw, string_agg(DISTINCT error_type::VARCHAR, '; ' ORDER BY error_type::VARCHAR) AS error
    FROM temp.main.csv_rejects_${id} GROUP BY line`);
  const candidates = `SELECT lnum, line FROM ${logical} WHERE lnum > ${headerLines}${multiColumn ? " AND NOT blank" : ""}`;
  const counts = (await lab.sql(`SELECT
      (SELECT count(*) FROM ${phys})::BIGINT AS physical,
      (SELECT count(*) FROM ${logical})::BIGINT AS logical,
      (SELECT count(*) FROM ${logical} WHERE lnum > ${headerLines})::BIGINT AS lines,
      (SELECT count(*) FROM ${logical} WHERE lnum > ${headerLines} AND blank)::BIGINT AS blank,
      (SELECT count(*) FROM (${candidates}))::BIGINT AS records,
      (SELECT count(*) FROM temp.main.rej_${id})::BIGINT AS rejected,
      (SELECT count(*) FROM temp.main.rej_${id} WHERE lnum NOT IN (SELECT lnum FROM (${candidates})))::BIGINT AS stray`)).rows()[0]!;
  const lines = Number(counts["lines"]);
  const rejected = Number(counts["rejected"]);
  if (Number(counts["records"]) !== rows + rejected || Number(counts["stray"]) > 0) {
    // An odd number of quotes in the whole file: the last record start is where a quote opened and never closed.
    const open = noQuote ? undefined : (await lab.sql(`SELECT CASE WHEN sum(${quotes}) % 2 = 1 THEN (SELECT max(line) FROM ${logical}) END AS line FROM ${phys}`)).rows()[0]!["line"];
    const where = open === null || open === undefined ? "" : ` A quote opened on line ${open} is never closed.`;
    throw new IngestError(`Could not tell which line of ${file} each CSV record starts on: DuckDB read ${rows} row(s) and ${rejected} rejected record(s), but the file has ${counts["records"]} record start(s) by its quotes (quote ${JSON.stringify(quote)}, escape ${JSON.stringify(escape)}).${where} Nothing was loaded rather than guess line numbers.`, {
      fix: `${where ? `Close or remove the quote on line ${open}` : "Look for an unterminated quote"}, or pass quote and escape explicitly (e.g. quote: '"', escape: '"', or quote: "" when quotes are plain text).`,
      context: { file, option: "quote", ...(where ? { line: Number(open) } : {}) },
    });
  }
  // Every line a record of its own, none blank (or blank lines are rows) and none rejected: row k is on line headerLines + k.
  const plain = rejected === 0 && Number(counts["physical"]) === Number(counts["logical"]) && (!multiColumn || Number(counts["blank"]) === 0);
  if (!plain) {
    await lab.catalog.run(`CREATE TEMP TABLE acc_${id} AS
      SELECT row_number() OVER (ORDER BY c.lnum) AS k, c.line FROM (${candidates}) c ANTI JOIN temp.main.rej_${id} r ON r.lnum = c.lnum`);
  }
  // The lines' text is no longer needed (rejects keep theirs): free it before the load.
  await physical.free();
  return {
    rowsSql: plain
      ? `SELECT ${columnsOf("")}, ${position} + ${headerLines} AS _row_number FROM ${parsed}`
      : `SELECT ${columnsOf("c.")}, a.line AS _row_number FROM ${parsed} c JOIN temp.main.acc_${id} a ON a.k = c.${position}`,
    columns: [...described, { name: "_row_number", type: "BIGINT" }],
    rejectsSql: `SELECT l.line, r.raw, CASE WHEN r.error = '${OVERLONG}' THEN ${literal(overlongReason())} ELSE r.error END AS error
      FROM temp.main.rej_${id} r JOIN ${logical} l ON l.lnum = r.lnum`,
    lines, rows, rejected,
    blankLines: multiColumn ? Number(counts["blank"]) : 0,
    read: { delimiter: delim, quote, escape, header, sepLine: sepLine !== null, ...(options.nullTokens ? { nullTokens: options.nullTokens } : {}) },
    paths: [ctx.path],
  };
}

/**
 * JSON lines (each physical line one record) and JSON arrays (each element one record, numbered by its 1-based index
 * in the array, since DuckDB does not say where an element starts). Every record is parsed from its text, so one that
 * does not parse is rejected with its number instead of failing the file; bronze keeps every value as JSON text.
 */
async function jsonSource(ctx: SourceContext): Promise<Source> {
  const { lab, file } = ctx;
  const id = tag();
  // Each record's text is parsed here once to class it: 0 a JSON object (a row), 1 blank, 2 anything else (a
  // reject). Only a line that is not valid JSON is trimmed: trim with a character set is slower than the JSON check.
  const kind: LineColumn = {
    name: "kind",
    // A valid line that starts with "{" is an object: the common line is parsed once, not again by json_type.
    sql: `(CASE WHEN json_valid(raw) THEN CASE WHEN starts_with(raw, '{') OR json_type(raw) = 'OBJECT' THEN 0 ELSE 2 END
      WHEN raw IS NULL OR trim(raw, E' \\t\\r') = '' THEN 1 ELSE 2 END)::UTINYINT`,
    rejected: "2::UTINYINT",
  };
  let phys: string;
  let unit = "line";
  if (ctx.format === "json") {
    unit = "array element";
    phys = `temp.main.elems_${id}`;
    ctx.temp.push(`TABLE IF EXISTS ${phys}`);
    // '[' is an array of records; anything else one or more (pretty-printed) objects, each a record. read_json_objects
    // keeps each element's text as written; read_json would infer a STRUCT and print it back as {'a': 2.5} for 2.50.
    const shape = ctx.head.trimStart().startsWith("[") ? "array" : "unstructured";
    await lab.catalog.run(`CREATE TEMP TABLE elems_${id} AS SELECT line, raw, NULL::VARCHAR AS err, ${kind.sql} AS kind FROM (
      SELECT row_number() OVER () AS line, json::VARCHAR AS raw
      FROM read_json_objects(${literal(ctx.path)}, format = '${shape}', compression = 'uncompressed', maximum_object_size = ${LIMITS.maxLineBytes}))`);
  } else {
    phys = (await physicalLines(ctx, id, [kind])).name;
  }
  // Distinct key lists first (nearly every line has the same one), then their keys: not every line's keys one by one.
  const keys = (await lab.sql(`SELECT DISTINCT unnest(k) AS k FROM (SELECT DISTINCT json_keys(raw) AS k FROM ${phys} WHERE kind = 0) ORDER BY k`)).column("k") as string[];
  checkNames(file, keys);
  const counts = (await lab.sql(`SELECT count(*)::BIGINT AS lines, count(*) FILTER (WHERE kind = 1)::BIGINT AS blank,
    count(*) FILTER (WHERE kind = 0)::BIGINT AS rows, count(*) FILTER (WHERE kind = 2)::BIGINT AS rejected FROM ${phys}`)).rows()[0]!;
  // One parse per row for all its values: a multi-path extract gives them as a list, in the order of the paths.
  const paths = `[${keys.map((k) => literal("$." + jsonPathKey(k))).join(", ")}]`;
  const cols = keys.map((k, i) => `v[${i + 1}] AS ${ident(k)}`);
  return {
    rowsSql: keys.length
      ? `SELECT ${cols.join(", ")}, line AS _row_number FROM (SELECT json_extract_string(raw, ${paths}) AS v, line FROM ${phys} WHERE kind = 0)`
      : `SELECT line AS _row_number FROM ${phys} WHERE kind = 0`,
    columns: [...keys.map((k) => ({ name: k, type: "VARCHAR" })), { name: "_row_number", type: "BIGINT" }],
    rejectsSql: `SELECT line, raw, CASE
        WHEN err = '${OVERLONG}' THEN ${literal(overlongReason())}
        WHEN err IS NOT NULL THEN err
        WHEN json_valid(raw) THEN 'valid JSON but not an object'
        ELSE ${literal(`${unit} is not valid JSON`)} END AS error
      FROM ${phys} WHERE kind = 2`,
    lines: Number(counts["lines"]), rows: Number(counts["rows"]), rejected: Number(counts["rejected"]), blankLines: Number(counts["blank"]),
    read: ctx.format === "json" ? { records: "array elements, numbered by index" } : {},
    paths: [ctx.path],
  };
}

/** Parquet keeps its types. `_row_number` is the record's 1-based position in the file (records, not lines). */
async function parquetSource(ctx: SourceContext): Promise<Source> {
  const src = literal(ctx.path);
  const rowsSql = `SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _row_number FROM read_parquet(${src}, file_row_number = true)`;
  const columns = (await ctx.lab.sql(`DESCRIBE ${rowsSql}`)).rows().map((r) => ({ name: String(r["column_name"]), type: String(r["column_type"]) }));
  checkNames(ctx.file, columns.map((c) => c.name).slice(0, -1));
  const rows = await number(ctx.lab, `SELECT count(*) FROM read_parquet(${src})`);
  return {
    rowsSql, columns, rejectsSql: "SELECT NULL::BIGINT AS line, NULL AS raw, NULL AS error WHERE false",
    lines: rows, rows, rejected: 0, blankLines: 0, read: {}, paths: [ctx.path],
  };
}

// Keys with dots or quotes must be quoted inside a JSON path.
function jsonPathKey(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `"${k.replaceAll('"', '\\"')}"`;
}
