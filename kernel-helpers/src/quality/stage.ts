import { ident, literal } from "../catalog/sql.js";
import { isText, parsedSql, presentSql, type ColumnPlan } from "./parse.js";
import { failureSql, parseRuleName, ruleName, type Rule } from "./rules.js";

/** What to stage: new source rows, the declared silver columns, the rules, and the columns carried through. */
export interface StageSpec {
  /** The FROM clause of the new source rows, aliased `s` (e.g. `bronze.orders s WHERE …`). */
  readonly from: string;
  /** Each declared column with the type DuckDB gives its source value. */
  readonly columns: readonly { readonly plan: ColumnPlan; readonly rawType: string }[];
  readonly rules: readonly Rule[];
  /** The silver table, for uniqueness against the rows already in it. */
  readonly target: string;
  readonly targetExists: boolean;
  /** Source columns kept unchanged (lineage, stream metadata). */
  readonly carry: readonly string[];
  /** Which of two rows with the same unique key came first (it stays clean; later ones fail). */
  readonly order: string;
}

/**
 * The one way a batch becomes silver, shared by refine() and the live refresh: parse every declared column strictly,
 * rank duplicates, evaluate every rule, in one pass. The SELECT gives the typed columns, the carried ones, and
 * `__failed`, the names of the rules a row fails (empty: clean). `rules` lists every name, parse rules included.
 */
export function stageSql(spec: StageSpec): { sql: string; rules: string[] } {
  const cols = spec.columns.map(({ plan, rawType }) => ({
    plan,
    input: `${plan.rawExpr} AS ${ident("__in_" + plan.name)}`,
    present: `${presentSql(plan, `s.${ident("__in_" + plan.name)}`, isText(rawType))} AS ${ident("__raw_" + plan.name)}`,
    parsed: `${parsedSql(plan, `s.${ident("__raw_" + plan.name)}`, rawType)} AS ${ident(plan.name)}`,
  }));
  const carry = spec.carry.map((c) => `s.${ident(c)}`).join(", ");
  const ctx = { typed: (c: string) => `s.${ident(c)}`, raw: (c: string) => `s.${ident("__raw_" + c)}`, target: spec.target, targetExists: spec.targetExists };
  const checks = [
    // Text columns always read; only typed columns can fail to parse.
    ...cols.filter((c) => c.plan.type !== "VARCHAR").map((c) => ({
      name: parseRuleName(c.plan.name, c.plan.type),
      sql: `(s.${ident("__raw_" + c.plan.name)} IS NOT NULL AND s.${ident(c.plan.name)} IS NULL)`,
    })),
    ...spec.rules.map((r) => ({ name: ruleName(r), sql: failureSql(r, ctx) })),
  ];
  const failed = `list_filter([${checks.map((c) => `CASE WHEN ${c.sql} THEN ${literal(c.name)} END`).join(", ")}], x -> x IS NOT NULL)`;
  const ranks = spec.rules.filter((r) => r.kind === "unique").map(
    (r) => `row_number() OVER (PARTITION BY ${ident(r.column)} ORDER BY ${spec.order}) AS ${ident("__rank_" + r.column)}`,
  );
  const sql = `WITH src AS (
      SELECT ${cols.map((c) => c.input).join(", ")}, ${carry} FROM ${spec.from}
    ), present AS (
      SELECT ${cols.map((c) => c.present).join(", ")}, ${carry} FROM src s
    ), base AS (
      SELECT ${cols.map((c) => `${c.parsed}, s.${ident("__raw_" + c.plan.name)}`).join(", ")}, ${carry} FROM present s
    ), ranked AS (
      SELECT *${ranks.length ? ", " + ranks.join(", ") : ""} FROM base
    )
    SELECT ${cols.map((c) => `s.${ident(c.plan.name)}`).join(", ")}, ${carry}, ${failed} AS __failed
    FROM ranked s`;
  return { sql, rules: checks.map((c) => c.name) };
}
