/**
 * The medallion pipeline the benchmark times: the same sources, rules and gold tables as the
 * walkthrough notebooks (which keep theirs inline, where a trainee reads them).
 */
import { join } from "node:path";
import {
  acceptedValues, buildGoldTable, email, foreignKey, ingestFile, notNull, range, refine, unique,
  type IngestReport, type Lab, type QualityReport, type RefineSpec, type GoldReport,
} from "../../kernel-helpers/src/index.js";

export const SOURCES = [
  { file: "customers.csv", table: "customers" },
  { file: "products.parquet", table: "products" },
  { file: "orders.csv", table: "orders" },
  { file: "events.jsonl", table: "events" },
] as const;

export const SILVER: readonly RefineSpec[] = [
  {
    source: "bronze.customers", target: "silver.customers",
    columns: { customer_id: "BIGINT", name: "VARCHAR", email: "VARCHAR", city: "VARCHAR", region: "VARCHAR", signup_date: "DATE" },
    rules: [notNull("customer_id"), unique("customer_id"), notNull("email"), email("email"), acceptedValues("region", ["North", "South", "East", "West", "Central"])],
  },
  {
    source: "bronze.products", target: "silver.products",
    columns: { product_id: "INTEGER", name: "VARCHAR", category: "VARCHAR", unit_price: "DECIMAL(10,2)" },
    rules: [notNull("product_id"), unique("product_id"), range("unit_price", { min: 0 })],
  },
  {
    source: "bronze.orders", target: "silver.orders",
    columns: {
      order_id: "BIGINT", customer_id: "BIGINT", product_id: "INTEGER", quantity: "INTEGER",
      unit_price: "DECIMAL(10,2)", amount: "DECIMAL(12,2)", order_date: "DATE", status: "VARCHAR", channel: "VARCHAR",
    },
    rules: [
      unique("order_id"), notNull("customer_id"), range("amount", { min: 0 }),
      acceptedValues("status", ["completed", "shipped", "delivered", "cancelled", "returned"]),
      foreignKey("customer_id", "silver.customers"), foreignKey("product_id", "silver.products"),
    ],
  },
  {
    source: "bronze.events", target: "silver.events",
    columns: { event_id: "BIGINT", customer_id: "BIGINT", product_id: "INTEGER", event_type: "VARCHAR", event_time: "TIMESTAMPTZ", device: "VARCHAR", session_id: "VARCHAR" },
    rules: [unique("event_id"), acceptedValues("event_type", ["view", "click", "add_to_cart", "purchase", "wishlist"])],
  },
];

const REVENUE = "o.status NOT IN ('cancelled', 'returned')";
export const GOLD: readonly { name: string; sql: string }[] = [
  {
    name: "revenue_by_category_region",
    sql: `SELECT p.category, c.region, count(*) AS orders, sum(o.amount)::DECIMAL(14,2) AS revenue
          FROM silver.orders o JOIN silver.products p USING (product_id) JOIN silver.customers c USING (customer_id)
          WHERE ${REVENUE} GROUP BY ALL`,
  },
  {
    name: "customer_orders",
    sql: `SELECT o.order_id, o.order_date, o.status, o.amount, c.customer_id, c.name AS customer_name, c.region, p.category
          FROM silver.orders o JOIN silver.customers c USING (customer_id) JOIN silver.products p USING (product_id)`,
  },
  {
    name: "ml_features",
    sql: `WITH b AS (
            SELECT customer_id, count(*) AS frequency, sum(amount)::DOUBLE AS monetary,
                   date_diff('day', max(order_date), DATE '2025-04-01') AS recency_days
            FROM silver.orders o WHERE ${REVENUE} AND order_date < DATE '2025-04-01' GROUP BY customer_id),
          a AS (SELECT DISTINCT customer_id FROM silver.orders o WHERE ${REVENUE} AND order_date >= DATE '2025-04-01')
          SELECT b.*, a.customer_id IS NULL AS churned FROM b LEFT JOIN a USING (customer_id)`,
  },
];

export interface LayerTiming<R> {
  readonly seconds: number;
  readonly reports: R[];
}

async function timed<R>(work: () => Promise<R[]>): Promise<LayerTiming<R>> {
  const t0 = performance.now();
  const reports = await work();
  return { seconds: (performance.now() - t0) / 1000, reports };
}

export async function runBronze(lab: Lab, dataDir: string, onStep?: (msg: string) => void): Promise<LayerTiming<IngestReport>> {
  return timed(async () => {
    const out: IngestReport[] = [];
    for (const s of SOURCES) {
      out.push(await ingestFile(lab, { file: join(dataDir, s.file), table: s.table }));
      onStep?.(`bronze.${s.table}`);
    }
    return out;
  });
}

export async function runSilver(lab: Lab, onStep?: (msg: string) => void): Promise<LayerTiming<QualityReport>> {
  return timed(async () => {
    const out: QualityReport[] = [];
    for (const spec of SILVER) {
      out.push(await refine(lab, spec));
      onStep?.(spec.target);
    }
    return out;
  });
}

export async function runGold(lab: Lab, onStep?: (msg: string) => void): Promise<LayerTiming<GoldReport>> {
  return timed(async () => {
    const out: GoldReport[] = [];
    for (const g of GOLD) {
      out.push(await buildGoldTable(lab, g.name, g.sql));
      onStep?.(`gold.${g.name}`);
    }
    return out;
  });
}
