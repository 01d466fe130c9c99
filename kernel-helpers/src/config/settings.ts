import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../errors.js";

/**
 * Which backend each component uses. Read from the environment at use time
 * (not at import), so a cell that sets `process.env.X` before `openLab()` is honoured.
 */
export type StorageSettings =
  | { readonly kind: "local"; readonly root: string }
  | { readonly kind: "s3"; readonly endpoint: string; readonly region: string };
export type CatalogSettings =
  | { readonly kind: "duckdb-file"; readonly path: string }
  | { readonly kind: "postgres"; readonly url: string };
export type StreamSettings =
  | { readonly kind: "landing-folder"; readonly path: string }
  | { readonly kind: "kafka"; readonly bootstrapServers: string };
export type TrackingSettings =
  | { readonly kind: "mlflow-file-store"; readonly path: string }
  | { readonly kind: "mlflow-server"; readonly uri: string };

export interface LabSettings {
  /** The lab folder: embedded buckets, catalog and landing folder live under it. */
  readonly home: string;
  readonly storage: StorageSettings;
  readonly catalog: CatalogSettings;
  readonly stream: StreamSettings;
  readonly tracking: TrackingSettings;
  /** Where DuckDB looks for extension binaries (see kernel-helpers/duckdb-pin.json). */
  readonly extensionDirectory: string | undefined;
  /** DuckDB's memory_limit for this kernel, e.g. "2GB"; beyond it, work spills to the lab's temp folder. */
  readonly memoryLimit: string;
  /**
   * The workshop user whose namespace this lab is (JupyterHub sets JUPYTERHUB_USER), or undefined for a
   * single-user lab. With services it scopes object keys and the DuckLake catalog; see userNamespace().
   */
  readonly user: string | undefined;
}

/** The variables the lab reads. The standard names are the ones the AWS SDK, Kafka and MLflow tools use. */
export const ENV = {
  home: "DATAFLOW_LAB_HOME",
  catalog: "DATAFLOW_CATALOG_URL",
  extensions: "DATAFLOW_DUCKDB_EXTENSIONS",
  memoryLimit: "DATAFLOW_MEMORY_LIMIT",
  s3Endpoint: "AWS_ENDPOINT_URL_S3",
  endpoint: "AWS_ENDPOINT_URL",
  region: "AWS_REGION",
  kafka: "KAFKA_BOOTSTRAP_SERVERS",
  mlflow: "MLFLOW_TRACKING_URI",
  user: "DATAFLOW_LAB_USER",
  hubUser: "JUPYTERHUB_USER",
} as const;

/** User names the lab accepts; the hub's username_pattern is the same, so a name maps to one prefix only. */
// No "_": the catalog schema maps "-" to "_", and that mapping must stay one-to-one.
export const USER_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

/** The embedded buckets: one folder each under the lab home. */
export const BUCKETS = ["bronze", "silver", "gold", "mlflow"] as const;
export type Bucket = (typeof BUCKETS)[number];
export const LAYERS = ["bronze", "silver", "gold"] as const;
export type Layer = (typeof LAYERS)[number];

type Env = Readonly<Record<string, string | undefined>>;

export function resolveSettings(env: Env = process.env, cwd: string = process.cwd()): LabSettings {
  const home = resolve(nonEmpty(env[ENV.home]) ?? defaultHome(cwd));
  const endpointVariable = nonEmpty(env[ENV.s3Endpoint]) !== undefined ? ENV.s3Endpoint : ENV.endpoint;
  const endpoint = serverUrl(endpointVariable, nonEmpty(env[endpointVariable]), "Put the keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  const catalogUrl = nonEmpty(env[ENV.catalog]);
  const kafka = bootstrapServers(nonEmpty(env[ENV.kafka]));
  const mlflow = trackingUri(nonEmpty(env[ENV.mlflow]));
  return {
    home,
    storage: endpoint
      ? { kind: "s3", endpoint, region: nonEmpty(env[ENV.region]) ?? "us-east-1" }
      : { kind: "local", root: home },
    catalog: catalogUrl ? { kind: "postgres", url: catalogUrl } : { kind: "duckdb-file", path: join(home, "catalog.ducklake") },
    stream: kafka ? { kind: "kafka", bootstrapServers: kafka } : { kind: "landing-folder", path: join(home, "landing") },
    // MLflow also accepts a local path or file: URI as tracking URI; only http(s) means a server.
    tracking:
      mlflow && /^https?:\/\//.test(mlflow)
        ? { kind: "mlflow-server", uri: mlflow }
        : { kind: "mlflow-file-store", path: mlflow ? mlflow.replace(/^file:(\/\/)?/, "") : join(home, "mlflow") },
    extensionDirectory: nonEmpty(env[ENV.extensions]) ?? projectExtensionDirectory(cwd),
    memoryLimit: memoryLimit(nonEmpty(env[ENV.memoryLimit])),
    user: labUser(env),
  };
}

/**
 * DuckDB's own default is 80% of the machine's memory, per kernel: on a workshop hub, a few trainees' kernels would
 * take the machine. 2 GB keeps a kernel's peak near 3 GB even at 10M orders (the rest spills to disk) and does not
 * bind at the walkthroughs' sizes; a data engineer with a large machine raises it.
 */
export const DEFAULT_MEMORY_LIMIT = "2GB";

function memoryLimit(value: string | undefined): string {
  if (value === undefined) return DEFAULT_MEMORY_LIMIT;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$/i.exec(value);
  if (!m || Number(m[1]) <= 0) {
    throw new ConfigError(`${ENV.memoryLimit}=${JSON.stringify(value)} is not an amount of memory.`, {
      fix: `Give a number and a unit, e.g. ${ENV.memoryLimit}=4GB (KB, MB, GB, TB or KiB, MiB, GiB, TiB), or unset it for ${DEFAULT_MEMORY_LIMIT}.`,
      context: { variable: ENV.memoryLimit },
    });
  }
  return `${m[1]}${m[2]!.replace(/^(.)(i?)(b)$/i, (_x, a: string, i: string) => `${a.toUpperCase()}${i ? "i" : ""}B`)}`;
}

/**
 * An http(s) server address from the environment. Credentials inside it (http://KEY:SECRET@host) are refused rather
 * than used: they would be printed wherever the address is (the banner, every error), and the clients take theirs
 * from their own variables.
 */
function serverUrl(variable: string, value: string | undefined, credentialsFix: string): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    url = new URL("invalid:");
  }
  if (!/^https?:$/.test(url.protocol)) {
    throw new ConfigError(`${variable}=${JSON.stringify(redact(value))} is not an http:// or https:// address.`, {
      fix: `Give the server's address with its scheme, e.g. ${variable}=http://127.0.0.1:19000.`, context: { variable },
    });
  }
  const secretParams = [...url.searchParams.keys()].filter((k) => SECRET_PARAM.test(k));
  if (url.username || url.password || secretParams.length) {
    throw new ConfigError(`${variable} carries credentials inside the URL (${redact(value)}); they would be printed wherever the address is.`, {
      fix: `${credentialsFix}, and set ${variable} to the address alone (${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}).`,
      context: { variable },
    });
  }
  return value;
}

const SECRET_PARAM = /pass|pwd|secret|token|key|credential|signature/i;

/** Kafka's `host:port,host:port` list. Anything else (a scheme, user:password@) would be printed in the banner. */
function bootstrapServers(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const bad = value.split(",").map((b) => b.trim()).filter((b) => !/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/.test(b));
  if (bad.length === 0) return value;
  const secret = value.includes("@");
  throw new ConfigError(secret
    ? `${ENV.kafka} carries credentials (${value.replace(/[^,@\s]+@/g, "***@")}); they would be printed wherever the brokers are.`
    : `${ENV.kafka}=${JSON.stringify(value)} is not a list of host:port brokers (${bad.map((b) => JSON.stringify(b)).join(", ")}).`, {
    fix: `Set ${ENV.kafka} to host:port pairs separated by commas, e.g. 127.0.0.1:19092 or kafka:9092${secret ? "; the lab's Kafka needs no credentials" : ""}.`,
    context: { variable: ENV.kafka },
  });
}

/** MLflow's tracking URI: a server (http/https), a file: URI or a local path, as MLflow itself reads it. */
function trackingUri(value: string | undefined): string | undefined {
  if (value === undefined || /^https?:/i.test(value)) {
    return serverUrl(ENV.mlflow, value, "Give the server's user and password in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD");
  }
  // "127.0.0.1:5000" or "mlflow:5000" is a server without its scheme, not a folder of that name.
  if (/^[\w.-]+:\d+(\/.*)?$/.test(value)) {
    throw new ConfigError(`${ENV.mlflow}=${JSON.stringify(value)} looks like a server address without its scheme; MLflow would take it for a folder.`, {
      fix: `Write ${ENV.mlflow}=http://${value} for a tracking server, or a path (./mlruns, /data/mlruns, file:///data/mlruns) for a file store.`,
      context: { variable: ENV.mlflow },
    });
  }
  return value;
}

// Our own variable first, so a test (or a trainer) can pick a namespace outside JupyterHub.
function labUser(env: Env): string | undefined {
  const source = nonEmpty(env[ENV.user]) !== undefined ? ENV.user : ENV.hubUser;
  const user = nonEmpty(env[source]);
  if (user === undefined) return undefined;
  // The name becomes an S3 key prefix and a SQL schema name: refuse anything that could escape either.
  if (!USER_PATTERN.test(user)) {
    throw new ConfigError(`${source}=${JSON.stringify(user)} is not a valid lab user name (lower-case letter first, then up to 31 of a-z 0-9 -).`, {
      fix: `Use a simple lower-case name such as "alice" or "trainee-07" (the hub only accepts such names), or unset ${source} for a single-user lab.`,
      context: { variable: source, value: user },
    });
  }
  return user;
}

/** Where a user's data lives when the lab runs on shared services. */
export interface UserNamespace {
  /** Prefix of every object key the user's lab writes outside the lake (landing files, MLflow artifacts). */
  readonly keyPrefix: string;
  /** PostgreSQL schema of the user's DuckLake metadata; undefined: DuckLake's default. */
  readonly metadataSchema: string | undefined;
  /** DuckLake's DATA_PATH: where schemas without a path of their own keep their files. */
  readonly dataPath: string;
  /** Layer schemas whose files live somewhere else than DATA_PATH/<layer>/ (absolute schema paths). */
  readonly layerPaths: Readonly<Record<string, string>> | undefined;
  readonly consumerGroupPrefix: string;
}

/**
 * Without a user: the buckets' roots (bronze tables in the bronze bucket, and so on) and DuckLake's
 * default metadata schema. With a user: everything under users/<user>/.
 */
export function userNamespace(user: string | undefined): UserNamespace {
  if (user === undefined) {
    // Each layer's schema path is its bucket. DATA_PATH cannot be the bare "s3://" root (DuckLake 1.0 strips
    // trailing slashes and appends one, making it "s3:/", a local folder), so it is a prefix in the silver
    // bucket, used only by schemas other than the layers.
    const layerPaths = Object.fromEntries(LAYERS.map((layer) => [layer, `s3://${layer}/`]));
    return { keyPrefix: "", metadataSchema: undefined, dataPath: "s3://silver/lake/", layerPaths, consumerGroupPrefix: "dataflow-lab" };
  }
  // DuckLake puts schema S under DATA_PATH/S/; a per-user DATA_PATH inside one bucket keeps all of the user's
  // lake files under the one prefix the hub's scoped credentials allow (s3://<bucket>/users/<user>/…).
  // Kafka topics are shared, but a consumer group must not be: Kafka would split the partitions between two
  // trainees' sinks, and each would see only part of the stream.
  return {
    keyPrefix: `users/${user}/`, metadataSchema: `ducklake_${user.replace(/-/g, "_")}`, dataPath: `s3://silver/users/${user}/lake/`,
    layerPaths: undefined, consumerGroupPrefix: `dataflow-lab-${user}`,
  };
}

/**
 * The S3 credentials, read from the standard variables at use time. They are never part of the
 * settings (which get printed) and never come from a notebook.
 */
export function s3Credentials(env: Env = process.env): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } {
  const accessKeyId = nonEmpty(env["AWS_ACCESS_KEY_ID"]);
  const secretAccessKey = nonEmpty(env["AWS_SECRET_ACCESS_KEY"]);
  if (!accessKeyId || !secretAccessKey) {
    throw new ConfigError(`Object storage is configured (${ENV.s3Endpoint} / ${ENV.endpoint}) but ${!accessKeyId ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY"} is not set.`, {
      fix: "Set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (.env for local work; native services: source .lab-env/services/services.env).",
    });
  }
  // JupyterHub hands trainees temporary STS keys, which only work together with their session token.
  const sessionToken = nonEmpty(env["AWS_SESSION_TOKEN"]);
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/** One line per component, as printed when the lab opens. */
export function describeSettings(s: LabSettings): string[] {
  const storage = s.storage.kind === "local" ? `embedded folders ${s.storage.root}/{${BUCKETS.join(",")}}` : `S3 at ${s.storage.endpoint}`;
  const catalog = s.catalog.kind === "duckdb-file" ? `DuckLake in a DuckDB file ${s.catalog.path}` : `DuckLake in PostgreSQL ${redact(s.catalog.url)}`;
  const stream = s.stream.kind === "landing-folder" ? `JSON-lines landing folder ${s.stream.path}` : `Kafka at ${s.stream.bootstrapServers}`;
  const tracking = s.tracking.kind === "mlflow-file-store" ? `MLflow file store ${s.tracking.path}` : `MLflow server at ${s.tracking.uri}`;
  const lines = [`storage   ${storage}`, `catalog   ${catalog} (engine memory ${s.memoryLimit}, beyond it spills to disk)`, `stream    ${stream}`, `tracking  ${tracking}`];
  // Only shown when set, so a single-user lab prints exactly what it always did.
  if (s.user !== undefined) lines.push(`user      ${s.user} (objects under users/${s.user}/ when on S3)`);
  return lines;
}

/** Hide a password in a connection string before printing it. */
export function redact(url: string): string {
  return url
    .replace(/((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)=)[^\s"'&]+/gi, "$1***")
    .replace(/(\/\/[^:/@\s"']+:)[^@\s"']+@/g, "$1***@");
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

/** The repository root, when running inside a DataFlow Lab checkout (cwd or this package's own location). */
export function findProjectRoot(cwd: string = process.cwd()): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const start of [cwd, here]) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const pkg = join(dir, "package.json");
      if (existsSync(pkg) && readPackageName(pkg) === "dataflow-lab") return dir;
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}

function readPackageName(path: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { name?: string }).name;
  } catch {
    return undefined;
  }
}

// In a checkout the lab lives in the repo's ignored lab/ folder; elsewhere (a JupyterHub home) in ~/dataflow-lab.
function defaultHome(cwd: string): string {
  const root = findProjectRoot(cwd);
  return root ? join(root, "lab") : join(homedir(), "dataflow-lab");
}

// scripts/install-duckdb-extensions.sh puts the pinned binaries here (v1.5.5/linux_amd64/, from the duckdb-extension-*
// wheels); without it DuckDB uses ~/.duckdb/extensions.
function projectExtensionDirectory(cwd: string): string | undefined {
  const root = findProjectRoot(cwd);
  const dir = root ? join(root, ".lab-env", "duckdb-extensions") : undefined;
  return dir && existsSync(dir) ? dir : undefined;
}
