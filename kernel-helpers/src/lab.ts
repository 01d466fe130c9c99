import type { DuckDBValue } from "@duckdb/node-api";
import { ConfigError } from "./errors.js";
import { Catalog } from "./catalog/catalog.js";
import type { QueryResult } from "./catalog/result.js";
import { describeSettings, resolveSettings, type LabSettings } from "./config/settings.js";
import { LocalStorage } from "./storage/local-storage.js";

export interface OpenLabOptions {
  /** The lab folder; defaults to $DATAFLOW_LAB_HOME, then the checkout's lab/, then ~/dataflow-lab. */
  readonly home?: string;
  /** Do not print the one-line-per-component summary. */
  readonly quiet?: boolean;
}

/** An open lab: its settings, object storage and DuckLake catalog. */
export class Lab {
  private closed = false;

  constructor(
    readonly settings: LabSettings,
    readonly storage: LocalStorage,
    readonly catalog: Catalog,
  ) {}

  /** Shorthand for `lab.catalog.query(sql)`: SQL is the lab's teaching language. */
  sql(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<QueryResult> {
    return this.catalog.query(sql, params);
  }

  describe(): string[] {
    return describeSettings(this.settings);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    labs().delete(this.settings.home);
    this.catalog.close();
  }
}

// Kept on globalThis so re-running the opening cell (or re-importing the module) reuses the engine.
function labs(): Map<string, Promise<Lab>> {
  const key = Symbol.for("dataflow-lab.open-labs");
  const g = globalThis as unknown as Record<symbol, Map<string, Promise<Lab>> | undefined>;
  return (g[key] ??= new Map());
}

/**
 * Open the lab: resolve every component from the environment (embedded default when unset),
 * print one line per component, and return the lab. Calling it again returns the same lab.
 */
export async function openLab(options: OpenLabOptions = {}): Promise<Lab> {
  const env = options.home ? { ...process.env, DATAFLOW_LAB_HOME: options.home } : process.env;
  const settings = resolveSettings(env);
  const cache = labs();
  let pending = cache.get(settings.home);
  if (!pending) {
    pending = createLab(settings);
    cache.set(settings.home, pending);
    pending.catch(() => cache.delete(settings.home));
  }
  const lab = await pending;
  if (!options.quiet) {
    console.log(`DataFlow Lab at ${settings.home}`);
    for (const line of lab.describe()) console.log(`  ${line}`);
  }
  return lab;
}

async function createLab(settings: LabSettings): Promise<Lab> {
  if (settings.storage.kind !== "local") {
    throw new ConfigError(`Object storage at ${settings.storage.endpoint} (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) is not supported yet.`, {
      fix: "Unset AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL to use the embedded folders; services mode arrives with the real-services issue.",
      context: { endpoint: settings.storage.endpoint },
    });
  }
  const storage = new LocalStorage(settings.storage.root);
  await storage.ensureBuckets();
  const catalog = await Catalog.open(settings);
  return new Lab(settings, storage, catalog);
}
