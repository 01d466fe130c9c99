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
