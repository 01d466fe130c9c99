import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { copyFileSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DuckDBInstance, version, type DuckDBConnection, type DuckDBValue } from "@duckdb/node-api";
import { CatalogError, ConflictError, LabError, messageOf } from "../errors.js";
import { ENV, LAYERS, redact, s3Credentials, userNamespace, type LabSettings } from "../config/settings.js";
import { isConnectionError, retry } from "../retry.js";
import { LakeLock } from "./lake-lock.js";
import { QueryResult } from "./result.js";
import { ident, literal, parseTableName, qualified } from "./sql.js";

/** The name the DuckLake catalog is attached under; SQL in notebooks can say `lake.silver.orders`. */
export const LAKE = "lake";

/** The DuckLake format version this engine writes; older catalogs are migrated on open (see `Catalog.open`). */
export const DUCKLAKE_VERSION = "1.0";

/** Inserts of at most this many rows are inlined into the catalog (see the ATTACH in `Catalog.open`). */
export const DATA_INLINING_ROW_LIMIT = 100;

export interface Snapshot {
  readonly snapshotId: number;
  readonly time: string;
  readonly changes: Record<string, string[]>;
  readonly message: string | null;
}

export interface TableInfo {
  readonly layer: string;
  readonly table: string;
  readonly rows: number;
  readonly comment: string | null;
}

/**
 * One DuckDB connection and the queue its statements wait in. A connection holds at most one
 * transaction, and everything run on it while that transaction is open is part of it: so callers
 * that may run at the same time (cells, the stream sink, the live refresh, API handlers) never share one.
 */
class Session {
  closed = false;
  private tail: Promise<unknown> = Promise.resolve();
  private transactions: Promise<unknown> = Promise.resolve();

  constructor(readonly connection: DuckDBConnection) {}

  /** Run one call on the connection once the calls before it finished. */
  exec<T>(call: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = this.tail.then(() => call(this.connection));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Transactions started in one session (one flow of work) run one after another, never inside each other. */
  serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.transactions.then(work);
    this.transactions = run.catch(() => undefined);
    return run;
  }
}

interface Context {
  readonly session: Session;
  readonly inTransaction: boolean;
}

/**
 * The lakehouse catalog: one DuckDB engine with a DuckLake catalog attached,
 * one schema per medallion layer (bronze, silver, gold).
 *
 * Statements outside a session run one at a time on a shared connection, each committing on its own.
 * `session()` and `transaction()` give their work a connection of its own, found again by every
 * `run`/`query` inside it (AsyncLocalStorage), so concurrent work never lands in another's transaction.
 */
export class Catalog {
  private readonly shared: Session;
  private readonly context = new AsyncLocalStorage<Context>();
  private readonly writers = new Map<string, Promise<unknown>>();
  /** The turn DuckLake reads and writes of this kernel take: see `statement`. */
  private readonly lake = new LakeLock();
  /** The DuckLake version this catalog was migrated from when it was opened, if it was. */
  migratedFrom: string | null = null;
  /** The ATTACH that opened the lake, to open it again after `rewriteFile`. */
  private attachSql = "";

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    readonly description: string,
  ) {
    this.shared = new Session(connection);
  }

  static async open(settings: LabSettings): Promise<Catalog> {
    const options: Record<string, string> = {};
    if (settings.extensionDirectory) options["extension_directory"] = settings.extensionDirectory;
    // An in-memory engine spills to ./.tmp by default, i.e. wherever the kernel was started; keep it in the lab.
    options["temp_directory"] = join(settings.home, ".duckdb-tmp");
    options["memory_limit"] = settings.memoryLimit;
    const instance = await DuckDBInstance.create(":memory:", options);
    const connection = await instance.connect();
    const where = settings.catalog.kind === "duckdb-file" ? settings.catalog.path : redact(settings.catalog.url);
    const catalog = new Catalog(instance, connection, where);
    try {
      await catalog.loadExtension("ducklake", settings);
      // Data files live next to the buckets: DATA_PATH is the lab folder (DuckLake's default schema path, the
      // schema's name, then puts bronze tables in bronze/, and so on) or the user's namespace on S3.
      const namespace = userNamespace(settings.user);
      let dataPath = settings.home + "/";
      if (settings.storage.kind === "s3") {
        await catalog.loadExtension("httpfs", settings);
        await catalog.createS3Secret(settings.storage.endpoint, settings.storage.region);
        dataPath = namespace.dataPath;
      } else {
        mkdirSync(settings.home, { recursive: true });
      }
      let target = `ducklake:${settings.catalog.kind === "duckdb-file" ? settings.catalog.path : ""}`;
      let options = `DATA_PATH ${literal(dataPath)}`;
      if (settings.catalog.kind === "postgres") {
        await catalog.loadExtension("postgres_scanner", settings);
        target = `ducklake:postgres:${settings.catalog.url}`;
        // A workshop user's lake metadata lives in their own PostgreSQL schema, so two trainees on one
        // catalog database never see each other's tables (the hub also gives each a role limited to it).
        if (namespace.metadataSchema) options += `, METADATA_SCHEMA ${literal(namespace.metadataSchema)}`;
      }
      // Data inlining (DuckLake 1.0, on by default with 10 rows): an insert of at most this many rows is kept in
      // the catalog's own tables instead of a Parquet file of its own, until ducklake_flush_inlined_data (or
      // compaction) writes it out. 100, not the default 10: the stream sink commits a micro-batch whenever
      // maxWaitMs passes, so a trickle of events gives batches of a few dozen rows, and each would otherwise
      // be a tiny Parquet file (the small-files problem); a full batch (1000 rows by default) or a bronze
      // load is well above it and still goes straight to Parquet. Higher would keep a busy stream's rows in
      // the metadata database (PostgreSQL) rather than in object storage.
      options += `, DATA_INLINING_ROW_LIMIT ${DATA_INLINING_ROW_LIMIT}`;
      // PostgreSQL may still be starting (connection refused): wait for it, boundedly.
      catalog.attachSql = `ATTACH ${literal(target)} AS ${LAKE} (${options})`;
      const attach = (extra: string) => retry(() => connection.run(`ATTACH ${literal(target)} AS ${LAKE} (${options}${extra})`), {
        timeoutMs: 20_000,
        isTransient: isConnectionError,
      });
      let extra = "";
      for (;;) {
        try {
          await attach(extra);
          break;
        } catch (e) {
          // A catalog written by an older DuckLake (0.3, DuckDB 1.4.x) is refused until it is migrated; DuckLake
          // migrates it in place when asked with AUTOMATIC_MIGRATION. Ask only after saying so, and keep a copy
          // of a catalog file first: the old engine cannot open a migrated catalog.
          const old = /catalog version is ([0-9][0-9a-z.-]*)/i.exec(messageOf(e));
          if (old && catalog.migratedFrom === null) {
            const file = settings.catalog.kind === "duckdb-file" ? settings.catalog.path : null;
            const backup = file ? `${file}.v${old[1]}.bak` : null;
            if (file && backup) copyFileSync(file, backup);
            console.log(`DuckLake catalog ${where} was written by DuckLake ${old[1]}: migrating it to DuckLake ${DUCKLAKE_VERSION} `
              + `(DuckDB ${version()}), once. ${backup ? `A copy of the old catalog is kept at ${backup}.` : "Older kernels (DuckDB 1.4) can no longer open it."}`);
            extra += ", AUTOMATIC_MIGRATION TRUE";
            catalog.migratedFrom = old[1]!;
            continue;
          }
          // A services lake made by DuckDB 1.4 has the bare "s3://" as its DATA_PATH, which DuckLake 1.0 cannot
          // use (see userNamespace): open it with ours once, and anchorLayers below gives each layer its bucket.
          if (namespace.layerPaths && !extra.includes("OVERRIDE_DATA_PATH") && /existing data path in the catalog "s3:\/\/"/.test(messageOf(e))) {
            extra += ", OVERRIDE_DATA_PATH TRUE";
            continue;
          }
          throw e;
        }
      }
      await connection.run(`USE ${LAKE}`);
      for (const layer of LAYERS) await connection.run(`CREATE SCHEMA IF NOT EXISTS ${ident(layer)}`);
      if (namespace.layerPaths && settings.storage.kind === "s3" && await catalog.anchorLayers(namespace.layerPaths, dataPath)) {
        // DuckLake reads schema paths when it loads a snapshot's schemas and keeps them: attach again to use the new ones.
        await connection.run(`USE memory; DETACH ${LAKE}`);
        await attach("");
        await connection.run(`USE ${LAKE}`);
      }
    } catch (e) {
      instance.closeSync();
      if (e instanceof LabError) throw e;
      throw attachError(e, settings, where);
    }
    return catalog;
  }

  /**
   * Give each layer's schema the absolute path `paths[layer]` in the DuckLake metadata (the spec allows a
   * schema path that is not relative to DATA_PATH; DuckLake has no SQL to set one). Schemas of a lake made with
   * the bare "s3://" DATA_PATH (DuckDB 1.4) keep the bucket they had, and the catalog's DATA_PATH becomes
   * `dataPath`. Returns whether anything changed; tables and files are untouched, their paths are relative to
   * their schema.
   */
  private async anchorLayers(paths: Readonly<Record<string, string>>, dataPath: string): Promise<boolean> {
    const meta = ident(`__ducklake_metadata_${LAKE}`);
    const schemas = (await this.connection.runAndReadAll(
      `SELECT schema_id, schema_name, path, path_is_relative FROM ${meta}.ducklake_schema WHERE end_snapshot IS NULL`)).getRowObjectsJS();
    const legacy = (await this.connection.runAndReadAll(
      `SELECT value FROM ${meta}.ducklake_metadata WHERE key = 'data_path' AND scope IS NULL`)).getRowObjectsJS()[0]?.["value"] === "s3://";
    let changed = false;
    for (const s of schemas) {
      const name = String(s["schema_name"]);
      const relative = s["path_is_relative"] === true;
      const want = paths[name] ?? (legacy && relative ? `s3://${String(s["path"])}` : null);
      if (want === null || (!relative && s["path"] === want)) continue;
      await this.connection.run(`UPDATE ${meta}.ducklake_schema SET path = $path, path_is_relative = false WHERE schema_id = $id AND end_snapshot IS NULL`,
        { path: want, id: s["schema_id"] as bigint });
      changed = true;
    }
    if (legacy) {
      await this.connection.run(`UPDATE ${meta}.ducklake_metadata SET value = $path WHERE key = 'data_path' AND scope IS NULL`, { path: dataPath });
      changed = true;
    }
    return changed;
  }

  /** DuckDB reads and writes s3:// paths with a secret built from the same variables as the SDK. */
  private async createS3Secret(endpoint: string, region: string): Promise<void> {
    const { accessKeyId, secretAccessKey, sessionToken } = s3Credentials();
    const url = new URL(endpoint);
    const token = sessionToken ? `SESSION_TOKEN ${literal(sessionToken)}, ` : "";
    await this.connection.run(`CREATE OR REPLACE SECRET lab_s3 (
      TYPE s3, KEY_ID ${literal(accessKeyId)}, SECRET ${literal(secretAccessKey)}, ${token}REGION ${literal(region)},
      ENDPOINT ${literal(url.host)}, URL_STYLE 'path', USE_SSL ${url.protocol === "https:"})`);
  }

  private async loadExtension(name: string, settings: LabSettings): Promise<void> {
    try {
      await this.connection.run(`LOAD ${name}`);
      return;
    } catch (first) {
      // Online, DuckDB can fetch the extension itself; offline this fails fast and we explain the set-up step.
      try {
        await this.connection.run(`INSTALL ${name}; LOAD ${name}`);
      } catch {
        throw new CatalogError(`DuckDB could not load its "${name}" extension: ${messageOf(first)}`, {
          fix: `Run \`npm run setup\` (it installs the pinned extension binaries for DuckDB ${version()}, the duckdb-extension-* wheels from PyPI, into .lab-env/duckdb-extensions), or set DATAFLOW_DUCKDB_EXTENSIONS to a folder that holds them.`,
          context: { extension: name, extensionDirectory: settings.extensionDirectory ?? "~/.duckdb/extensions" },
          cause: first,
        });
      }
    }
  }

  /** Run SQL and read the whole result. Parameters bind to `?` or `$name`. */
  async query(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<QueryResult> {
    try {
      return new QueryResult(await this.statement(sql, (c) => c.runAndReadAll(sql, params)));
    } catch (e) {
      throw wrapSqlError(e, sql);
    }
  }

  /** Run SQL for its effect (DDL, INSERT…) and return the number of rows changed, when DuckDB reports one. */
  async run(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<number> {
    try {
      const result = await this.statement(sql, (c) => c.run(sql, params));
      return Number(result.rowsChanged);
    } catch (e) {
      throw wrapSqlError(e, sql);
    }
  }

  /**
   * Run `work` on a connection of its own, closed afterwards: its temp tables and the transactions it
   * opens are invisible to anything running at the same time. A session inside a session is the same one.
   */
  async session<T>(work: () => Promise<T>): Promise<T> {
    const open = this.context.getStore();
    if (open && !open.session.closed) return work();
    const session = new Session(await this.instance.connect());
    try {
      await session.exec((c) => c.run(`USE ${LAKE}`));
      return await this.context.run({ session, inTransaction: false }, work);
    } finally {
      session.closed = true;
      await session.exec(async (c) => c.closeSync()).catch(() => undefined);
    }
  }

  /**
   * Run `work` in one DuckLake transaction: every table it writes commits together, or none does.
   * This is what makes re-runs safe: a failed step leaves nothing half-written. Outside a session it
   * gets a connection of its own; a transaction inside a transaction joins it.
   */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    const open = this.context.getStore();
    if (!open || open.session.closed) return this.session(() => this.transaction(work));
    if (open.inTransaction) return work();
    const { session } = open;
    return session.serialize(() => this.lake.write(() => this.context.run({ session, inTransaction: true }, async () => {
      await this.run("BEGIN TRANSACTION");
      try {
        const out = await work();
        await this.run("COMMIT");
        return out;
      } catch (e) {
        await session.exec((c) => c.run("ROLLBACK")).catch(() => undefined);
        throw e;
      }
    })));
  }

  /**
   * One statement on the caller's connection. Inside a transaction it is part of the turn the transaction
   * holds. Outside, a statement that may write the lake commits on its own and takes a write turn; any
   * other statement a read turn.
   *
   * Why the turns: DuckLake 1.0 as built for DuckDB 1.5.5 (ducklake d8a1881e) keeps each schema version's
   * catalog in DuckDB's object cache, pinned only while one query runs. A table created inside a
   * multi-statement transaction (BEGIN; CREATE OR REPLACE TABLE gold.x AS …; COMMIT) points at its parent
   * schema in that cache entry; between the transaction's statements another connection of the same
   * instance can replace the entry (a concurrent first load of the same schema version) or invalidate it
   * (a commit that drops superseded inlined-data tables invalidates every cached version). The entry is
   * freed, and the COMMIT reads the schema id from freed memory: the table lands in whichever schema now
   * lives there ("Table with name part_0 does not exist! Did you mean silver.part_0?"), the commit fails
   * with a garbage schema id (duckdb/ducklake#1248), or the process crashes. DuckLake fixed it by pinning
   * the entries for the whole transaction (duckdb/ducklake 9bf5e070, PR #1255, on main; not in the 1.5.5
   * build). No setting turns the cache off, and data inlining off does not avoid it (tried). A write-only
   * lock is not enough either: with reads running beside serialized writes a stand-alone repro still
   * crashed; with reads kept out of write turns it did not. So: a write (transaction) runs alone in this
   * kernel; reads run together. Each caller still has its own connection, so concurrent callers never share
   * a transaction. Other kernels are other DuckDB instances with their own cache. Remove once a DuckDB 1.5.x
   * ships the transaction pin; test/unit/catalog/concurrency.test.ts is the check.
   */
  private statement<T>(sql: string, call: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const session = this.current();
    const open = this.context.getStore();
    if (open && !open.session.closed && open.inTransaction) return session.exec(call);
    return mayWriteLake(sql) ? this.lake.write(() => session.exec(call)) : this.lake.read(() => session.exec(call));
  }

  /**
   * Run `work` once no other work of this kernel holding `table` runs. DuckLake refuses the second of two
   * commits that replace the same table; in one kernel such steps simply wait their turn.
   */
  async exclusive<T>(table: string, work: () => Promise<T>): Promise<T> {
    const key = table.replaceAll('"', "").toLowerCase();
    const before = this.writers.get(key) ?? Promise.resolve();
    const run = before.then(work);
    const settled = run.catch(() => undefined);
    this.writers.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.writers.get(key) === settled) this.writers.delete(key);
    }
  }

  /** The session the caller runs in, or the shared connection. */
  private current(): Session {
    const open = this.context.getStore();
    return open && !open.session.closed ? open.session : this.shared;
  }

  /** The first rows of a table, with its total row count for the display. */
  async preview(table: string, limit = 10): Promise<QueryResult> {
    const t = qualified(parseTableName(table));
    const total = (await this.query(`SELECT count(*) FROM ${t}`)).number();
    const sql = `SELECT * FROM ${t} LIMIT ${Math.max(0, Math.floor(limit))}`;
    const reader = await this.statement(sql, (c) => c.runAndReadAll(sql));
    return new QueryResult(reader, total);
  }

  async tableExists(table: string): Promise<boolean> {
    const { schema, table: name } = parseTableName(table);
    const r = await this.query(
      "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? AND table_name = ?",
      [LAKE, schema, name],
    );
    return r.number() > 0;
  }

  /** Column names and types of a table, in order. */
  async columns(table: string): Promise<{ name: string; type: string }[]> {
    const { schema, table: name } = parseTableName(table);
    const r = await this.query(
      "SELECT column_name AS name, data_type AS type FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? AND table_name = ? ORDER BY column_index",
      [LAKE, schema, name],
    );
    return r.rows() as { name: string; type: string }[];
  }

  /** Every table of the lake with its layer and row count. */
  async tables(): Promise<TableInfo[]> {
    const r = await this.query(
      `SELECT schema_name AS layer, table_name AS "table", estimated_size AS rows, comment
         FROM duckdb_tables() WHERE database_name = ? ORDER BY schema_name, table_name`,
      [LAKE],
    );
    return r.rows() as unknown as TableInfo[];
  }

  /** The lake's snapshots, oldest first: every commit is one. */
  async snapshots(): Promise<Snapshot[]> {
    const r = await this.query(
      `SELECT snapshot_id, snapshot_time::VARCHAR AS time, changes, commit_message FROM ducklake_snapshots(${literal(LAKE)}) ORDER BY snapshot_id`,
    );
    return r.rows().map((row) => ({
      snapshotId: Number(row["snapshot_id"]),
      time: String(row["time"]),
      changes: Object.fromEntries(
        ((row["changes"] as { key: string; value: string[] }[] | null) ?? []).map((kv) => [kv.key, kv.value]),
      ),
      message: (row["commit_message"] as string | null) ?? null,
    }));
  }

  /** The current snapshot id: the newest commit. */
  async currentSnapshot(): Promise<number> {
    return (await this.query(`SELECT max(snapshot_id) FROM ducklake_snapshots(${literal(LAKE)})`)).number();
  }

  /**
   * The newest snapshot that (re)created a table: for a table rebuilt with CREATE OR REPLACE, the build's own commit,
   * even when other tables committed since.
   */
  async createdInSnapshot(table: string): Promise<number> {
    const { schema, table: name } = parseTableName(table);
    return (await this.query(
      `SELECT max(snapshot_id) FROM ducklake_snapshots(${literal(LAKE)})
        WHERE list_contains(list_transform(coalesce(changes['tables_created'], []), x -> lower(x)), lower(?))`,
      [`${schema}.${name}`],
    )).number();
  }

  /** A table as it was at a snapshot (time travel). */
  async readAsOf(table: string, snapshotId: number, limit = 1000): Promise<QueryResult> {
    const t = qualified(parseTableName(table));
    if (!Number.isInteger(snapshotId) || snapshotId < 0) {
      throw new CatalogError(`Snapshot id must be a non-negative integer, got ${snapshotId}.`, {
        fix: "List the snapshots with lab.catalog.snapshots() and pick a snapshotId from there.",
      });
    }
    return this.query(`SELECT * FROM ${t} AT (VERSION => ${snapshotId}) LIMIT ${limit}`);
  }

  /**
   * Copy a DuckDB catalog file into a fresh file and put it in its place: DuckDB's way to reclaim freed pages, which
   * can still hold the bytes of deleted rows (an erasure needs them gone). The lake is detached meanwhile, so this
   * holds its write turn: nothing else of this kernel runs until it is attached again. Not inside a transaction.
   * Returns false, doing nothing, for a catalog in PostgreSQL.
   */
  async rewriteFile(file: string | null): Promise<boolean> {
    if (file === null) return false;
    if (this.context.getStore()?.inTransaction) {
      throw new CatalogError("The catalog file cannot be rewritten inside a transaction.", { fix: "Call it after the transaction committed." });
    }
    const fresh = `${file}.rewrite-${randomUUID().slice(0, 8)}`;
    return this.lake.write(() => this.shared.exec(async (c) => {
      await c.run(`USE memory; DETACH ${LAKE}`);
      try {
        await c.run(`ATTACH ${literal(file)} AS rewrite_old (READ_ONLY); ATTACH ${literal(fresh)} AS rewrite_new;
          COPY FROM DATABASE rewrite_old TO rewrite_new; DETACH rewrite_old; DETACH rewrite_new`);
        // The copy holds everything the WAL did; an old WAL replayed onto the new file would corrupt it.
        rmSync(`${file}.wal`, { force: true });
        renameSync(fresh, file);
      } catch (e) {
        await c.run("DETACH DATABASE IF EXISTS rewrite_old; DETACH DATABASE IF EXISTS rewrite_new").catch(() => undefined);
        rmSync(fresh, { force: true });
        rmSync(`${fresh}.wal`, { force: true });
        throw new CatalogError(`The catalog file ${file} could not be rewritten: ${messageOf(e)}`, {
          fix: "Nothing was lost: the old file is still in use. Check the free space in the lab folder and try again.",
          context: { catalog: file }, cause: e,
        });
      } finally {
        await c.run(`${this.attachSql}; USE ${LAKE}`);
      }
      return true;
    }));
  }

  /** Close the engine. A later openLab() opens a new one. */
  close(): void {
    try {
      this.connection.closeSync();
    } finally {
      this.instance.closeSync();
    }
  }
}

/**
 * Whether a statement run outside a transaction may commit a change to the lake. Reads (SELECT, WITH, FROM,
 * SHOW, DESCRIBE, …) and the session's own temp tables do not; DuckLake's maintenance functions do, even
 * inside a SELECT. Anything unknown counts as a write: it only waits for its turn.
 */
function mayWriteLake(sql: string): boolean {
  const text = sql.replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, "");
  // Called as ducklake_merge_adjacent_files('lake') or as the catalog's method, lake.merge_adjacent_files().
  if (/(\bducklake_|\.\s*)(merge_adjacent_files|flush_inlined_data|expire_snapshots|cleanup_old_files|delete_orphaned_files|rewrite_data_files|add_data_files|set_option)\b/i.test(text)) return true;
  if (/^(SELECT|WITH|FROM|VALUES|SHOW|DESCRIBE|SUMMARIZE|EXPLAIN|TABLE)\b/i.test(text)) return false;
  return !/^(CREATE\s+(OR\s+REPLACE\s+)?TEMP(ORARY)?\s|DROP\s+TABLE\s+(IF\s+EXISTS\s+)?temp\.)/i.test(text);
}

function attachError(e: unknown, settings: LabSettings, where: string): CatalogError {
  // DuckDB quotes the connection string, password included, in its message.
  const msg = redact(messageOf(e));
  if (settings.catalog.kind === "postgres") {
    const fix = isConnectionError(e)
      ? `Start the services (npm run services:up, or docker compose up), or correct ${ENV.catalog}.`
      : /password authentication failed|role .* does not exist/i.test(msg)
        ? `PostgreSQL refused the user or password in ${ENV.catalog}; check them (native services: .lab-env/services/services.env).`
        : /database .* does not exist/i.test(msg)
          ? `Create the database named in ${ENV.catalog}, or fix its name.`
          : `Check ${ENV.catalog} (postgresql://user:password@host:port/database).`;
    const what = isConnectionError(e) ? "Cannot reach" : "Could not open";
    return new CatalogError(`${what} the DuckLake catalog in PostgreSQL at ${where}: ${msg}`, { fix, context: { catalog: where }, cause: e });
  }
  if (/s3|http/i.test(msg) && settings.storage.kind === "s3") {
    return new CatalogError(`Could not open the DuckLake catalog ${where} with data on ${settings.storage.endpoint}: ${msg}`, {
      fix: `Check that object storage is up and ${ENV.s3Endpoint} and the AWS_* credentials are right.`,
      context: { catalog: where, endpoint: settings.storage.endpoint }, cause: e,
    });
  }
  return new CatalogError(`Could not open the DuckLake catalog ${where}: ${msg}`, {
    fix: /lock/i.test(msg)
      ? "Another kernel holds this catalog open. Shut down the other notebook's kernel (Kernel → Shut Down Kernel), or set DATAFLOW_LAB_HOME to a separate lab folder."
      : "Check that the lab folder is writable, or set DATAFLOW_LAB_HOME to a fresh folder.",
    context: { catalog: where },
    cause: e,
  });
}

function wrapSqlError(e: unknown, sql: string): CatalogError | ConflictError {
  const msg = messageOf(e);
  const first = sql.trim().split("\n")[0]!.slice(0, 160);
  if (/Transaction conflict/i.test(msg)) {
    return new ConflictError(`Another writer changed the same table first, so this commit was refused: ${msg}\n  in: ${first}`, {
      fix: "Nothing of this step was written; run it again (in this kernel, concurrent steps on one table wait for each other).",
      cause: e,
    });
  }
  const fix = /does not exist/i.test(msg)
    ? "Check the name; lab.catalog.tables() lists what exists. Run the earlier notebook that creates it first."
    : "Read DuckDB's message above; the statement that failed is quoted.";
  return new CatalogError(`SQL failed: ${msg}\n  in: ${first}`, { fix, cause: e });
}
