import { inspect } from "node:util";
import * as arrow from "apache-arrow";
import { DuckDBTypeId, type DuckDBResultReader, type DuckDBType } from "@duckdb/node-api";

/** A value that survives JSON.stringify and vega-lite unchanged. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface ColumnInfo {
  readonly name: string;
  /** DuckDB's type name, e.g. BIGINT, DECIMAL(12,2), VARCHAR. */
  readonly type: string;
}

/**
 * A materialised query result, stored column by column.
 * For results that fit in a notebook (previews, aggregates, charts); large data stays in DuckDB.
 */
export class QueryResult {
  readonly columns: readonly ColumnInfo[];
  readonly numRows: number;
  /** Rows in the underlying table when this result is a preview of it (see Catalog.preview). */
  readonly totalRows: number | undefined;
  private readonly types: readonly DuckDBType[];
  private readonly data: readonly (readonly unknown[])[];

  constructor(reader: DuckDBResultReader, totalRows?: number) {
    const names = reader.deduplicatedColumnNames();
    this.types = reader.columnTypes();
    this.columns = names.map((name, i) => ({ name, type: this.types[i]!.toString() }));
    const data = reader.getColumnsJS();
    // An empty result has no chunks, hence no column arrays at all.
    this.data = names.map((_, i) => data[i] ?? []);
    this.numRows = reader.currentRowCount;
    this.totalRows = totalRows;
  }

  /** The values of one column, JSON-safe (BIGINT → number, DATE/TIMESTAMP → ISO string). */
  column(name: string): JsonValue[] {
    const i = this.columns.findIndex((c) => c.name === name);
    if (i < 0) throw new Error(`No column "${name}" in this result; columns: ${this.columns.map((c) => c.name).join(", ")}.`);
    return this.data[i]!.map(toJsonValue);
  }

  /** Rows as plain objects with JSON-safe values: what charts and JSON want. */
  rows(): Record<string, JsonValue>[] {
    const cols = this.columns.map((c) => this.column(c.name));
    const out: Record<string, JsonValue>[] = new Array(this.numRows);
    for (let r = 0; r < this.numRows; r++) {
      const row: Record<string, JsonValue> = {};
      this.columns.forEach((c, i) => (row[c.name] = cols[i]![r]!));
      out[r] = row;
    }
    return out;
  }

  /** The first column of the first row: handy for `SELECT count(*) …` in check cells. */
  scalar(): JsonValue {
    if (this.numRows === 0 || this.columns.length === 0) return null;
    return toJsonValue(this.data[0]![0]);
  }

  /** The first column of the first row as a number (throws if it is not numeric). */
  number(): number {
    const v = this.scalar();
    const n = typeof v === "string" ? Number(v) : v;
    if (typeof n !== "number" || Number.isNaN(n)) {
      throw new Error(`Expected a number in the first cell of this result, got ${JSON.stringify(v)}.`);
    }
    return n;
  }

  /** An Apache Arrow table built column by column, with Arrow types from DuckDB's. */
  toArrow(): arrow.Table {
    const vectors: Record<string, arrow.Vector> = {};
    this.columns.forEach((c, i) => {
      vectors[c.name] = toArrowVector(this.data[i]!, this.types[i]!);
    });
    return new arrow.Table(vectors);
  }

  get [Symbol.toStringTag](): string {
    return `QueryResult ${this.numRows} rows × ${this.columns.length} columns`;
  }

  /** What tslab prints when a cell ends with a result: a small text table. */
  [inspect.custom](): string {
    return formatText(this, 10);
  }

  toString(): string {
    return formatText(this, 10);
  }
}

export function toJsonValue(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  if (typeof v === "object") {
    const out: Record<string, JsonValue> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = toJsonValue(x);
    return out;
  }
  return String(v);
}

// The compiler checks the switch covers the ids we map; anything else travels as its JSON text.
function arrowTypeFor(t: DuckDBType): arrow.DataType {
  switch (t.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return new arrow.Bool();
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
      return new arrow.Int32();
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.BIGINT:
      return new arrow.Int64();
    case DuckDBTypeId.FLOAT:
      return new arrow.Float32();
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
      return new arrow.Float64();
    case DuckDBTypeId.DATE:
      return new arrow.DateDay();
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_NS:
      return new arrow.TimestampMillisecond();
    default:
      return new arrow.Utf8();
  }
}

function toArrowVector(values: readonly unknown[], t: DuckDBType): arrow.Vector {
  const type = arrowTypeFor(t);
  if (type instanceof arrow.Int64) {
    return arrow.vectorFromArray(values.map((v) => (v === null || v === undefined ? null : BigInt(v as bigint | number))), type);
  }
  if (type instanceof arrow.Utf8) {
    return arrow.vectorFromArray(values.map((v) => (v === null || v === undefined ? null : typeof v === "string" ? v : JSON.stringify(toJsonValue(v)))), type);
  }
  if (type instanceof arrow.TimestampMillisecond || type instanceof arrow.DateDay) {
    return arrow.vectorFromArray(values.map((v) => (v instanceof Date ? v : null)), type);
  }
  return arrow.vectorFromArray(values as unknown[], type);
}

function formatText(r: QueryResult, limit: number): string {
  const shown = r.rows().slice(0, limit);
  const widths = r.columns.map((c) => Math.min(40, Math.max(c.name.length, ...shown.map((row) => cell(row[c.name]).length))));
  const line = (cells: string[]) => cells.map((s, i) => s.slice(0, 40).padEnd(widths[i]!)).join("  ");
  const out = [line(r.columns.map((c) => c.name)), line(widths.map((w) => "─".repeat(w))), ...shown.map((row) => line(r.columns.map((c) => cell(row[c.name]))))];
  const total = r.totalRows ?? r.numRows;
  out.push(`(${shown.length} of ${total.toLocaleString("en-US")} rows)`);
  return out.join("\n");
}

function cell(v: JsonValue | undefined): string {
  if (v === null || v === undefined) return "NULL";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}
