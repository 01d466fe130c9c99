/**
 * The right to be forgotten on the real services: after eraseCustomer, no version of any object in MinIO's layer
 * buckets (the bronze bucket keeps versions) and no row of the PostgreSQL catalog holds the customer's e-mail,
 * checked without the lab: the raw S3 SDK, a bare DuckDB over S3, and psql.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectVersionsCommand } from "@aws-sdk/client-s3";
import { DuckDBInstance, quotedString } from "@duckdb/node-api";
import { buildGoldTable, ingestFile, LAYERS, notNull, refine, unique, type Lab } from "../../kernel-helpers/src/index.js";
import { describeErasure, eraseCustomer } from "../../kernel-helpers/src/tables/erase.js";
import { psql, rawS3, requireEnv, withServicesLab } from "./services.js";

/** Every version of every object written since `since` in the layer buckets whose bytes contain `needle`. */
async function objectVersionsWith(needle: string, since: Date): Promise<string[]> {
  const s3 = rawS3();
  const hits: string[] = [];
  try {
    for (const bucket of LAYERS) {
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      do {
        const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
        // The e-mail is unique to this run, so only objects written since it started can hold it.
        for (const v of (page.Versions ?? []).filter((v) => v.LastModified && v.LastModified >= since)) {
          const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: v.Key!, VersionId: v.VersionId }));
          const bytes = Buffer.from(await body.Body!.transformToByteArray());
          const views = bytes[0] === 0x1f && bytes[1] === 0x8b ? [bytes, gunzipSync(bytes)] : [bytes];
          if (views.some((b) => b.includes(needle))) hits.push(`s3://${bucket}/${v.Key} version ${v.VersionId}${v.IsLatest ? " (current)" : " (old)"}`);
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
      } while (keyMarker !== undefined);
    }
  } finally {
    s3.destroy();
  }
  return hits;
}

/** Current Parquet objects written since `since` that a bare DuckDB (httpfs, its own secret) finds `needle` in. */
async function parquetRowsWith(lab: Lab, needle: string, since: Date): Promise<string[]> {
  const s3 = rawS3();
  const files: string[] = [];
  try {
    for (const bucket of LAYERS) {
      let keyMarker: string | undefined;
      do {
        const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker }));
        for (const v of page.Versions ?? []) {
          if (v.IsLatest && v.Key!.endsWith(".parquet") && v.LastModified && v.LastModified >= since) files.push(`s3://${bucket}/${v.Key}`);
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      } while (keyMarker !== undefined);
    }
  } finally {
    s3.destroy();
  }
  const options: Record<string, string> = {};
  if (lab.settings.extensionDirectory) options["extension_directory"] = lab.settings.extensionDirectory;
  const db = await DuckDBInstance.create(":memory:", options);
  const c = await db.connect();
  const hits: string[] = [];
  try {
    const url = new URL(requireEnv("AWS_ENDPOINT_URL_S3"));
    await c.run("LOAD httpfs");
    await c.run(`CREATE SECRET erase_check (TYPE s3, KEY_ID ${quotedString(requireEnv("AWS_ACCESS_KEY_ID"))},
      SECRET ${quotedString(requireEnv("AWS_SECRET_ACCESS_KEY"))}, REGION ${quotedString(process.env["AWS_REGION"] ?? "us-east-1")},
      ENDPOINT ${quotedString(url.host)}, URL_STYLE 'path', USE_SSL ${url.protocol === "https:"})`);
    for (const f of files) {
      const r = await c.runAndReadAll("SELECT count(*)::INTEGER AS n FROM read_parquet($f) t WHERE contains(CAST(t AS VARCHAR), $n)", { f, n: needle });
      if (Number(r.getRowObjectsJS()[0]!["n"]) > 0) hits.push(f);
    }
  } finally {
    c.closeSync();
    db.closeSync();
  }
  return hits;
}

/** Tables of the PostgreSQL catalog database with a row whose text contains `needle`, asked with psql. */
function catalogRowsWith(catalogUrl: string, needle: string): string[] {
  const tables = psql(catalogUrl, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
    WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE' ORDER BY 1`).split("\n").filter(Boolean);
  assert.ok(tables.some((t) => t.endsWith("ducklake_snapshot")), `the catalog's tables are visible to psql: ${tables.join(", ")}`);
  return tables.filter((t) => Number(psql(catalogUrl, `SELECT count(*) FROM ${t} x WHERE x::text LIKE ${quotedString(`%${needle}%`)}`)) > 0);
}

test("an erased customer is in no object version in MinIO and no row of the PostgreSQL catalog", { timeout: 300_000 }, async () => {
  const since = new Date(Date.now() - 60_000);
  const email = `zed.${randomUUID().slice(0, 8)}@example.org`;
  await withServicesLab(async (lab, { catalogUrl, home }) => {
    // Table names of its own: the buckets are shared with the other tests' labs, and the walkthrough counts raw/customers/.
    // 150 customers (Parquet) with the customer, a duplicate of them (quarantined) and a malformed line of theirs.
    const customers = ["customer_id,name,email"];
    for (let i = 1; i <= 150; i++) customers.push(`${6000 + i},Name ${i},${i === 7 ? email : `c${i}.${randomUUID().slice(0, 4)}@example.org`}`);
    customers.push(`6007,Zed Secret,${email}`, `6007,Zed Secret,${email},extra`);
    const orders = ["order_id,customer_id,amount"];
    for (let i = 1; i <= 300; i++) orders.push(`${i},${6000 + ((i * 7) % 150) + 1},${i}.50`);
    const customersFile = join(home, "customers.csv");
    await writeFile(customersFile, customers.join("\n") + "\n");
    await writeFile(join(home, "orders.csv"), orders.join("\n") + "\n");
    await ingestFile(lab, { file: customersFile, table: "gdpr_customers" });
    await ingestFile(lab, { file: join(home, "orders.csv"), table: "gdpr_orders" });
    await refine(lab, { source: "bronze.gdpr_customers", target: "silver.gdpr_customers", columns: { customer_id: "BIGINT", name: "VARCHAR", email: "VARCHAR" }, rules: [unique("customer_id")] });
    await refine(lab, { source: "bronze.gdpr_orders", target: "silver.gdpr_orders", columns: { order_id: "BIGINT", customer_id: "BIGINT", amount: "DECIMAL(12,2)" }, rules: [notNull("customer_id")] });
    await buildGoldTable(lab, "customer_orders", "SELECT o.order_id, o.customer_id, c.email, o.amount FROM silver.gdpr_orders o JOIN silver.gdpr_customers c USING (customer_id)");
    await buildGoldTable(lab, "vip_contacts", "SELECT name, email FROM silver.gdpr_customers WHERE customer_id IN (6001, 6007)");
    const others = (await lab.sql("SELECT count(*) FROM silver.gdpr_customers WHERE customer_id <> 6007")).number();

    // The checks can fail: before the erasure each reader finds the customer.
    const before = await objectVersionsWith(email, since);
    assert.ok(before.some((h) => h.includes("/raw/gdpr_customers/")), before.join("\n"));
    assert.ok((await parquetRowsWith(lab, email, since)).length > 0, "Parquet files in MinIO hold the customer");
    assert.ok(catalogRowsWith(catalogUrl, email).length > 0, "rows inlined in the PostgreSQL catalog hold the customer");

    const r = await eraseCustomer(lab, { key: "customer_id", value: 6007, identifiers: [email], reason: "test" });
    assert.equal(r.found, true, describeErasure(r));
    assert.ok(r.oldVersionsDeleted > 0, `the bronze bucket keeps versions, so old ones had to go: ${describeErasure(r)}`);
    assert.equal(r.catalogRewritten, false, "a PostgreSQL catalog is not a file to rewrite");

    assert.deepEqual(await objectVersionsWith(email, since), [], "no version of any object holds the e-mail");
    assert.deepEqual(await parquetRowsWith(lab, email, since), []);
    assert.deepEqual(catalogRowsWith(catalogUrl, email), []);
    assert.equal((await lab.sql("SELECT count(*) FROM silver.gdpr_customers")).number(), others);

    assert.equal((await ingestFile(lab, { file: customersFile, table: "gdpr_customers" })).skipped, true, "the original export is known, so not loaded again");
    const again = await eraseCustomer(lab, { key: "customer_id", value: 6007, identifiers: [email] });
    assert.equal(again.alreadyErased?.erasureId, r.erasureId);
    assert.deepEqual(await objectVersionsWith(email, since), []);
  });
});
