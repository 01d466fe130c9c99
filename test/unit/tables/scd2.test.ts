import { test } from "node:test";
import assert from "node:assert/strict";
import { CheckFailedError, QualityError, type Lab } from "../../../kernel-helpers/src/index.js";
import { mergeInto } from "../../../kernel-helpers/src/tables/merge.js";
import { buildScd2, checkScd2, describeScd2, type Scd2Spec } from "../../../kernel-helpers/src/tables/scd2.js";
import type { CrmManifest } from "../../../data/generate.js";
import { withLab } from "../helpers.js";
import { crmManifest, fileRows, ingestExports, samplePath, snapshotCount } from "./crm.js";

const DIM = "gold.dim_crm_customer";
const KEY = "customer_id";
const SPEC: Scd2Spec = { source: "silver.crm_customers", target: DIM, key: KEY, tracked: ["email", "street", "city", "state"], effectiveFrom: "updated_at" };

/**
 * Both exports merged into silver, with the dimension built after each merge, as the notebook does. The exports are
 * read straight from their files (merge.test.ts goes through bronze), which keeps this file fast.
 */
async function buildStory(lab: Lab, crm: CrmManifest) {
  await mergeInto(lab, { target: "silver.crm_customers", source: fileRows(crm, "initial"), key: KEY });
  const first = await buildScd2(lab, SPEC);
  const afterFirst = await checkScd2(lab, DIM, KEY);
  await mergeInto(lab, { target: "silver.crm_customers", source: fileRows(crm, "next"), key: KEY });
  const second = await buildScd2(lab, SPEC);
  return { first, afterFirst, second };
}

test("built after each merge, the dimension has a version per customer plus one per change, and passes checkScd2", async () => {
  const crm = await crmManifest();
  await withLab(async (lab) => {
    const { first, afterFirst, second } = await buildStory(lab, crm);
    assert.deepEqual([first.newKeys, first.changed, first.updatedInPlace, first.unchanged], [crm.expected.initial, 0, 0, 0]);
    assert.deepEqual(afterFirst, { table: DIM, keys: crm.expected.initial, rows: crm.expected.initial, current: crm.expected.initial, closed: 0 });
    const { dimension } = crm.expected;
    assert.deepEqual([second.newKeys, second.changed, second.updatedInPlace, second.unchanged],
      [crm.expected.inserted, dimension.closed, crm.expected.updated - dimension.closed, crm.expected.unchanged]);
    assert.match(describeScd2(second), new RegExp(`${crm.expected.inserted} new key\\(s\\), ${dimension.closed} changed .*\\(snapshot ${second.snapshotId}\\)`));
    assert.deepEqual(await checkScd2(lab, DIM, KEY), { table: DIM, keys: crm.expected.afterMerge, ...dimension });
    assert.deepEqual((await lab.catalog.columns(DIM)).map((c) => `${c.name} ${c.type}`), [
      "customer_sk BIGINT", "customer_id INTEGER", "name VARCHAR", "email VARCHAR", "street VARCHAR", "city VARCHAR", "state VARCHAR",
      "updated_at TIMESTAMP", "valid_from TIMESTAMP", "valid_to TIMESTAMP", "is_current BOOLEAN",
    ]);

    // Each changed customer: the January row, closed when the February row starts (its updated_at), then the February row, current.
    const versions = (file: "initial" | "next", where: string) => `SELECT d.customer_id FROM ${DIM} d JOIN (${fileRows(crm, file)}) f USING (customer_id)
      WHERE d.customer_id IN (${crm.expected.updatedKeys.join(", ")}) AND ${where}
        AND (d.name, d.email, d.street, d.city, d.state, d.updated_at) = (f.name, f.email, f.street, f.city, f.state, f.updated_at) ORDER BY 1`;
    const ids = async (sql: string) => (await lab.sql(sql)).column(KEY).map(Number);
    assert.deepEqual(await ids(versions("initial", "NOT d.is_current AND d.valid_from = f.updated_at")), crm.expected.updatedKeys);
    assert.deepEqual(await ids(versions("next", "d.is_current AND d.valid_to IS NULL AND d.valid_from = f.updated_at")), crm.expected.updatedKeys);
    assert.equal((await lab.sql(`SELECT count(*) FROM ${DIM} o JOIN ${DIM} n ON o.customer_id = n.customer_id AND NOT o.is_current AND n.is_current
      WHERE o.valid_to = n.valid_from`)).number(), dimension.closed, "a closed version ends exactly where the next one starts");
    assert.equal((await lab.sql(`SELECT count(DISTINCT customer_sk) FROM ${DIM}`)).number(), dimension.rows, "one surrogate key per version");
  });
});

test("building again from the same source changes nothing and commits no snapshot", async () => {
  const crm = await crmManifest();
  await withLab(async (lab) => {
    const { second } = await buildStory(lab, crm);
    const snapshots = await snapshotCount(lab);
    const rows = JSON.stringify((await lab.sql(`SELECT * FROM ${DIM} ORDER BY customer_sk`)).rows());
    const again = await buildScd2(lab, SPEC);
    assert.deepEqual([again.newKeys, again.changed, again.updatedInPlace, again.unchanged, again.snapshotId], [0, 0, 0, crm.expected.afterMerge, null]);
    assert.equal(await snapshotCount(lab), snapshots);
    assert.equal(await lab.catalog.currentSnapshot(), second.snapshotId);
    assert.equal(JSON.stringify((await lab.sql(`SELECT * FROM ${DIM} ORDER BY customer_sk`)).rows()), rows);
    assert.match(describeScd2(again), /nothing changed .* no snapshot committed/);
  });
});

test("an order joins to the customer version valid on its order date: before the e-mail change it sees the old e-mail", async () => {
  const crm = await crmManifest();
  await withLab(async (lab) => {
    await buildStory(lab, crm);
    await lab.sql(`CREATE TABLE silver.crm_orders AS SELECT order_id::INTEGER AS order_id, customer_id::INTEGER AS customer_id,
      order_date::DATE AS order_date, amount::DECIMAL(10,2) AS amount FROM read_csv('${samplePath(crm, "orders")}', all_varchar = true)`);
    const pointInTime = `SELECT o.order_id, o.customer_id, o.order_date, d.customer_sk, d.email, d.city, d.is_current, d.valid_from
      FROM silver.crm_orders o JOIN ${DIM} d
        ON d.customer_id = o.customer_id AND o.order_date >= d.valid_from AND (d.valid_to IS NULL OR o.order_date < d.valid_to)`;
    const joined = await lab.sql(`SELECT count(*) AS n, count(DISTINCT order_id) AS orders FROM (${pointInTime})`);
    assert.deepEqual(joined.rows()[0], { n: crm.files.orders.rows, orders: crm.files.orders.rows }, "every order finds exactly one version");

    const changed = crm.expected.updatedKeys.join(", ");
    const seen = (await lab.sql(`SELECT count(*) FILTER (NOT is_current) AS old, count(*) FILTER (is_current) AS new
      FROM (${pointInTime}) WHERE customer_id IN (${changed})`)).rows()[0]!;
    assert.deepEqual(seen, { old: crm.expected.ordersBeforeChange, new: crm.expected.ordersAfterChange });

    // One customer whose e-mail changed: the order before the change carries the January e-mail, the one after February's.
    const example = (await lab.sql(`SELECT j.customer_id, j.order_id, j.order_date::VARCHAR AS order_date, j.email, a.email AS january, b.email AS february
      FROM (${pointInTime}) j JOIN (${fileRows(crm, "initial")}) a USING (customer_id) JOIN (${fileRows(crm, "next")}) b USING (customer_id)
      WHERE a.email <> b.email ORDER BY j.customer_id, j.order_date`)).rows();
    const customer = example[0]!["customer_id"];
    const mine = example.filter((r) => r["customer_id"] === customer);
    const change = String((await lab.sql(`SELECT valid_from::DATE::VARCHAR FROM ${DIM} WHERE customer_id = ? AND is_current`, [Number(customer)])).scalar());
    const before = mine.filter((r) => String(r["order_date"]) < change);
    const after = mine.filter((r) => String(r["order_date"]) > change);
    assert.ok(before.length > 0 && after.length > 0, `customer ${customer} ordered before and after ${change}`);
    assert.ok(before.every((r) => r["email"] === r["january"] && r["january"] !== r["february"]), JSON.stringify(before));
    assert.ok(after.every((r) => r["email"] === r["february"]), JSON.stringify(after));

    // The naive join on the key alone gives every order today's e-mail: the history is what the dimension adds.
    const naive = await lab.sql(`SELECT count(*) FROM silver.crm_orders o JOIN ${DIM} d ON d.customer_id = o.customer_id AND d.is_current
      WHERE o.customer_id IN (${changed}) AND o.order_date < d.valid_from`);
    assert.equal(naive.number(), crm.expected.ordersBeforeChange);
  });
});

test("a hand-broken dimension fails checkScd2, naming the customer and what is wrong", async () => {
  const crm = await crmManifest();
  await withLab(async (lab) => {
    await buildStory(lab, crm);
    // One copy, one breakage per customer: five of them need a closed version, so they go to changed customers.
    const [c1, c2, c3, c4, c5, c6] = crm.expected.updatedKeys;
    const other = 5001;
    const copy = "gold.broken_dim";
    const breakages: [rule: string, customer: number, sql: string][] = [
      ["not exactly one current row", c1!, `UPDATE ${copy} SET is_current = true, valid_to = NULL WHERE customer_id = ${c1} AND NOT is_current`],
      ["not exactly one current row", c2!, `DELETE FROM ${copy} WHERE customer_id = ${c2} AND is_current`],
      ["overlapping versions", c3!, `UPDATE ${copy} SET valid_to = valid_to + INTERVAL 1 DAY WHERE customer_id = ${c3} AND NOT is_current`],
      ["a gap between versions", c4!, `UPDATE ${copy} SET valid_to = valid_to - INTERVAL 1 DAY WHERE customer_id = ${c4} AND NOT is_current`],
      ["is_current disagrees with valid_to", c5!, `UPDATE ${copy} SET is_current = false WHERE customer_id = ${c5} AND is_current`],
      ["a version that ends before it starts", c6!, `UPDATE ${copy} SET valid_to = valid_from - INTERVAL 1 DAY WHERE customer_id = ${c6} AND NOT is_current`],
      ["a repeated or missing customer_sk", other, `UPDATE ${copy} SET customer_sk = (SELECT max(customer_sk) FROM ${copy}) WHERE customer_id = ${other}`],
    ];
    await lab.sql(`CREATE TABLE ${copy} AS SELECT * FROM ${DIM}`);
    await lab.catalog.transaction(async () => {
      for (const [, , sql] of breakages) await lab.catalog.run(sql);
    });
    await assert.rejects(checkScd2(lab, copy, KEY), (e: Error) => {
      assert.ok(e instanceof CheckFailedError, String(e));
      // "… — rule: customer_id a, b; rule: customer_id c."
      const found = new Map(e.message.split(" — ")[1]!.split("\n")[0]!.replace(/\.$/, "").split("; ").map((part) => {
        const [rule, keys] = part.split(": customer_id ");
        return [rule!, keys!.split(", ").map((k) => Number.parseInt(k, 10))];
      }));
      for (const [rule, customer] of breakages) {
        assert.ok(found.get(rule)?.includes(customer), `${rule} should name ${customer}: ${e.message}`);
      }
      assert.match(e.message, new RegExp(`not exactly one current row: customer_id [^;]*${Math.min(c1!, c2!)} \\(\\d current\\)`));
      return true;
    });
    assert.ok((await checkScd2(lab, DIM, KEY)).rows > 0, "the dimension itself is still fine");

    // A build on a broken dimension refuses to extend it, and commits nothing.
    const snapshots = await snapshotCount(lab);
    await assert.rejects(buildScd2(lab, { ...SPEC, target: copy }),
      (e: Error) => e instanceof CheckFailedError && /customer_id\(s\) without exactly one current version \(.*\); nothing was versioned/.test(e.message));
    assert.equal(await snapshotCount(lab), snapshots);
    await assert.rejects(checkScd2(lab, "gold.nowhere", KEY), QualityError);
    await assert.rejects(checkScd2(lab, DIM, "client_id"), /no column client_id/);
  });
});

test("only untracked attributes changed: the current version is corrected in place, no new version", async () => {
  const crm = await crmManifest();
  await withLab(async (lab) => {
    await buildStory(lab, crm);
    const renamed = `SELECT * REPLACE (CASE WHEN customer_id = 5001 THEN name || ' Costa' ELSE name END AS name) FROM silver.crm_customers`;
    const r = await buildScd2(lab, { ...SPEC, source: renamed });
    assert.deepEqual([r.newKeys, r.changed, r.updatedInPlace, r.unchanged], [0, 0, 1, crm.expected.afterMerge - 1]);
    const versions = (await lab.sql(`SELECT name, is_current FROM ${DIM} WHERE customer_id = 5001`)).rows();
    assert.equal(versions.length, 1);
    assert.match(String(versions[0]!["name"]), / Costa$/);
    assert.deepEqual(await checkScd2(lab, DIM, KEY), { table: DIM, keys: crm.expected.afterMerge, ...crm.expected.dimension });
  });
});

test("effectiveFrom as one date per build, and a new version that would not start after the current one is refused", async () => {
  const crm = await crmManifest();
  await withLab(async (lab) => {
    const source = await ingestExports(lab, crm);
    const spec = { ...SPEC, target: "gold.dim_by_export", source: source.first, effectiveFrom: "2025-01-31" };
    await buildScd2(lab, spec);
    const second = await buildScd2(lab, { ...spec, source: source.second, effectiveFrom: "2025-02-28" });
    assert.deepEqual([second.newKeys, second.changed], [crm.expected.inserted, crm.expected.dimension.closed]);
    const froms = (await lab.sql(`SELECT DISTINCT valid_from::VARCHAR AS f FROM gold.dim_by_export ORDER BY 1`)).column("f");
    assert.deepEqual(froms, ["2025-01-31 00:00:00", "2025-02-28 00:00:00"]);
    await checkScd2(lab, "gold.dim_by_export", KEY);
    assert.equal((await lab.catalog.columns("gold.dim_by_export")).some((c) => c.name === "_row_number"), false, "ingestion columns stay out");

    // January's rows again, dated before February's versions: history cannot run backwards.
    const snapshots = await snapshotCount(lab);
    await assert.rejects(buildScd2(lab, { ...spec, effectiveFrom: "2025-02-01" }),
      (e: Error) => e instanceof QualityError && /must start after the one it replaces, but customer_id \d+ from 2025-02-01 00:00:00 \(current since 2025-02-28 00:00:00\)/.test(e.message));
    assert.equal(await snapshotCount(lab), snapshots);
  });
});

test("bad specs are refused before anything is written", async () => {
  const crm = await crmManifest();
  await withLab(async (lab) => {
    const source = await ingestExports(lab, crm);
    await mergeInto(lab, { target: "silver.crm_customers", source: source.second, key: KEY });
    const snapshots = await snapshotCount(lab);
    const refused = (spec: Partial<Scd2Spec>, pattern: RegExp) =>
      assert.rejects(buildScd2(lab, { ...SPEC, ...spec } as Scd2Spec), (e: Error) => {
        assert.ok(e instanceof QualityError, `${String(e)} is not a QualityError`);
        assert.match(e.message, pattern);
        return true;
      });
    await refused({ target: "silver.dim_crm_customer" }, /a gold table, not silver\.dim_crm_customer/);
    await refused({ target: "gold.customer_scores" }, /maintained by another step/);
    await refused({ tracked: ["email", "phone"] }, /tracked column phone is not in silver\.crm_customers/);
    await refused({ tracked: [] }, /tracked must name at least one column/);
    await refused({ tracked: ["customer_id"] }, /key customer_id cannot also be tracked/);
    await refused({ source: source.second, tracked: ["_row_number"] }, /_row_number is an ingestion column/);
    await refused({ effectiveFrom: "2025-02-30" }, /not a date that exists/);
    await refused({ effectiveFrom: "next monday" }, /neither a column name nor a date/);
    await refused({ effectiveFrom: "name" }, /effectiveFrom name is VARCHAR/);
    await refused({ source: "SELECT *, NULL::TIMESTAMP AS valid_to FROM silver.crm_customers" }, /The source query has a column valid_to, which the dimension keeps itself/);
    await refused({ source: "SELECT * REPLACE (CASE WHEN customer_id = 5002 THEN NULL ELSE updated_at END AS updated_at) FROM silver.crm_customers" },
      /1 row of the source query has no updated_at \(customer_id 5002\)/);
    await refused({ source: "SELECT * FROM silver.crm_customers UNION ALL SELECT * FROM silver.crm_customers WHERE customer_id = 5003" },
      /2 rows for customer_id 5003/);
    assert.equal(await snapshotCount(lab), snapshots);
    assert.equal(await lab.catalog.tableExists(DIM), false);
  });
});
