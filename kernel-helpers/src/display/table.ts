import * as arrow from "apache-arrow";
import { QueryResult, toJsonValue, type JsonValue } from "../catalog/result.js";
import { displayBundle } from "./kernel.js";

/** Query results, Arrow tables, or plain objects (any interface: rows of a report, a list of buckets…). */
export type Tabular = QueryResult | arrow.Table | readonly object[];

export interface TableOptions {
  /** Rows shown; the rest is summarised in a notice. */
  readonly limit?: number;
  readonly title?: string;
}

interface Grid {
  columns: string[];
  types: string[];
  rows: JsonValue[][];
  total: number;
}

function toGrid(data: Tabular, limit: number): Grid {
  if (data instanceof QueryResult) {
    const cols = data.columns.map((c) => data.column(c.name).slice(0, limit));
    return {
      columns: data.columns.map((c) => c.name),
      types: data.columns.map((c) => c.type),
      rows: Array.from({ length: Math.min(limit, data.numRows) }, (_, r) => cols.map((c) => c[r] ?? null)),
      total: data.totalRows ?? data.numRows,
    };
  }
  if (data instanceof arrow.Table) {
    const fields = data.schema.fields;
    const shown = data.slice(0, limit);
    const cols = fields.map((f) => (shown.getChild(f.name)?.toArray() ?? []) as ArrayLike<unknown>);
    return {
      columns: fields.map((f) => f.name),
      types: fields.map((f) => String(f.type)),
      rows: Array.from({ length: shown.numRows }, (_, r) => cols.map((c) => toJsonValue(c[r]))),
      total: data.numRows,
    };
  }
  const columns = [...new Set(data.flatMap((row) => Object.keys(row)))];
  return {
    columns,
    types: columns.map(() => ""),
    rows: data.slice(0, limit).map((row) => columns.map((c) => toJsonValue((row as Record<string, unknown>)[c]))),
    total: data.length,
  };
}

const escape = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** An HTML table: escaped values, numbers right-aligned, row count and a truncation notice. */
export function renderTable(data: Tabular, options: TableOptions = {}): string {
  const limit = options.limit ?? 20;
  const g = toGrid(data, limit);
  const head = g.columns.map((c, i) => `<th title="${escape(g.types[i] ?? "")}">${escape(c)}</th>`).join("");
  const body = g.rows
    .map((row) => `<tr>${row.map((v) => (v === null ? '<td style="color:#999">NULL</td>' : typeof v === "number" ? `<td style="text-align:right">${v.toLocaleString("en-US", { maximumFractionDigits: 4 })}</td>` : `<td>${escape(typeof v === "object" ? JSON.stringify(v) : String(v))}</td>`)).join("")}</tr>`)
    .join("\n");
  const notice = g.total > g.rows.length ? `showing ${g.rows.length} of ${g.total.toLocaleString("en-US")} rows` : `${g.total.toLocaleString("en-US")} row${g.total === 1 ? "" : "s"}`;
  const title = options.title ? `<div style="font-weight:bold;margin:4px 0">${escape(options.title)}</div>` : "";
  return `<div class="dataflow-table">${title}<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table><div style="color:#666;font-size:90%">${notice}</div></div>`;
}

/** A plain-text rendering of the same table, for logs and for viewers without HTML. */
export function renderText(data: Tabular, options: TableOptions = {}): string {
  const g = toGrid(data, options.limit ?? 20);
  const cell = (v: JsonValue) => (v === null ? "NULL" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const widths = g.columns.map((c, i) => Math.min(40, Math.max(c.length, ...g.rows.map((r) => cell(r[i] ?? null).length))));
  const line = (cells: string[]) => cells.map((s, i) => s.slice(0, 40).padEnd(widths[i]!)).join("  ").trimEnd();
  return [
    ...(options.title ? [options.title] : []),
    line(g.columns),
    line(widths.map((w) => "-".repeat(w))),
    ...g.rows.map((r) => line(r.map(cell))),
    `(${g.rows.length} of ${g.total.toLocaleString("en-US")} rows)`,
  ].join("\n");
}

/** Show a table in the notebook (HTML with a text fallback); prints text outside a kernel. */
export function showTable(data: Tabular, options: TableOptions = {}): void {
  const text = renderText(data, options);
  if (!displayBundle({ "text/html": renderTable(data, options), "text/plain": text })) console.log(text);
}
