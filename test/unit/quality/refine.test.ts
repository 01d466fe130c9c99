import { test } from "node:test";
import assert from "node:assert/strict";
import { acceptedValues, email, foreignKey, ingestFile, notNull, QUARANTINE, QualityError, range, refine, unique } from "../../../kernel-helpers/src/index.js";
import { count, file, withLab } from "../helpers.js";

const customersCsv = "customer_id,email\n1,a@x.org\n2,b@x.org\n2,b@x.org\n3,not-an-email\n4,\n";
const ordersCsv = "order_id,customer_id,amount,order_date,status\n10,1,5.00,2024-01-01,completed\n11,1,-1,2024-01-02,completed\n12,9,3,2024-01-03,completed\n13,2,4,2024-02-30,completed\n14,,1,2024-01-04,completed\n15,2,2,2024-01-05,lost\n";

async function loadCustomers(lab: Parameters<typeof refine>[0], dir: string) {
  await ingestFile(lab, { file: await file(dir, "customers.csv", customersCsv), table: "customers" });
  return refine(lab, {
    source: "bronze.customers", target: "silver.customers",
    columns: { customer_id: "BIGINT", email: "VARCHAR" },
    rules: [notNull("customer_id"), unique("customer_id"), notNull("email"), email("email")],
  });
}

test("each row fails exactly the rules it breaks; clean rows are typed in silver", async () => {
  await withLab(async (lab, dir) => {
    const c = await loadCustomers(lab, dir);
    assert.deepEqual([c.rowsIn, c.clean, c.quarantined], [5, 2, 3]);
    assert.equal(c.byRule["unique(customer_id)"], 1);
    assert.equal(c.byRule["email(email)"], 1);
    assert.equal(c.byRule["not_null(email)"], 1);
    assert.equal(c.byRule["not_null(customer_id)"], 0, "every rule is listed, zeros included");
    const types = Object.fromEntries((await lab.catalog.columns("silver.customers")).map((x) => [x.name, x.type]));
    assert.equal(types["customer_id"], "BIGINT");

    await ingestFile(lab, { file: await file(dir, "orders.csv", ordersCsv), table: "orders" });
    const o = await refine(lab, {
      source: "bronze.orders", target: "silver.orders",
      columns: { order_id: "BIGINT", customer_id: "BIGINT", amount: "DECIMAL(12,2)", order_date: "DATE", status: "VARCHAR" },
      rules: [unique("order_id"), notNull("customer_id"), range("amount", { min: 0 }), acceptedValues("status", ["completed"]), foreignKey("customer_id", "silver.customers")],
    });
    const failed = (await lab.sql(`SELECT row_data->>'order_id' AS id, failed_rules FROM ${QUARANTINE} WHERE target_table = 'silver.orders' ORDER BY id`)).rows();
    assert.deepEqual(failed, [
      { id: "11", failed_rules: ["range(amount >= 0)"] },
      { id: "12", failed_rules: ["foreign_key(customer_id → silver.customers.customer_id)"] },
      { id: "13", failed_rules: ["parse(order_date as DATE)"] },
      { id: "14", failed_rules: ["not_null(customer_id)"] },
      { id: "15", failed_rules: ["accepted_values(status)"] },
    ]);
    assert.deepEqual((await lab.sql("SELECT order_id FROM silver.orders")).column("order_id"), [10]);
    assert.equal(o.quarantined, 5);
    const run = (await lab.sql("SELECT rows_in, clean, quarantined FROM silver.quality_runs WHERE run_id = ?", [o.runId])).rows();
    assert.deepEqual(run, [{ rows_in: 6, clean: 1, quarantined: 5 }]);
  });
});

test("re-running finds no new batches; a new batch is checked for uniqueness against silver", async () => {
  await withLab(async (lab, dir) => {
    await loadCustomers(lab, dir);
    const snap = await lab.catalog.currentSnapshot();
    const again = await loadCustomers(lab, dir);
    assert.equal(again.rowsIn, 0);
    assert.equal(await lab.catalog.currentSnapshot(), snap, "a no-op run commits nothing");
    assert.equal(await count(lab, "silver.customers"), 2);

    await ingestFile(lab, { file: await file(dir, "more.csv", "customer_id,email\n1,dup@x.org\n7,g@x.org\n"), table: "customers" });
    const more = await loadCustomers(lab, dir);
    assert.deepEqual([more.rowsIn, more.clean, more.byRule["unique(customer_id)"]], [2, 1, 1]);
    assert.equal(await count(lab, "silver.customers"), 3);
  });
});

test("a rule or column that does not exist is refused before any data moves", async () => {
  await withLab(async (lab, dir) => {
    await ingestFile(lab, { file: await file(dir, "c.csv", customersCsv), table: "customers" });
    const base = { source: "bronze.customers", target: "silver.customers", columns: { customer_id: "BIGINT" } };
    await assert.rejects(refine(lab, { ...base, rules: [notNull("custmer_id")] }), (e: Error) => e instanceof QualityError && e.message.includes('"custmer_id"'));
    await assert.rejects(refine(lab, { ...base, columns: { id: "BIGINT" }, rules: [] }), /Column "id" is not in bronze.customers/);
    await assert.rejects(refine(lab, { ...base, source: "bronze.nothing", rules: [] }), /bronze.nothing does not exist/);
    await assert.rejects(refine(lab, { ...base, rules: [foreignKey("customer_id", "silver.accounts")] }), /silver.accounts, which does not exist/);
    assert.equal(await lab.catalog.tableExists("silver.customers"), false);
  });
});

test("a column can be derived with an expression over bronze columns", async () => {
  await withLab(async (lab, dir) => {
    await ingestFile(lab, { file: await file(dir, "c.csv", "id,mail\n1, A@X.ORG \n"), table: "c" });
    await refine(lab, { source: "bronze.c", target: "silver.c", columns: { id: "INTEGER", email: { type: "VARCHAR", expr: "lower(trim(s.mail))" } }, rules: [email("email")] });
    assert.equal((await lab.sql("SELECT email FROM silver.c")).scalar(), "a@x.org");
  });
});

test("of rows sharing a key, the earliest (batch, then line) stays clean, whatever way the key is written; missing keys are never duplicates", async () => {
  await withLab(async (lab, dir) => {
    // Two batches refined in one run: the first file's rows come first. " 7" and "7.0" are the key 7 as well.
    await ingestFile(lab, { file: await file(dir, "a.csv", "id,v\n5,a1\n7.0,a2\n,a3\n5,a4\n"), table: "keys" });
    await ingestFile(lab, { file: await file(dir, "b.csv", "id,v\n 7,b1\n9,b2\n5,b3\n,b4\n9,b5\n"), table: "keys" });
    const r = await refine(lab, { source: "bronze.keys", target: "silver.keys", columns: { id: "BIGINT", v: "VARCHAR" }, rules: [unique("id")] });
    assert.deepEqual([r.rowsIn, r.clean, r.byRule["unique(id)"]], [9, 5, 4]);
    assert.deepEqual((await lab.sql("SELECT v FROM silver.keys ORDER BY v")).column("v"), ["a1", "a2", "a3", "b2", "b4"]);
    const later = (await lab.sql(`SELECT row_data->>'v' AS v FROM ${QUARANTINE} WHERE list_contains(failed_rules, 'unique(id)') ORDER BY v`)).column("v");
    assert.deepEqual(later, ["a4", "b1", "b3", "b5"]);
  });
});
