/**
 * Lake maintenance on the real services (PostgreSQL catalog, MinIO data), killed with SIGKILL midway:
 * between the tables of a compaction, inside a merge (its new files uploaded, not committed), before an expiry
 * commits, and between an expiry and its clean-up. Each time the lake stays readable with the same rows, the
 * snapshots the policy keeps still read what they read, and the next maintainLake finishes the job, leaving in
 * MinIO (asked with the raw S3 SDK) exactly the files the catalog knows.
 *
 * This file is also the child process it kills: with MAINTENANCE_CHILD set it runs one maintainLake with the
 * policy in MAINTENANCE_POLICY, and, when MAINTENANCE_STALL is set, prints STALLED and waits before the first
 * catalog statement (SQL and parameters) matching it, so the parent can kill it exactly there.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DeleteObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { openLab, type Lab } from "../../kernel-helpers/src/index.js";
import { describeMaintenance, maintainLake, metadataCatalog, type MaintenancePolicy } from "../../kernel-helpers/src/tables/maintenance.js";
import { rawS3, withServicesLab } from "./services.js";

if (process.env["MAINTENANCE_CHILD"]) {
  const lab = await openLab({ quiet: true });
  const stall = process.env["MAINTENANCE_STALL"];
  if (stall) stallBefore(lab, new RegExp(stall));
  await maintainLake(lab, JSON.parse(process.env["MAINTENANCE_POLICY"]!) as MaintenancePolicy);
  process.stdout.write("DONE\n");
  lab.close();
} else {
  test("a compaction killed between two tables: the first stays merged, the second as it was, and the next run merges it", { timeout: 300_000 }, async () => {
    await withServicesLab(async (lab, ctx) => {
      const sums = { a: await smallFiles(lab, "silver.a", 12), b: await smallFiles(lab, "silver.b", 12) };
      const old = [...sums.b.keys()][3]!;
      const current = { a: await checksum(lab, "silver.a"), b: await checksum(lab, "silver.b") };
      lab.close(); // one kernel at a time, as in a notebook; reopened below

      const killed = await kill(ctx, { flushInlined: false, compact: { tables: ["silver.a", "silver.b"] }, cleanup: false },
        String.raw`ducklake_merge_adjacent_files[\s\S]*"t":"b"`);
      assert.equal(killed.signal, "SIGKILL", killed.output);

      const again = await openLab({ home: ctx.home, quiet: true });
      try {
        assert.equal(await files(again, "silver.a"), 1, "silver.a was merged and committed before the kill");
        assert.equal(await files(again, "silver.b"), 12, "silver.b is untouched");
        assert.deepEqual({ a: await checksum(again, "silver.a"), b: await checksum(again, "silver.b") }, current);
        assert.equal(await checksum(again, "silver.b", old), sums.b.get(old), "time travel on the untouched table still works");

        const r = await maintainLake(again, {});
        assert.ok(r.ok, describeMaintenance(r));
        assert.equal(r.steps.find((s) => s.step === "merge")!.count, 12, describeMaintenance(r));
        assert.deepEqual([await files(again, "silver.a"), await files(again, "silver.b")], [1, 1]);
        assert.deepEqual({ a: await checksum(again, "silver.a"), b: await checksum(again, "silver.b") }, current);
        assert.equal(await checksum(again, "silver.b", old), sums.b.get(old), "no snapshot expired: the merged file still answers for it");
        await assertBucketMatchesCatalog(again, "silver", "a");
        await assertBucketMatchesCatalog(again, "silver", "b");
      } finally {
        again.close();
      }
    });
  });

  test("a compaction killed inside its merge (new files in MinIO, not committed): nothing changed, the next run merges and deletes the orphans", { timeout: 600_000 }, async () => {
    await withServicesLab(async (lab, ctx) => {
      // 12 monthly partitions of 6 files each: the merge writes 12 files one after the other and commits once, so
      // once the first is in MinIO it is surely midway. Random text keeps the files large (~10 MB a month).
      await lab.sql("CREATE TABLE silver.big (i BIGINT, d DATE, a VARCHAR, b VARCHAR)");
      await lab.sql("ALTER TABLE silver.big SET PARTITIONED BY (year(d), month(d))");
      for (let k = 0; k < 6; k++) {
        await lab.sql(`INSERT INTO silver.big SELECT ${k} * 300000 + range, make_date(2025, (range % 12 + 1)::INTEGER, 1),
          md5(random()::VARCHAR), md5(random()::VARCHAR) FROM range(300000)`);
      }
      const before = { sum: await checksum(lab, "silver.big"), files: await catalogFiles(lab, "silver", "big") };
      assert.equal(before.files.length, 72);
      const dir = await folder(lab, "silver", "big");
      const stored = new Set(await bucketFiles(dir));
      assert.equal(stored.size, 72);
      lab.close();

      const [, bucket, prefix] = /^s3:\/\/([^/]+)\/(.*)$/.exec(dir)!;
      const s3 = rawS3();
      let sawNewFile = false;
      try {
        const killed = await kill(ctx, { flushInlined: false, compact: { tables: ["silver.big"] }, cleanup: false }, undefined, async (stop, running) => {
          while (running()) {
            const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
            if ((listed.Contents ?? []).some((o) => o.Key?.endsWith(".parquet") && !stored.has(`s3://${bucket}/${o.Key}`))) {
              sawNewFile = true;
              stop();
              return;
            }
            await new Promise((r) => setTimeout(r, 25));
          }
        });
        assert.ok(sawNewFile, `the merge ended before one of its files showed up in MinIO:\n${killed.output}`);
        assert.equal(killed.signal, "SIGKILL", killed.output);
        assert.doesNotMatch(killed.output, /DONE/);
      } finally {
        s3.destroy();
      }

      const again = await openLab({ home: ctx.home, quiet: true });
      try {
        assert.deepEqual(await catalogFiles(again, "silver", "big"), before.files, "the killed merge committed nothing");
        assert.equal(await checksum(again, "silver.big"), before.sum);
        const orphans = (await bucketFiles(dir)).filter((f) => !stored.has(f));
        assert.ok(orphans.length >= 1, "the killed merge left its uploaded files behind");

        const r = await maintainLake(again, { orphans: { olderThan: "0 seconds" } });
        assert.ok(r.ok, describeMaintenance(r));
        assert.equal((await catalogFiles(again, "silver", "big")).length, 12, describeMaintenance(r));
        assert.equal(await checksum(again, "silver.big"), before.sum);
        const o = r.steps.find((s) => s.step === "orphans")!;
        assert.equal(o.count, orphans.length, describeMaintenance(r));
        await assertBucketMatchesCatalog(again, "silver", "big");
      } finally {
        again.close();
      }
    });
  });

  test("expiry and clean-up killed midway: the lake stays readable with the same rows, kept snapshots read as before, the next run cleans up", { timeout: 300_000 }, async () => {
    await withServicesLab(async (lab, ctx) => {
      // A gold table rebuilt 6 times: each rebuild leaves the previous version's file, read only by older snapshots.
      const versions: { snapshot: number; sum: string }[] = [];
      for (let v = 0; v < 6; v++) {
        await lab.sql(`CREATE OR REPLACE TABLE gold.report AS SELECT range AS i, 'version ${v}' AS s FROM range(${2000 + v * 100})`);
        versions.push({ snapshot: await lab.catalog.currentSnapshot(), sum: await checksum(lab, "gold.report") });
      }
      const snapshotsBefore = (await lab.catalog.snapshots()).length;
      const dir = await folder(lab, "gold", "report");
      assert.equal((await bucketFiles(dir)).length, 6);
      lab.close();
      const policy: MaintenancePolicy = { flushInlined: false, compact: false, expire: { keepLast: 2 }, cleanup: true };

      // Killed before the expiry commits: nothing expired.
      const first = await kill(ctx, policy, "ducklake_expire_snapshots");
      assert.equal(first.signal, "SIGKILL", first.output);
      let again = await openLab({ home: ctx.home, quiet: true });
      try {
        assert.equal((await again.catalog.snapshots()).length, snapshotsBefore);
        for (const v of versions) assert.equal(await checksum(again, "gold.report", v.snapshot), v.sum, `snapshot ${v.snapshot}`);
      } finally {
        again.close();
      }

      // Killed after the expiry committed, before the clean-up: expired snapshots are gone, their files still stored.
      const second = await kill(ctx, policy, "ducklake_cleanup_old_files");
      assert.equal(second.signal, "SIGKILL", second.output);
      again = await openLab({ home: ctx.home, quiet: true });
      try {
        assert.equal((await again.catalog.snapshots()).length, 2);
        assert.equal(await checksum(again, "gold.report"), versions.at(-1)!.sum);
        assert.equal(await checksum(again, "gold.report", versions.at(-2)!.snapshot), versions.at(-2)!.sum, "the second-newest snapshot is kept and reads its version");
        await assert.rejects(again.sql(`SELECT count(*) FROM gold.report AT (VERSION => ${versions[0]!.snapshot})`), /No snapshot found at version/);
        assert.equal((await bucketFiles(dir)).length, 6, "the expired versions' files are still in MinIO");

        // A clean-up killed after deleting some objects but before its catalog commit leaves the catalog naming
        // files that are gone: do the deleting part by hand, then let the next run finish.
        const scheduled = (await again.sql(`SELECT path FROM ${metadataCatalog(again)}.ducklake_files_scheduled_for_deletion`)).column("path").map(String);
        assert.equal(scheduled.length, 4);
        const gone = (await bucketFiles(dir)).find((f) => scheduled.some((p) => f.endsWith(p.slice(p.lastIndexOf("/")))))!;
        const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(gone)!;
        const s3 = rawS3();
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).finally(() => s3.destroy());

        const r = await maintainLake(again, policy);
        assert.ok(r.ok, describeMaintenance(r));
        assert.equal(r.steps.find((s) => s.step === "expire")!.status, "nothing to do");
        assert.equal(r.steps.find((s) => s.step === "cleanup")!.count, 4, describeMaintenance(r));
        assert.equal(r.after.awaitingCleanup, 0);
        assert.equal((await bucketFiles(dir)).length, 2, "the current version and the kept previous one");
        assert.equal(await checksum(again, "gold.report"), versions.at(-1)!.sum);
        assert.equal(await checksum(again, "gold.report", versions.at(-2)!.snapshot), versions.at(-2)!.sum);
        await assertBucketMatchesCatalog(again, "gold", "report");
        const idle = await maintainLake(again, policy);
        assert.deepEqual(idle.steps.map((s) => s.status), ["nothing to do", "nothing to do"], describeMaintenance(idle));
      } finally {
        again.close();
      }
    });
  });
}

/** Before the first catalog statement whose SQL and parameters match `pattern`, announce it and wait to be killed. */
function stallBefore(lab: Lab, pattern: RegExp): void {
  let stalled = false;
  const wrap = <A extends unknown[], R>(call: (sql: string, ...rest: A) => Promise<R>) => async (sql: string, ...rest: A): Promise<R> => {
    if (!stalled && pattern.test(sql + JSON.stringify(rest))) {
      stalled = true;
      process.stdout.write("STALLED\n");
      await new Promise((r) => setTimeout(r, 120_000));
    }
    return call(sql, ...rest);
  };
  lab.catalog.query = wrap(lab.catalog.query.bind(lab.catalog));
  lab.catalog.run = wrap(lab.catalog.run.bind(lab.catalog));
}

/**
 * Run maintainLake in a child on this test's catalog and lab folder and SIGKILL it: when it prints STALLED (it
 * stalls before the statement matching `stall`), or when `watch` calls stop.
 */
async function kill(
  ctx: { catalogUrl: string; home: string }, policy: MaintenancePolicy, stall?: string,
  watch?: (stop: () => void, running: () => boolean) => Promise<void>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env, MAINTENANCE_CHILD: "1", MAINTENANCE_POLICY: JSON.stringify(policy),
    DATAFLOW_CATALOG_URL: ctx.catalogUrl, DATAFLOW_LAB_HOME: ctx.home,
  };
  if (stall) env["MAINTENANCE_STALL"] = stall;
  else delete env["MAINTENANCE_STALL"];
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url)], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) => {
    child.on("exit", (code, signal) => {
      running = false;
      resolve({ code, signal, output });
    });
  });
  child.stdout.on("data", (d: Buffer) => {
    output += d;
    if (/^STALLED$/m.test(output)) child.kill("SIGKILL");
  });
  child.stderr.on("data", (d: Buffer) => (output += d));
  if (watch) await watch(() => child.kill("SIGKILL"), () => running);
  return exited;
}

async function checksum(lab: Lab, table: string, snapshot?: number): Promise<string> {
  const at = snapshot === undefined ? "" : ` AT (VERSION => ${snapshot})`;
  const r = (await lab.sql(`SELECT count(*) AS n, coalesce(bit_xor(hash(x)), 0)::VARCHAR AS h FROM (SELECT * FROM ${table}${at}) x`)).rows()[0]!;
  return `${r["n"]}/${r["h"]}`;
}

async function smallFiles(lab: Lab, table: string, inserts: number): Promise<Map<number, string>> {
  await lab.sql(`CREATE TABLE ${table} (i BIGINT, s VARCHAR)`);
  const sums = new Map<number, string>();
  for (let k = 0; k < inserts; k++) {
    await lab.sql(`INSERT INTO ${table} SELECT range + ${k * 150}, 'row ' || (range + ${k * 150}) FROM range(150)`);
    sums.set(await lab.catalog.currentSnapshot(), await checksum(lab, table));
  }
  return sums;
}

async function files(lab: Lab, table: string): Promise<number> {
  const [schema, name] = table.split(".");
  return (await lab.sql("SELECT count(*) FROM ducklake_list_files('lake', $t, schema => $s)", { t: name!, s: schema! })).number();
}

async function catalogFiles(lab: Lab, schema: string, table: string): Promise<string[]> {
  return (await lab.sql("SELECT data_file FROM ducklake_list_files('lake', $t, schema => $s) ORDER BY 1", { t: table, s: schema })).column("data_file").map(String);
}

/** Where DuckLake keeps a table's files (s3://gold/report/ here; under users/<user>/ for a workshop user). */
async function folder(lab: Lab, schema: string, table: string): Promise<string> {
  const m = metadataCatalog(lab);
  return String((await lab.sql(`SELECT DISTINCT CASE WHEN NOT t.path_is_relative THEN t.path WHEN NOT s.path_is_relative THEN s.path || t.path
        ELSE (SELECT value FROM ${m}.ducklake_metadata WHERE key = 'data_path' AND scope IS NULL) || s.path || t.path END
      FROM ${m}.ducklake_table t JOIN ${m}.ducklake_schema s USING (schema_id)
      WHERE s.schema_name = $s AND t.table_name = $t AND t.end_snapshot IS NULL`, { s: schema, t: table })).scalar());
}

/** The Parquet objects under an s3:// folder, listed with the raw SDK. */
async function bucketFiles(url: string): Promise<string[]> {
  const [, bucket, prefix] = /^s3:\/\/([^/]+)\/(.*)$/.exec(url)!;
  const s3 = rawS3();
  try {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key?.endsWith(".parquet")) out.push(`s3://${bucket}/${o.Key}`);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  } finally {
    s3.destroy();
  }
}

/** Every object in the table's folder is a file the catalog still knows (current or kept for time travel), and vice versa. */
async function assertBucketMatchesCatalog(lab: Lab, schema: string, table: string): Promise<void> {
  const dir = await folder(lab, schema, table);
  const m = metadataCatalog(lab);
  // Every version of the table (CREATE OR REPLACE makes a new table id in the same folder).
  const known = (await lab.sql(`SELECT DISTINCT CASE WHEN f.path_is_relative THEN $dir || f.path ELSE f.path END AS path
      FROM ${m}.ducklake_data_file f JOIN ${m}.ducklake_table t USING (table_id) JOIN ${m}.ducklake_schema s USING (schema_id)
      WHERE s.schema_name = $s AND t.table_name = $t ORDER BY 1`, { dir, s: schema, t: table })).column("path").map(String);
  assert.deepEqual(await bucketFiles(dir), known, `${schema}.${table}: MinIO holds exactly the files the catalog knows`);
  assert.equal((await lab.sql(`SELECT count(*) FROM ${m}.ducklake_files_scheduled_for_deletion`)).number(), 0);
}
