/**
 * The benchmark's reference: the same medallion written by hand in raw DuckDB, as a data engineer would without the
 * lab — typed reads, the same rules (first row of a key wins), the same gold SQL — with none of the lab's guarantees
 * (no landing, no hash, no line numbers, no rejected lines kept, no lake, no quarantine rows). Its clean counts are
 * compared with the generator's, so the two sides are known to do the same work.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { GOLD } from "./medallion.js";

export interface RawReference {
  readonly seconds: { bronze: number; silver: number; gold: number; total: number };
  readonly clean: Record<"customers" | "orders" | "events", number>;
}

const EMAIL = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$";
const STATUSES = "('completed', 'shipped', 'delivered', 'cancelled', 'returned')";
const EVENT_TYPES = "('view', 'click', 'add_to_cart', 'purchase', 'wishlist')";

export async function rawReference(dataDir: string, memoryLimit: string): Promise<RawReference> {
  const spill = await mkdtemp(join(tmpdir(), "dataflow-raw-"));
  const instance = await DuckDBInstance.create(":memory:", { memory_limit: memoryLimit, temp_directory: spill });
  const c = await instance.connect();
  const f = (name: string) => `'${join(dataDir, name).replaceAll("'", "''")}'`;
  const timed = async (statements: string[]) => {
    const t0 = performance.now();
    for (const sql of statements) await c.run(sql);
    return (performance.now() - t0) / 1000;
  };
  try {
    const bronze = await timed([
      `CREATE TABLE b_customers AS SELECT * FROM read_csv(${f("customers.csv")}, all_varchar = true)`,
      `CREATE TABLE b_products AS SELECT * FROM read_parquet(${f("products.parquet")})`,
      `CREATE TABLE b_orders AS SELECT * FROM read_csv(${f("orders.csv")}, all_varchar = true)`,
      `CREATE TABLE b_events AS SELECT * FROM read_json(${f("events.jsonl")}, format = 'newline_delimited', ignore_errors = true,
         columns = {event_id: 'VARCHAR', customer_id: 'VARCHAR', product_id: 'VARCHAR', event_type: 'VARCHAR', event_time: 'VARCHAR', device: 'VARCHAR', session_id: 'VARCHAR'})`,
    ]);
    const silver = await timed([
      "CREATE SCHEMA silver",
      `CREATE TABLE silver.customers AS SELECT * EXCLUDE (rn, raw_signup) FROM (
         SELECT TRY_CAST(customer_id AS BIGINT) AS customer_id, name, email, city, region, TRY_CAST(signup_date AS DATE) AS signup_date,
                signup_date AS raw_signup, row_number() OVER (PARTITION BY TRY_CAST(customer_id AS BIGINT) ORDER BY rowid) AS rn
         FROM b_customers)
       WHERE customer_id IS NOT NULL AND rn = 1 AND email IS NOT NULL AND regexp_full_match(email, '${EMAIL}')
         AND region IN ('North', 'South', 'East', 'West', 'Central') AND (raw_signup IS NULL OR signup_date IS NOT NULL)`,
      `CREATE TABLE silver.products AS SELECT product_id::INTEGER AS product_id, name, category, unit_price::DECIMAL(10,2) AS unit_price
       FROM b_products WHERE product_id IS NOT NULL AND unit_price >= 0`,
      `CREATE TABLE silver.orders AS SELECT * EXCLUDE (rn, raw_date) FROM (
         SELECT TRY_CAST(order_id AS BIGINT) AS order_id, TRY_CAST(customer_id AS BIGINT) AS customer_id, TRY_CAST(product_id AS INTEGER) AS product_id,
                TRY_CAST(quantity AS INTEGER) AS quantity, TRY_CAST(unit_price AS DECIMAL(10,2)) AS unit_price, TRY_CAST(amount AS DECIMAL(12,2)) AS amount,
                TRY_CAST(order_date AS DATE) AS order_date, order_date AS raw_date, status, channel,
                row_number() OVER (PARTITION BY TRY_CAST(order_id AS BIGINT) ORDER BY rowid) AS rn
         FROM b_orders) o
       WHERE rn = 1 AND customer_id IS NOT NULL AND amount >= 0 AND status IN ${STATUSES} AND (raw_date IS NULL OR order_date IS NOT NULL)
         AND customer_id IN (SELECT customer_id FROM silver.customers) AND product_id IN (SELECT product_id FROM silver.products)`,
      `CREATE TABLE silver.events AS SELECT * EXCLUDE (rn) FROM (
         SELECT TRY_CAST(event_id AS BIGINT) AS event_id, TRY_CAST(customer_id AS BIGINT) AS customer_id, TRY_CAST(product_id AS INTEGER) AS product_id,
                event_type, TRY_CAST(event_time AS TIMESTAMPTZ) AS event_time, device, session_id,
                row_number() OVER (PARTITION BY TRY_CAST(event_id AS BIGINT) ORDER BY rowid) AS rn
         FROM b_events)
       WHERE rn = 1 AND event_type IN ${EVENT_TYPES}`,
    ]);
    const gold = await timed(["CREATE SCHEMA gold", ...GOLD.map((g) => `CREATE TABLE gold.${g.name} AS ${g.sql}`)]);
    const count = async (t: string) => Number((await c.runAndReadAll(`SELECT count(*) FROM silver.${t}`)).getRows()[0]![0]);
    return {
      seconds: { bronze, silver, gold, total: bronze + silver + gold },
      clean: { customers: await count("customers"), orders: await count("orders"), events: await count("events") },
    };
  } finally {
    c.closeSync();
    instance.closeSync();
    await rm(spill, { recursive: true, force: true });
  }
}
