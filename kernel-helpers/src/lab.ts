import type { DuckDBValue } from "@duckdb/node-api";
import { Catalog } from "./catalog/catalog.js";
import type { QueryResult } from "./catalog/result.js";
import { describeSettings, resolveSettings, s3Credentials, userNamespace, type LabSettings } from "./config/settings.js";
import { LocalStorage } from "./storage/local-storage.js";
import { S3Storage } from "./storage/s3-storage.js";
import type { ObjectStore } from "./storage/object-store.js";

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
    readonly storage: ObjectStore,
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
    labs().delete([this.settings.home, ...describeSettings(this.settings)].join("\n"));
    this.catalog.close();
    if (this.storage instanceof S3Storage) this.storage.close();
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
  // Same folder and same backends → same lab; a changed variable opens a new one.
  const key = [settings.home, ...describeSettings(settings)].join("\n");
  let pending = cache.get(key);
  if (!pending) {
    pending = createLab(settings);
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
  }
  const lab = await pending;
  if (!options.quiet) {
    console.log(`DataFlow Lab at ${settings.home}`);
    for (const line of lab.describe()) console.log(`  ${line}`);
  }
  return lab;
}

async function createLab(settings: LabSettings): Promise<Lab> {
  const storage: ObjectStore =
    settings.storage.kind === "local"
      ? new LocalStorage(settings.storage.root)
      : new S3Storage(settings.storage.endpoint, settings.storage.region, s3Credentials(), userNamespace(settings.user).keyPrefix);
  try {
    await storage.ensureBuckets();
    return new Lab(settings, storage, await Catalog.open(settings));
  } catch (e) {
    if (storage instanceof S3Storage) storage.close();
    throw e;
  }
}
