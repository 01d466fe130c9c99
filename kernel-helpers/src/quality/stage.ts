import { ident, literal } from "../catalog/sql.js";
import { canonicalSql, isText, parsedSql, presentSql, type ColumnPlan } from "./parse.js";
import { failureSql, laterColumn, parseRuleName, ruleName, type Rule } from "./rules.js";

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
  /**
   * Carried columns that order the rows: of two rows with the same unique key, the first stays clean and later ones
   * fail. Together they identify a row (a bronze batch and line, a partition and offset).
   */
  readonly order: readonly string[];
  /**
   * Keep each failing row's source row as JSON (`__row_data`), as the quarantine records it: a few failing rows then
   * need no second read of the whole source, which at 10M rows cost more than staging them.
   */
  readonly rowData?: boolean;
}

/**
 * The one way a batch becomes silver, shared by refine() and the live refresh: parse every declared column strictly,
 * find later duplicates, evaluate every rule, in one pass. The SELECT gives the typed columns, the carried ones, and
 * `__failed`, the names of the rules a row fails (empty: clean). `rules` lists every name, parse rules included.
 */
export function stageSql(spec: StageSpec): { sql: string; rules: string[] } {
  const missing = spec.order.filter((c) => !spec.carry.includes(c));
  if (missing.length) throw new Error(`stageSql: order columns ${missing.join(", ")} must be carried`);
  const cols = spec.columns.map((c) => ({ ...c, ...steps(c.plan, c.rawType) }));
  const carried = spec.carry.map((c) => `s.${ident(c)}`);
  const carry = [...carried, ...(spec.rowData ? ["s.__row"] : [])].join(", ");
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

  // Duplicates without ranking every row (a window over the whole batch is the costliest step at scale): the keys seen
  // more than once are found on the key column alone, only their rows are ranked, and each row is then compared with
  // its key's first row. A row with exactly the first row's order (it cannot be told from it) fails too.
  const uniques = [...new Set(spec.rules.filter((r) => r.kind === "unique").map((r) => r.column))];
  const order = spec.order.map((c) => ident(c)).join(", ");
  const firsts = uniques.map((column, i) => {
    const c = cols.find((x) => x.plan.name === column);
    if (!c) throw new Error(`stageSql: unique column ${column} is not declared`);
    const keys = `SELECT k, ${order} FROM (SELECT ${c.parsed("p", "ok", "t")} AS k, ${order} FROM (
        SELECT ${c.present("i", "ok")} AS p${c.canonical ? ", ok, t" : ""}, ${order} FROM (
        SELECT i${c.canonical ? `, ${c.canonical("i", "t")} AS ok, t` : ""}, ${order} FROM (
        SELECT i${c.canonical ? `, TRY_CAST(i AS ${c.plan.type}) AS t` : ""}, ${order} FROM (SELECT ${c.input} AS i, ${order} FROM ${spec.from}) s) s) s) s) s WHERE k IS NOT NULL`;
    return {
      name: `__first_${i}`,
      later: laterColumn(column),
      key: `s.${ident(column)}`,
      sql: `__first_${i} AS (SELECT k, o, same FROM (
          SELECT k, row(${order}) AS o, row_number() OVER (PARTITION BY k ORDER BY ${order}) AS rn,
                 count(*) OVER (PARTITION BY k, ${order}) AS same
          FROM (${keys}) d WHERE k IN (SELECT k FROM (${keys}) GROUP BY k HAVING count(*) > 1)) WHERE rn = 1)`,
    };
  });
  const later = firsts.map((f) => `(${f.name}.k IS NOT NULL AND (row(${spec.order.map((c) => `s.${ident(c)}`).join(", ")}) IS DISTINCT FROM ${f.name}.o OR ${f.name}.same > 1)) AS ${ident(f.later)}`);
  const joins = firsts.map((f) => `LEFT JOIN ${f.name} ON ${f.name}.k = ${f.key}`).join(" ");

  const col = (prefix: string, c: { plan: ColumnPlan }) => `s.${ident(prefix + c.plan.name)}`;
  const sql = `WITH src AS (
      SELECT ${cols.map((c) => `${c.input} AS ${ident("__in_" + c.plan.name)}`).join(", ")}, ${[...carried, ...(spec.rowData ? ["s AS __row"] : [])].join(", ")} FROM ${spec.from}
    ), casts AS (
      SELECT *${cols.filter((c) => c.canonical).map((c) => `, TRY_CAST(${col("__in_", c)} AS ${c.plan.type}) AS ${ident("__cast_" + c.plan.name)}`).join("")} FROM src s
    ), checks AS (
      SELECT *${cols.filter((c) => c.canonical).map((c) => `, ${c.canonical!(col("__in_", c), col("__cast_", c))} AS ${ident("__ok_" + c.plan.name)}`).join("")} FROM casts s
    ), present AS (
      SELECT ${cols.map((c) => `${c.present(col("__in_", c), col("__ok_", c))} AS ${ident("__raw_" + c.plan.name)}${c.canonical
        ? `, ${col("__ok_", c)}, ${col("__cast_", c)}` : ""}`).join(", ")}, ${carry} FROM checks s
    ), base AS (
      SELECT ${cols.map((c) => `${c.parsed(col("__raw_", c), col("__ok_", c), col("__cast_", c))} AS ${ident(c.plan.name)}, ${col("__raw_", c)}`).join(", ")}, ${carry} FROM present s
    )${firsts.map((f) => `, ${f.sql}`).join("")}, ranked AS (
      SELECT s.*${later.length ? ", " + later.join(", ") : ""} FROM base s ${joins}
    )
    , checked AS (
      SELECT ${cols.map((c) => `s.${ident(c.plan.name)}`).join(", ")}, ${carry}, ${failed} AS __failed FROM ranked s
    )
    SELECT ${spec.rowData ? "* EXCLUDE (__row), CASE WHEN len(__failed) > 0 THEN to_json(__row) END AS __row_data" : "*"} FROM checked`;
  return { sql, rules: checks.map((c) => c.name) };
}

/**
 * A column's steps as SQL: its bronze value; that value as it counts (blank is missing); its typed value. A value
 * already in the type's canonical form (`ok`, a column computed once from `canonical`) skips the patterns of the
 * last two steps and reads as its cast.
 */
function steps(plan: ColumnPlan, rawType: string) {
  const canonical = canonicalSql(plan, rawType);
  return {
    input: plan.rawExpr,
    canonical,
    present: (input: string, ok: string) => {
      const sql = presentSql(plan, input, isText(rawType));
      return canonical && sql !== input ? `CASE WHEN ${ok} THEN ${input} ELSE ${sql} END` : sql;
    },
    parsed: (present: string, ok: string, cast: string) => {
      const sql = parsedSql(plan, present, rawType);
      return canonical ? `CASE WHEN ${ok} THEN ${cast} ELSE ${sql} END` : sql;
    },
  };
}
