/**
 * kernel-helpers' tracking client against the real MLflow server (native services, or compose),
 * checked with MLflow's own Python client: what the ML notebook logs is what MLflow shows.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import { MlflowServerTracking, openTracking, TrackingError } from "../../kernel-helpers/src/tracking/index.js";
import { resolveSettings } from "../../kernel-helpers/src/config/settings.js";
import { requireEnv } from "./services.js";
import { readBackWithMlflow } from "./support/mlflow-python.js";
import { trackOneRun } from "../unit/tracking/run-story.js";

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

test("a run, its artifacts and a champion model version land on the MLflow server", async () => {
  const uri = requireEnv("MLFLOW_TRACKING_URI");
  const tracking = openTracking(resolveSettings());
  assert.ok(tracking instanceof MlflowServerTracking, "MLFLOW_TRACKING_URI (http) selects the server");
  const experiment = unique("churn-test");
  const model = unique("churn-model-test");
  const story = await trackOneRun(tracking, experiment, model);

  const run = await tracking.getRun(story.runId);
  assert.equal(run.info.status, "FINISHED");
  assert.deepEqual(run.params, { n_trees: "50", max_depth: "6", features: "recency,frequency" });
  assert.deepEqual(run.metrics, { loss: 0.5, auc: 0.81 });
  assert.match(run.info.artifactUri, /^mlflow-artifacts:/, "artifacts go through the server's proxy");
  assert.equal(new TextDecoder().decode(await tracking.downloadArtifact(story.runId, "model/data/model.json")), '{"trees":[]}');
  const champion = await tracking.resolveModelUri(`models:/${model}@champion`);
  assert.equal(champion.version, story.version);
  assert.equal(champion.runId, story.runId);
  assert.deepEqual(champion.aliases, ["champion"]);

  const seen = readBackWithMlflow(uri, experiment, story.runId, model, "champion");
  assert.deepEqual(seen.experiment, { id: story.experimentId, name: experiment });
  assert.equal(seen.run.status, "FINISHED");
  assert.deepEqual(seen.runs_in_experiment, [story.runId]);
  assert.deepEqual(seen.params, run.params);
  assert.deepEqual(seen.metrics, { loss: 0.5, auc: 0.81 });
  assert.deepEqual(seen.loss_history, [[0, 0.9], [1, 0.7], [2, 0.5]]);
  assert.equal(seen.tags["team"], "lab");
  assert.equal(seen.tags["model.kind"], "random-forest");
  assert.deepEqual(seen.inputs, [{ name: "gold.ml_features", digest: "snap-7", source_type: "ducklake", tags: { "mlflow.data.context": "training" } }]);
  assert.deepEqual(seen.artifacts, ["model/MLmodel", "model/data/model.json", "notes.txt"]);
  assert.equal(seen.notes, "trained on gold.ml_features\n");
  assert.deepEqual({ ...seen.model_version, source: undefined }, { version: story.version, run_id: story.runId, aliases: ["champion"], source: undefined });
  assert.deepEqual(seen.model_files.filter((f) => f !== "registered_model_meta"), ["MLmodel", "data"]);
});

test("a tracking server that is down fails loudly with one TrackingError naming it", async () => {
  // Port 1 is refused by fetch itself ("bad port"); a closed free port is refused by the OS and retried first.
  for (const uri of ["http://127.0.0.1:1", `http://127.0.0.1:${await closedPort()}`]) {
    const tracking = openTracking(resolveSettings({ MLFLOW_TRACKING_URI: uri }), { retryTimeoutMs: 800 });
    const started = Date.now();
    await assert.rejects(tracking.getOrCreateExperiment(unique("never")), (e: unknown) => {
      assert.ok(e instanceof TrackingError, `a TrackingError, not ${String(e)}`);
      assert.ok(e.message.startsWith(`The MLflow tracking server at ${uri} is not reachable`), e.message);
      assert.match(e.message, /on GET \/api\/2\.0\/mlflow\/experiments\/get-by-name\.\n  → Start it/);
      return true;
    });
    assert.ok(Date.now() - started < 5_000, "retries are bounded");
  }
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

test("server errors are TrackingErrors quoting MLflow's own message and the endpoint", async () => {
  const tracking = openTracking(resolveSettings());
  await assert.rejects(tracking.getRun("0123456789abcdef0123456789abcdef"), (e: unknown) => e instanceof TrackingError && /refused GET \/api\/2\.0\/mlflow\/runs\/get: 404 RESOURCE_DOES_NOT_EXIST/.test(e.message));
  await assert.rejects(tracking.resolveModelUri(`models:/${unique("absent")}@champion`), TrackingError);
});
