import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Tracking } from "../../../kernel-helpers/src/tracking/index.js";

/** The names and ids one tracked run produced, for checking them afterwards. */
export interface Story { experimentId: string; runId: string; version: string }

/**
 * What the ML notebook will do, in small: a run with params, metrics over steps, tags, a data set
 * input, a text artifact and a model folder, registered as a version with the alias "champion".
 */
export async function trackOneRun(tracking: Tracking, experiment: string, model: string): Promise<Story> {
  const exp = await tracking.getOrCreateExperiment(experiment);
  const run = await tracking.createRun(exp.experimentId, { runName: "forest-1", tags: { team: "lab" } });
  await tracking.logBatch(run.runId, {
    params: { n_trees: 50, max_depth: 6, features: "recency,frequency" },
    metrics: [0.9, 0.7, 0.5].map((value, step) => ({ key: "loss", value, step })).concat([{ key: "auc", value: 0.81, step: 0 }]),
    tags: { "model.kind": "random-forest" },
  });
  await tracking.logInputs(run.runId, [{ name: "gold.ml_features", digest: "snap-7", sourceType: "ducklake", source: '{"table":"gold.ml_features","snapshot":7}', context: "training" }]);
  await tracking.logArtifact(run.runId, "notes.txt", "trained on gold.ml_features\n");
  const local = await mkdtemp(join(tmpdir(), "model-dir-"));
  try {
    await mkdir(join(local, "data"));
    await writeFile(join(local, "MLmodel"), "flavors:\n  dataflow_lab:\n    model: data/model.json\n");
    await writeFile(join(local, "data", "model.json"), '{"trees":[]}');
    await tracking.logArtifacts(run.runId, local, "model");
  } finally {
    await rm(local, { recursive: true, force: true });
  }
  await tracking.endRun(run.runId);
  await tracking.createRegisteredModel(model, "churn classifier");
  const mv = await tracking.createModelVersion(model, run.runId, "model");
  await tracking.setAlias(model, "champion", mv.version);
  return { experimentId: exp.experimentId, runId: run.runId, version: mv.version };
}
