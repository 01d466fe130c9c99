import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { TrackingError } from "../../../kernel-helpers/src/tracking/index.js";
import { withStore } from "./with-store.js";
import { trackOneRun } from "./run-story.js";

test("the embedded file store reads back what it wrote", async () => {
  await withStore(async (tracking, root) => {
    assert.equal(tracking.description, `MLflow file store ${root}`);
    const story = await trackOneRun(tracking, "churn", "churn-model");
    assert.equal((await tracking.getOrCreateExperiment("churn")).experimentId, story.experimentId, "get-or-create finds the existing experiment");
    assert.match(story.experimentId, /^[1-9]\d{17}$/);

    const run = await tracking.getRun(story.runId);
    assert.equal(run.info.status, "FINISHED");
    assert.ok(run.info.endTime && run.info.endTime >= run.info.startTime);
    assert.deepEqual(run.params, { n_trees: "50", max_depth: "6", features: "recency,frequency" });
    assert.deepEqual(run.metrics, { loss: 0.5, auc: 0.81 });
    assert.equal(run.tags["team"], "lab");
    assert.equal(run.tags["mlflow.runName"], "forest-1");
    assert.equal(await readFile(join(root, story.experimentId, story.runId, "metrics", "loss"), "utf8").then((t) => t.split("\n").map((l) => l.split(" ").slice(1).join(" ")).join("|")), "0.9 0|0.7 1|0.5 2|");

    assert.equal(new TextDecoder().decode(await tracking.downloadArtifact(story.runId, "model/data/model.json")), '{"trees":[]}');
    const champion = await tracking.resolveModelUri("models:/churn-model@champion");
    assert.deepEqual(champion, {
      name: "churn-model", version: "1", runId: story.runId, status: "READY", aliases: ["champion"],
      source: pathToFileURL(join(root, story.experimentId, story.runId, "artifacts", "model")).href,
    });
    assert.equal((await tracking.resolveModelUri("models:/churn-model/1")).version, "1");
    assert.equal((await tracking.createModelVersion("churn-model", story.runId, "model")).version, "2");
  });
});

test("mistakes get a TrackingError that says what to do", async () => {
  await withStore(async (tracking) => {
    const exp = await tracking.getOrCreateExperiment("e");
    const run = await tracking.createRun(exp.experimentId);
    await tracking.logBatch(run.runId, { params: { k: 1 } });
    await tracking.logBatch(run.runId, { params: { k: 1 } }); // the same value again is fine
    await assert.rejects(tracking.logBatch(run.runId, { params: { k: 2 } }), (e: unknown) => e instanceof TrackingError && /already "1".*start a new run/s.test(e.message));
    await assert.rejects(tracking.logArtifact(run.runId, "../escape.txt", "x"), (e: unknown) => e instanceof TrackingError && /"\.\.\/escape\.txt"/.test(e.message));
    await assert.rejects(tracking.getRun("0123456789abcdef0123456789abcdef"), /No run .* in MLflow file store/);
    await assert.rejects(tracking.resolveModelUri("models:/nope@champion"), /No registered model "nope".*createRegisteredModel/s);
    await assert.rejects(tracking.resolveModelUri("runs:/abc/model"), /Not a model URI: "runs:\/abc\/model"/);
    await tracking.createRegisteredModel("m");
    await assert.rejects(tracking.getModelVersionByAlias("m", "champion"), /no alias "champion"/);
    await tracking.endRun(run.runId, "FAILED");
    await assert.rejects(tracking.logBatch(run.runId, { metrics: [{ key: "x", value: 1 }] }), /is FAILED/);
  });
});
