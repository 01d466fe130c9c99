/**
 * Benchmark: bronze → silver → gold on generated data at a chosen scale.
 * Prints a table and writes JSON: wall time and rows/s per layer, peak RSS.
 *
 *   npm run benchmark -- --orders 1000000
 *   npm run benchmark -- --orders 10000000 --out out/bench/10m.json
 *   npm run benchmark -- --orders 1000000 --profile   (also times every SQL statement of the pipeline, slowest first)
 */
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { generate, readManifest, type Manifest } from "../../data/generate.js";
import { openLab, type Lab } from "../../kernel-helpers/src/index.js";
import { runBronze, runGold, runSilver } from "./medallion.js";
import { rawReference } from "./raw-reference.js";
import { partitionTable, scanStats, type ScanStats } from "../../kernel-helpers/src/tables/layout.js";
import { maintainLake } from "../../kernel-helpers/src/tables/maintenance.js";

const { values: args } = parseArgs({
  options: {
    orders: { type: "string", default: "1000000" },
    seed: { type: "string", default: "42" },
    out: { type: "string" },
    work: { type: "string", default: "out/bench" },
    "small-files": { type: "string", default: "200" },
    profile: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (args.help) console.log("usage: npm run benchmark -- [--orders N] [--seed S] [--out result.json] [--work folder] [--small-files N] [--profile]");
else await benchmark();

async function benchmark(): Promise<void> {
  const orders = Number(args.orders);
  const seed = Number(args.seed);
  if (!Number.isInteger(orders) || orders < 1000) throw new Error(`--orders must be an integer >= 1000, got "${args.orders}"`);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got "${args.seed}"`);
  const smallFiles = Number(args["small-files"]);
  if (!Number.isInteger(smallFiles) || smallFiles < 2) throw new Error(`--small-files must be an integer >= 2, got "${args["small-files"]}"`);

  const work = resolve(args.work!);
  const dataDir = join(work, `data-${orders}-${seed}`);
  const labHome = join(work, `lab-${orders}-${seed}`);
  const outFile = resolve(args.out ?? join(work, `pipeline-${orders}.json`));

  const rssMB = () => Math.round(process.resourceUsage().maxRSS / 1024);
  const log = (msg: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

  // Generated data is reused across runs of the same scale and seed: the benchmark times the pipeline, not the generator.
  let manifest: Manifest;
  let generateSeconds: number | null = null;
  if (existsSync(join(dataDir, "manifest.json"))) {
    manifest = await readManifest(dataDir);
    log(`reusing generated data in ${dataDir}`);
  } else {
    const t0 = performance.now();
    manifest = await generate({ orders, seed, out: dataDir, onProgress: (l) => log(`generate ${l}`) });
    generateSeconds = (performance.now() - t0) / 1000;
  }

  await rm(labHome, { recursive: true, force: true });
  const lab = await openLab({ home: labHome, quiet: true });
  const engine = (await lab.sql("SELECT version()")).scalar();
  const memoryLimit = String((await lab.sql("SELECT current_setting('memory_limit')")).scalar());
  const profile = args.profile ? profileStatements(lab) : undefined;

  log("bronze: landing and loading 4 files");
  const bronze = await runBronze(lab, dataDir, (s) => log(`  ${s} done (${rssMB()} MB peak RSS)`));
  const bronzeRss = rssMB();
  profile?.layer("silver");
  log("silver: applying quality rules");
  const silver = await runSilver(lab, (s) => log(`  ${s} done (${rssMB()} MB peak RSS)`));
  const silverRss = rssMB();
  profile?.layer("gold");
  log("gold: building 3 tables");
  const gold = await runGold(lab, (s) => log(`  ${s} done (${rssMB()} MB peak RSS)`));
  const goldRss = rssMB();
  profile?.stop();
  log("reference: the same medallion by hand in raw DuckDB (same rules and gold SQL, no lake, no lineage, no quarantine rows)");
  const reference = await rawReference(dataDir, lab.settings.memoryLimit);
  const sameOutputs = (["customers", "orders", "events"] as const).every((t) => reference.clean[t] === manifest.expected[t].clean);

  const bronzeRows = bronze.reports.reduce((n, r) => n + r.rows + r.rejected, 0);
  const silverRows = silver.reports.reduce((n, r) => n + r.rowsIn, 0);
  // Gold reads the clean silver tables it joins; count those rows as its input.
  const goldRows = (await lab.sql("SELECT (SELECT count(*) FROM silver.orders) + (SELECT count(*) FROM silver.customers) + (SELECT count(*) FROM silver.products) + (SELECT count(*) FROM silver.events)")).number();
  const clean = Object.fromEntries(silver.reports.map((r) => [r.target, { rowsIn: r.rowsIn, clean: r.clean, quarantined: r.quarantined }]));
  log("layout and maintenance: partition pruning on silver.orders, compaction of small files");
  const tables = await layoutAndMaintenance(lab, smallFiles, log);
  lab.close();

  const layer = (seconds: number, rows: number, peak: number) => ({
    seconds: round(seconds, 3), rows, rowsPerSecond: Math.round(rows / seconds), peakRssMB: peak,
  });
  const result = {
    benchmark: "medallion-pipeline",
    date: new Date().toISOString(),
    orders, seed,
    machine: { cpus: cpus().length, memoryGB: round(totalmem() / 2 ** 30, 1), node: process.version, duckdb: engine, duckdbMemoryLimit: memoryLimit },
    generateSeconds: generateSeconds === null ? null : round(generateSeconds, 2),
    layers: {
      bronze: layer(bronze.seconds, bronzeRows, bronzeRss),
      silver: layer(silver.seconds, silverRows, silverRss),
      gold: layer(gold.seconds, goldRows, goldRss),
    },
    total: layer(bronze.seconds + silver.seconds + gold.seconds, bronzeRows, goldRss),
    reference: {
      rawDuckdb: Object.fromEntries(Object.entries(reference.seconds).map(([k, v]) => [k, round(v, 3)])),
      rawClean: reference.clean, sameOutputs,
      labOverRaw: round((bronze.seconds + silver.seconds + gold.seconds) / reference.seconds.total, 2),
      bronzeOverRaw: round(bronze.seconds / reference.seconds.bronze, 2),
    },
    peakRssMB: goldRss,
    silver: clean,
    expected: manifest.expected,
    layout: tables.layout,
    maintenance: tables.maintenance,
    ...(profile ? { sqlSeconds: profile.sqlSeconds(), statements: profile.top(40) } : {}),
  };

  console.log("\nlayer    seconds      rows        rows/s   peak RSS MB");
  for (const [name, l] of Object.entries({ ...result.layers, total: result.total })) {
    console.log(`${name.padEnd(7)} ${l.seconds.toFixed(2).padStart(8)} ${l.rows.toLocaleString("en-US").padStart(12)} ${l.rowsPerSecond.toLocaleString("en-US").padStart(12)} ${String(l.peakRssMB).padStart(10)}`);
  }
  const r = result.reference.rawDuckdb;
  console.log(`raw DuckDB by hand, same rules and gold: ${r["bronze"]!.toFixed(2)} + ${r["silver"]!.toFixed(2)} + ${r["gold"]!.toFixed(2)} = ${r["total"]!.toFixed(2)} s`
    + ` (clean rows ${sameOutputs ? "equal the generator's" : `DIFFER from the generator's: ${JSON.stringify(reference.clean)}`});`
    + ` the lab takes ${result.reference.labOverRaw}× that, bronze ${result.reference.bronzeOverRaw}× (landing, hashing, encoding check, line numbers, rejects, lake commits)`);
  printTables(tables);
  if (profile) {
    const inSql = profile.sqlSeconds();
    console.log(`\nSQL statements take ${Object.entries(inSql).map(([l, x]) => `${x.toFixed(2)} s of ${l}`).join(", ")} (the rest is Node: hashing, decoding, landing); slowest:`);
    for (const st of profile.top(25)) console.log(`${st.seconds.toFixed(2).padStart(7)}  ${st.layer.padEnd(7)} ${st.sql}`);
  }
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(outFile, JSON.stringify(result, null, 2) + "\n");
  console.log(`\n${JSON.stringify(result)}`);
  log(`wrote ${outFile}`);
}

/**
 * Times every statement the pipeline sends through the catalog (run and query, lab.sql included), labelled with the
 * layer running at the time. Statements run one at a time in the benchmark, so the times add up to the layer's.
 */
function profileStatements(lab: Lab): { layer(name: string): void; stop(): void; sqlSeconds(): Record<string, number>; top(n: number): { layer: string; seconds: number; sql: string }[] } {
  const catalog = lab.catalog as unknown as Record<"run" | "query", (...a: unknown[]) => Promise<unknown>>;
  const original = { run: catalog.run, query: catalog.query };
  const seen: { layer: string; seconds: number; sql: string }[] = [];
  let layer = "bronze";
  for (const name of ["run", "query"] as const) {
    catalog[name] = async function (this: unknown, ...a: unknown[]) {
      const t0 = performance.now();
      try {
        return await original[name].apply(this, a);
      } finally {
        const sql = String(a[0]).replace(/\s+/g, " ").trim();
        seen.push({ layer, seconds: (performance.now() - t0) / 1000, sql: sql.slice(0, 160) });
      }
    };
  }
  return {
    layer: (name) => { layer = name; },
    stop: () => Object.assign(catalog, original),
    sqlSeconds: () => Object.fromEntries(["bronze", "silver", "gold"].map((l) => [l, round(seen.filter((st) => st.layer === l).reduce((a, st) => a + st.seconds, 0), 3)])),
    top: (n) => [...seen].sort((x, y) => y.seconds - x.seconds).slice(0, n).map((st) => ({ ...st, seconds: round(st.seconds, 3) })),
  };
}

function round(x: number, digits: number): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}

// ---------------------------------------------------------------------------------------------------------------
// Layout and maintenance (issue 17): partition pruning and compaction, measured on the lake the pipeline built.

type Scan = Pick<ScanStats, "files" | "bytesRead" | "fileBytes" | "seconds">;

async function layoutAndMaintenance(lab: Lab, smallFiles: number, log: (msg: string) => void) {
  const scan = async (sql: string): Promise<Scan> => {
    const s = await scanStats(lab, sql);
    return { files: s.files, bytesRead: s.bytesRead, fileBytes: s.fileBytes, seconds: round(s.seconds, 4) };
  };
  // The first full month of orders: one of the ~18 the generator spreads them over.
  const bounds = (await lab.sql(`SELECT (date_trunc('month', min(order_date)) + INTERVAL 1 MONTH)::DATE::VARCHAR AS m,
      (date_trunc('month', min(order_date)) + INTERVAL 2 MONTH)::DATE::VARCHAR AS next FROM silver.orders`)).rows()[0]!;
  const month = String(bounds["m"]);
  // DATE bounds: DATE + INTERVAL is a TIMESTAMP, and a filter that casts the column prunes nothing.
  const oneMonth = `SELECT count(*), sum(amount) FROM silver.orders WHERE order_date >= DATE '${month}' AND order_date < DATE '${String(bounds["next"])}'`;
  const everything = "SELECT count(*), sum(amount) FROM silver.orders";
  const unpartitioned = { oneMonth: await scan(oneMonth), everything: await scan(everything) };
  const t0 = performance.now();
  const p = await partitionTable(lab, "silver.orders", ["year(order_date)", "month(order_date)"], { rewrite: true });
  const partitionSeconds = (performance.now() - t0) / 1000;
  const partitioned = { oneMonth: await scan(oneMonth), everything: await scan(everything) };
  log(`  partitioned silver.orders by month: ${p.filesAfter} files, ${partitionSeconds.toFixed(2)} s`);

  // The stream sink's shape: one commit per micro-batch, each a small Parquet file (500 rows, above the inlining limit).
  const table = "bronze.bench_small_files";
  await lab.sql(`CREATE OR REPLACE TABLE ${table} (id BIGINT, customer_id BIGINT, status VARCHAR, amount DECIMAL(12,2), created_at TIMESTAMPTZ)`);
  for (let k = 0; k < smallFiles; k++) {
    await lab.sql(`INSERT INTO ${table} SELECT range, range % 9973, ['completed', 'shipped', 'cancelled'][1 + range % 3], (range % 10000) / 100,
      TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_seconds(range) FROM range(${k * 500}, ${(k + 1) * 500})`);
  }
  const query = `SELECT status, count(*), sum(amount) FROM ${table} GROUP BY status`;
  const median = async () => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await lab.sql(query);
      times.push((performance.now() - t) / 1000);
    }
    return round(times.sort((a, b) => a - b)[2]!, 4);
  };
  const filesIn = async () => (await lab.sql(`SELECT count(*) FROM ducklake_list_files('lake', 'bench_small_files', schema => 'bronze')`)).number();
  const before = { files: await filesIn(), querySeconds: await median() };
  const report = await maintainLake(lab, { flushInlined: false, compact: { tables: [table] } });
  const merge = report.steps.find((s) => s.step === "merge")!;
  const after = { files: await filesIn(), querySeconds: await median() };
  log(`  compacted ${before.files} small files into ${after.files} in ${merge.seconds.toFixed(2)} s`);
  return {
    layout: { partitionedBy: p.by, month, partitions: p.filesAfter, partitionSeconds: round(partitionSeconds, 3), unpartitioned, partitioned },
    maintenance: {
      smallFiles: { table, rows: smallFiles * 500, before, after, compactionSeconds: round(merge.seconds, 3), maintenanceSeconds: round(report.seconds, 3) },
    },
  };
}

function printTables(t: Awaited<ReturnType<typeof layoutAndMaintenance>>): void {
  const line = (name: string, s: Scan) =>
    console.log(`  ${name.padEnd(28)} ${String(s.files).padStart(6)} files ${(s.bytesRead / 2 ** 20).toFixed(2).padStart(9)} MiB read of ${(s.fileBytes / 2 ** 20).toFixed(2).padStart(9)} MiB ${s.seconds.toFixed(3).padStart(8)} s`);
  console.log(`\npartition pruning on silver.orders (${t.layout.partitionedBy.join(", ")}; ${t.layout.partitions} files after ${t.layout.partitionSeconds.toFixed(2)} s of rewrite), one month = ${t.layout.month}:`);
  line("unpartitioned, one month", t.layout.unpartitioned.oneMonth);
  line("unpartitioned, everything", t.layout.unpartitioned.everything);
  line("partitioned, one month", t.layout.partitioned.oneMonth);
  line("partitioned, everything", t.layout.partitioned.everything);
  const c = t.maintenance.smallFiles;
  console.log(`compaction of ${c.table}: ${c.before.files} → ${c.after.files} files in ${c.compactionSeconds.toFixed(2)} s; query ${c.before.querySeconds.toFixed(4)} s → ${c.after.querySeconds.toFixed(4)} s (median of 5)`);
}
