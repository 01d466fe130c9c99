import type { DuckDBValue } from "@duckdb/node-api";
import type { Lab } from "../lab.js";
import { literal } from "../catalog/sql.js";
import { MlError } from "./features.js";

export const CUSTOMER_SCORES = "gold.customer_scores";

export interface CustomerScores {
  readonly customerIds: readonly number[];
  readonly segments: readonly number[];
  readonly segmentNames: readonly string[];
  readonly churnProbabilities: readonly number[];
  /** e.g. "churn v3 / segments v2" */
  readonly modelVersion: string;
}

/**
 * Replace gold.customer_scores in one transaction. The columns travel as four DuckDB lists and
 * are unnested in SQL, so no row is built in JavaScript.
 */
export async function writeCustomerScores(lab: Lab, s: CustomerScores): Promise<number> {
  const n = s.customerIds.length;
  if (n === 0 || s.segments.length !== n || s.churnProbabilities.length !== n) {
    throw new MlError(`Scores need one segment and one churn probability per customer (got ${n} ids, ${s.segments.length} segments, ${s.churnProbabilities.length} probabilities).`, {
      fix: "Score the same rows with both models.", context: { table: CUSTOMER_SCORES },
    });
  }
  const names = `[${s.segmentNames.map((x) => literal(x)).join(", ")}]`;
  // Bound as JSON text, cast in SQL: node-api's listValue types a list by its first element, so probabilities
  // starting with a whole 0 or 1 became an INTEGER list that refused the next 0.37.
  const params: DuckDBValue[] = [JSON.stringify(s.customerIds), JSON.stringify(s.segments), JSON.stringify(s.churnProbabilities)];
  await lab.catalog.transaction(async () => {
    await lab.catalog.run(`CREATE OR REPLACE TABLE ${CUSTOMER_SCORES} AS
      SELECT id::BIGINT AS customer_id, seg::INTEGER AS segment, (${names})[seg::INTEGER + 1] AS segment_name,
             p::DOUBLE AS churn_probability, ${literal(s.modelVersion)} AS model_version, now() AS scored_at
      FROM (SELECT unnest($1::DOUBLE[]) AS id, unnest($2::DOUBLE[]) AS seg, unnest($3::DOUBLE[]) AS p)`, params);
  });
  return (await lab.sql(`SELECT count(*) FROM ${CUSTOMER_SCORES}`)).number();
}

export interface Recommendations {
  readonly userId: number;
  readonly segment: number;
  readonly segmentName: string;
  readonly churnProbability: number;
  /** Products bought most by customers of the same segment that this user has not bought. */
  readonly products: { product_id: number; name: string | null; category: string | null; buyers: number }[];
}

/** Answer from gold only: the user's segment, and what similar customers buy that they have not. */
/** The most products one recommendation answer lists. */
export const MAX_LIMIT = 50;

export async function recommendationsFor(lab: Lab, userId: number, options: { limit?: number } = {}): Promise<Recommendations | null> {
  if (!(await lab.catalog.tableExists(CUSTOMER_SCORES))) {
    throw new MlError(`${CUSTOMER_SCORES} does not exist yet.`, { fix: "Run notebooks/06_ml_tracking.ipynb (it scores every customer).", context: { table: CUSTOMER_SCORES } });
  }
  const me = (await lab.sql(`SELECT segment, segment_name, churn_probability FROM ${CUSTOMER_SCORES} WHERE customer_id = ?`, [userId])).rows()[0];
  if (!me) return null;
  const limit = options.limit ?? 5;
  // It reaches SQL as a number: a whole one within bounds, or a clear refusal (never LIMIT NaN).
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new MlError(`limit must be a whole number from 1 to ${MAX_LIMIT}, got ${limit}.`, { fix: "Pass e.g. { limit: 10 }." });
  }
  const products = await lab.sql(`
    WITH peers AS (SELECT customer_id FROM ${CUSTOMER_SCORES} WHERE segment = ? AND customer_id <> ?),
         mine AS (SELECT DISTINCT product_id FROM gold.customer_orders WHERE customer_id = ?)
    SELECT o.product_id::BIGINT AS product_id, any_value(o.product_name) AS name, any_value(o.category) AS category,
           count(DISTINCT o.customer_id) AS buyers
    FROM gold.customer_orders o JOIN peers USING (customer_id)
    WHERE o.product_id NOT IN (SELECT product_id FROM mine)
    GROUP BY o.product_id ORDER BY buyers DESC, o.product_id LIMIT ${limit}`, [Number(me["segment"]), userId, userId]);
  return {
    userId, segment: Number(me["segment"]), segmentName: String(me["segment_name"]), churnProbability: Number(me["churn_probability"]),
    products: products.rows() as Recommendations["products"],
  };
}
