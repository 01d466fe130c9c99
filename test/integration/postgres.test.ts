/** The DuckLake catalog in PostgreSQL with data files on MinIO: atomic writes and clear errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { CatalogError, openLab } from "../../kernel-helpers/src/index.js";
import { writeOldCatalog } from "../support/old-engine.js";
import { freshCatalogDatabase, psql, rawS3, requireEnv, withServicesLab } from "./services.js";

/** Whether the object an s3:// URL names is in MinIO (asked with the raw SDK, not through DuckDB). */
async function inBucket(url: string): Promise<boolean> {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  assert.ok(m, `not an s3:// URL: ${url}`);
  const listed = await rawS3().send(new ListObjectsV2Command({ Bucket: m[1], Prefix: m[2] }));
  return listed.Contents?.some((c) => c.Key === m[2]) ?? false;
}

test("tables are registered in PostgreSQL and their Parquet files land in the layer's bucket", async () => {
  await withServicesLab(async (lab, { catalogUrl }) => {
    await lab.catalog.run("CREATE TABLE gold.pg_probe AS SELECT range AS i FROM range(1000)");
    const tables = psql(catalogUrl, "SELECT t.table_name FROM ducklake_table t WHERE t.end_snapshot IS NULL ORDER BY 1");
    assert.ok(tables.split("\n").includes("pg_probe"), tables);
    // The layer's schema path is its bucket (absolute); table and file paths are relative to it.
    const files = psql(catalogUrl, `SELECT s.path || t.path || f.path FROM ducklake_data_file f
      JOIN ducklake_table t USING (table_id) JOIN ducklake_schema s USING (schema_id) WHERE t.table_name = 'pg_probe'`).split("\n");
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^s3:\/\/gold\/pg_probe\/ducklake-.*\.parquet$/);
    assert.ok(await inBucket(files[0]!), "the registered file is really in the gold bucket");
  });
});

/** Start a long write in a child process, wait until it is writing data files, then kill -9 it. */
async function killMidWrite(home: string, catalogUrl: string, table: string, prefix: string, mode: "create" | "insert"): Promise<void> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/integration/fixtures/long-write.ts", home, table, "60000000", mode], {
    env: { ...process.env, DATAFLOW_CATALOG_URL: catalogUrl },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const s3 = rawS3();
  const deadline = Date.now() + 60_000;
  // Kill once the first data file of this write is in MinIO: the write is then surely midway.
  while (Date.now() < deadline) {
    const l = await s3.send(new ListObjectsV2Command({ Bucket: "silver", Prefix: prefix }));
    if ((l.KeyCount ?? 0) > 0 || child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(child.exitCode, null, `the write ended before it could be killed:\n${out}`);
  assert.doesNotMatch(out, /finished/);
  child.kill("SIGKILL");
  await new Promise((r) => child.on("exit", r));
}

test("a write killed midway registers nothing: no half table, no partial rows, no snapshot", { timeout: 180_000 }, async () => {
  await withServicesLab(async (lab, { catalogUrl, home }) => {
    await lab.catalog.run("CREATE TABLE silver.kept AS SELECT 1 AS i, 'x' AS h");
    const before = await lab.catalog.currentSnapshot();
    // One row is inlined in the catalog (DuckLake 1.0), so kept starts with no data file of its own.
    const keptFiles = () => psql(catalogUrl, "SELECT count(*) FROM ducklake_data_file f JOIN ducklake_table t USING (table_id) WHERE t.table_name = 'kept'");
    const filesBefore = keptFiles();
    lab.close(); // one writer at a time, as in a notebook; reopened below

    const suffix = Date.now().toString(36);
    await killMidWrite(home, catalogUrl, `silver.crash_${suffix}`, `crash_${suffix}/`, "create");
    await killMidWrite(home, catalogUrl, "silver.kept", "kept/", "insert");

    const again = await openLab({ home, quiet: true });
    try {
      assert.equal(await again.catalog.tableExists(`silver.crash_${suffix}`), false, "the killed CREATE TABLE left no table");
      assert.equal((await again.sql("SELECT count(*) FROM silver.kept")).number(), 1, "the killed INSERT added no rows");
      assert.equal(await again.catalog.currentSnapshot(), before, "no snapshot was committed by either write");
      assert.equal(psql(catalogUrl, `SELECT count(*) FROM ducklake_table WHERE table_name = 'crash_${suffix}'`), "0");
      // Files the killed writes had uploaded are orphans the catalog never references.
      assert.equal(keptFiles(), filesBefore);
    } finally {
      again.close();
    }
  });
});

test("a services lake written by DuckDB 1.4 (DuckLake 0.3, DATA_PATH s3://) is migrated on open, each layer kept in its bucket", { timeout: 300_000 }, async () => {
  const db = freshCatalogDatabase();
  const home = await mkdtemp(join(tmpdir(), "services-old-lab-"));
  const saved = process.env["DATAFLOW_CATALOG_URL"];
  try {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("AWS_")));
    const old = writeOldCatalog(home, { ...env, DATAFLOW_CATALOG_URL: db.url });
    assert.equal(old.format, "0.3");
    assert.ok(old.files.length >= 2 && old.files.every((f) => /^s3:\/\/(silver\/orders|gold\/totals)\/[^/]+\.parquet$/.test(f)), old.files.join(", "));

    process.env["DATAFLOW_CATALOG_URL"] = db.url;
    const lab = await openLab({ home, quiet: true });
    try {
      assert.equal(lab.catalog.migratedFrom, "0.3");
      assert.deepEqual((await lab.sql("SELECT amount FROM silver.orders ORDER BY id")).column("amount").map(Number), old.amounts);
      assert.deepEqual((await lab.sql(`SELECT amount FROM silver.orders AT (VERSION => ${old.created}) ORDER BY id`)).column("amount").map(Number), [0, 10, 20]);
      assert.equal((await lab.sql("SELECT total FROM gold.totals")).number(), 42);
      // The files the old engine wrote are still the ones the catalog names, where they were.
      const files = (await lab.sql(`SELECT data_file FROM ducklake_list_files('lake', 'orders', schema => 'silver')
        UNION ALL SELECT data_file FROM ducklake_list_files('lake', 'totals', schema => 'gold') ORDER BY 1`)).column("data_file").map(String);
      assert.deepEqual(files, old.files);
      for (const f of files) assert.ok(await inBucket(f), `${f} is not in MinIO`);
      // New tables land in their layer's bucket too, not under a local "s3:" folder.
      await lab.catalog.run("CREATE TABLE gold.after_upgrade AS SELECT range AS i FROM range(1000)");
      const fresh = (await lab.sql("SELECT data_file FROM ducklake_list_files('lake', 'after_upgrade', schema => 'gold')")).column("data_file").map(String);
      assert.equal(fresh.length, 1);
      assert.match(fresh[0]!, /^s3:\/\/gold\/after_upgrade\//);
      assert.ok(await inBucket(fresh[0]!), "the new table's file is in the gold bucket");
      assert.equal(psql(db.url, "SELECT value FROM ducklake_metadata WHERE key = 'data_path' AND scope IS NULL"), "s3://silver/lake/");
    } finally {
      lab.close();
    }
    const again = await openLab({ home, quiet: true });
    try {
      assert.equal(again.catalog.migratedFrom, null, "opening it again migrates nothing");
      assert.equal((await again.sql("SELECT count(*) FROM silver.orders")).number(), old.amounts.length);
    } finally {
      again.close();
    }
  } finally {
    process.env["DATAFLOW_CATALOG_URL"] = saved;
    db.drop();
    await rm(home, { recursive: true, force: true });
  }
});

test("an unreachable catalog or a wrong password gives one clear error naming the endpoint", async () => {
  const url = requireEnv("DATAFLOW_CATALOG_URL");
  const saved = process.env["DATAFLOW_CATALOG_URL"];
  try {
    process.env["DATAFLOW_CATALOG_URL"] = url.replace(/@[^/]+\//, "@127.0.0.1:1/");
    const t0 = Date.now();
    await assert.rejects(openLab({ home: "/tmp/unreachable-catalog", quiet: true }), (e: Error) => {
      assert.ok(e instanceof CatalogError, String(e));
      assert.match(e.message, /Cannot reach the DuckLake catalog in PostgreSQL at postgresql:\/\/[^:]+:\*\*\*@127\.0\.0\.1:1\//);
      assert.match(e.message, /DATAFLOW_CATALOG_URL/);
      assert.doesNotMatch(e.message, new RegExp(url.split(":")[2]!.split("@")[0]!), "the password is not printed");
      return true;
    });
    assert.ok(Date.now() - t0 < 60_000, "gives up within the bounded retry time");

    process.env["DATAFLOW_CATALOG_URL"] = url.replace(/:\/\/([^:]+):[^@]+@/, "://$1:wrong-password@");
    await assert.rejects(openLab({ home: "/tmp/wrong-password-catalog", quiet: true }), /refused the user or password/);
  } finally {
    process.env["DATAFLOW_CATALOG_URL"] = saved;
  }
});
