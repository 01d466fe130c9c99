/** The DuckLake catalog in PostgreSQL with data files on MinIO: atomic writes and clear errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { CatalogError, openLab } from "../../kernel-helpers/src/index.js";
import { psql, rawS3, requireEnv, withServicesLab } from "./services.js";

test("tables are registered in PostgreSQL and their Parquet files land in the layer's bucket", async () => {
  await withServicesLab(async (lab, { catalogUrl }) => {
    await lab.catalog.run("CREATE TABLE gold.pg_probe AS SELECT range AS i FROM range(1000)");
    const tables = psql(catalogUrl, "SELECT t.table_name FROM ducklake_table t WHERE t.end_snapshot IS NULL ORDER BY 1");
    assert.ok(tables.split("\n").includes("pg_probe"), tables);
    const files = psql(catalogUrl, `SELECT s.path || t.path || f.path FROM ducklake_data_file f
      JOIN ducklake_table t USING (table_id) JOIN ducklake_schema s USING (schema_id) WHERE t.table_name = 'pg_probe'`).split("\n");
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^gold\/pg_probe\/ducklake-.*\.parquet$/);
    const listed = await rawS3().send(new ListObjectsV2Command({ Bucket: "gold", Prefix: files[0]!.replace(/^gold\//, "") }));
    assert.equal(listed.KeyCount, 1, "the registered file is really in the gold bucket");
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
