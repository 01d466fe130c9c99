import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { CatalogError, ingestFile, QualityError, type Lab } from "../../../kernel-helpers/src/index.js";
import { describeMerge, mergeInto, tableChanges } from "../../../kernel-helpers/src/tables/merge.js";
import { generateCrm } from "../../../data/generate.js";
import { withLab } from "../helpers.js";
import { crmManifest, fileRows, ingestExports, samplePath, SAMPLES, snapshotCount } from "./crm.js";

const TARGET = "silver.crm_customers";
const KEY = "customer_id";

/** Rows in one query and not the other, both ways: 0 when the two hold the same rows. */
async function difference(lab: Lab, a: string, b: string): Promise<number> {
  return (await lab.sql(`SELECT (SELECT count(*) FROM ((${a}) EXCEPT ALL (${b}))) + (SELECT count(*) FROM ((${b}) EXCEPT ALL (${a})))`)).number();
}

const ids = (lab: Lab, sql: string) => lab.sql(sql).then((r) => r.column(KEY).map(Number));

test("merging the January export, then February's, gives the manifest's counts, and the table is February's export", async () => {
  const crm = await crmManifest();
  await withLab(async (lab) => {
    const source = await ingestExports(lab, crm);
    const first = await mergeInto(lab, { target: TARGET, source: source.first, key: KEY });
    assert.deepEqual({ created: first.created, inserted: first.inserted, updated: first.updated, unchanged: first.unchanged },
      { created: true, inserted: crm.expected.initial, updated: 0, unchanged: 0 });
    assert.equal(await difference(lab, `SELECT * FROM ${TARGET}`, fileRows(crm, "initial")), 0, "after the first merge the table is the January export");
    assert.deepEqual((await lab.catalog.columns(TARGET)).map((c) => c.name), ["customer_id", "name", "email", "street", "city", "state", "updated_at"],
      "the target is made from the source's columns, without the ingestion columns");

    const second = await mergeInto(lab, { target: TARGET, source: source.second, key: KEY });
    const { inserted, updated, unchanged } = crm.expected;
    assert.deepEqual({ inserted: second.inserted, updated: second.updated, unchanged: second.unchanged }, { inserted, updated, unchanged });
    assert.equal(await difference(lab, `SELECT * FROM ${TARGET}`, fileRows(crm, "next")), 0, "after the second merge the table is the February export");
    assert.ok(second.snapshotId !== null && first.snapshotId !== null && second.snapshotId > first.snapshotId);
    assert.match(describeMerge(second), new RegExp(`${inserted} inserted, ${updated} updated, ${unchanged} unchanged \\(snapshot ${second.snapshotId}\\)`));

    // The counts against the table itself, read at the two snapshots by time travel: a key is inserted when it was
    // absent before, updated when its row differs, and no other row moved.
    const at = (snapshot: number) => `SELECT * FROM ${TARGET} AT (VERSION => ${snapshot})`;
    const before = at(first.snapshotId!);
    const after = at(second.snapshotId!);
    assert.deepEqual(await ids(lab, `SELECT ${KEY} FROM (${after}) WHERE ${KEY} NOT IN (SELECT ${KEY} FROM (${before})) ORDER BY 1`), crm.expected.insertedKeys);
    assert.deepEqual(await ids(lab, `SELECT ${KEY} FROM ((${after}) EXCEPT (${before})) WHERE ${KEY} IN (SELECT ${KEY} FROM (${before})) ORDER BY 1`),
      crm.expected.updatedKeys);
    assert.equal((await lab.sql(`SELECT count(*) FROM ((${before}) INTERSECT (${after}))`)).number(), unchanged);
    const changes = (await lab.catalog.snapshots()).find((s) => s.snapshotId === second.snapshotId)!;
    assert.match(changes.message ?? "", /mergeInto silver\.crm_customers: 5 inserted, 7 updated/, "the snapshot says what made it");
  });
});

test("merging the same export again changes nothing and commits no snapshot", async () => {
  const crm = await crmManifest();
  await withLab(async (lab) => {
    const source = await ingestExports(lab, crm);
    await mergeInto(lab, { target: TARGET, source: source.first, key: KEY });
    const merged = await mergeInto(lab, { target: TARGET, source: source.second, key: KEY });
    const snapshots = await snapshotCount(lab);
    const again = await mergeInto(lab, { target: TARGET, source: source.second, key: KEY });
    assert.deepEqual({ inserted: again.inserted, updated: again.updated, unchanged: again.unchanged, snapshotId: again.snapshotId },
      { inserted: 0, updated: 0, unchanged: crm.expected.afterMerge, snapshotId: null });
    assert.equal(await snapshotCount(lab), snapshots, "no snapshot for a merge that changed nothing");
    assert.equal(await lab.catalog.currentSnapshot(), merged.snapshotId);
    assert.match(describeMerge(again), /nothing changed .* no snapshot committed/);
    // The January export after February's: the seven customers go back, the five new ones stay (a merge never deletes).
    const back = await mergeInto(lab, { target: TARGET, source: source.first, key: KEY });
    assert.deepEqual([back.inserted, back.updated, back.unchanged], [0, crm.expected.updated, crm.expected.initial - crm.expected.updated]);
  });
});

test("the change feed between the two merges is exactly the updated keys' pre- and post-images and the inserted keys", async () => {
  const crm = await crmManifest();
  await withLab(async (lab) => {
    const source = await ingestExports(lab, crm);
    const first = await mergeInto(lab, { target: TARGET, source: source.first, key: KEY });
    const second = await mergeInto(lab, { target: TARGET, source: source.second, key: KEY });
    const feed = await tableChanges(lab, TARGET, first.snapshotId!, second.snapshotId!);
    const rows = feed.rows();
    const keysOf = (type: string) => rows.filter((r) => r["change_type"] === type).map((r) => Number(r[KEY])).sort((a, b) => a - b);
    assert.deepEqual(keysOf("insert"), crm.expected.insertedKeys);
    assert.deepEqual(keysOf("update_preimage"), crm.expected.updatedKeys);
    assert.deepEqual(keysOf("update_postimage"), crm.expected.updatedKeys);
    assert.equal(rows.length, crm.expected.inserted + 2 * crm.expected.updated, "nothing else: no deletes, no unchanged rows rewritten");
    assert.ok(rows.every((r) => r["snapshot_id"] === second.snapshotId));
    // A preimage comes right before its postimage, and they are the two exports' rows of that customer.
    rows.forEach((r, i) => r["change_type"] === "update_preimage" && assert.equal(rows[i + 1]!["change_type"], "update_postimage"));
    const images = (type: string) => `SELECT ${KEY}, name, email, street, city, state, updated_at
      FROM ducklake_table_changes('lake', 'silver', 'crm_customers', ${second.snapshotId}, ${second.snapshotId}) WHERE change_type = '${type}'`;
    const inFile = (file: "initial" | "next") => `SELECT * FROM (${fileRows(crm, file)}) WHERE ${KEY} IN (${crm.expected.updatedKeys.join(", ")})`;
    assert.equal(await difference(lab, images("update_preimage"), inFile("initial")), 0);
    assert.equal(await difference(lab, images("update_postimage"), inFile("next")), 0);

    // From the empty table, the first merge is all inserts; between a snapshot and itself there is nothing.
    const all = await tableChanges(lab, TARGET, first.snapshotId! - 1, first.snapshotId!);
    assert.equal(all.numRows, crm.expected.initial);
    assert.deepEqual(new Set(all.column("change_type")), new Set(["insert"]));
    const none = await tableChanges(lab, TARGET, second.snapshotId!);
    assert.equal(none.numRows, 0);
    assert.ok(none.columns.some((c) => c.name === "change_type"), "an empty feed still has the feed's columns");

    await assert.rejects(tableChanges(lab, TARGET, second.snapshotId!, first.snapshotId!), (e: Error) => e instanceof QualityError && /after toSnapshot/.test(e.message));
    await assert.rejects(tableChanges(lab, TARGET, 0, second.snapshotId! + 5), (e: Error) => e instanceof QualityError && /toSnapshot must be a snapshot/.test(e.message));
    await assert.rejects(tableChanges(lab, TARGET, -1), QualityError);
    await assert.rejects(tableChanges(lab, "silver.crm_customers; DROP TABLE x", 0), QualityError);
    await assert.rejects(tableChanges(lab, "silver.nowhere", 0), CatalogError);
  });
});

test("a source with a repeated key is refused, naming the customer and its lines, and nothing changes", async () => {
  const crm = await crmManifest();
  const dir = await mkdtemp(path.join(tmpdir(), "crm-dup-"));
  try {
    await withLab(async (lab) => {
      const source = await ingestExports(lab, crm);
      await mergeInto(lab, { target: TARGET, source: source.first, key: KEY });
      // The February export with one customer's line sent twice, the second time with another e-mail.
      const lines = (await readFile(samplePath(crm, "next"), "utf8")).trimEnd().split("\n");
      const at = lines.findIndex((l) => l.startsWith("5010,"));
      lines.splice(at + 3, 0, lines[at]!.replace("@", ".resent@"));
      const file = path.join(dir, "customers_2025-02-28_resent.csv");
      await writeFile(file, lines.join("\n") + "\n");
      const batch = await ingestFile(lab, { file, table: "crm_customers" });
      const before = { snapshots: await snapshotCount(lab), rows: await lab.sql(`SELECT * FROM ${TARGET} ORDER BY ${KEY}`).then((r) => JSON.stringify(r.rows())) };

      await assert.rejects(
        mergeInto(lab, { target: TARGET, source: `SELECT * FROM bronze.crm_customers WHERE _batch_id = '${batch.batchId}'`, key: KEY }),
        (e: Error) => {
          assert.ok(e instanceof QualityError, String(e));
          // Physical lines: the header is line 1, so customer 5010 is on line 11 and its copy three lines later.
          assert.match(e.message, new RegExp(`2 rows for customer_id 5010 \\(lines ${at + 1}, ${at + 4} of customers_2025-02-28_resent\\.csv\\)`));
          assert.match(e.message, /nothing was merged/);
          assert.deepEqual({ value: e.context["value"], rows: e.context["rows"], lines: e.context["lines"] }, { value: "5010", rows: 2, lines: `${at + 1}, ${at + 4}` });
          return true;
        },
      );
      // Two repeated keys: both are named, with how many rows each.
      await assert.rejects(
        mergeInto(lab, { target: TARGET, source: `${source.second} UNION ALL (${source.second} AND customer_id IN (5001, 5002))`, key: KEY }),
        /2 customer_id values on more than one row \(4 rows\): 5001 on 2 rows \(lines 2, 2\); 5002 on 2 rows \(lines 3, 3\)/,
      );
      await assert.rejects(
        mergeInto(lab, { target: TARGET, source: `SELECT * REPLACE (CASE WHEN customer_id IN (5003, 5004) THEN NULL ELSE customer_id END AS customer_id) FROM (${source.second})`, key: KEY }),
        (e: Error) => e instanceof QualityError && /2 rows of the source query have no customer_id \(lines 4, 5\)/.test(e.message),
      );
      assert.equal(await snapshotCount(lab), before.snapshots, "a refused merge commits nothing");
      assert.equal(await lab.sql(`SELECT * FROM ${TARGET} ORDER BY ${KEY}`).then((r) => JSON.stringify(r.rows())), before.rows);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("bad targets, keys, columns and sources are refused before anything is written", async () => {
  const crm = await crmManifest();
  await withLab(async (lab) => {
    const source = await ingestExports(lab, crm);
    const snapshots = await snapshotCount(lab);
    const refused = async (spec: Parameters<typeof mergeInto>[1], pattern: RegExp) =>
      assert.rejects(mergeInto(lab, spec), (e: Error) => {
        assert.ok(e instanceof QualityError, `${String(e)} is not a QualityError`);
        assert.match(e.message, pattern);
        return true;
      });
    await refused({ target: "bronze.crm_customers", source: source.second, key: KEY }, /writes silver and gold tables/);
    await refused({ target: "silver.quarantine", source: source.second, key: KEY }, /maintained by refine\(\)/);
    await refused({ target: "gold.customer_scores", source: source.second, key: KEY }, /maintained by writeCustomerScores/);
    await refused({ target: "silver.crm customers", source: source.second, key: KEY }, /not a valid target table name/);
    await refused({ target: TARGET, source: source.second, key: "customer_id; DROP TABLE silver.x" }, /key has .* not a column name/);
    await refused({ target: TARGET, source: source.second, key: [] }, /key must name at least one column/);
    await refused({ target: TARGET, source: source.second, key: "client_id" }, /key column client_id is not in the source query/);
    await refused({ target: TARGET, source: source.second, key: KEY, columns: ["email", "phone"] }, /merged column phone is not in the source query/);
    await refused({ target: TARGET, source: "silver.nowhere", key: KEY }, /source silver\.nowhere does not exist/);
    await refused({ target: TARGET, source: "customers.csv here", key: KEY }, /neither a layer\.table name nor a query/);
    await mergeInto(lab, { target: TARGET, source: source.first, key: KEY });
    await refused({ target: TARGET, source: TARGET, key: KEY }, /source and the target are both/);
    await refused({ target: TARGET, source: `SELECT *, 'x' AS phone FROM (${source.second})`, key: KEY }, /has no column phone, which the source has/);
    assert.equal(await snapshotCount(lab), snapshots + 1, "only the one good merge committed");
  });
});

test("a source typed differently from the target is compared as the target stores it; composite keys and chosen columns", async () => {
  await withLab(async (lab) => {
    await lab.sql("CREATE TABLE silver.prices (shop VARCHAR, sku INTEGER, price DECIMAL(10,2), note VARCHAR)");
    await lab.sql("INSERT INTO silver.prices VALUES ('a', 1, 9.99, 'kept'), ('a', 2, 5.00, 'kept'), ('b', 1, 7.50, 'kept')");
    // Text and DOUBLE from an export, a composite key, and only price merged: note is left alone.
    const source = `SELECT * FROM (VALUES ('a', '1', 9.99::DOUBLE, 'x'), ('a', '2', 5.125::DOUBLE, 'x'), ('b', '2', 1.0::DOUBLE, 'x')) v(shop, sku, price, note)`;
    const spec = { target: "silver.prices", source, key: ["shop", "sku"], columns: ["price"] };
    const first = await mergeInto(lab, spec);
    assert.deepEqual([first.inserted, first.updated, first.unchanged], [1, 1, 1]);
    const again = await mergeInto(lab, spec);
    assert.deepEqual([again.inserted, again.updated, again.unchanged, again.snapshotId], [0, 0, 3, null], "5.125 stored as 5.13 is not a change the next time");
    assert.deepEqual((await lab.sql("SELECT shop, sku, price::VARCHAR AS price, note FROM silver.prices ORDER BY shop, sku")).rows(), [
      { shop: "a", sku: 1, price: "9.99", note: "kept" },
      { shop: "a", sku: 2, price: "5.13", note: "kept" },
      { shop: "b", sku: 1, price: "7.50", note: "kept" },
      { shop: "b", sku: 2, price: "1.00", note: null },
    ]);
    // A target whose key is not unique would have several rows updated from one source row.
    await lab.sql("INSERT INTO silver.prices VALUES ('a', 1, 1.00, 'again')");
    await assert.rejects(mergeInto(lab, spec), /silver\.prices already has 2 rows for shop, sku a, 1/);
  });
});

test("the CRM samples are what the generator writes for seed 42", async () => {
  const crm = await crmManifest();
  const dir = await mkdtemp(path.join(tmpdir(), "crm-gen-"));
  try {
    const fresh = await generateCrm({ seed: 42, out: dir });
    assert.deepEqual(fresh, crm, "data/samples/manifest.json crm is stale: run npx tsx data/generate.ts --out data/samples");
    for (const entry of Object.values(crm.files)) {
      const [a, b] = await Promise.all([readFile(path.join(SAMPLES, entry.file)), readFile(path.join(dir, entry.file))]);
      assert.ok(a.equals(b), `data/samples/${entry.file} is stale`);
    }
    const other = await generateCrm({ seed: 7, out: path.join(dir, "seed7") });
    assert.notDeepEqual(other.expected.updatedKeys, crm.expected.updatedKeys, "another seed changes other customers");
    assert.deepEqual([other.expected.inserted, other.expected.updated], [crm.expected.inserted, crm.expected.updated]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
