import { randomUUID } from "node:crypto";
import { LAKE } from "../catalog/catalog.js";
import { ident, isPlainName, literal, parseTableName, qualified, type TableName } from "../catalog/sql.js";
import { CatalogError, CheckFailedError, QualityError } from "../errors.js";
import type { Lab } from "../lab.js";
import { CUSTOMER_SCORES } from "../ml/scores.js";
import { ACTIVE_USERS_PER_MINUTE, REVENUE_PER_MINUTE } from "../stream/live-tables.js";
import { commitInfo, snapshotOf } from "./merge.js";
import { checkKeys, drop, plainNames, sentence, sourceColumn, stageSource, type Staged } from "./staging.js";

export interface Scd2Spec {
  /** The current state of the entities, one row per key: a table (e.g. "silver.crm_customers") or a query. */
  readonly source: string;
  /** The dimension to keep, in gold, e.g. "gold.dim_crm_customer"; created on the first build. */
  readonly target: string;
  /** The natural key, e.g. "customer_id". */
  readonly key: string;
  /** The attributes whose history is kept: a change in one of them closes the current version and opens a new one. */
  readonly tracked: readonly string[];
  /**
   * When a new version takes effect: a DATE or TIMESTAMP column of the source (e.g. "updated_at", the time the
   * source system recorded the change), or one date or timestamp for the whole build ("2025-02-28",
   * "2025-02-28 23:59:59"). Default: the time of the build.
   */
  readonly effectiveFrom?: string;
}

export interface Scd2Report {
  readonly target: string;
  /** Keys seen for the first time: each got its first version. */
  readonly newKeys: number;
  /** Keys whose tracked attributes changed: current version closed, new current version added. */
  readonly changed: number;
  /** Keys where only untracked attributes changed: corrected in their current version (type 1), no new version. */
  readonly updatedInPlace: number;
  readonly unchanged: number;
  /** The snapshot this build committed; null when nothing changed (then nothing was committed). */
  readonly snapshotId: number | null;
  readonly seconds: number;
}

export interface Scd2Summary {
  readonly table: string;
  readonly keys: number;
  readonly rows: number;
  /** Rows with is_current: one per key. */
  readonly current: number;
  /** Closed versions (valid_to set). */
  readonly closed: number;
}

/**
 * The dimension's bookkeeping columns. valid_to is NULL on the current version rather than a far-future date
 * ('9999-12-31'): "not ended" is not a date, so min/max over valid_to and date arithmetic stay honest, and the
 * point-in-time join says what it means (`valid_to IS NULL OR order_date < valid_to`). is_current repeats it
 * for readable filters; checkScd2 checks the two agree.
 */
const VALID_FROM = "valid_from";
const VALID_TO = "valid_to";
const IS_CURRENT = "is_current";
/** Gold tables other steps maintain. */
const MAINTAINED = [CUSTOMER_SCORES, REVENUE_PER_MINUTE, ACTIVE_USERS_PER_MINUTE];
const INSTANT = /^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?$/;

/** The surrogate key's column: customer_id → customer_sk, sku → sku_sk. */
export function surrogateKeyOf(key: string): string {
  return /_id$/i.test(key) ? `${key.slice(0, -3)}_sk` : `${key}_sk`;
}

/**
 * Keep a type 2 slowly changing dimension of `source` in `target`, incrementally, in one transaction: a new key
 * gets its first version; a key whose tracked attributes changed gets its current version closed (valid_to = the
 * new version's valid_from, is_current = false) and a new current version; a key where only other attributes
 * changed is corrected in its current version; unchanged keys are not touched. Building again from the same
 * source changes nothing and commits no snapshot. A key missing from the source keeps its current version (the
 * source is a full export without deletions).
 *
 * Columns: `<key>_sk` (surrogate key, BIGINT, never reused), the key, the source's attributes (ingestion columns
 * left out), valid_from and valid_to (TIMESTAMP; valid_to NULL while current), is_current.
 */
export async function buildScd2(lab: Lab, spec: Scd2Spec): Promise<Scd2Report> {
  const started = performance.now();
  if (typeof spec !== "object" || spec === null) {
    throw new QualityError(`buildScd2 needs a spec object { source, target, key, tracked }.`, { fix: "See the function's documentation for an example." });
  }
  const target = dimensionName(spec.target);
  const targetName = `${target.schema}.${target.table}`;
  const [key] = plainNames(spec.key, "key", targetName);
  if (Array.isArray(spec.key) && spec.key.length > 1) {
    throw new QualityError("buildScd2 keeps a dimension by one natural key column.", {
      fix: "Combine the columns into one key in the source query (e.g. concat_ws('|', a, b) AS entity_key).",
      context: { table: targetName, option: "key" },
    });
  }
  const tracked = plainNames(spec.tracked, "tracked", targetName);
  const sk = surrogateKeyOf(key!);
  const effective = effectiveFromOf(spec.effectiveFrom, targetName);
  if (effective.kind === "instant" && (await lab.sql("SELECT try_cast(? AS TIMESTAMP) IS NULL", [effective.at])).scalar() === true) {
    throw new QualityError(`effectiveFrom ${JSON.stringify(spec.effectiveFrom)} is not a date that exists.`, {
      fix: 'Use an existing date, e.g. "2025-02-28".', context: { table: targetName, option: "effectiveFrom" },
    });
  }
  return lab.catalog.exclusive(targetName, () => lab.catalog.session(async () => {
    let staged: Staged | undefined;
    let classified: string | undefined;
    try {
      staged = await stageSource(lab, spec.source, targetName, "versioned");
      const keyCol = sourceColumn(staged, key!, "key", targetName);
      const trackedCols = tracked.map((c) => sourceColumn(staged!, c, "tracked", targetName));
      if (trackedCols.includes(keyCol)) {
        throw new QualityError(`The key ${keyCol.name} cannot also be tracked: a version is of one key.`, {
          fix: `Leave ${keyCol.name} out of tracked.`, context: { table: targetName, column: keyCol.name },
        });
      }
      const lineage = [...staged.lineage.values()];
      const ingestion = trackedCols.find((c) => lineage.includes(c.name));
      if (ingestion) {
        throw new QualityError(`${ingestion.name} is an ingestion column, different on every load; tracking it would version every row each time.`, {
          fix: `Leave ${ingestion.name} out of tracked.`, context: { table: targetName, column: ingestion.name },
        });
      }
      const attributes = staged.columns.filter((c) => c !== keyCol && !lineage.includes(c.name));
      for (const reserved of [sk, VALID_FROM, VALID_TO, IS_CURRENT]) {
        const clash = staged.columns.find((c) => c.name.toLowerCase() === reserved.toLowerCase());
        if (clash) {
          throw new QualityError(`${sentence(staged.label)} has a column ${clash.name}, which the dimension keeps itself.`, {
            fix: `Rename or drop it in the source query (SELECT * EXCLUDE (${clash.name}) …).`,
            context: { table: targetName, column: clash.name },
          });
        }
      }
      const from = effectiveSql(effective, staged, targetName);
      // The build's instant is a bound value, given to the statements that read it.
      const params = effective.kind === "column" ? undefined : { effective_from: effective.at };
      await checkKeys(lab, staged, [keyCol.name], targetName, "versioned");
      const undated = (await lab.sql(`SELECT count(*) AS n, list(${ident(keyCol.name)}::VARCHAR ORDER BY ${ident(keyCol.name)})[1:5] AS keys
        FROM ${staged.table} s WHERE ${from} IS NULL`, params)).rows()[0]!;
      if (Number(undated["n"]) > 0) {
        throw new QualityError(`${Number(undated["n"]) === 1 ? "1 row" : `${Number(undated["n"])} rows`} of ${staged.label} ${Number(undated["n"]) === 1 ? "has" : "have"} no ${spec.effectiveFrom} (${keyCol.name} ${(undated["keys"] as string[]).join(", ")}): a version needs the time it starts; nothing was versioned.`, {
          fix: `Fill ${spec.effectiveFrom} in the source, or pass one date for the build, e.g. effectiveFrom: "2025-02-28".`,
          context: { table: targetName, column: spec.effectiveFrom, key: keyCol.name },
        });
      }

      const created = !(await lab.catalog.tableExists(targetName));
      const types = created
        ? new Map(staged.columns.map((c) => [c.name.toLowerCase(), c.type]))
        : await dimensionTypes(lab, targetName, [keyCol, ...attributes], sk);
      // A source value as the dimension stores it (the type comes from DuckDB's catalog), compared and written alike.
      const value = (c: { name: string; type: string }, alias = "s") => {
        const stored = types.get(c.name.toLowerCase())!;
        return stored === c.type ? `${alias}.${ident(c.name)}` : `CAST(${alias}.${ident(c.name)} AS ${stored})`;
      };
      const other = attributes.filter((c) => !trackedCols.includes(c));
      const differ = (cols: readonly { name: string; type: string }[]) =>
        cols.length ? cols.map((c) => `d.${ident(c.name)} IS DISTINCT FROM ${value(c)}`).join(" OR ") : "false";
      const t = qualified(target);
      const k = ident(keyCol.name);
      const run = randomUUID();
      classified = `temp.main.${ident(`scd2_${run.replaceAll("-", "").slice(0, 12)}`)}`;

      const counts = await lab.catalog.transaction(async () => {
        if (created) {
          await lab.catalog.run(`CREATE TABLE ${t} AS SELECT 0::BIGINT AS ${ident(sk)}, ${k}, ${attributes.map((c) => ident(c.name)).join(", ")}${attributes.length ? ", " : ""}
            NULL::TIMESTAMP AS ${VALID_FROM}, NULL::TIMESTAMP AS ${VALID_TO}, NULL::BOOLEAN AS ${IS_CURRENT} FROM ${staged!.table} LIMIT 0`);
        } else {
          await checkCurrentVersions(lab, t, targetName, k, keyCol.name);
        }
        // What happens to each source key, decided once against the current versions, and used by every statement below.
        await lab.catalog.run(`CREATE TEMP TABLE ${classified!.slice("temp.main.".length)} AS
          SELECT s.*, ${from} AS __from, d.${ident(sk)} AS __sk, d.${VALID_FROM} AS __current_from,
                 CASE WHEN d.${ident(sk)} IS NULL THEN 'new' WHEN ${differ(trackedCols)} THEN 'changed'
                      WHEN ${differ(other)} THEN 'in_place' ELSE 'unchanged' END AS __kind
          FROM ${staged!.table} s LEFT JOIN (SELECT * FROM ${t} WHERE ${IS_CURRENT}) d ON d.${k} = ${value(keyCol)}`, params);
        const row = (await lab.sql(`SELECT count(*) FILTER (__kind = 'new') AS new, count(*) FILTER (__kind = 'changed') AS changed,
            count(*) FILTER (__kind = 'in_place') AS in_place, count(*) FILTER (__kind = 'unchanged') AS unchanged FROM ${classified}`)).rows()[0]!;
        const n = { newKeys: Number(row["new"]), changed: Number(row["changed"]), updatedInPlace: Number(row["in_place"]), unchanged: Number(row["unchanged"]) };
        if (n.newKeys + n.changed + n.updatedInPlace === 0 && !created) return n;

        const early = await lab.sql(`SELECT ${k}::VARCHAR AS k, __from::VARCHAR AS from, __current_from::VARCHAR AS current_from FROM ${classified}
          WHERE __kind = 'changed' AND __from <= __current_from ORDER BY ${k} LIMIT 5`);
        if (early.numRows > 0) {
          const list = early.rows().map((r) => `${String(r["k"])} from ${String(r["from"])} (current since ${String(r["current_from"])})`).join(", ");
          throw new QualityError(`A new version must start after the one it replaces, but ${keyCol.name} ${list} would not; nothing was versioned.`, {
            fix: spec.effectiveFrom === undefined || INSTANT.test(spec.effectiveFrom)
              ? "Use a later effectiveFrom for this build, or a column holding when each change happened."
              : `Check ${spec.effectiveFrom} in the source: it must move forward when ${tracked.join(", ")} change.`,
            context: { table: targetName, key: keyCol.name, value: String(early.rows()[0]!["k"]) },
          });
        }
        await lab.catalog.run(`CALL ducklake_set_commit_message(${literal(LAKE)}, ?, ?, extra_info => ?)`, [
          "dataflow-lab", `buildScd2 ${targetName}: ${n.newKeys} new keys, ${n.changed} changed, ${n.updatedInPlace} updated in place`, commitInfo(run, targetName),
        ]);
        const closed = n.changed === 0 ? 0 : await lab.catalog.run(`UPDATE ${t} AS d SET ${VALID_TO} = c.__from, ${IS_CURRENT} = false
          FROM ${classified} c WHERE d.${ident(sk)} = c.__sk AND c.__kind = 'changed'`);
        const corrected = n.updatedInPlace === 0 ? 0 : await lab.catalog.run(`UPDATE ${t} AS d SET ${other.map((c) => `${ident(c.name)} = ${value(c, "c")}`).join(", ")}
          FROM ${classified} c WHERE d.${ident(sk)} = c.__sk AND c.__kind = 'in_place'`);
        const added = n.newKeys + n.changed === 0 ? 0 : await lab.catalog.run(`INSERT INTO ${t} (${ident(sk)}, ${k}, ${attributes.map((c) => ident(c.name)).join(", ")}${attributes.length ? ", " : ""}${VALID_FROM}, ${VALID_TO}, ${IS_CURRENT})
          SELECT (SELECT coalesce(max(${ident(sk)}), 0) FROM ${t}) + row_number() OVER (ORDER BY s.${k}), ${[keyCol, ...attributes].map((c) => value(c)).join(", ")}, s.__from, NULL, true
          FROM ${classified} s WHERE s.__kind IN ('new', 'changed')`);
        if (closed !== n.changed || corrected !== n.updatedInPlace || added !== n.newKeys + n.changed) {
          throw new CatalogError(`buildScd2 of ${targetName} closed ${closed}, corrected ${corrected} and added ${added} rows, but the classification counted `
            + `${n.changed} changed, ${n.updatedInPlace} in place and ${n.newKeys} new keys; nothing was versioned.`, {
            fix: "Run checkScd2 on the dimension and report this; the build was rolled back.",
            context: { table: targetName },
          });
        }
        return n;
      });
      const wrote = created || counts.newKeys + counts.changed + counts.updatedInPlace > 0;
      return { target: targetName, ...counts, snapshotId: wrote ? await snapshotOf(lab, run, targetName) : null, seconds: (performance.now() - started) / 1000 };
    } finally {
      if (classified) await lab.catalog.run(`DROP TABLE IF EXISTS ${classified}`).catch(() => undefined);
      await drop(lab, staged);
    }
  }));
}

export function describeScd2(r: Scd2Report): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const counts = `${n(r.newKeys)} new key(s), ${n(r.changed)} changed (new version), ${n(r.updatedInPlace)} updated in place, ${n(r.unchanged)} unchanged`;
  if (r.snapshotId === null) return `${r.target}: nothing changed (${counts}); no snapshot committed, in ${r.seconds.toFixed(2)}s`;
  return `${r.target}: ${counts} (snapshot ${r.snapshotId}) in ${r.seconds.toFixed(2)}s`;
}

/**
 * Check a type 2 dimension: every key has exactly one current row; is_current agrees with valid_to IS NULL; each
 * version ends after it starts; a key's versions follow each other without overlap or gap (each valid_to is the
 * next valid_from); the surrogate key, when there is one, is unique. Throws CheckFailedError naming the keys that
 * break a rule; returns counts otherwise.
 */
export async function checkScd2(lab: Lab, table: string, key: string): Promise<Scd2Summary> {
  const name = parseTableName(table);
  const tableName = `${name.schema}.${name.table}`;
  if (typeof key !== "string" || !isPlainName(key)) {
    throw new QualityError(`${JSON.stringify(key)} is not a column name.`, { fix: 'Pass the natural key, e.g. "customer_id".', context: { table: tableName, option: "key" } });
  }
  if (!(await lab.catalog.tableExists(tableName))) {
    throw new QualityError(`${tableName} does not exist.`, { fix: "Build it first with buildScd2().", context: { table: tableName } });
  }
  const have = new Set((await lab.catalog.columns(tableName)).map((c) => c.name.toLowerCase()));
  const missing = [key, VALID_FROM, VALID_TO, IS_CURRENT].filter((c) => !have.has(c.toLowerCase()));
  if (missing.length) {
    throw new QualityError(`${tableName} has no column ${missing.join(", ")}: it is not a type 2 dimension keyed by ${key}.`, {
      fix: `Check the table and the key; a dimension built by buildScd2 has ${key}, ${VALID_FROM}, ${VALID_TO} and ${IS_CURRENT}.`,
      context: { table: tableName, column: missing.join(", ") },
    });
  }
  const t = qualified(name);
  const k = ident(key);
  const sk = surrogateKeyOf(key);
  const rules: [rule: string, sql: string][] = [
    ["a key without a row, or a row without valid_from", `SELECT ${k}::VARCHAR AS k FROM ${t} WHERE ${k} IS NULL OR ${VALID_FROM} IS NULL`],
    ["not exactly one current row", `SELECT ${k}::VARCHAR || ' (' || count(*) FILTER (${IS_CURRENT}) || ' current)' AS k FROM ${t}
       WHERE ${k} IS NOT NULL GROUP BY ${k} HAVING count(*) FILTER (${IS_CURRENT}) <> 1`],
    ["is_current disagrees with valid_to", `SELECT DISTINCT ${k}::VARCHAR AS k FROM ${t}
       WHERE ${IS_CURRENT} IS NULL OR (${IS_CURRENT} AND ${VALID_TO} IS NOT NULL) OR (NOT ${IS_CURRENT} AND ${VALID_TO} IS NULL)`],
    ["a version that ends before it starts", `SELECT DISTINCT ${k}::VARCHAR AS k FROM ${t} WHERE ${VALID_TO} <= ${VALID_FROM}`],
    ["overlapping versions", `SELECT DISTINCT k FROM (SELECT ${k}::VARCHAR AS k, ${VALID_TO} AS upto,
         lead(${VALID_FROM}) OVER (PARTITION BY ${k} ORDER BY ${VALID_FROM}, ${VALID_TO} NULLS LAST) AS next FROM ${t})
       WHERE next IS NOT NULL AND (upto IS NULL OR upto > next)`],
    ["a gap between versions", `SELECT DISTINCT k FROM (SELECT ${k}::VARCHAR AS k, ${VALID_TO} AS upto,
         lead(${VALID_FROM}) OVER (PARTITION BY ${k} ORDER BY ${VALID_FROM}, ${VALID_TO} NULLS LAST) AS next FROM ${t})
       WHERE next IS NOT NULL AND upto < next`],
  ];
  if (have.has(sk.toLowerCase())) {
    rules.push([`a repeated or missing ${sk}`, `SELECT DISTINCT ${k}::VARCHAR AS k FROM ${t}
      WHERE ${ident(sk)} IS NULL OR ${ident(sk)} IN (SELECT ${ident(sk)} FROM ${t} GROUP BY ALL HAVING count(*) > 1)`]);
  }
  const broken: { rule: string; keys: string[]; total: number }[] = [];
  for (const [rule, sql] of rules) {
    const r = await lab.sql(`SELECT list(k ORDER BY k)[1:5] AS keys, count(*) AS n FROM (${sql})`);
    const n = Number(r.rows()[0]!["n"]);
    if (n > 0) broken.push({ rule, keys: (r.rows()[0]!["keys"] as (string | null)[]).map((x) => x ?? "NULL"), total: n });
  }
  if (broken.length) {
    const text = broken.map((b) => `${b.rule}: ${key} ${b.keys.join(", ")}${b.total > b.keys.length ? ` and ${b.total - b.keys.length} more` : ""}`).join("; ");
    throw new CheckFailedError(`Check failed: ${tableName} is not a valid type 2 dimension — ${text}.`, {
      fix: `Look at those keys' versions: SELECT * FROM ${tableName} WHERE ${key} = … ORDER BY ${VALID_FROM}. A dimension kept by buildScd2 only changes through it.`,
      context: { table: tableName, key, keys: broken[0]!.keys.join(", "), rule: broken[0]!.rule },
    });
  }
  const s = (await lab.sql(`SELECT count(DISTINCT ${k}) AS keys, count(*) AS rows, count(*) FILTER (${IS_CURRENT}) AS current,
      count(*) FILTER (${VALID_TO} IS NOT NULL) AS closed FROM ${t}`)).rows()[0]!;
  return { table: tableName, keys: Number(s["keys"]), rows: Number(s["rows"]), current: Number(s["current"]), closed: Number(s["closed"]) };
}

type Effective = { kind: "now"; at: string } | { kind: "instant"; at: string } | { kind: "column"; name: string };

function effectiveFromOf(value: unknown, table: string): Effective {
  // The build time, in UTC like the lab's other timestamps, as one value for every row of the build.
  if (value === undefined) return { kind: "now", at: new Date().toISOString().replace("T", " ").replace("Z", "") };
  if (typeof value === "string" && INSTANT.test(value)) return { kind: "instant", at: value.replace("T", " ") };
  if (typeof value === "string" && isPlainName(value)) return { kind: "column", name: value };
  throw new QualityError(`effectiveFrom ${JSON.stringify(value)} is neither a column name nor a date.`, {
    fix: 'Pass a DATE or TIMESTAMP column of the source (e.g. "updated_at") or a date such as "2025-02-28" or "2025-02-28 23:59:59".',
    context: { table, option: "effectiveFrom" },
  });
}

/** valid_from of each staged row (`s.` alias) as a TIMESTAMP expression. */
function effectiveSql(e: Effective, staged: Staged, table: string): string {
  if (e.kind !== "column") return "CAST($effective_from AS TIMESTAMP)";
  const col = sourceColumn(staged, e.name, "effectiveFrom", table);
  const c = `s.${ident(col.name)}`;
  if (col.type === "DATE" || col.type === "TIMESTAMP") return `CAST(${c} AS TIMESTAMP)`;
  if (col.type === "TIMESTAMP WITH TIME ZONE") return `timezone('UTC', ${c})`;
  throw new QualityError(`effectiveFrom ${col.name} is ${col.type}; a version starts at a DATE or TIMESTAMP.`, {
    fix: `Cast it in the source query, e.g. SELECT *, ${col.name}::TIMESTAMP AS ${col.name} …, or refine it into a typed silver column.`,
    context: { table, column: col.name },
  });
}

function dimensionName(target: unknown): TableName {
  const name = parseTableName(String(target), "dimension table");
  if (name.schema.toLowerCase() !== "gold") {
    throw new QualityError(`A type 2 dimension is a gold table, not ${String(target)}.`, {
      fix: `Use target: "gold.${name.table}".`,
      context: { table: String(target), option: "target" },
    });
  }
  if (MAINTAINED.includes(`gold.${name.table.toLowerCase()}`)) {
    throw new QualityError(`gold.${name.table} is maintained by another step of the lab.`, {
      fix: `Choose another name, e.g. "gold.dim_${name.table.toLowerCase()}".`, context: { table: String(target), option: "target" },
    });
  }
  return { schema: "gold", table: name.table };
}

/** The dimension's stored types, refusing one that lacks the bookkeeping columns or an attribute of the source. */
async function dimensionTypes(lab: Lab, table: string, columns: readonly { name: string }[], sk: string): Promise<Map<string, string>> {
  const have = new Map((await lab.catalog.columns(table)).map((c) => [c.name.toLowerCase(), c.type]));
  const missing = [...columns.map((c) => c.name), sk, VALID_FROM, VALID_TO, IS_CURRENT].filter((c) => !have.has(c.toLowerCase()));
  if (missing.length) {
    throw new QualityError(`${table} has no column ${missing.join(", ")}; nothing was versioned.`, {
      fix: `If ${table} is a dimension of this source, add the column first (ALTER TABLE ${table} ADD COLUMN ${missing[0]} <type>); otherwise choose another target.`,
      context: { table, column: missing.join(", ") },
    });
  }
  return have;
}

/** A dimension whose key has no or several current versions cannot be extended safely: refuse, pointing at checkScd2. */
async function checkCurrentVersions(lab: Lab, t: string, table: string, k: string, key: string): Promise<void> {
  const bad = await lab.sql(`SELECT list(${k}::VARCHAR ORDER BY ${k})[1:5] AS keys, count(*) AS n FROM (
    SELECT ${k} FROM ${t} GROUP BY ${k} HAVING count(*) FILTER (${IS_CURRENT}) <> 1)`);
  const n = Number(bad.rows()[0]!["n"]);
  if (n === 0) return;
  throw new CheckFailedError(`${table} has ${n} ${key}(s) without exactly one current version (${(bad.rows()[0]!["keys"] as string[]).join(", ")}); nothing was versioned.`, {
    fix: `Run checkScd2(lab, "${table}", "${key}") to see what is wrong, repair or rebuild the dimension (DROP TABLE ${table}, then buildScd2 from the source), and build again.`,
    context: { table, key },
  });
}
