/**
 * Two workshop users on the same services (same catalog database, same buckets): each one's tables and
 * objects stay in their own namespace. This is namespacing: both use the lab's keys here. The hub's per-trainee
 * scoped credentials, which make it security too, are tested in test/hub/hub.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { openLab, type Lab } from "../../kernel-helpers/src/index.js";
import { freshCatalogDatabase, psql, rawS3, removeUserObjects } from "./services.js";

async function asUser<T>(user: string, url: string, work: (lab: Lab) => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  process.env["DATAFLOW_CATALOG_URL"] = url;
  process.env["DATAFLOW_LAB_USER"] = user;
  const home = await mkdtemp(join(tmpdir(), `ns-${user}-`));
  try {
    const lab = await openLab({ home, quiet: true });
    try {
      return await work(lab);
    } finally {
      lab.close();
    }
  } finally {
    for (const k of ["DATAFLOW_CATALOG_URL", "DATAFLOW_LAB_USER"]) saved[k] === undefined ? delete process.env[k] : (process.env[k] = saved[k]);
    await rm(home, { recursive: true, force: true });
  }
}

test("two users running the same steps on one catalog database and one set of buckets never see each other's data", { timeout: 120_000 }, async () => {
  const db = freshCatalogDatabase();
  const tag = `ns${Date.now().toString(36)}`;
  const users = [`${tag}-a`, `${tag}-b`];
  const s3 = rawS3();
  try {
    for (const [i, user] of users.entries()) {
      await asUser(user, db.url, async (lab) => {
        await lab.sql(`CREATE OR REPLACE TABLE silver.orders AS SELECT ${i + 1} AS owner, range AS n FROM range(${(i + 1) * 10})`);
        // A few rows are inlined in the catalog (DuckLake 1.0); write them out as Parquet, as a user would.
        await lab.sql("CALL ducklake_flush_inlined_data('lake')");
        const file = join(lab.settings.home, "raw.csv");
        await writeFile(file, `owner\n${user}\n`);
        const put = await lab.storage.putFile("bronze", "raw/orders.csv", file);
        assert.equal(put.key, "raw/orders.csv", "the notebook-facing key has no prefix");
        assert.equal(put.uri, `s3://bronze/users/${user}/raw/orders.csv`);
      });
    }
    for (const [i, user] of users.entries()) {
      await asUser(user, db.url, async (lab) => {
        const r = await lab.sql("SELECT min(owner) AS owner, count(*) AS n FROM silver.orders");
        assert.deepEqual(r.rows(), [{ owner: i + 1, n: (i + 1) * 10 }], `${user} sees only their own silver.orders`);
        assert.equal(await lab.storage.getText("bronze", "raw/orders.csv"), `owner\n${user}\n`);
        assert.deepEqual((await lab.storage.list("bronze", "raw/")).map((o) => o.key), ["raw/orders.csv"]);
      });
    }
    // Independent views: PostgreSQL holds one metadata schema per user; MinIO holds the lake files under each prefix.
    const schemas = psql(db.url, `SELECT string_agg(schema_name, ',' ORDER BY schema_name) FROM information_schema.schemata WHERE schema_name LIKE 'ducklake_${tag}%'`);
    assert.equal(schemas, users.map((u) => `ducklake_${u.replace(/-/g, "_")}`).join(","));
    for (const user of users) {
      const files = await s3.send(new ListObjectsV2Command({ Bucket: "silver", Prefix: `users/${user}/lake/silver/orders/` }));
      assert.ok((files.Contents ?? []).some((o) => o.Key!.endsWith(".parquet")), `${user}'s Parquet files are under their prefix`);
    }
  } finally {
    s3.destroy();
    await removeUserObjects(users);
    db.drop();
  }
});
