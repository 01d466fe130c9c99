/**
 * Lake maintenance on a real embedded DuckLake 1.0: compaction, expiry by count and age, clean-up, orphans and
 * statistics, run once, twice (nothing left to do) and beside a committing stream sink.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CatalogError, ConflictError, InputError, ingestFile, runStreamSink, type Lab } from "../../../kernel-helpers/src/index.js";
import { describeMaintenance, lakeStats, maintainLake, type MaintenancePolicy } from "../../../kernel-helpers/src/tables/maintenance.js";
import { withLab } from "../helpers.js";

/** Parquet files really in a table's folder (recursively), not what the catalog says. */
async function parquetOnDisk(lab: Lab, layer: string, table: string): Promise<string[]> {
  const names = await readdir(join(lab.settings.home, layer, table), { recursive: true }).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith(".parquet"));
}

async function checksum(lab: Lab, table: string, snapshot?: number): Promise<string> {
  const at = snapshot === undefined ? "" : ` AT (VERSION => ${snapshot})`;
  const r = (await lab.sql(`SELECT count(*) AS n, coalesce(sum(i), 0) AS s, coalesce(bit_xor(hash(i, s)), 0)::VARCHAR AS h FROM ${table}${at}`)).rows()[0]!;
  return `${r["n"]}/${r["s"]}/${r["h"]}`;
}

/** 40 inserts of 150 rows (above the inlining limit of 100, so each is a Parquet file), with each snapshot's checksum. */
async function smallFiles(lab: Lab, table = "silver.small", inserts = 40): Promise<Map<number, string>> {
  await lab.sql(`CREATE TABLE ${table} (i BIGINT, s VARCHAR)`);
  const sums = new Map<number, string>();
  for (let k = 0; k < inserts; k++) {
    await lab.sql(`INSERT INTO ${table} SELECT range + ${k * 150}, 'row ' || (range + ${k * 150}) FROM range(150)`);
    sums.set(await lab.catalog.currentSnapshot(), await checksum(lab, table));
  }
  return sums;
}

test("compaction merges 40 small files into one: same rows and checksum, kept snapshots still readable, expired ones refused, storage reclaimed", async () => {
  await withLab(async (lab) => {
    const sums = await smallFiles(lab);
    const before = await lakeStats(lab);
    const small = before.tables.find((t) => t.table === "small")!;
    assert.deepEqual([small.rows, small.dataFiles, small.storedFiles, small.inlinedRows], [6000, 40, 40, 0]);
    assert.equal((await parquetOnDisk(lab, "silver", "small")).length, 40);
    const expected = await checksum(lab, "silver.small");

    const report = await maintainLake(lab, { expire: { keepLast: 10 } });
    const step = (name: string) => report.steps.find((s) => s.step === name)!;
    assert.ok(report.ok, describeMaintenance(report));
    assert.deepEqual(report.steps.map((s) => s.step), ["flush", "rewrite", "merge", "expire", "cleanup"]);
    assert.equal(step("merge").status, "done");
    assert.equal(step("merge").count, 40);
    assert.deepEqual([step("merge").before.files, step("merge").after.files], [40, 1]);
    const after = report.after.tables.find((t) => t.table === "small")!;
    assert.deepEqual([after.rows, after.dataFiles, after.storedFiles], [6000, 1, 1], "one file in the catalog and one on disk");
    assert.deepEqual((await parquetOnDisk(lab, "silver", "small")).length, 1, "the 40 merged files were deleted from the folder");
    assert.equal(await checksum(lab, "silver.small"), expected);

    // The policy keeps the newest 10 snapshots (the merge's among them): every one of those still reads exactly
    // what it read before, from the merged file; the older ones are gone and time travel to them says so.
    const snapshots = (await lab.catalog.snapshots()).map((s) => s.snapshotId);
    assert.equal(snapshots.length, 10);
    assert.equal(report.after.snapshots, 10);
    const kept = [...sums.keys()].filter((id) => snapshots.includes(id));
    assert.equal(kept.length, 9, "9 insert snapshots kept, plus the merge's");
    for (const id of kept) assert.equal(await checksum(lab, "silver.small", id), sums.get(id), `snapshot ${id} reads as before`);
    const expired = [...sums.keys()].filter((id) => !snapshots.includes(id));
    assert.equal(expired.length, 31);
    await assert.rejects(lab.sql(`SELECT count(*) FROM silver.small AT (VERSION => ${expired.at(-1)})`),
      (e: unknown) => e instanceof CatalogError && /No snapshot found at version/.test(e.message));

    // Right after, there is nothing left to do: no step changes anything, no snapshot is added.
    const again = await maintainLake(lab, { expire: { keepLast: 10 } });
    assert.deepEqual(again.steps.map((s) => s.status), ["nothing to do", "nothing to do", "nothing to do", "nothing to do", "nothing to do"], describeMaintenance(again));
    assert.deepEqual(again.after.totals, again.before.totals);
    assert.match(describeMaintenance(report), /merge +40 file\(s\) merged into 1 \(silver\.small: 40\)/);
  });
});

test("inlined rows are flushed to Parquet and delete-heavy files rewritten; time travel to the inlined and pre-delete snapshots still works", async () => {
  await withLab(async (lab) => {
    await lab.sql("CREATE TABLE bronze.trickle (i BIGINT, s VARCHAR)");
    for (let k = 0; k < 5; k++) await lab.sql(`INSERT INTO bronze.trickle SELECT range + ${k * 20}, 'x' FROM range(20)`);
    const inlinedAt = await lab.catalog.currentSnapshot();
    const inlinedSum = await checksum(lab, "bronze.trickle", inlinedAt);
    await lab.sql("CREATE TABLE silver.churn AS SELECT range AS i, 'y' AS s FROM range(3000)");
    await lab.sql("DELETE FROM silver.churn WHERE i % 10 < 7");
    const stats = await lakeStats(lab);
    const trickle = stats.tables.find((t) => t.table === "trickle")!;
    const churn = stats.tables.find((t) => t.table === "churn")!;
    assert.deepEqual([trickle.inlinedRows, trickle.dataFiles], [100, 0], "inserts of 20 rows stay in the catalog");
    assert.deepEqual([churn.rows, churn.dataFiles, churn.deleteFiles], [900, 1, 1]);
    assert.equal(stats.totals.inlinedRows, 100);

    const r = await maintainLake(lab, {});
    const step = (name: string) => r.steps.find((s) => s.step === name)!;
    assert.deepEqual([step("flush").status, step("flush").count], ["done", 100]);
    assert.deepEqual([step("rewrite").status, step("rewrite").count], ["done", 1], "70% of the file was deleted: above the default threshold 0.5");
    const t = r.after.tables.find((x) => x.table === "trickle")!;
    const c = r.after.tables.find((x) => x.table === "churn")!;
    assert.deepEqual([t.inlinedRows, t.dataFiles, t.rows], [0, 1, 100]);
    assert.deepEqual([c.rows, c.dataFiles, c.deleteFiles], [900, 1, 0]);
    assert.equal(await checksum(lab, "bronze.trickle", inlinedAt), inlinedSum, "the snapshot whose rows were inlined reads the same from Parquet");
    assert.equal((await lab.sql(`SELECT count(*) FROM silver.churn AT (VERSION => ${inlinedAt + 1})`)).number(), 3000, "no snapshot expired: before the delete is still readable");
  });
});

test("expiry by age, by count and by both; the newest snapshot always stays", async () => {
  await withLab(async (lab) => {
    await lab.sql("CREATE TABLE silver.aged (i INTEGER)");
    for (let k = 0; k < 4; k++) await lab.sql(`INSERT INTO silver.aged VALUES (${k})`);
    await new Promise((r) => setTimeout(r, 50));
    const cutoff = new Date();
    await new Promise((r) => setTimeout(r, 50));
    for (let k = 4; k < 8; k++) await lab.sql(`INSERT INTO silver.aged VALUES (${k})`);
    const ids = async () => (await lab.catalog.snapshots()).map((s) => s.snapshotId);
    const all = await ids();
    const young = (await lab.catalog.snapshots()).filter((s) => new Date(s.time.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00")) >= cutoff).map((s) => s.snapshotId);
    assert.equal(young.length, 4);

    const nothing = await maintainLake(lab, { flushInlined: false, compact: false, cleanup: false, expire: { olderThan: "1 hour" } });
    assert.equal(nothing.steps.find((s) => s.step === "expire")!.status, "nothing to do", "every snapshot is younger than an hour");

    const byDate = await maintainLake(lab, { flushInlined: false, compact: false, expire: { olderThan: cutoff } });
    assert.equal(byDate.steps.find((s) => s.step === "expire")!.count, all.length - 4);
    assert.deepEqual(await ids(), young, "exactly the snapshots from before the cutoff expired");
    for (const [n, id] of young.entries()) assert.equal((await lab.sql(`SELECT count(*) FROM silver.aged AT (VERSION => ${id})`)).number(), 5 + n);

    const byCount = await maintainLake(lab, { flushInlined: false, compact: false, expire: { keepLast: 3 } });
    assert.equal(byCount.steps.find((s) => s.step === "expire")!.count, 1);
    assert.deepEqual(await ids(), young.slice(1));

    // olderThan "0 seconds" alone would leave only the newest; with keepLast the newest 2 stay.
    await maintainLake(lab, { flushInlined: false, compact: false, expire: { olderThan: "0 seconds", keepLast: 2 } });
    assert.deepEqual(await ids(), young.slice(2));
    await maintainLake(lab, { flushInlined: false, compact: false, expire: { olderThan: "0 seconds" } });
    assert.deepEqual(await ids(), young.slice(3), "DuckLake never expires the newest snapshot");
    assert.equal((await lab.sql("SELECT count(*) FROM silver.aged")).number(), 8);
  });
});

test("orphans: only unregistered DuckLake files in table folders go, after their grace period; landed raw files never", async () => {
  await withLab(async (lab, dir) => {
    // A landed source file is a .parquet under the lab folder, which is the embedded lake's DATA_PATH.
    const source = join(dir, "products.parquet");
    await lab.sql(`COPY (SELECT range AS product_id, 'p' || range AS name FROM range(50)) TO '${source}' (FORMAT parquet)`);
    const landed = (await ingestFile(lab, { file: source, table: "products" })).landedAs;
    await lab.sql("CREATE TABLE silver.kept AS SELECT range AS i FROM range(500)");
    const [file] = await parquetOnDisk(lab, "silver", "kept");
    // What a write killed before its commit leaves: a DuckLake-named file no snapshot registered.
    const stray = join(lab.settings.home, "silver", "kept", "ducklake-00000000-0000-0000-0000-000000000000.parquet");
    await copyFile(join(lab.settings.home, "silver", "kept", file!), stray);
    const mine = join(lab.settings.home, "silver", "kept", "notes.parquet");
    await copyFile(join(lab.settings.home, "silver", "kept", file!), mine);

    // DuckLake's own orphan function would take the landed raw file too: that is why the lab does not call it.
    const duckLakeWould = (await lab.sql("SELECT path FROM ducklake_delete_orphaned_files('lake', cleanup_all => true, dry_run => true)")).column("path").map(String);
    assert.ok(duckLakeWould.includes(landed), duckLakeWould.join(", "));

    const graced = await maintainLake(lab, { orphans: true });
    const g = graced.steps.find((s) => s.step === "orphans")!;
    assert.equal(g.status, "nothing to do");
    assert.match(g.detail, /1 orphan file\(s\) younger than that kept/);
    const now = await maintainLake(lab, { orphans: { olderThan: "0 seconds" } });
    const o = now.steps.find((s) => s.step === "orphans")!;
    assert.deepEqual([o.status, o.count], ["done", 1]);
    assert.deepEqual((await parquetOnDisk(lab, "silver", "kept")).sort(), [file!, "notes.parquet"].sort(), "the stray went; the table's file and a file not named by DuckLake stayed");
    assert.equal((await lab.sql(`SELECT count(*) FROM read_parquet('${landed}')`)).number(), 50, "the landed raw file is untouched");
    assert.equal((await lab.sql("SELECT count(*) FROM silver.kept")).number(), 500);
    assert.equal((await lab.sql("SELECT count(*) FROM bronze.products")).number(), 50);
  });
});

test("a step refused by commit conflicts is tried again, and after three refusals the report says it gave up; the other steps still run", async () => {
  await withLab(async (lab) => {
    await smallFiles(lab, "silver.contended", 4);
    // Another kernel committing the same table is what refuses a commit; here the refusal is injected in front of
    // the merge, exactly as the catalog reports one (ConflictError), since one embedded catalog has one kernel.
    let refusals = 2;
    const query = lab.catalog.query.bind(lab.catalog);
    lab.catalog.query = async (sql, params) => {
      if (/ducklake_merge_adjacent_files/.test(sql) && refusals-- > 0) {
        throw new ConflictError("Another writer changed the same table first, so this commit was refused: Transaction conflict (injected)");
      }
      return query(sql, params);
    };
    const retried = await maintainLake(lab, {});
    const merge = retried.steps.find((s) => s.step === "merge")!;
    assert.deepEqual([merge.status, merge.attempts, merge.count, retried.ok], ["done", 3, 4, true]);

    await lab.sql("INSERT INTO silver.contended SELECT range, 'late' FROM range(500)");
    refusals = Infinity;
    const refused = await maintainLake(lab, { expire: { keepLast: 2 } });
    const gaveUp = refused.steps.find((s) => s.step === "merge")!;
    assert.deepEqual([gaveUp.status, gaveUp.attempts, refused.ok], ["gave up", 3, false]);
    assert.match(describeMaintenance(refused), /INCOMPLETE[\s\S]*merge +GAVE UP: gave up after 3 commit conflicts/);
    assert.equal(refused.steps.find((s) => s.step === "expire")!.status, "done", "the steps after it still ran");
    assert.equal(refused.after.tables.find((t) => t.table === "contended")!.dataFiles, 2, "the merge wrote nothing");
  });
});

test("a bad policy is refused naming the setting, before anything is touched", async () => {
  await withLab(async (lab) => {
    await lab.sql("CREATE TABLE silver.p AS SELECT range AS i FROM range(500)");
    await lab.sql("INSERT INTO silver.p SELECT range FROM range(500)");
    const snapshots = await lab.catalog.currentSnapshot();
    const bad: [unknown, RegExp][] = [
      [{ compactt: true }, /policy\.compactt is not a policy setting/],
      [{ expire: { keepLast: -1 } }, /policy\.expire\.keepLast must be a whole number of at least 1, got -1/],
      [{ expire: { keepLast: 2.5 } }, /policy\.expire\.keepLast/],
      [{ expire: { keepLast: 0 } }, /policy\.expire\.keepLast/],
      [{ expire: { olderThan: "7 dayz" } }, /policy\.expire\.olderThan is "7 dayz", not an interval/],
      [{ expire: { olderThan: "-7 days" } }, /policy\.expire\.olderThan/],
      [{ expire: { olderThan: new Date("nope") } }, /policy\.expire\.olderThan is an invalid Date/],
      [{ expire: {} }, /policy\.expire names no snapshots to expire/],
      [{ expire: { keepLast: 3, older: "1 day" } }, /policy\.expire\.older is not a policy setting/],
      [{ cleanup: { olderThan: "soon" } }, /policy\.cleanup\.olderThan/],
      [{ orphans: "yes" }, /policy\.orphans must be an object/],
      [{ flushInlined: 1 }, /policy\.flushInlined must be true or false/],
      [{ compact: { tables: ["silver"] } }, /policy\.compact\.tables\[0\] is "silver", not a layer\.table name/],
      [{ compact: { tables: ["silver.p", "silver.nope"] } }, /policy\.compact\.tables\[1\] names silver\.nope, which does not exist/],
      [{ compact: { deleteThreshold: 1.5 } }, /policy\.compact\.deleteThreshold must be a fraction/],
      [null, /policy must be an object/],
    ];
    for (const [policy, message] of bad) {
      await assert.rejects(maintainLake(lab, policy as MaintenancePolicy), (e: unknown) => {
        assert.ok(e instanceof InputError, `${JSON.stringify(policy)}: ${String(e)}`);
        assert.match(e.message, message);
        assert.ok(typeof e.context["field"] === "string" && e.fix, "names the field and says the fix");
        return true;
      });
    }
    assert.equal(await lab.catalog.currentSnapshot(), snapshots, "nothing was committed");
    assert.equal((await lakeStats(lab)).tables[0]!.dataFiles, 2, "nothing was compacted");
    // A valid table list compacts only those tables.
    await lab.sql("CREATE TABLE silver.q AS SELECT range AS i FROM range(500)");
    await lab.sql("INSERT INTO silver.q SELECT range FROM range(500)");
    const only = await maintainLake(lab, { compact: { tables: ["silver.q"] } });
    const files = Object.fromEntries(only.after.tables.map((t) => [t.table, t.dataFiles]));
    assert.deepEqual(files, { p: 2, q: 1 });
  });
});

test("maintenance run again and again while the stream sink commits: no error, every event exactly once, fewer files at the end", { timeout: 120_000 }, async () => {
  await withLab(async (lab) => {
    const landing = join(lab.settings.home, "landing", "transactions");
    await mkdir(landing, { recursive: true });
    const waves = 20;
    const perWave = 150;
    let peakFiles = 0;
    const sink = runStreamSink(lab, {
      topics: ["transactions"], schemas: { transactions: { transaction_id: "string", amount: "number", user_id: "string" } },
      keyField: "user_id", batchSize: perWave, maxWaitMs: 20, idleStopMs: 1000,
    });
    let sinkDone = false;
    const sinkResult = sink.finally(() => (sinkDone = true));
    const writer = (async () => {
      for (let w = 0; w < waves; w++) {
        const lines = Array.from({ length: perWave }, (_, i) => JSON.stringify({ transaction_id: `t${w * perWave + i}`, amount: i, user_id: `u${i % 7}` }) + "\n");
        await writeFile(join(landing, `${String(w).padStart(4, "0")}.jsonl`), lines.join(""));
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    // Every step that can run beside the sink, orphans with no grace included: the kernel's write turn keeps the
    // sink's not-yet-committed files out of their reach.
    const policy: MaintenancePolicy = { expire: { keepLast: 5 }, orphans: { olderThan: "0 seconds" } };
    const reports = [];
    while (!sinkDone) {
      const r = await maintainLake(lab, policy);
      assert.ok(r.ok, describeMaintenance(r));
      peakFiles = Math.max(peakFiles, r.before.totals.files);
      reports.push(r);
    }
    await writer;
    const result = await sinkResult;
    const final = await maintainLake(lab, policy);
    peakFiles = Math.max(peakFiles, final.before.totals.files);

    assert.equal(result.rows, waves * perWave);
    const r = (await lab.sql(`SELECT count(*) AS n, count(DISTINCT transaction_id) AS d, count(DISTINCT ("_partition", "_offset")) AS o FROM bronze.transactions`)).rows()[0]!;
    assert.deepEqual([r["n"], r["d"], r["o"]], [waves * perWave, waves * perWave, waves * perWave], "no event lost or duplicated");
    assert.ok(result.batches > 1 && reports.length >= 2, `maintenance ran ${reports.length} time(s) during ${result.batches} sink batches`);
    assert.ok(reports.some((x) => x.steps.some((s) => s.step === "merge" && s.count > 0)), "some run merged files while the sink was committing");
    const tx = final.after.tables.find((t) => t.table === "transactions")!;
    assert.ok(final.after.totals.files < peakFiles, `files ${final.after.totals.files} at the end, ${peakFiles} at the peak`);
    assert.equal(tx.dataFiles, 1, describeMaintenance(final));
    assert.equal(tx.storedFiles, 1, "nothing else left in its folder");
    assert.equal(final.after.snapshots, 5);
    const offsets = (await lab.sql("SELECT next_offset FROM bronze.stream_offsets")).column("next_offset");
    assert.deepEqual(offsets, [(waves - 1) * 1e9 + perWave], "the sink's position is the last line of the last file");
  });
});
