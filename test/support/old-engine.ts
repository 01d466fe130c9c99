/**
 * The engine the lab ran before (pin "previous": DuckDB 1.4.4, DuckLake 0.3), for tests that open what it wrote.
 * Its @duckdb/node-api is installed under .lab-env/duckdb-previous on first run, outside the project's own
 * dependencies (one engine per process and per lock file), and it runs in a child process.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const previousPin = (JSON.parse(readFileSync("kernel-helpers/duckdb-pin.json", "utf8")) as { previous: { duckdb: string; nodeApi: string } }).previous;

function installPreviousEngine(): string {
  const prefix = resolve(".lab-env/duckdb-previous");
  const pkg = join(prefix, "node_modules", "@duckdb", "node-api");
  const installed = existsSync(join(pkg, "package.json")) && JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")).version === previousPin.nodeApi;
  if (!installed) {
    mkdirSync(prefix, { recursive: true });
    execFileSync("npm", ["install", "--prefix", prefix, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", `@duckdb/node-api@${previousPin.nodeApi}`],
      { stdio: ["ignore", "ignore", "inherit"] });
  }
  return pkg;
}

export interface OldCatalog { engine: string; format: string; created: number; snapshots: number[]; amounts: number[]; files: string[] }

/**
 * Write a lake with the old engine: silver.orders with three snapshots of history, gold.totals. In `home`'s
 * catalog file, or, with DATAFLOW_CATALOG_URL and AWS_* in `env`, in PostgreSQL with files on S3.
 */
export function writeOldCatalog(home: string, env: NodeJS.ProcessEnv = {}): OldCatalog {
  // The old engine's extension binaries, next to the current set (first run downloads them; later runs find the stamp).
  execFileSync("bash", ["scripts/install-duckdb-extensions.sh", "--previous"], { stdio: ["ignore", "ignore", "inherit"] });
  mkdirSync(home, { recursive: true });
  const out = execFileSync(process.execPath, [join("test", "support", "old-engine-catalog.cjs"), home, resolve(".lab-env/duckdb-extensions"), installPreviousEngine()],
    { encoding: "utf8", env: { PATH: process.env["PATH"], ...env } });
  return JSON.parse(out) as OldCatalog;
}
