import type { Lab } from "../lab.js";
import { isPlainName, literal } from "../catalog/sql.js";
import { QualityError } from "../errors.js";

export interface GoldReport {
  readonly table: string;
  readonly rows: number;
  /** The snapshot this build committed: read the table as of it later with AT (VERSION => …). */
  readonly snapshotId: number;
  readonly seconds: number;
}

/**
 * (Re)build a gold table from a SELECT. The SQL stays in the notebook, where the trainee reads it;
 * this removes the CREATE OR REPLACE boilerplate and records the snapshot and a description.
 * Re-running replaces the table in a new snapshot, so the old version stays readable by time travel.
 */
export async function buildGoldTable(lab: Lab, name: string, selectSql: string, options: { description?: string } = {}): Promise<GoldReport> {
  const started = performance.now();
  const table = name.startsWith("gold.") ? name.slice(5) : name;
  if (!isPlainName(table)) {
    throw new QualityError(`"${name}" is not a valid gold table name.`, {
      fix: 'Use letters, digits and underscores, e.g. "revenue_by_category".',
      context: { table: name },
    });
  }
  await lab.catalog.transaction(async () => {
    await lab.catalog.run(`CREATE OR REPLACE TABLE gold.${table} AS\n${selectSql}`);
    if (options.description) await lab.catalog.run(`COMMENT ON TABLE gold.${table} IS ${literal(options.description)}`);
  });
  const rows = (await lab.sql(`SELECT count(*) FROM gold.${table}`)).number();
  return { table: `gold.${table}`, rows, snapshotId: await lab.catalog.currentSnapshot(), seconds: (performance.now() - started) / 1000 };
}

export function describeGold(r: GoldReport): string {
  return `${r.table}: ${r.rows.toLocaleString("en-US")} rows (snapshot ${r.snapshotId}) in ${r.seconds.toFixed(2)}s`;
}
