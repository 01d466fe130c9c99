import { QualityError } from "../errors.js";

/** Quote an identifier for DuckDB (`"name"`), doubling embedded quotes. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quote a string literal for DuckDB (`'text'`). */
export function literal(value: string | number | boolean | null): string {
  if (value === null) return "NULL";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new QualityError(`Cannot use ${value} in SQL: numbers must be finite.`);
    return String(value);
  }
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  return `'${value.replaceAll("'", "''")}'`;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A table name as the lab uses it: `layer.table`. */
export interface TableName {
  readonly schema: string;
  readonly table: string;
}

/** Parse and validate `schema.table`; the error quotes the bad input. */
export function parseTableName(qualified: string, what = "table"): TableName {
  const parts = qualified.split(".");
  if (parts.length !== 2 || !parts.every((p) => NAME.test(p))) {
    throw new QualityError(`"${qualified}" is not a valid ${what} name.`, {
      fix: `Use layer.table with letters, digits and underscores, e.g. "silver.orders".`,
      context: { table: qualified },
    });
  }
  return { schema: parts[0]!, table: parts[1]! };
}

export function qualified(t: TableName): string {
  return `${ident(t.schema)}.${ident(t.table)}`;
}

export function isPlainName(name: string): boolean {
  return NAME.test(name);
}

// Column types a lab table may declare, by the names people write, each with DuckDB's own name for it (what
// duckdb_columns() reports), so a declared type can be compared with the type a table already has.
const TYPE_NAMES: Readonly<Record<string, string>> = {
  BOOLEAN: "BOOLEAN", BOOL: "BOOLEAN",
  TINYINT: "TINYINT", SMALLINT: "SMALLINT", INTEGER: "INTEGER", INT: "INTEGER", INT4: "INTEGER", BIGINT: "BIGINT", INT8: "BIGINT",
  HUGEINT: "HUGEINT", UTINYINT: "UTINYINT", USMALLINT: "USMALLINT", UINTEGER: "UINTEGER", UBIGINT: "UBIGINT",
  FLOAT: "FLOAT", REAL: "FLOAT", FLOAT4: "FLOAT", DOUBLE: "DOUBLE", FLOAT8: "DOUBLE",
  DECIMAL: "DECIMAL", NUMERIC: "DECIMAL",
  VARCHAR: "VARCHAR", TEXT: "VARCHAR", STRING: "VARCHAR",
  DATE: "DATE", TIME: "TIME", TIMESTAMP: "TIMESTAMP", DATETIME: "TIMESTAMP",
  TIMESTAMPTZ: "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH TIME ZONE": "TIMESTAMP WITH TIME ZONE",
  INTERVAL: "INTERVAL", UUID: "UUID", BLOB: "BLOB", JSON: "JSON",
};

/**
 * A declared column type, checked against the types a lab table may have and returned in DuckDB's spelling
 * (`"numeric(12, 2)"` → `DECIMAL(12,2)`, `"text"` → `VARCHAR`). Anything else is refused naming the column: a type
 * reaches SQL as written, so it is never taken on trust.
 */
export function sqlType(declared: string, column: string): string {
  const m = /^\s*([A-Za-z][A-Za-z0-9]*(?:\s+WITH\s+TIME\s+ZONE)?)\s*(?:\(\s*(\d{1,2})\s*(?:,\s*(\d{1,2})\s*)?\))?\s*((?:\[\s*\])*)\s*$/i.exec(declared);
  const name = m ? TYPE_NAMES[m[1]!.toUpperCase().replace(/\s+/g, " ")] : undefined;
  const refuse = (why: string): never => {
    throw new QualityError(`Column "${column}" declares type ${JSON.stringify(declared)}: ${why}.`, {
      fix: `Use one of ${[...new Set(Object.values(TYPE_NAMES))].join(", ")}, DECIMAL(precision, scale) with precision 1–38, or a list such as VARCHAR[].`,
      context: { column, type: declared },
    });
  };
  if (!m || !name) return refuse("not a column type the lab knows");
  const [precision, scale] = [m[2], m[3]].map((v) => (v === undefined ? undefined : Number(v)));
  let type = name;
  if (name === "DECIMAL") {
    // DuckDB's default when none is given.
    const p = precision ?? 18;
    const s = scale ?? (precision === undefined ? 3 : 0);
    if (p < 1 || p > 38 || s > p) refuse(`DECIMAL needs a precision from 1 to 38 and a scale no larger than it`);
    type = `DECIMAL(${p},${s})`;
  } else if (precision !== undefined && name !== "VARCHAR") {
    refuse(`${name} takes no (size)`);
  }
  return type + "[]".repeat((m[4] ?? "").replace(/\s/g, "").length / 2);
}
