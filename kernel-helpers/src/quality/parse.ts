import { QualityError } from "../errors.js";
import { ident, literal, sqlType } from "../catalog/sql.js";

/**
 * How a declared silver column reads its bronze value. A string is just the type; the object form adds an
 * expression and describes how the source writes the value (a Brazilian export: `1.234,56`, `31/12/2024`, `sim`).
 */
export type ColumnSpec = string | {
  readonly type: string;
  /** An expression over the bronze columns (alias `s`); by default the bronze column of the same name. */
  readonly expr?: string;
  /** Decimal separator for numeric types (default "."). */
  readonly decimal?: "." | ",";
  /** Thousands separator for numeric types (default none); groups of exactly three digits. */
  readonly thousands?: "." | "," | " " | "'" | "";
  /** DATE/TIMESTAMP/TIMESTAMPTZ formats in DuckDB strptime syntax, e.g. "%d/%m/%Y"; the first that matches wins. */
  readonly format?: string | readonly string[];
  /** BOOLEAN words, case-insensitive, e.g. ["sim", "s"]; given together with falseValues, they replace the defaults. */
  readonly trueValues?: readonly string[];
  readonly falseValues?: readonly string[];
};

/** A column spec checked and normalised: what refine needs to build its SQL. */
export interface ColumnPlan {
  readonly name: string;
  /** DuckDB's spelling of the declared type, e.g. DECIMAL(12,2). */
  readonly type: string;
  /** SQL for the bronze value, over alias `s`. */
  readonly rawExpr: string;
  readonly decimal: "." | ",";
  readonly thousands: string;
  readonly formats: readonly string[];
  readonly trueValues: readonly string[];
  readonly falseValues: readonly string[];
  /** The option keys given, so a value the reader already typed can refuse them. */
  readonly given: readonly string[];
}

type Kind = "integer" | "decimal" | "float" | "boolean" | "date" | "timestamp" | "timestamptz" | "time" | "text" | "other" | "list";

const INTEGERS = new Set(["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"]);
const NUMERIC_OPTIONS = ["decimal", "thousands"] as const;
const OPTIONS_BY_KIND: Readonly<Record<Kind, readonly string[]>> = {
  integer: NUMERIC_OPTIONS, decimal: NUMERIC_OPTIONS, float: NUMERIC_OPTIONS,
  boolean: ["trueValues", "falseValues"],
  date: ["format"], timestamp: ["format"], timestamptz: ["format"],
  time: [], text: [], other: [], list: [],
};
const KEYS = ["type", "expr", "decimal", "thousands", "format", "trueValues", "falseValues"];
const DEFAULT_TRUE = ["true", "t", "yes", "y", "1"];
const DEFAULT_FALSE = ["false", "f", "no", "n", "0"];
// Padding is not part of a value; NBSP is in the set because spreadsheets pad with it.
const PADDING = " \t\r\n\u00a0";
// A value that neither starts nor ends with padding is its own trimmed value; checking that is much cheaper than
// trim with a set of characters, which then runs only on the (few) padded values.
const UNPADDED = "[^ \\t\\r\\n\\x{00a0}](?s:.*[^ \\t\\r\\n\\x{00a0}])?";

function kindOf(type: string): Kind {
  if (type.endsWith("[]")) return "list";
  if (INTEGERS.has(type)) return "integer";
  if (type.startsWith("DECIMAL")) return "decimal";
  if (type === "DOUBLE" || type === "FLOAT") return "float";
  if (type === "BOOLEAN") return "boolean";
  if (type === "DATE") return "date";
  if (type === "TIMESTAMP") return "timestamp";
  if (type === "TIMESTAMP WITH TIME ZONE") return "timestamptz";
  if (type === "TIME") return "time";
  if (type === "VARCHAR") return "text";
  return "other";
}

/** Check one entry of `columns` (untyped callers pass anything) and normalise it. */
export function planColumn(table: string, name: string, spec: unknown): ColumnPlan {
  const where = `${table}.${name}`;
  const refuse = (message: string, fix: string, option?: string): never => {
    throw new QualityError(message, { fix, context: { table, column: name, ...(option ? { option } : {}) } });
  };
  if (typeof spec === "string") {
    return { name, type: sqlType(spec, name), rawExpr: `s.${ident(name)}`, decimal: ".", thousands: "", formats: [], trueValues: DEFAULT_TRUE, falseValues: DEFAULT_FALSE, given: [] };
  }
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    return refuse(`Column ${where} is declared as ${JSON.stringify(spec)}: expected a type or { type, expr?, … }.`,
      `Write ${name}: "INTEGER", or ${name}: { type: "DECIMAL(12,2)", decimal: "," }.`);
  }
  const o = spec as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KEYS.includes(key)) refuse(`Column ${where} has an unknown option "${key}".`, `Use only ${KEYS.join(", ")}.`, key);
  }
  if (typeof o["type"] !== "string") refuse(`Column ${where} has no type.`, `Add type, e.g. { type: "VARCHAR"${o["expr"] ? ", expr: …" : ""} }.`, "type");
  const type = sqlType(o["type"] as string, name);
  const kind = kindOf(type);
  if (o["expr"] !== undefined && (typeof o["expr"] !== "string" || !o["expr"].trim())) {
    refuse(`Column ${where}: expr must be a SQL expression over the bronze columns, not ${JSON.stringify(o["expr"])}.`,
      `e.g. expr: "lower(trim(s.mail))", or leave expr out to read bronze column "${name}".`, "expr");
  }
  const given = KEYS.filter((k) => k !== "type" && k !== "expr" && o[k] !== undefined);
  for (const key of given) {
    if (!OPTIONS_BY_KIND[kind].includes(key)) {
      const accepted = OPTIONS_BY_KIND[kind];
      refuse(`Column ${where} is ${type}: the option "${key}" does not apply to it.`,
        `${accepted.length ? `${type} accepts ${accepted.join(", ")}` : `${type} takes no options besides expr`}; ${hint(key)}`, key);
    }
  }

  const decimal = o["decimal"] ?? ".";
  if (decimal !== "." && decimal !== ",") refuse(`Column ${where}: decimal ${JSON.stringify(decimal)} is not a decimal separator.`, 'Use decimal: "." or decimal: ",".', "decimal");
  const thousands = o["thousands"] ?? "";
  if (typeof thousands !== "string" || ![".", ",", " ", "'", ""].includes(thousands)) {
    refuse(`Column ${where}: thousands ${JSON.stringify(thousands)} is not a thousands separator.`, `Use one of ".", ",", " ", "'", or "" for none.`, "thousands");
  }
  if (thousands === decimal) {
    refuse(`Column ${where}: thousands "${thousands}" is also the decimal separator${o["decimal"] === undefined ? " (the default)" : ""}, so 1${decimal}234 could be either.`,
      'For 1.234,56 write { decimal: ",", thousands: "." }; for 1,234.56 write { thousands: "," }.', "thousands");
  }

  const formats = o["format"] === undefined ? [] : typeof o["format"] === "string" ? [o["format"]] : o["format"];
  if (!Array.isArray(formats) || (o["format"] !== undefined && formats.length === 0) || !formats.every((f) => typeof f === "string" && f.trim())) {
    refuse(`Column ${where}: format ${JSON.stringify(o["format"])} is not a strptime format or a list of them.`, 'e.g. format: "%d/%m/%Y" or format: ["%d/%m/%Y", "%Y-%m-%d"].', "format");
  }
  for (const f of formats as string[]) checkFormat(f, kind, type, (m, fix) => refuse(`Column ${where}: format "${f}" ${m}.`, fix, "format"));

  const words = (key: "trueValues" | "falseValues"): string[] => {
    const v = o[key];
    if (!Array.isArray(v) || v.length === 0 || !v.every((w) => typeof w === "string" && w.trim())) {
      return refuse(`Column ${where}: ${key} must be a non-empty list of words, not ${JSON.stringify(v)}.`, `e.g. trueValues: ["sim", "s"], falseValues: ["não", "n"].`, key);
    }
    return v.map((w: string) => w.trim().toLowerCase());
  };
  let trueValues = DEFAULT_TRUE;
  let falseValues = DEFAULT_FALSE;
  if (o["trueValues"] !== undefined || o["falseValues"] !== undefined) {
    // Mixing a custom list with the English defaults would accept words the source never writes.
    if (o["trueValues"] === undefined || o["falseValues"] === undefined) {
      refuse(`Column ${where}: trueValues and falseValues go together.`, `Give both, e.g. trueValues: ["sim"], falseValues: ["não"].`, o["trueValues"] === undefined ? "trueValues" : "falseValues");
    }
    trueValues = words("trueValues");
    falseValues = words("falseValues");
    const both = trueValues.filter((w) => falseValues.includes(w));
    if (both.length) refuse(`Column ${where}: ${JSON.stringify(both[0])} is in both trueValues and falseValues.`, "Keep each word in one list.", "trueValues");
  }
  const rawExpr = o["expr"] === undefined ? `s.${ident(name)}` : `(${o["expr"] as string})`;
  return { name, type, rawExpr, decimal: decimal as "." | ",", thousands: thousands as string, formats: formats as string[], trueValues, falseValues, given };
}

function hint(key: string): string {
  switch (key) {
    case "decimal": case "thousands": return `${key} is for numeric types (INTEGER, DECIMAL, DOUBLE, …).`;
    case "format": return "format is for DATE, TIMESTAMP and TIMESTAMPTZ.";
    default: return `${key} is for BOOLEAN.`;
  }
}

// strptime fills what a format leaves out (no year → 1900, no day → the 1st) and reads %Y from "24" as year 24:
// the text must also match a pattern derived from the format, which says how many digits each field has.
const FIELD: Readonly<Record<string, string>> = {
  Y: "[0-9]{4}", G: "[0-9]{4}", y: "[0-9]{2}", "-y": "[0-9]{1,2}",
  m: "[0-9]{1,2}", "-m": "[0-9]{1,2}", d: "[0-9]{1,2}", "-d": "[0-9]{1,2}",
  H: "[0-9]{1,2}", "-H": "[0-9]{1,2}", I: "[0-9]{1,2}", "-I": "[0-9]{1,2}",
  M: "[0-9]{1,2}", "-M": "[0-9]{1,2}", S: "[0-9]{1,2}", "-S": "[0-9]{1,2}",
  j: "[0-9]{1,3}", "-j": "[0-9]{1,3}", f: "[0-9]{1,6}", g: "[0-9]{1,3}", n: "[0-9]{1,9}",
  z: "[+-][0-9]{2}(?::?[0-9]{2})?", Z: "[A-Za-z_/+-]+", p: "[AaPp][Mm]",
  a: "\\pL+", A: "\\pL+", b: "\\pL+\\.?", B: "\\pL+", h: "\\pL+\\.?",
  w: "[0-6]", u: "[1-7]", U: "[0-9]{1,2}", W: "[0-9]{1,2}", V: "[0-9]{1,2}", "%": "%",
};

function fields(format: string): string[] {
  return [...format.matchAll(/%(-?[A-Za-z%])/g)].map((m) => m[1]!);
}

function formatPattern(format: string): string {
  let out = "";
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!;
    if (ch === "%") {
      const spec = format[i + 1] === "-" ? format.slice(i + 1, i + 3) : format.slice(i + 1, i + 2);
      out += FIELD[spec] ?? ".+?"; // other specifiers (%c, %x, …): DuckDB alone decides
      i += spec.length;
    } else {
      out += re(ch);
    }
  }
  return `^${out}$`;
}

function checkFormat(format: string, kind: Kind, type: string, refuse: (why: string, fix: string) => never): void {
  const f = fields(format);
  const has = (...xs: string[]) => xs.some((x) => f.includes(x));
  if (/%(?!-?[A-Za-z%])|%$/.test(format)) refuse("has a % that starts no specifier", 'Write a literal percent sign as "%%".');
  if (!has("Y", "y", "-y", "G")) refuse("has no year (%Y), so every date would be in 1900", 'Add the year, e.g. "%d/%m/%Y".');
  if (!has("j", "U", "W", "V") && !(has("m", "-m", "b", "B", "h") && has("d", "-d"))) {
    refuse("lacks the month or the day, which strptime would silently set to 1", 'Give day and month, e.g. "%d/%m/%Y".');
  }
  if (has("z") && kind !== "timestamptz") {
    refuse(`reads a UTC offset (%z), which ${type} cannot keep`, "Declare the column TIMESTAMPTZ, or drop %z from the format.");
  }
}

/** The bronze value as it counts for not_null: blank text in a typed column is a missing value, not a bad one. */
export function presentSql(plan: ColumnPlan, raw: string, rawIsText: boolean): string {
  if (!rawIsText || kindOf(plan.type) === "text") return raw;
  return `CASE WHEN regexp_full_match(${raw}, ${literal(UNPADDED)}) THEN ${raw} ELSE NULLIF(trim(${raw}, ${literal(PADDING)}), '') END`;
}

/**
 * SQL for the typed value of `present` (see presentSql), NULL when it does not parse exactly under the declared
 * type and options: refine records that as `parse(col as TYPE)`. `rawType` is what DuckDB says the bronze value is.
 */
export function parsedSql(plan: ColumnPlan, present: string, rawType: string): string {
  const kind = kindOf(plan.type);
  if (kind === "text") return `${present}::VARCHAR`;
  if (!isText(rawType)) return typedSql(plan.type, kind, present, rawType);
  if (kind === "list") return listSql(plan, present);
  return textSql(plan, kind, present);
}

/**
 * The check that a text value is already written exactly as DuckDB writes the declared type (`42`, `12.50`,
 * `2025-06-21`), given the value and its cast: such a value needs no trimming and no pattern, and reads as its cast.
 * Most values of a clean export are, and this is several times cheaper than the patterns, which the other values
 * still go through. Only for the default reading: a separator or format option changes what the text means.
 */
export function canonicalSql(plan: ColumnPlan, rawType: string): ((value: string, cast: string) => string) | undefined {
  const kind = kindOf(plan.type);
  if (!isText(rawType) || !["integer", "decimal", "float", "date", "timestamp"].includes(kind)) return undefined;
  if (plan.decimal !== "." || plan.thousands !== "" || plan.formats.length) return undefined;
  // infinity and nan are written as themselves, but are not values a lab keeps.
  const finite = kind === "integer" || kind === "decimal" ? "" : " AND isfinite(CAST_)";
  return (value, cast) => `(${cast}::VARCHAR = ${value}${finite.replace("CAST_", cast)})`;
}

export function isText(rawType: string): boolean {
  return rawType === "VARCHAR";
}

// A value the reader already typed (Parquet, an expression) converts only when nothing is lost: it must come back
// unchanged (2.99 as INTEGER is 3, which comes back as 3.0).
function typedSql(type: string, kind: Kind, v: string, rawType: string): string {
  const value = rawType === type ? v : `TRY_CAST(${v} AS ${type})`;
  const finite = ["float", "date", "timestamp", "timestamptz"].includes(kind) ? ` AND isfinite(${value})` : "";
  const back = rawType === type || !comparable(rawType) ? "TRUE" : `TRY_CAST(${value} AS ${rawType}) = ${v}`;
  return `CASE WHEN ${back}${finite} THEN ${value} END`;
}

function comparable(rawType: string): boolean {
  try {
    return sqlType(rawType, "bronze value") === rawType && !rawType.endsWith("[]");
  } catch {
    return false;
  }
}

function textSql(plan: ColumnPlan, kind: Kind, t: string): string {
  const T = plan.type;
  const match = (pattern: string, then: string) => `CASE WHEN regexp_full_match(${t}, ${literal(pattern)}) THEN ${then} END`;
  switch (kind) {
    case "integer": {
      // "3.0" and "3.00" are 3 (tools that store integers as floats write them); "3.000" is not, since in many
      // exports it means three thousand, and "2.99" never is.
      const pattern = `^[+-]?${integerPart(plan)}(?:${re(plan.decimal)}0{1,2})?$`;
      const n = normalised(plan, t);
      return match(pattern, `TRY_CAST(CASE WHEN contains(${n}, '.') THEN regexp_replace(${n}, '\\.0*$', '') ELSE ${n} END AS ${T})`);
    }
    case "decimal": {
      const scale = Number(/,(\d+)\)/.exec(T)![1]);
      // No more fractional digits than the scale, zeros included: a cast would round them away silently.
      const pattern = `^[+-]?${integerPart(plan)}(?:${re(plan.decimal)}[0-9]{0,${scale}})?$`;
      return match(pattern, `TRY_CAST(${normalised(plan, t)} AS ${T})`);
    }
    case "float": {
      const pattern = `^[+-]?(?:${integerPart(plan)}(?:${re(plan.decimal)}[0-9]*)?|${re(plan.decimal)}[0-9]+)(?:[eE][+-]?[0-9]+)?$`;
      const v = `TRY_CAST(${normalised(plan, t)} AS ${T})`;
      return match(pattern, `CASE WHEN isfinite(${v}) THEN ${v} END`);
    }
    case "boolean":
      return `CASE WHEN lower(${t}) IN (${plan.trueValues.map(literal).join(", ")}) THEN TRUE `
        + `WHEN lower(${t}) IN (${plan.falseValues.map(literal).join(", ")}) THEN FALSE END`;
    case "date":
    case "timestamp":
    case "timestamptz": {
      if (plan.formats.length) {
        // The first format whose shape matches wins; strptime then refuses impossible dates (31/02/2025).
        const as = kind === "timestamptz" ? T : "TIMESTAMP";
        const tries = plan.formats.map((f) => match(formatPattern(f), `CAST(try_strptime(${t}, ${literal(f)}) AS ${as})`));
        const ts = tries.length === 1 ? tries[0]! : `COALESCE(${tries.join(", ")})`;
        // A DATE keeps no time of day: a format that reads one must find midnight.
        return kind === "date" ? `CASE WHEN ${ts} = CAST(${ts} AS DATE) THEN CAST(${ts} AS DATE) END` : ts;
      }
      const date = "[0-9]{4}-[0-9]{2}-[0-9]{2}";
      const time = "(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\\.[0-9]{1,6})?)?)?";
      // TIMESTAMP drops an offset without converting; only Z (UTC, the same instant) is harmless.
      const pattern = kind === "date" ? `^${date}$`
        : kind === "timestamp" ? `^${date}${time}Z?$`
          : `^${date}${time}(?: ?(?:Z|UTC|[+-][0-9]{2}(?::?[0-9]{2})?))?$`;
      return match(pattern, `TRY_CAST(${t} AS ${T})`);
    }
    case "time":
      return match("^[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\\.[0-9]{1,6})?)?$", `TRY_CAST(${t} AS TIME)`);
    default:
      return `TRY_CAST(${t} AS ${T})`;
  }
}

// Each element of a list parses as strictly as a single value would; one bad element fails the whole value.
function listSql(plan: ColumnPlan, t: string): string {
  const elementType = plan.type.slice(0, -2);
  const list = `TRY_CAST(${t} AS VARCHAR[])`;
  if (elementType.endsWith("[]")) return `TRY_CAST(${t} AS ${plan.type})`;
  const e = "__element";
  const element = { ...plan, type: elementType };
  const present = presentSql(element, e, true);
  const parsed = textSql(element, kindOf(elementType), present);
  return `CASE WHEN len(list_filter(${list}, ${e} -> ${present} IS NOT NULL AND (${parsed}) IS NULL)) = 0 `
    + `THEN list_transform(${list}, ${e} -> ${parsed})::${plan.type} END`;
}

function integerPart(plan: ColumnPlan): string {
  if (!plan.thousands) return "[0-9]+";
  return `(?:[0-9]+|[0-9]{1,3}(?:${thousandsClass(plan.thousands)}[0-9]{3})+)`;
}

// A space as thousands separator also matches the no-break spaces that spreadsheets and French exports write.
function thousandsClass(sep: string): string {
  return sep === " " ? "[ \u00a0\u202f]" : re(sep);
}

function normalised(plan: ColumnPlan, t: string): string {
  let v = t;
  if (plan.thousands) v = `regexp_replace(${v}, ${literal(thousandsClass(plan.thousands))}, '', 'g')`;
  if (plan.decimal === ",") v = `replace(${v}, ',', '.')`;
  return v;
}

// RE2 refuses an escaped letter or non-ASCII character, and accepts any escaped ASCII punctuation.
function re(ch: string): string {
  return /[!-\/:-@\[-`{-~]/.test(ch) ? `\\${ch}` : ch;
}

/** The formats of a column as SQL literals, to ask DuckDB whether it knows every specifier. */
export function formatProbes(plan: ColumnPlan): string[] {
  return plan.formats.map((f) => `try_strptime('', ${literal(f)})`);
}
