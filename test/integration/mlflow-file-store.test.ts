/**
 * The embedded MLflow file store, checked by MLflow's own Python client (the MLflow venv that the
 * native services install): what we write, MLflow reads, and the other way round.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { withStore } from "../unit/tracking/with-store.js";
import { hasMlflowPython, readBackWithMlflow, writeWithMlflow } from "./support/mlflow-python.js";
import { trackOneRun } from "../unit/tracking/run-story.js";

assert.ok(hasMlflowPython(), "MLflow's Python client is missing: `npm run services:up` installs it (npm test does so itself)");

test("MLflow's own Python client opens the file store", async () => {
  await withStore(async (tracking, root) => {
    const story = await trackOneRun(tracking, "churn", "churn-model");
    const seen = readBackWithMlflow(pathToFileURL(root).href, "churn", story.runId, "churn-model", "champion");
    assert.deepEqual(seen.experiment, { id: story.experimentId, name: "churn" });
    assert.equal(seen.run.status, "FINISHED");
    assert.equal(seen.run.name, "forest-1");
    assert.deepEqual(seen.runs_in_experiment, [story.runId]);
    assert.deepEqual(seen.params, { n_trees: "50", max_depth: "6", features: "recency,frequency" });
    assert.deepEqual(seen.metrics, { loss: 0.5, auc: 0.81 });
    assert.deepEqual(seen.loss_history, [[0, 0.9], [1, 0.7], [2, 0.5]]);
    assert.deepEqual(seen.tags, { team: "lab", "model.kind": "random-forest", "mlflow.runName": "forest-1" });
    assert.deepEqual(seen.inputs, [{ name: "gold.ml_features", digest: "snap-7", source_type: "ducklake", tags: { "mlflow.data.context": "training" } }]);
    assert.deepEqual(seen.artifacts, ["model/MLmodel", "model/data/model.json", "notes.txt"]);
    assert.equal(seen.notes, "trained on gold.ml_features\n");
    assert.deepEqual({ ...seen.model_version, source: undefined }, { version: "1", run_id: story.runId, aliases: ["champion"], source: undefined });
    // MLflow adds its own registered_model_meta file when it downloads a registered model.
    assert.deepEqual(seen.model_files.filter((f) => f !== "registered_model_meta"), ["MLmodel", "data"]);
  });
});

test("a store MLflow itself wrote is read by ours, and ours adds to it", async () => {
  await withStore(async (tracking, root) => {
    const { runId } = writeWithMlflow(root);
    const exp = await tracking.getOrCreateExperiment("made-by-mlflow");
    assert.match(exp.artifactLocation, /a{100}$/, "a long artifact location is read whole");
    const run = await tracking.getRun(runId);
    assert.equal(run.info.experimentId, exp.experimentId);
    assert.equal(run.info.status, "FINISHED");
    assert.deepEqual(run.params, { k: "v" });
    assert.deepEqual(run.metrics, { acc: 0.75 });
    assert.deepEqual([run.tags["who"], run.tags["x"], run.tags["mlflow.runName"]], ["python", "y", "py"]);
    assert.deepEqual((await tracking.resolveModelUri("models:/m@champion")).runId, runId);
    const next = await tracking.createRun(exp.experimentId);
    assert.equal((await tracking.getRun(next.runId)).info.status, "RUNNING");
  });
});
