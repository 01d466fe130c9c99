import { createHash, randomInt, randomUUID } from "node:crypto";
import { appendFile, copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { messageOf } from "../errors.js";
import { listFiles } from "./files.js";
import {
  checkArtifactPath, checkKey, parseModelUri, TrackingError,
  type DatasetInput, type Experiment, type ModelVersion, type Run, type RunData, type RunInfo, type RunStatus, type StartRunOptions, type Tracking,
} from "./tracking.js";
import { fromYaml, toYaml, type YamlValue } from "./yaml.js";

/**
 * MLflow's local file store (the `mlruns` layout of mlflow/store/tracking/file_store.py and
 * mlflow/store/model_registry/file_store.py), written directly so that `mlflow ui
 * --backend-store-uri <root>` or `MlflowClient(tracking_uri="file:<root>")` opens it later:
 *
 *   <root>/<experiment id>/meta.yaml
 *   <root>/<experiment id>/<run id>/{meta.yaml, params/, metrics/, tags/, artifacts/, inputs/}
 *   <root>/<experiment id>/datasets/<dataset id>/meta.yaml
 *   <root>/models/<name>/{meta.yaml, aliases/<alias>, version-<n>/meta.yaml}
 */
export class MlflowFileStoreTracking implements Tracking {
  readonly description: string;
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = `MLflow file store ${this.root}`;
  }

  async getOrCreateExperiment(name: string): Promise<Experiment> {
    await this.ensureRoot();
    const existing = (await this.experiments()).find((e) => e.name === name);
    if (existing) return existing;
    // MLflow's ids here are random 18-digit integers (mlflow.utils.name_utils._generate_unique_integer_id).
    const id = `${randomInt(1, 10)}${Array.from({ length: 17 }, () => randomInt(0, 10)).join("")}`;
    await this.createExperiment(id, name);
    return this.experiment(id);
  }

  async createRun(experimentId: string, options: StartRunOptions = {}): Promise<RunInfo> {
    const experiment = await this.experiment(experimentId);
    const runId = randomUUID().replaceAll("-", "");
    const runName = options.runName ?? `run-${runId.slice(0, 8)}`;
    const dir = join(this.root, experiment.experimentId, runId);
    await mkdir(dir, { recursive: true });
    for (const sub of ["metrics", "params", "artifacts", "tags"]) await mkdir(join(dir, sub));
    const info: RunInfo = {
      runId, runName, experimentId: experiment.experimentId, status: "RUNNING",
      startTime: Date.now(), endTime: undefined, artifactUri: pathToFileURL(join(dir, "artifacts")).href,
    };
    await this.writeRunMeta(dir, info);
    await this.writeFiles(dir, "tags", { ...options.tags, "mlflow.runName": runName }, "tag key");
    return info;
  }

  async endRun(runId: string, status: Exclude<RunStatus, "RUNNING" | "SCHEDULED"> = "FINISHED"): Promise<void> {
    const { dir, info } = await this.findRun(runId);
    await this.writeRunMeta(dir, { ...info, status, endTime: Date.now() });
  }

  async getRun(runId: string): Promise<Run> {
    const { dir, info } = await this.findRun(runId);
    const metrics: Record<string, number> = {};
    for (const [key, text] of Object.entries(await this.readFiles(join(dir, "metrics")))) {
      // The value MLflow shows is the one at the highest (step, timestamp, value).
      const points = text.trim().split("\n").map((l) => l.split(" ").map(Number) as [number, number, number?]);
      const best = points.map(([ts, v, step]) => [step ?? 0, ts, v] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]).pop();
      if (best) metrics[key] = best[2];
    }
    return { info, params: await this.readFiles(join(dir, "params")), metrics, tags: await this.readFiles(join(dir, "tags")) };
  }

  async logBatch(runId: string, data: RunData): Promise<void> {
    const { dir, info } = await this.findRun(runId);
    this.checkActive(info);
    for (const [key, value] of Object.entries(data.params ?? {})) {
      checkKey("param key", key);
      const path = join(dir, "params", key);
      const text = String(value);
      // As on the server: a param is logged once; logging it again with another value is a mistake.
      if (existsSync(path) && (await readFile(path, "utf8")) !== text) {
        throw new TrackingError(`Param ${JSON.stringify(key)} of run ${runId} is already ${JSON.stringify(await readFile(path, "utf8"))}; cannot change it to ${JSON.stringify(text)}.`, {
          fix: "Params are fixed per run: start a new run for new settings, or log the changing value as a metric.",
          context: { store: this.root, runId, param: key },
        });
      }
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, text);
    }
    const now = Date.now();
    for (const m of data.metrics ?? []) {
      checkKey("metric key", m.key);
      const path = join(dir, "metrics", m.key);
      await mkdir(dirname(path), { recursive: true });
      await appendFile(path, `${m.timestamp ?? now} ${m.value} ${m.step ?? 0}\n`);
    }
    await this.writeFiles(dir, "tags", data.tags ?? {}, "tag key");
  }

  async logInputs(runId: string, datasets: readonly DatasetInput[]): Promise<void> {
    const { dir, info } = await this.findRun(runId);
    this.checkActive(info);
    for (const d of datasets) {
      // Ids and file contents as FileStore.log_inputs makes them.
      const datasetId = md5(d.name, d.digest);
      const datasetDir = join(this.root, info.experimentId, "datasets", datasetId);
      if (!existsSync(datasetDir)) {
        await mkdir(datasetDir, { recursive: true });
        await writeYaml(datasetDir, {
          name: d.name, digest: d.digest, source_type: d.sourceType, source: d.source,
          schema: d.schema ?? null, profile: d.profile ?? null,
        });
      }
      const inputDir = join(dir, "inputs", md5(datasetId, runId));
      if (!existsSync(inputDir)) {
        await mkdir(inputDir, { recursive: true });
        // MLflow writes the dataset id as destination_id too; matching it keeps the files identical.
        await writeYaml(inputDir, {
          source_type: "DATASET", source_id: datasetId, destination_type: "RUN", destination_id: datasetId,
          tags: d.context ? { "mlflow.data.context": d.context } : {},
        });
      }
    }
  }

  async logArtifact(runId: string, artifactPath: string, content: string | Uint8Array): Promise<string> {
    checkArtifactPath(artifactPath);
    const { dir } = await this.findRun(runId);
    const path = join(dir, "artifacts", artifactPath);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
    return pathToFileURL(path).href;
  }

  async logArtifacts(runId: string, localPath: string, artifactPath = ""): Promise<void> {
    checkArtifactPath(artifactPath);
    const { dir } = await this.findRun(runId);
    for (const file of await listFiles(localPath)) {
      const target = join(dir, "artifacts", artifactPath, file.relative);
      await mkdir(dirname(target), { recursive: true });
      await copyFile(file.absolute, target);
    }
  }

  async downloadArtifact(runId: string, artifactPath: string): Promise<Uint8Array> {
    checkArtifactPath(artifactPath);
    const { dir } = await this.findRun(runId);
    return this.read(join(dir, "artifacts", artifactPath), `Run ${runId} has no artifact ${JSON.stringify(artifactPath)}.`, "Check the artifact path (see the run's artifacts/ folder).");
  }

  async createRegisteredModel(name: string, description?: string): Promise<void> {
    checkKey("model name", name);
    await this.ensureRoot();
    const dir = this.modelDir(name);
    if (existsSync(join(dir, "meta.yaml"))) return;
    await mkdir(dir, { recursive: true });
    const now = Date.now();
    await writeYaml(dir, { name, description: description ?? null, creation_timestamp: now, last_updated_timestamp: now });
  }

  async createModelVersion(name: string, runId: string, artifactPath: string): Promise<ModelVersion> {
    checkArtifactPath(artifactPath);
    const modelDir = await this.existingModelDir(name);
    const { dir } = await this.findRun(runId);
    const source = pathToFileURL(join(dir, "artifacts", artifactPath)).href;
    for (;;) {
      const version = (await this.versions(modelDir)).reduce((max, v) => Math.max(max, v), 0) + 1;
      const versionDir = join(modelDir, `version-${version}`);
      try {
        // Not recursive: if another kernel took this number, mkdir fails and we take the next.
        await mkdir(versionDir);
      } catch (e) {
        if ((e as { code?: string }).code === "EEXIST") continue;
        throw e;
      }
      const now = Date.now();
      await writeYaml(versionDir, {
        name, version, source, storage_location: source, run_id: runId, run_link: null, user_id: null,
        creation_timestamp: now, last_updated_timestamp: now, current_stage: "None", description: null,
        status: "READY", status_message: null,
      });
      return this.modelVersion(name, String(version));
    }
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    checkKey("alias", alias);
    await this.modelVersion(name, version);
    const path = join(this.modelDir(name), "aliases", alias);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, version);
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    checkKey("alias", alias);
    const modelDir = await this.existingModelDir(name);
    const version = new TextDecoder().decode(await this.read(join(modelDir, "aliases", alias), `Registered model ${JSON.stringify(name)} has no alias ${JSON.stringify(alias)}.`, `Set it first: tracking.setAlias(${JSON.stringify(name)}, ${JSON.stringify(alias)}, version).`));
    return this.modelVersion(name, version.trim());
  }

  async resolveModelUri(uri: string): Promise<ModelVersion> {
    const parsed = parseModelUri(uri);
    return "alias" in parsed ? this.getModelVersionByAlias(parsed.name, parsed.alias) : this.modelVersion(parsed.name, parsed.version);
  }

  private async modelVersion(name: string, version: string): Promise<ModelVersion> {
    const modelDir = await this.existingModelDir(name);
    const metaPath = join(modelDir, `version-${version}`, "meta.yaml");
    const meta = fromYaml(new TextDecoder().decode(await this.read(metaPath, `Registered model ${JSON.stringify(name)} has no version ${JSON.stringify(version)}.`, "Register one with tracking.createModelVersion(name, runId, artifactPath).")));
    const aliases = Object.entries(await this.readFiles(join(modelDir, "aliases"))).filter(([, v]) => v.trim() === version).map(([a]) => a);
    return { name, version, source: String(meta["source"]), runId: (meta["run_id"] as string | null) ?? undefined, status: String(meta["status"] ?? "READY"), aliases };
  }

  private modelDir(name: string): string {
    return join(this.root, "models", name);
  }

  private async existingModelDir(name: string): Promise<string> {
    checkKey("model name", name);
    const dir = this.modelDir(name);
    if (!existsSync(join(dir, "meta.yaml"))) {
      throw new TrackingError(`No registered model ${JSON.stringify(name)} in ${this.description}.`, {
        fix: `Create it first: tracking.createRegisteredModel(${JSON.stringify(name)}).`,
        context: { store: this.root, model: name },
      });
    }
    return dir;
  }

  private async versions(modelDir: string): Promise<number[]> {
    return (await readdir(modelDir)).map((d) => /^version-(\d+)$/.exec(d)?.[1]).filter((v): v is string => v !== undefined).map(Number);
  }

  // MLflow creates the default experiment "0" and .trash when it opens a missing root; so do we.
  private async ensureRoot(): Promise<void> {
    if (existsSync(join(this.root, "0", "meta.yaml"))) return;
    try {
      await mkdir(join(this.root, ".trash"), { recursive: true });
      await this.createExperiment("0", "Default");
    } catch (e) {
      if (e instanceof TrackingError) throw e;
      throw new TrackingError(`Cannot create the MLflow file store at ${this.root}: ${messageOf(e)}`, {
        fix: "Make the lab folder writable, or point MLFLOW_TRACKING_URI at another folder or at a tracking server.",
        context: { store: this.root },
        cause: e,
      });
    }
  }

  private async createExperiment(id: string, name: string): Promise<void> {
    const dir = join(this.root, id);
    await mkdir(dir, { recursive: true });
    const now = Date.now();
    await writeYaml(dir, {
      experiment_id: id, name, artifact_location: pathToFileURL(dir).href, lifecycle_stage: "active",
      creation_time: now, last_update_time: now,
    });
  }

  private async experiments(): Promise<Experiment[]> {
    const out: Experiment[] = [];
    for (const entry of await readdir(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === ".trash" || entry.name === "models") continue;
      const meta = join(this.root, entry.name, "meta.yaml");
      if (existsSync(meta)) out.push(toExperiment(fromYaml(await readFile(meta, "utf8"))));
    }
    return out;
  }

  private async experiment(id: string): Promise<Experiment> {
    if (!/^\d+$/.test(id)) throw new TrackingError(`Invalid experiment id ${JSON.stringify(id)}.`, { fix: "Pass the experimentId of an experiment from getOrCreateExperiment(name)." });
    await this.ensureRoot();
    const meta = join(this.root, id, "meta.yaml");
    if (!existsSync(meta)) {
      throw new TrackingError(`No experiment ${id} in ${this.description}.`, { fix: "Use getOrCreateExperiment(name) and pass its experimentId.", context: { store: this.root, experimentId: id } });
    }
    return toExperiment(fromYaml(await readFile(meta, "utf8")));
  }

  private async findRun(runId: string): Promise<{ dir: string; info: RunInfo }> {
    if (/^[0-9a-f]{32}$/.test(runId) && existsSync(this.root)) {
      for (const e of await this.experiments()) {
        const dir = join(this.root, e.experimentId, runId);
        if (existsSync(join(dir, "meta.yaml"))) return { dir, info: toRunInfo(fromYaml(await readFile(join(dir, "meta.yaml"), "utf8"))) };
      }
    }
    throw new TrackingError(`No run ${JSON.stringify(runId)} in ${this.description}.`, {
      fix: "Pass the runId returned by createRun (runs tracked on a server are not in the file store, and the other way round).",
      context: { store: this.root, runId },
    });
  }

  private checkActive(info: RunInfo): void {
    if (info.status !== "RUNNING") {
      throw new TrackingError(`Run ${info.runId} is ${info.status}; MLflow does not log to a finished run.`, { fix: "Start a new run with createRun.", context: { store: this.root, runId: info.runId } });
    }
  }

  private async writeRunMeta(dir: string, info: RunInfo): Promise<void> {
    // Keys as FileStore._make_persisted_run_info_dict writes them; status as MLflow's RunStatus enum number.
    await writeYaml(dir, {
      run_id: info.runId, run_name: info.runName, experiment_id: info.experimentId, artifact_uri: info.artifactUri,
      status: STATUS_NUMBER[info.status], start_time: info.startTime, end_time: info.endTime ?? null,
      lifecycle_stage: "active", user_id: currentUser(), tags: [],
      source_type: 4, source_name: "", entry_point_name: "", source_version: "",
    });
  }

  private async writeFiles(dir: string, folder: string, values: Readonly<Record<string, string>>, kind: string): Promise<void> {
    for (const [key, value] of Object.entries(values)) {
      checkKey(kind, key);
      const path = join(dir, folder, key);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, value);
    }
  }

  /** Every file under `dir` as key (path relative to dir, "/" nesting kept) → text. */
  private async readFiles(dir: string): Promise<Record<string, string>> {
    if (!existsSync(dir)) return {};
    const out: Record<string, string> = {};
    for (const f of await listFiles(dir)) out[f.relative] = await readFile(f.absolute, "utf8");
    return out;
  }

  private async read(path: string, message: string, fix: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(path));
    } catch (e) {
      throw new TrackingError(message, { fix, context: { store: this.root, path }, cause: e });
    }
  }
}

const STATUS_NUMBER: Record<RunStatus, number> = { RUNNING: 1, SCHEDULED: 2, FINISHED: 3, FAILED: 4, KILLED: 5 };
const STATUS_NAME = Object.fromEntries(Object.entries(STATUS_NUMBER).map(([k, v]) => [v, k])) as Record<number, RunStatus>;

function toExperiment(meta: Record<string, YamlValue>): Experiment {
  return { experimentId: String(meta["experiment_id"]), name: String(meta["name"]), artifactLocation: String(meta["artifact_location"]), lifecycleStage: String(meta["lifecycle_stage"] ?? "active") };
}

function toRunInfo(meta: Record<string, YamlValue>): RunInfo {
  return {
    runId: String(meta["run_id"]),
    runName: String(meta["run_name"] ?? ""),
    experimentId: String(meta["experiment_id"]),
    status: STATUS_NAME[Number(meta["status"] ?? 1)] ?? "RUNNING",
    startTime: Number(meta["start_time"] ?? 0),
    endTime: meta["end_time"] === null || meta["end_time"] === undefined ? undefined : Number(meta["end_time"]),
    artifactUri: String(meta["artifact_uri"]),
  };
}

async function writeYaml(dir: string, data: Record<string, YamlValue>): Promise<void> {
  await writeFile(join(dir, "meta.yaml"), toYaml(data));
}

function md5(...parts: string[]): string {
  const h = createHash("md5");
  for (const p of parts) h.update(p, "utf8");
  return h.digest("hex");
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown"; // containers without a passwd entry for the uid
  }
}
