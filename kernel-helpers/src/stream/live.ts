import { randomUUID } from "node:crypto";
import { LAKE } from "../catalog/catalog.js";
import { ident, literal } from "../catalog/sql.js";
import type { Lab } from "../lab.js";
import { QUARANTINE } from "../quality/refine.js";
import { planColumn } from "../quality/parse.js";
import { stageSql } from "../quality/stage.js";
import { acceptedValues, foreignKey, notNull, range, unique, type Rule } from "../quality/rules.js";
import { INTERACTION_TYPES, TOPICS, type MarketplaceTopic } from "./events.js";
import { ACTIVE_USERS_PER_MINUTE, LIVE_PROGRESS, LIVE_SILVER, REVENUE_PER_MINUTE } from "./live-tables.js";
import { bronzeTableFor } from "./sink.js";

/**
 * Live silver and gold over the streamed bronze tables. Each refresh reads only the bronze rows
 * inserted since the last refresh (DuckLake's change feed between two snapshots), cleans them with
 * the quality rules into silver, and recomputes only the gold minutes those rows touch. The bronze
 * snapshot it got to is stored in the same DuckLake transaction as the silver and gold writes, so a
 * crash or a re-run never counts a row twice.
 */
export { LIVE_PROGRESS, REVENUE_PER_MINUTE, ACTIVE_USERS_PER_MINUTE };

export interface LiveRefreshReport {
  /** The bronze snapshot range read, inclusive; null when there was nothing new. */
  readonly fromSnapshot: number | null;
  readonly toSnapshot: number;
  readonly rowsIn: Record<MarketplaceTopic, number>;
  readonly clean: Record<MarketplaceTopic, number>;
  readonly quarantined: Record<MarketplaceTopic, number>;
  /** Gold minutes recomputed (the only ones written). */
  readonly minutesTouched: number;
  /**
   * Bronze tables whose live tables were rebuilt from every row, because the snapshot the last refresh got to was
   * expired (maintainLake, an erasure) and its change feed with it.
   */
  readonly rebuilt: readonly string[];
  readonly seconds: number;
}

interface Source {
  readonly topic: MarketplaceTopic;
  readonly bronze: string;
  readonly bronzeName: string;
  readonly silver: string;
  readonly columns: Record<string, string>;
  readonly rules: (customersExist: boolean) => Rule[];
}

const SOURCES: Source[] = [
  {
    topic: TOPICS.transactions, bronze: bronzeTableFor(TOPICS.transactions), bronzeName: "transactions", silver: LIVE_SILVER.transactions,
    columns: {
      transaction_id: "VARCHAR", user_id: "BIGINT", product_id: "BIGINT", category: "VARCHAR", quantity: "INTEGER",
      amount: "DECIMAL(12,2)", currency: "VARCHAR", event_time: "TIMESTAMPTZ",
    },
    rules: (customers) => [
      notNull("transaction_id"), notNull("event_time"), unique("transaction_id"), range("quantity", { min: 1 }), range("amount", { min: 0 }),
      ...(customers ? [foreignKey("user_id", "silver.customers", "customer_id")] : []),
    ],
  },
  {
    topic: TOPICS.interactions, bronze: bronzeTableFor(TOPICS.interactions), bronzeName: "user_interactions", silver: LIVE_SILVER.interactions,
    columns: { interaction_id: "VARCHAR", user_id: "BIGINT", product_id: "BIGINT", interaction_type: "VARCHAR", event_time: "TIMESTAMPTZ" },
    rules: (customers) => [
      notNull("interaction_id"), notNull("event_time"), unique("interaction_id"), acceptedValues("interaction_type", INTERACTION_TYPES),
      ...(customers ? [foreignKey("user_id", "silver.customers", "customer_id")] : []),
    ],
  },
];

/** Fold the bronze rows that arrived since the last refresh into silver and gold. */
export function refreshLiveTables(lab: Lab): Promise<LiveRefreshReport> {
  // Its temp tables and transaction stay on a connection of its own, whatever else the kernel runs meanwhile.
  return lab.catalog.session(() => refreshOnce(lab));
}

async function refreshOnce(lab: Lab): Promise<LiveRefreshReport> {
  const started = performance.now();
  await ensureTables(lab);
  const zero = () => ({ [TOPICS.transactions]: 0, [TOPICS.interactions]: 0 }) as Record<MarketplaceTopic, number>;
  const report = { rowsIn: zero(), clean: zero(), quarantined: zero() };
  const to = await lab.catalog.currentSnapshot();
  const customers = await lab.catalog.tableExists("silver.customers");
  const id = randomUUID().replaceAll("-", "").slice(0, 12);
  const staged: { source: Source; stage: string; from: number; names: string[]; rebuild: boolean }[] = [];
  let from: number | null = null;
  try {
    for (const source of SOURCES) {
      if (!(await lab.catalog.tableExists(source.bronze.replaceAll('"', "")))) continue;
      const last = (await lab.sql(`SELECT max(last_snapshot) FROM ${LIVE_PROGRESS} WHERE source_table = ?`, [source.bronze])).rows()[0]?.["max(last_snapshot)"];
      const start = last === null || last === undefined ? 0 : Number(last) + 1;
      if (start > to) continue;
      // The change feed starts at a snapshot that must still exist. When it was expired, the rows committed since
      // the last refresh can no longer be told apart: the live tables are rebuilt from the whole bronze table.
      const rebuild = (await lab.sql(`SELECT count(*) FROM ducklake_snapshots(${literal(LAKE)}) WHERE snapshot_id = ?`, [start])).number() === 0;
      from = from === null ? start : Math.min(from, start);
      const stage = `live_${id}_${source.bronzeName}`;
      const names = Object.keys(source.columns);
      const rules = source.rules(customers);
      // The same staging as refine(): strict parsing, ranked duplicates, every rule, in one pass. The change feed gives
      // exactly the rows committed in (start..to]; only those are read.
      const bronzeTypes = new Map((await lab.catalog.columns(source.bronze.replaceAll('"', ""))).map((c) => [c.name, c.type]));
      const batch = stageSql({
        from: rebuild
          ? `(SELECT * FROM ${source.bronze} AT (VERSION => ${to})) s`
          : `ducklake_table_insertions(${literal(LAKE)}, 'bronze', ${literal(source.bronzeName)}, ${start}, ${to}) s`,
        columns: names.map((c) => ({ plan: planColumn(source.silver, c, source.columns[c]), rawType: bronzeTypes.get(c) ?? "VARCHAR" })),
        // Rebuilt, the silver table is emptied first: uniqueness is within these rows only.
        rules, target: source.silver, targetExists: !rebuild,
        carry: ["_topic", "_partition", "_offset", "_value"],
        order: ["_partition", "_offset"],
      });
      await lab.catalog.run(`CREATE TEMP TABLE ${stage} AS ${batch.sql}`);
      const counts = (await lab.sql(`SELECT count(*)::BIGINT AS n, count(*) FILTER (len(__failed) = 0)::BIGINT AS ok FROM temp.main.${stage}`)).rows()[0]!;
      report.rowsIn[source.topic] = Number(counts["n"]);
      report.clean[source.topic] = Number(counts["ok"]);
      report.quarantined[source.topic] = Number(counts["n"]) - Number(counts["ok"]);
      // No new rows (the snapshots since were other tables' commits): nothing to write, no snapshot.
      if (Number(counts["n"]) > 0 || rebuild) staged.push({ source, stage, from: start, names, rebuild });
      else await lab.catalog.run(`DROP TABLE temp.main.${stage}`);
    }

    let minutesTouched = 0;
    if (staged.length) {
      await lab.catalog.transaction(async () => {
        const runId = randomUUID();
        for (const { source, stage, from: start, names, rebuild } of staged) {
          const cols = names.map(ident).join(", ");
          if (rebuild) {
            await lab.catalog.run(`DELETE FROM ${source.silver}`);
            await lab.catalog.run(`DELETE FROM ${QUARANTINE} WHERE target_table = ?`, [source.silver]);
          }
          await lab.catalog.run(`INSERT INTO ${source.silver} (${cols}, event_minute, _topic, _partition, _offset)
            SELECT ${cols}, date_trunc('minute', event_time), _topic, _partition, _offset FROM temp.main.${stage} WHERE len(__failed) = 0`);
          await lab.catalog.run(`INSERT INTO ${QUARANTINE}
            SELECT ${literal(runId)}, ${literal(source.bronze.replaceAll('"', ""))}, ${literal(source.silver)},
                   ${literal(`snapshots ${start}..${to}`)}, _topic || '/' || _partition, _offset, __failed, _value::JSON, now()
            FROM temp.main.${stage} WHERE len(__failed) > 0`);
          // One row per source, updated in place: two refreshes racing on the same rows both update
          // it, and DuckLake refuses the second commit rather than letting both count the rows.
          const updated = await lab.catalog.run(`UPDATE ${LIVE_PROGRESS} SET last_snapshot = ?, updated_at = now() WHERE source_table = ?`, [to, source.bronze]);
          if (updated === 0) await lab.catalog.run(`INSERT INTO ${LIVE_PROGRESS} VALUES (?, ?, now())`, [source.bronze, to]);
        }
        minutesTouched = await foldGold(lab, staged.map((s) => s.stage), staged.some((s) => s.source.topic === TOPICS.transactions), staged.some((s) => s.rebuild));
      });
    }
    const rebuilt = staged.filter((s) => s.rebuild).map((s) => s.source.bronze.replaceAll('"', ""));
    return { fromSnapshot: staged.length ? from : null, toSnapshot: to, ...report, minutesTouched, rebuilt, seconds: (performance.now() - started) / 1000 };
  } finally {
    for (const s of staged) await lab.catalog.run(`DROP TABLE IF EXISTS temp.main.${s.stage}`).catch(() => undefined);
  }
}

/** Recompute gold for the minutes the new clean rows fall in; every other minute is left as it was. */
async function foldGold(lab: Lab, stages: string[], hasTransactions: boolean, everything: boolean): Promise<number> {
  // After a rebuild every minute is recounted (a minute may have lost all its rows), from the silver tables as they are now.
  const touched = everything
    ? `SELECT DISTINCT event_minute AS minute FROM ${LIVE_SILVER.transactions} UNION SELECT DISTINCT event_minute FROM ${LIVE_SILVER.interactions}
       UNION SELECT minute FROM ${REVENUE_PER_MINUTE} UNION SELECT minute FROM ${ACTIVE_USERS_PER_MINUTE}`
    : stages.map((s) => `SELECT DISTINCT date_trunc('minute', event_time) AS minute FROM temp.main.${s} WHERE len(__failed) = 0`).join(" UNION ");
  await lab.catalog.run(`CREATE OR REPLACE TEMP TABLE live_touched AS ${touched}`);
  const minutes = (await lab.sql("SELECT count(*) FROM temp.main.live_touched")).number();
  if (minutes === 0) return 0;
  if (hasTransactions) {
    await lab.catalog.run(`DELETE FROM ${REVENUE_PER_MINUTE} WHERE minute IN (SELECT minute FROM temp.main.live_touched)`);
    await lab.catalog.run(`INSERT INTO ${REVENUE_PER_MINUTE}
      SELECT event_minute, category, sum(amount), count(*), now() FROM silver.transactions
      WHERE event_minute IN (SELECT minute FROM temp.main.live_touched) GROUP BY ALL`);
  }
  // Distinct users are not additive across batches: the touched minutes are recounted from silver.
  await lab.catalog.run(`DELETE FROM ${ACTIVE_USERS_PER_MINUTE} WHERE minute IN (SELECT minute FROM temp.main.live_touched)`);
  await lab.catalog.run(`INSERT INTO ${ACTIVE_USERS_PER_MINUTE}
    SELECT minute, count(DISTINCT user_id), count(*) FILTER (kind = 'interaction'), count(*) FILTER (kind = 'transaction'), now()
    FROM (SELECT event_minute AS minute, user_id, 'interaction' AS kind FROM silver.user_interactions
          UNION ALL SELECT event_minute, user_id, 'transaction' FROM silver.transactions)
    WHERE minute IN (SELECT minute FROM temp.main.live_touched) GROUP BY minute`);
  return minutes;
}

async function ensureTables(lab: Lab): Promise<void> {
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${LIVE_PROGRESS} (source_table VARCHAR, last_snapshot BIGINT, updated_at TIMESTAMPTZ)`);
  for (const s of SOURCES) {
    const cols = Object.entries(s.columns).map(([c, t]) => `${ident(c)} ${t}`).join(", ");
    await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${s.silver} (${cols}, event_minute TIMESTAMPTZ, _topic VARCHAR, _partition INTEGER, _offset BIGINT)`);
  }
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${QUARANTINE} (
    run_id VARCHAR, source_table VARCHAR, target_table VARCHAR, batch_id VARCHAR, source_file VARCHAR,
    row_number BIGINT, failed_rules VARCHAR[], row_data JSON, quarantined_at TIMESTAMPTZ)`);
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${REVENUE_PER_MINUTE} (minute TIMESTAMPTZ, category VARCHAR, revenue DECIMAL(18,2), transactions BIGINT, updated_at TIMESTAMPTZ)`);
  await lab.catalog.run(`CREATE TABLE IF NOT EXISTS ${ACTIVE_USERS_PER_MINUTE} (minute TIMESTAMPTZ, active_users BIGINT, interactions BIGINT, transactions BIGINT, updated_at TIMESTAMPTZ)`);
}

/** One line for notebooks and logs. */
export function describeLiveRefresh(r: LiveRefreshReport): string {
  if (r.fromSnapshot === null) return `live tables: nothing new up to snapshot ${r.toSnapshot}`;
  const part = (t: MarketplaceTopic) => `${t} ${r.rowsIn[t]} → ${r.clean[t]} clean${r.quarantined[t] ? `, ${r.quarantined[t]} quarantined` : ""}`;
  const rebuilt = r.rebuilt.length ? ` (rebuilt from all of ${r.rebuilt.join(", ")}: the last refresh's snapshot was expired)` : "";
  return `live tables: snapshots ${r.fromSnapshot}..${r.toSnapshot}${rebuilt}: ${part(TOPICS.transactions)}; ${part(TOPICS.interactions)}; ${r.minutesTouched} gold minute(s) recomputed in ${r.seconds.toFixed(2)}s`;
}
