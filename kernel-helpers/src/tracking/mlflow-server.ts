import { readFile } from "node:fs/promises";
import { messageOf } from "../errors.js";
import { isConnectionError, retry } from "../retry.js";
import { listFiles } from "./files.js";
import {
  checkArtifactPath, checkKey, parseModelUri, TrackingError,
  type DatasetInput, type Experiment, type ModelVersion, type Run, type RunData, type RunInfo, type RunStatus, type StartRunOptions, type Tracking,
} from "./tracking.js";

export interface MlflowServerOptions {
  /** How long to keep retrying a server that refuses connections or answers 502/503/504. */
  readonly retryTimeoutMs?: number;
}

// MLflow's log-batch limits (per request): 1000 metrics, 100 params, 100 tags, 1000 entries in all.
const BATCH = { metrics: 1000, params: 100, tags: 100 } as const;

/** A thin typed client over MLflow's REST API 2.0; artifacts go through the server's artifact proxy. */
export class MlflowServerTracking implements Tracking {
  readonly description: string;
  private readonly base: string;
  private readonly retryTimeoutMs: number;

  constructor(readonly uri: string, options: MlflowServerOptions = {}) {
    this.base = uri.replace(/\/+$/, "");
    this.description = `MLflow server at ${this.base}`;
    this.retryTimeoutMs = options.retryTimeoutMs ?? 10_000;
  }

  async getOrCreateExperiment(name: string): Promise<Experiment> {
    const existing = await this.findExperiment(name);
    if (existing) return existing;
    try {
      const { experiment_id } = await this.call<{ experiment_id: string }>("POST", "experiments/create", { name });
      return toExperiment((await this.call<{ experiment: WireExperiment }>("GET", "experiments/get", { experiment_id })).experiment);
    } catch (e) {
      // Another kernel created it between our lookup and create.
      const raced = errorCode(e) === "RESOURCE_ALREADY_EXISTS" ? await this.findExperiment(name) : undefined;
      if (raced) return raced;
      throw e;
    }
  }

  async createRun(experimentId: string, options: StartRunOptions = {}): Promise<RunInfo> {
    const body = {
      experiment_id: experimentId,
      start_time: Date.now(),
      ...(options.runName ? { run_name: options.runName } : {}),
      tags: pairs(options.tags ?? {}),
    };
    return toRunInfo((await this.call<{ run: WireRun }>("POST", "runs/create", body)).run.info);
  }

  async endRun(runId: string, status: Exclude<RunStatus, "RUNNING" | "SCHEDULED"> = "FINISHED"): Promise<void> {
    await this.call("POST", "runs/update", { run_id: runId, status, end_time: Date.now() });
  }

  async getRun(runId: string): Promise<Run> {
    const { run } = await this.call<{ run: WireRun }>("GET", "runs/get", { run_id: runId });
    const data = run.data ?? {};
    return {
      info: toRunInfo(run.info),
      params: Object.fromEntries((data.params ?? []).map((p) => [p.key, p.value])),
      metrics: Object.fromEntries((data.metrics ?? []).map((m) => [m.key, Number(m.value)])),
      tags: Object.fromEntries((data.tags ?? []).map((t) => [t.key, t.value])),
    };
  }

  async logBatch(runId: string, data: RunData): Promise<void> {
    const now = Date.now();
    const metrics = (data.metrics ?? []).map((m) => {
      checkKey("metric key", m.key);
      // JSON has no NaN/Infinity; MLflow's protobuf JSON parser takes them as strings.
      return { key: m.key, value: Number.isFinite(m.value) ? m.value : String(m.value), timestamp: m.timestamp ?? now, step: m.step ?? 0 };
    });
    const params = Object.entries(data.params ?? {}).map(([key, value]) => (checkKey("param key", key), { key, value: String(value) }));
    const tags = Object.entries(data.tags ?? {}).map(([key, value]) => (checkKey("tag key", key), { key, value }));
    while (metrics.length || params.length || tags.length) {
      await this.call("POST", "runs/log-batch", {
        run_id: runId,
        metrics: metrics.splice(0, BATCH.metrics),
        params: params.splice(0, BATCH.params),
        tags: tags.splice(0, BATCH.tags),
      });
    }
  }

  async logInputs(runId: string, datasets: readonly DatasetInput[]): Promise<void> {
    await this.call("POST", "runs/log-inputs", {
      run_id: runId,
      datasets: datasets.map((d) => ({
        tags: d.context ? [{ key: "mlflow.data.context", value: d.context }] : [],
        dataset: { name: d.name, digest: d.digest, source_type: d.sourceType, source: d.source, schema: d.schema, profile: d.profile },
      })),
    });
  }

  async logArtifact(runId: string, artifactPath: string, content: string | Uint8Array): Promise<string> {
    checkArtifactPath(artifactPath);
    const artifacts = await this.artifacts(runId);
    await this.upload(artifacts.proxyPath, artifactPath, typeof content === "string" ? new TextEncoder().encode(content) : content);
    return `${artifacts.uri}/${artifactPath}`;
  }

  async logArtifacts(runId: string, localPath: string, artifactPath = ""): Promise<void> {
    checkArtifactPath(artifactPath);
    const { proxyPath } = await this.artifacts(runId);
    for (const file of await listFiles(localPath)) {
      await this.upload(proxyPath, [artifactPath, file.relative].filter(Boolean).join("/"), await readFile(file.absolute));
    }
  }

  async downloadArtifact(runId: string, artifactPath: string): Promise<Uint8Array> {
    checkArtifactPath(artifactPath);
    const { proxyPath } = await this.artifacts(runId);
    const response = await this.request("GET", `/api/2.0/mlflow-artifacts/artifacts/${encodePath(`${proxyPath}/${artifactPath}`)}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async createRegisteredModel(name: string, description?: string): Promise<void> {
    try {
      await this.call("POST", "registered-models/create", { name, ...(description ? { description } : {}) });
    } catch (e) {
      if (errorCode(e) !== "RESOURCE_ALREADY_EXISTS") throw e;
    }
  }

  async createModelVersion(name: string, runId: string, artifactPath: string): Promise<ModelVersion> {
    checkArtifactPath(artifactPath);
    const source = `${(await this.runInfo(runId)).artifactUri}/${artifactPath}`;
    const { model_version } = await this.call<{ model_version: WireModelVersion }>("POST", "model-versions/create", { name, source, run_id: runId });
    return toModelVersion(model_version);
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.call("POST", "registered-models/alias", { name, alias, version });
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    return toModelVersion((await this.call<{ model_version: WireModelVersion }>("GET", "registered-models/alias", { name, alias })).model_version);
  }

  async resolveModelUri(uri: string): Promise<ModelVersion> {
    const parsed = parseModelUri(uri);
    if ("alias" in parsed) return this.getModelVersionByAlias(parsed.name, parsed.alias);
    return toModelVersion((await this.call<{ model_version: WireModelVersion }>("GET", "model-versions/get", parsed)).model_version);
  }

  private async findExperiment(name: string): Promise<Experiment | undefined> {
    try {
      return toExperiment((await this.call<{ experiment: WireExperiment }>("GET", "experiments/get-by-name", { experiment_name: name })).experiment);
    } catch (e) {
      if (errorCode(e) === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw e;
    }
  }

  private async runInfo(runId: string): Promise<RunInfo> {
    return toRunInfo((await this.call<{ run: WireRun }>("GET", "runs/get", { run_id: runId })).run.info);
  }

  /** The run's artifact URI, and its folder as a path under the server's artifact proxy ("3/<run id>/artifacts"). */
  private async artifacts(runId: string): Promise<{ uri: string; proxyPath: string }> {
    const uri = (await this.runInfo(runId)).artifactUri;
    // "mlflow-artifacts:/3/<run>/artifacts" or "mlflow-artifacts://host:port/3/<run>/artifacts"
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(uri);
    if (!m) {
      throw new TrackingError(`The MLflow server at ${this.base} does not proxy artifacts: run ${runId} stores them at ${uri}.`, {
        fix: "Start the server with --serve-artifacts (and --artifacts-destination s3://mlflow/), so notebooks upload through it without storage credentials.",
        context: { server: this.base, runId, artifactUri: uri },
      });
    }
    return { uri, proxyPath: m[1]!.replace(/\/+$/, "") };
  }

  private async upload(proxyPath: string, artifactPath: string, body: Uint8Array): Promise<void> {
    await this.request("PUT", `/api/2.0/mlflow-artifacts/artifacts/${encodePath(`${proxyPath}/${artifactPath}`)}`, body);
  }

  /** A JSON call to `/api/2.0/mlflow/<endpoint>`; GET sends `body` as the query string. */
  private async call<T = unknown>(method: "GET" | "POST", endpoint: string, body: Record<string, unknown>): Promise<T> {
    const path = `/api/2.0/mlflow/${endpoint}`;
    const response =
      method === "GET"
        ? await this.request("GET", `${path}?${new URLSearchParams(body as Record<string, string>)}`)
        : await this.request("POST", path, JSON.stringify(body));
    return (await response.json()) as T;
  }

  private async request(method: string, pathAndQuery: string, body?: string | Uint8Array): Promise<Response> {
    const url = `${this.base}${pathAndQuery}`;
    const endpoint = `${method} ${pathAndQuery.split("?")[0]}`;
    const headers: Record<string, string> = typeof body === "string" ? { "content-type": "application/json" } : body ? { "content-type": "application/octet-stream" } : {};
    const auth = authorization();
    if (auth) headers["authorization"] = auth;
    let response: Response;
    try {
      response = await retry(
        async () => {
          const r = await fetch(url, { method, headers, body });
          if (r.status === 502 || r.status === 503 || r.status === 504) throw new Unavailable(r.status, await r.text());
          return r;
        },
        { isTransient: (e) => e instanceof Unavailable || isConnectionError(e), timeoutMs: this.retryTimeoutMs },
      );
    } catch (e) {
      const what = e instanceof Unavailable ? `answered ${e.status} (unavailable)` : `is not reachable (${messageOf(e)}: ${messageOf((e as { cause?: unknown }).cause ?? "")})`;
      throw new TrackingError(`The MLflow tracking server at ${this.base} ${what} on ${endpoint}.`, {
        fix: `Start it (npm run services:up, or docker compose up mlflow) and check MLFLOW_TRACKING_URI; unset MLFLOW_TRACKING_URI to track into the embedded file store instead.`,
        context: { server: this.base, endpoint },
        cause: e,
      });
    }
    if (!response.ok) {
      const text = await response.text();
      let code: string | undefined;
      let message = text;
      try {
        const parsed = JSON.parse(text) as { error_code?: string; message?: string };
        code = parsed.error_code;
        message = parsed.message ?? text;
      } catch {
        // Not JSON (a proxy's HTML page, say): quote the text as is.
      }
      throw new TrackingError(`The MLflow tracking server at ${this.base} refused ${endpoint}: ${response.status} ${code ?? ""} ${message.slice(0, 500)}`.replace(/\s+$/, ""), {
        fix: fixFor(response.status, code),
        context: { server: this.base, endpoint, status: response.status, errorCode: code },
      });
    }
    return response;
  }
}

/**
 * MLflow's own client variables for a server behind authentication, read at each request (secrets come from the
 * environment only): MLFLOW_TRACKING_TOKEN (bearer), else MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD (basic).
 */
function authorization(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = env["MLFLOW_TRACKING_TOKEN"]?.trim();
  if (token) return `Bearer ${token}`;
  const user = env["MLFLOW_TRACKING_USERNAME"]?.trim();
  const password = env["MLFLOW_TRACKING_PASSWORD"] ?? "";
  return user ? `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` : undefined;
}

class Unavailable extends Error {
  constructor(readonly status: number, body: string) {
    super(`HTTP ${status}: ${body.slice(0, 200)}`);
  }
}

function fixFor(status: number, code: string | undefined): string {
  if (code === "RESOURCE_DOES_NOT_EXIST" || status === 404) return "Check the name or id: it does not exist on this server (was it created on another server or in the embedded file store?).";
  if (status === 401 || status === 403) return "The server wants credentials and this client sends none: use a tracking server without authentication (as the lab's native and compose servers are).";
  if (code === "INVALID_PARAMETER_VALUE") return "Fix the value the message names (params cannot change once logged; names must be valid).";
  return "See the server log for details; the message above is MLflow's own.";
}

function errorCode(e: unknown): string | undefined {
  return e instanceof TrackingError ? (e.context["errorCode"] as string | undefined) : undefined;
}

function pairs(record: Readonly<Record<string, string>>): { key: string; value: string }[] {
  return Object.entries(record).map(([key, value]) => (checkKey("tag key", key), { key, value }));
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

interface WireExperiment { experiment_id: string; name: string; artifact_location: string; lifecycle_stage: string }
interface WireRunInfo { run_id: string; run_name?: string; experiment_id: string; status: RunStatus; start_time?: string | number; end_time?: string | number; artifact_uri: string }
interface WireKV { key: string; value: string }
interface WireRun { info: WireRunInfo; data?: { metrics?: { key: string; value: number | string }[]; params?: WireKV[]; tags?: WireKV[] } }
interface WireModelVersion { name: string; version: string; source: string; run_id?: string; status?: string; aliases?: string[] }

function toExperiment(e: WireExperiment): Experiment {
  return { experimentId: e.experiment_id, name: e.name, artifactLocation: e.artifact_location, lifecycleStage: e.lifecycle_stage };
}

function toRunInfo(i: WireRunInfo): RunInfo {
  return {
    runId: i.run_id,
    runName: i.run_name ?? "",
    experimentId: i.experiment_id,
    status: i.status,
    // int64 fields arrive as JSON strings or numbers depending on the server version.
    startTime: Number(i.start_time ?? 0),
    endTime: i.end_time === undefined ? undefined : Number(i.end_time),
    artifactUri: i.artifact_uri,
  };
}

function toModelVersion(v: WireModelVersion): ModelVersion {
  return { name: v.name, version: String(v.version), source: v.source, runId: v.run_id || undefined, status: v.status ?? "READY", aliases: v.aliases ?? [] };
}
