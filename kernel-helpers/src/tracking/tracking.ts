import { TrackingError } from "../errors.js";

/**
 * ML experiment tracking with MLflow's data model, over two backends with one interface:
 * an MLflow tracking server (REST API) or, with no server configured, MLflow's local file-store
 * layout, which the real MLflow UI and client can open later.
 */

export { TrackingError };

export type RunStatus = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";

export interface Experiment {
  readonly experimentId: string;
  readonly name: string;
  /** Where runs of this experiment keep their artifacts (`mlflow-artifacts:/…` or `file:///…`). */
  readonly artifactLocation: string;
  readonly lifecycleStage: string;
}

export interface RunInfo {
  readonly runId: string;
  readonly runName: string;
  readonly experimentId: string;
  readonly status: RunStatus;
  /** Milliseconds since the epoch. */
  readonly startTime: number;
  readonly endTime: number | undefined;
  readonly artifactUri: string;
}

export interface Run {
  readonly info: RunInfo;
  readonly params: Readonly<Record<string, string>>;
  /** The latest value of each metric (highest step, then latest timestamp), as MLflow shows it. */
  readonly metrics: Readonly<Record<string, number>>;
  readonly tags: Readonly<Record<string, string>>;
}

export interface MetricPoint {
  readonly key: string;
  readonly value: number;
  readonly step?: number;
  /** Milliseconds since the epoch; now when omitted. */
  readonly timestamp?: number;
}

export type ParamValue = string | number | boolean;

export interface RunData {
  readonly params?: Readonly<Record<string, ParamValue>>;
  readonly metrics?: readonly MetricPoint[];
  readonly tags?: Readonly<Record<string, string>>;
}

/** A data set a run read, as MLflow records it (`runs/log-inputs`). */
export interface DatasetInput {
  readonly name: string;
  /** Identifies this exact version of the data, e.g. a snapshot id or content hash. */
  readonly digest: string;
  /** What kind of place `source` points to, e.g. "ducklake" or "local". */
  readonly sourceType: string;
  /** Where the data came from, as a JSON string (MLflow's convention), e.g. `{"table":"gold.ml_features"}`. */
  readonly source: string;
  readonly schema?: string;
  readonly profile?: string;
  /** MLflow's `mlflow.data.context` tag: "training", "validation", "test"… */
  readonly context?: string;
}

export interface ModelVersion {
  readonly name: string;
  readonly version: string;
  /** Where the model's files are, as registered (an artifact URI under the run). */
  readonly source: string;
  readonly runId: string | undefined;
  readonly status: string;
  readonly aliases: readonly string[];
}

export interface StartRunOptions {
  readonly runName?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/** One client, two backends: see `openTracking`. Every call fails loudly; nothing falls back. */
export interface Tracking {
  /** "MLflow server at http://…" or "MLflow file store /…". */
  readonly description: string;

  /** The experiment with this name, created when it does not exist yet. */
  getOrCreateExperiment(name: string): Promise<Experiment>;
  createRun(experimentId: string, options?: StartRunOptions): Promise<RunInfo>;
  /** Set the run's final status (FINISHED unless said otherwise) and end time. */
  endRun(runId: string, status?: Exclude<RunStatus, "RUNNING" | "SCHEDULED">): Promise<void>;
  getRun(runId: string): Promise<Run>;

  /** Params, metrics (with steps) and tags in as few requests as the server allows. */
  logBatch(runId: string, data: RunData): Promise<void>;
  logInputs(runId: string, datasets: readonly DatasetInput[]): Promise<void>;
  /** Store bytes or text as an artifact of the run at `artifactPath` (e.g. "model/MLmodel"); returns its URI. */
  logArtifact(runId: string, artifactPath: string, content: string | Uint8Array): Promise<string>;
  /** Upload a local file or folder (recursively) under `artifactPath` ("" for the run's artifact root). */
  logArtifacts(runId: string, localPath: string, artifactPath?: string): Promise<void>;
  downloadArtifact(runId: string, artifactPath: string): Promise<Uint8Array>;

  /** The registered model with this name, created when it does not exist yet. */
  createRegisteredModel(name: string, description?: string): Promise<void>;
  /** Register the model stored under the run's `artifactPath` as a new version of `name`. */
  createModelVersion(name: string, runId: string, artifactPath: string): Promise<ModelVersion>;
  setAlias(name: string, alias: string, version: string): Promise<void>;
  getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion>;
  /** Resolve `models:/<name>@<alias>` or `models:/<name>/<version>` to its registered version. */
  resolveModelUri(uri: string): Promise<ModelVersion>;
}

/** Parse `models:/<name>@<alias>` or `models:/<name>/<version>`; throws a TrackingError quoting the URI. */
export function parseModelUri(uri: string): { name: string; alias: string } | { name: string; version: string } {
  const m = /^models:\/([^@/]+)(?:@([^/]+)|\/(\d+))$/.exec(uri);
  if (!m) {
    throw new TrackingError(`Not a model URI: ${JSON.stringify(uri)}.`, {
      fix: 'Use "models:/<name>@<alias>" (e.g. "models:/churn@champion") or "models:/<name>/<version>".',
    });
  }
  return m[2] !== undefined ? { name: m[1]!, alias: m[2] } : { name: m[1]!, version: m[3]! };
}

// MLflow accepts these in param, metric and tag keys; "/" nests, but never to escape the run folder.
const KEY = /^[\w\-. /:]+$/;

/** Validate a param/metric/tag key or artifact path at the public boundary, quoting the bad value. */
export function checkKey(kind: string, key: string): void {
  if (!KEY.test(key) || key.startsWith("/") || key.split("/").some((part) => part === ".." || part === "." || part === "")) {
    throw new TrackingError(`Invalid ${kind} ${JSON.stringify(key)}.`, {
      fix: `Use letters, digits, "_", "-", ".", " ", ":" and "/" (no leading "/", no "." or ".." parts) in ${kind}s.`,
    });
  }
}

export function checkArtifactPath(path: string): void {
  if (path !== "") checkKey("artifact path", path);
}
