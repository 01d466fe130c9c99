import { mulberry32 } from "../random.js";
import { MlError } from "../errors.js";
import type { Lab } from "../lab.js";
import { ident, parseTableName, qualified } from "../catalog/sql.js";

export { MlError };

export interface FeatureMatrix {
  readonly table: string;
  readonly snapshot: number;
  readonly ids: number[];
  readonly names: readonly string[];
  /** One row per customer, one column per feature (what the mljs models take). */
  readonly X: number[][];
  /** 0/1 labels, when a label column was asked for. */
  readonly y: number[];
}

/**
 * Read numeric features (and a boolean label) from a gold table. Columns come out of DuckDB as
 * Arrow vectors and are only transposed into rows at the end, because the ML libraries want rows.
 */
export async function loadFeatures(lab: Lab, options: { table: string; id: string; features: readonly string[]; label?: string }): Promise<FeatureMatrix> {
  const first = "run notebooks/04_gold_aggregations.ipynb first (it builds gold.ml_features)";
  if (!(await lab.catalog.tableExists(options.table))) {
    throw new MlError(`The feature table ${options.table} does not exist.`, { fix: `Build it: ${first}.`, context: { table: options.table } });
  }
  const have = new Set((await lab.catalog.columns(options.table)).map((c) => c.name));
  const wanted = [options.id, ...options.features, ...(options.label ? [options.label] : [])];
  const missing = wanted.filter((c) => !have.has(c));
  if (missing.length) {
    throw new MlError(`${options.table} has no column(s) ${missing.join(", ")} (it has: ${[...have].join(", ")}).`, {
      fix: `Pass columns that exist, or rebuild the table: ${first}.`, context: { table: options.table, column: missing.join(",") },
    });
  }
  const t = qualified(parseTableName(options.table));
  const cols = [`${ident(options.id)}::BIGINT AS id`, ...options.features.map((f) => `coalesce(${ident(f)}::DOUBLE, 0) AS ${ident(f)}`)];
  if (options.label) cols.push(`${ident(options.label)}::INTEGER AS label`);
  const table = (await lab.sql(`SELECT ${cols.join(", ")} FROM ${t} ORDER BY 1`)).toArrow();
  if (table.numRows === 0) {
    throw new MlError(`${options.table} is empty: there is nothing to train on.`, { fix: `Load and refine the data, then ${first}.`, context: { table: options.table } });
  }
  const columns = options.features.map((f) => Array.from(table.getChild(f)!.toArray() as Float64Array));
  const X = Array.from({ length: table.numRows }, (_, r) => columns.map((c) => c[r]!));
  const ids = Array.from(table.getChild("id")!.toArray() as BigInt64Array, Number);
  const y = options.label ? Array.from(table.getChild("label")!.toArray() as Int32Array) : [];
  return { table: options.table, snapshot: await lab.catalog.currentSnapshot(), ids, names: options.features, X, y };
}

/** Column means and standard deviations of the training rows; `apply` scales any rows the same way. */
export function standardizer(X: readonly number[][]): { mean: number[]; std: number[]; apply(rows: readonly number[][]): number[][] } {
  const d = X[0]?.length ?? 0;
  const mean = Array.from({ length: d }, (_, j) => X.reduce((s, r) => s + r[j]!, 0) / X.length);
  const std = Array.from({ length: d }, (_, j) => Math.sqrt(X.reduce((s, r) => s + (r[j]! - mean[j]!) ** 2, 0) / X.length) || 1);
  return { mean, std, apply: (rows) => rows.map((r) => r.map((v, j) => (v - mean[j]!) / std[j]!)) };
}

/** Seeded shuffle split: the same seed always gives the same test set. */
export function trainTestSplit(n: number, testShare: number, seed: number): { train: number[]; test: number[] } {
  const random = mulberry32(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const nTest = Math.max(1, Math.round(n * testShare));
  return { test: order.slice(0, nTest).sort((a, b) => a - b), train: order.slice(nTest).sort((a, b) => a - b) };
}
