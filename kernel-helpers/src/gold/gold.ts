import type { Lab } from "../lab.js";
import { isPlainName, literal } from "../catalog/sql.js";
import { QualityError } from "../errors.js";
import { CUSTOMER_SCORES } from "../ml/scores.js";
import { ACTIVE_USERS_PER_MINUTE, REVENUE_PER_MINUTE } from "../stream/live-tables.js";

/** Gold tables the library itself maintains: a rebuild from a notebook would clobber them. */
const MAINTAINED: Readonly<Record<string, string>> = {
  [CUSTOMER_SCORES]: "writeCustomerScores() (the ML notebook)",
  [REVENUE_PER_MINUTE]: "refreshLiveTables() (the streaming notebook)",
  [ACTIVE_USERS_PER_MINUTE]: "refreshLiveTables() (the streaming notebook)",
};

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
  const table = goldTableName(name);
  // Two builds of one table in this kernel take turns (DuckLake would refuse the second commit); while the turn
  // is held, the table's rows and the newest snapshot that touched it are this build's, whatever else commits.
  return lab.catalog.exclusive(`gold.${table}`, async () => {
    await lab.catalog.transaction(async () => {
      await lab.catalog.run(`CREATE OR REPLACE TABLE gold.${table} AS\n${selectSql}`);
      if (options.description) await lab.catalog.run(`COMMENT ON TABLE gold.${table} IS ${literal(options.description)}`);
    });
    const rows = (await lab.sql(`SELECT count(*) FROM gold.${table}`)).number();
    return { table: `gold.${table}`, rows, snapshotId: await lab.catalog.createdInSnapshot(`gold.${table}`), seconds: (performance.now() - started) / 1000 };
  });
}

export function describeGold(r: GoldReport): string {
  return `${r.table}: ${r.rows.toLocaleString("en-US")} rows (snapshot ${r.snapshotId}) in ${r.seconds.toFixed(2)}s`;
}

/** The table part of a gold name ("x" or "gold.x", any case), refusing other layers and the tables the library keeps. */
function goldTableName(name: string): string {
  const parts = typeof name === "string" ? name.split(".") : [];
  if (parts.length === 2 && parts[0]!.toLowerCase() !== "gold") {
    throw new QualityError(`"${name}" is not a gold table: buildGoldTable writes only the gold layer.`, {
      fix: `Pass "${parts[1]}" or "gold.${parts[1]}"; silver tables are written by refine(), bronze ones by ingestFile().`,
      context: { table: name },
    });
  }
  const table = parts.length === 2 ? parts[1]! : String(name);
  if (parts.length > 2 || !isPlainName(table)) {
    throw new QualityError(`${JSON.stringify(name)} is not a valid gold table name.`, {
      fix: 'Use letters, digits and underscores, e.g. "revenue_by_category".',
      context: { table: String(name) },
    });
  }
  const owner = MAINTAINED[`gold.${table.toLowerCase()}`];
  if (owner) {
    throw new QualityError(`gold.${table} is maintained by ${owner}; rebuilding it here would overwrite what that step keeps.`, {
      fix: `Choose another name, e.g. "${table.toLowerCase()}_report", and select from gold.${table.toLowerCase()} if you need it.`,
      context: { table: name },
    });
  }
  return table;
}
