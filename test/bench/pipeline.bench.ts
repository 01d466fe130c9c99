/**
 * Benchmark: bronze → silver → gold on generated data at a chosen scale.
 * Prints a table and writes JSON: wall time and rows/s per layer, peak RSS.
 *
 *   npm run benchmark -- --orders 1000000
 *   npm run benchmark -- --orders 10000000 --out out/bench/10m.json
 */
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { generate, readManifest, type Manifest } from "../../data/generate.js";
import { DuckDBInstance } from "@duckdb/node-api";
import { openLab } from "../../kernel-helpers/src/index.js";
import { runBronze, runGold, runSilver } from "./medallion.js";

const { values: args } = parseArgs({
  options: {
    orders: { type: "string", default: "1000000" },
    seed: { type: "string", default: "42" },
    out: { type: "string" },
    work: { type: "string", default: "out/bench" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) console.log("usage: npm run benchmark -- [--orders N] [--seed S] [--out result.json] [--work folder]");
else await benchmark();

async function benchmark(): Promise<void> {
  const orders = Number(args.orders);
  const seed = Number(args.seed);
  if (!Number.isInteger(orders) || orders < 1000) throw new Error(`--orders must be an integer >= 1000, got "${args.orders}"`);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got "${args.seed}"`);

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

  log("bronze: landing and loading 4 files");
  const bronze = await runBronze(lab, dataDir, (s) => log(`  ${s} done (${rssMB()} MB peak RSS)`));
  const bronzeRss = rssMB();
  log("silver: applying quality rules");
  const silver = await runSilver(lab, (s) => log(`  ${s} done (${rssMB()} MB peak RSS)`));
  const silverRss = rssMB();
  log("gold: building 3 tables");
  const gold = await runGold(lab, (s) => log(`  ${s} done (${rssMB()} MB peak RSS)`));
  const goldRss = rssMB();
  log("reference: raw DuckDB loading the same files as text, no lineage, no checks");
  const reference = await rawBronze(dataDir);

  const bronzeRows = bronze.reports.reduce((n, r) => n + r.rows + r.rejected, 0);
  const silverRows = silver.reports.reduce((n, r) => n + r.rowsIn, 0);
  // Gold reads the clean silver tables it joins; count those rows as its input.
  const goldRows = (await lab.sql("SELECT (SELECT count(*) FROM silver.orders) + (SELECT count(*) FROM silver.customers) + (SELECT count(*) FROM silver.products) + (SELECT count(*) FROM silver.events)")).number();
  const clean = Object.fromEntries(silver.reports.map((r) => [r.target, { rowsIn: r.rowsIn, clean: r.clean, quarantined: r.quarantined }]));
  lab.close();

  const layer = (seconds: number, rows: number, peak: number) => ({
    seconds: round(seconds, 3), rows, rowsPerSecond: Math.round(rows / seconds), peakRssMB: peak,
  });
  const result = {
    benchmark: "medallion-pipeline",
    date: new Date().toISOString(),
    orders, seed,
    machine: { cpus: cpus().length, memoryGB: round(totalmem() / 2 ** 30, 1), node: process.version, duckdb: engine },
    generateSeconds: generateSeconds === null ? null : round(generateSeconds, 2),
    layers: {
      bronze: layer(bronze.seconds, bronzeRows, bronzeRss),
      silver: layer(silver.seconds, silverRows, silverRss),
      gold: layer(gold.seconds, goldRows, goldRss),
    },
    total: layer(bronze.seconds + silver.seconds + gold.seconds, bronzeRows, goldRss),
    reference: { rawDuckdbBronzeSeconds: round(reference.seconds, 3), rows: reference.rows, bronzeOverRaw: round(bronze.seconds / reference.seconds, 2) },
    peakRssMB: goldRss,
    silver: clean,
    expected: manifest.expected,
  };

  console.log("\nlayer    seconds      rows        rows/s   peak RSS MB");
  for (const [name, l] of Object.entries({ ...result.layers, total: result.total })) {
    console.log(`${name.padEnd(7)} ${l.seconds.toFixed(2).padStart(8)} ${l.rows.toLocaleString("en-US").padStart(12)} ${l.rowsPerSecond.toLocaleString("en-US").padStart(12)} ${String(l.peakRssMB).padStart(10)}`);
  }
  console.log(`raw DuckDB, same files as text: ${reference.seconds.toFixed(2)} s for ${reference.rows.toLocaleString("en-US")} rows; bronze takes ${(bronze.seconds / reference.seconds).toFixed(2)}× that (landing, hashing, encoding check, line numbers, rejects, one transaction)`);
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(outFile, JSON.stringify(result, null, 2) + "\n");
  console.log(`\n${JSON.stringify(result)}`);
  log(`wrote ${outFile}`);
}

/** The floor for bronze: DuckDB reading the four files into in-memory tables as text, nothing else. */
async function rawBronze(dataDir: string): Promise<{ seconds: number; rows: number }> {
  const instance = await DuckDBInstance.create(":memory:");
  const c = await instance.connect();
  const f = (name: string) => `'${join(dataDir, name).replaceAll("'", "''")}'`;
  const t0 = performance.now();
  let rows = 0;
  for (const sql of [
    `CREATE TABLE customers AS SELECT * FROM read_csv(${f("customers.csv")}, all_varchar = true)`,
    `CREATE TABLE products AS SELECT * FROM read_parquet(${f("products.parquet")})`,
    `CREATE TABLE orders AS SELECT * FROM read_csv(${f("orders.csv")}, all_varchar = true)`,
    `CREATE TABLE events AS SELECT * FROM read_json(${f("events.jsonl")}, format = 'newline_delimited', ignore_errors = true, columns = {event_id: 'VARCHAR', customer_id: 'VARCHAR', product_id: 'VARCHAR', event_type: 'VARCHAR', event_time: 'VARCHAR', device: 'VARCHAR', session_id: 'VARCHAR'})`,
  ]) await c.run(sql);
  const seconds = (performance.now() - t0) / 1000;
  for (const t of ["customers", "products", "orders", "events"]) rows += Number((await c.runAndReadAll(`SELECT count(*) FROM ${t}`)).getRows()[0]![0]);
  c.closeSync();
  instance.closeSync();
  return { seconds, rows };
}

function round(x: number, digits: number): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}
