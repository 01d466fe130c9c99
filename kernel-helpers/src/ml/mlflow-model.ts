import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Tracking, ModelVersion } from "../tracking/index.js";
import { MlError } from "./features.js";
import { score, type ModelSpec } from "./models.js";

/** Our MLflow flavor: MLflow lists the model; this library (not Python) knows how to load it. */
export const FLAVOR = "dataflow_lab";
const MODEL_FILE = "model.json";

export interface LoadedModel {
  readonly uri: string;
  readonly version: ModelVersion;
  readonly spec: ModelSpec;
  readonly features: readonly string[];
  score(rows: readonly number[][]): number[];
}

/**
 * Log a model as an MLflow model directory under the run's artifacts: `MLmodel` (flavor, input
 * signature, run id), `model.json` (the model) and `input_example.json`, uploaded through the
 * tracking client (the server's artifact proxy, or the file store).
 */
export async function logModel(tracking: Tracking, runId: string, artifactPath: string, spec: ModelSpec, example: readonly number[][]): Promise<string> {
  const library = spec.kind === "kmeans" ? "ml-kmeans" : "ml-random-forest";
  const version = installedVersion(library);
  const inputs = JSON.stringify(spec.features.map((name) => ({ type: "double", name, required: true })));
  const outputs = JSON.stringify([{ type: spec.kind === "kmeans" ? "long" : "double", name: spec.kind === "kmeans" ? "segment" : "churn_probability", required: true }]);
  // MLmodel is YAML; JSON strings are valid YAML scalars, so the signature is quoted exactly as MLflow writes it.
  const mlmodel = [
    `artifact_path: ${artifactPath}`,
    "flavors:",
    `  ${FLAVOR}:`,
    `    model_kind: ${spec.kind}`,
    `    library: ${library}`,
    `    library_version: ${version}`,
    `    data: ${MODEL_FILE}`,
    `    loader: "@dataflow-lab/kernel-helpers loadModel()"`,
    `model_uuid: ${randomUUID().replaceAll("-", "")}`,
    `run_id: ${runId}`,
    "saved_input_example_info:",
    "  artifact_path: input_example.json",
    "  type: dataframe",
    "  pandas_orient: split",
    "signature:",
    `  inputs: '${inputs}'`,
    `  outputs: '${outputs}'`,
    "  params: null",
    `utc_time_created: '${new Date().toISOString().replace("T", " ").replace("Z", "")}'`,
    "",
  ].join("\n");
  await tracking.logArtifact(runId, `${artifactPath}/${MODEL_FILE}`, JSON.stringify(spec));
  await tracking.logArtifact(runId, `${artifactPath}/input_example.json`, JSON.stringify({ columns: spec.features, data: example.slice(0, 5) }));
  return tracking.logArtifact(runId, `${artifactPath}/MLmodel`, mlmodel);
}

/** Resolve `models:/<name>@<alias>` (or `/<version>`) through the registry and load the model it points to. */
export async function loadModel(tracking: Tracking, uri: string): Promise<LoadedModel> {
  const version = await tracking.resolveModelUri(uri);
  if (!version.runId) throw new MlError(`${uri} (version ${version.version}) names no run, so its files cannot be found.`, { fix: "Register versions with createModelVersion(name, runId, artifactPath)." });
  const at = version.source.lastIndexOf("/artifacts/");
  if (at < 0) throw new MlError(`${uri} points to ${version.source}, which is not a run artifact.`, { fix: "Register the model from a run's artifacts (e.g. artifact path \"model\")." });
  const artifactPath = version.source.slice(at + "/artifacts/".length);
  const bytes = await tracking.downloadArtifact(version.runId, `${artifactPath}/${MODEL_FILE}`);
  const spec = JSON.parse(new TextDecoder().decode(bytes)) as ModelSpec;
  return { uri, version, spec, features: spec.features, score: (rows) => score(spec, rows) };
}

// ml-kmeans's "exports" hides its package.json, so find it from the resolved entry point.
function installedVersion(name: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    } catch {
      // no package.json at this level
    }
    const up = dirname(dir);
    if (up === dir) return "unknown";
    dir = up;
  }
}
