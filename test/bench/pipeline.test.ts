/**
 * The benchmark stays runnable: a small run writes its JSON with a number for every layer,
 * and the pipeline it times lands exactly the rows the generator says are clean.
 * (Speed is read from the printed numbers, never asserted.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { embeddedEnv } from "../embedded.js";

test("the pipeline benchmark writes per-layer timings and reconciles with the generator", { timeout: 10 * 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "bench-"));
  try {
    const out = join(dir, "result.json");
    const r = spawnSync(process.execPath, ["--import", "tsx", "test/bench/pipeline.bench.ts", "--orders", "20000", "--small-files", "30", "--work", dir, "--out", out], { encoding: "utf8", env: embeddedEnv() });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /rows\/s/);
    const result = JSON.parse(await readFile(out, "utf8"));
    for (const layer of ["bronze", "silver", "gold"]) {
      const l = result.layers[layer];
      assert.ok(l.seconds > 0 && l.rows > 0 && l.rowsPerSecond > 0 && l.peakRssMB > 0, `${layer}: ${JSON.stringify(l)}`);
    }
    for (const t of ["customers", "orders", "events"]) {
      assert.equal(result.silver[`silver.${t}`].clean, result.expected[t].clean, `silver.${t} clean rows`);
      assert.equal(result.silver[`silver.${t}`].quarantined, result.expected[t].quarantined, `silver.${t} quarantined rows`);
    }
    // The raw-DuckDB reference does the same work: its clean rows are the generator's too.
    assert.equal(result.reference.sameOutputs, true, `raw reference: ${JSON.stringify(result.reference)}`);
    assert.ok(result.reference.rawDuckdb.total > 0 && result.reference.labOverRaw > 0, JSON.stringify(result.reference));
    // Pruning and compaction figures are there, and say what they must (sizes, not speeds).
    const { unpartitioned, partitioned } = result.layout;
    assert.ok(partitioned.oneMonth.files < partitioned.everything.files, `a month reads fewer partition files: ${JSON.stringify(partitioned)}`);
    assert.ok(partitioned.oneMonth.bytesRead < unpartitioned.oneMonth.bytesRead, `partitioning reads fewer bytes for a month: ${JSON.stringify(result.layout)}`);
    const small = result.maintenance.smallFiles;
    assert.equal(small.before.files, 30);
    assert.ok(small.after.files < small.before.files && small.compactionSeconds > 0, JSON.stringify(small));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
