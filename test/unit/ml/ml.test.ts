/**
 * The ML helpers: metrics against hand-computed values, seeded splits and models, clear errors for
 * missing features, MLflow model directories that load back through the registry, scores in gold
 * and recommendations that exclude what the customer bought.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  classificationMetrics, createApi, loadFeatures, loadModel, logModel, MlError, openTracking, permutationImportance, recommendationsFor, rocAuc,
  score, sweepK, trainChurnForest, trainSegments, trainTestSplit, writeCustomerScores, type Lab,
} from "../../../kernel-helpers/src/index.js";
import { withLab } from "../helpers.js";

test("metrics match hand-computed values", () => {
  const m = classificationMetrics([1, 1, 0, 0, 1], [0.9, 0.4, 0.6, 0.1, 0.8]);
  assert.deepEqual(m.confusion, [[1, 1], [1, 2]]);
  assert.equal(m.accuracy, 0.6);
  assert.equal(m.precision, 2 / 3);
  assert.equal(m.recall, 2 / 3);
  assert.equal(rocAuc([1, 1, 0, 0, 1], [0.9, 0.4, 0.6, 0.1, 0.8]), 5 / 6);
  assert.equal(rocAuc([1, 0], [0.5, 0.5]), 0.5, "ties count half");
  assert.ok(Math.abs(m.brier - (0.01 + 0.36 + 0.36 + 0.01 + 0.04) / 5) < 1e-12);
});

test("the same seed gives the same split; different seeds differ", () => {
  const a = trainTestSplit(100, 0.3, 7);
  assert.deepEqual(trainTestSplit(100, 0.3, 7), a);
  assert.equal(a.test.length, 30);
  assert.deepEqual([...a.train, ...a.test].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.notDeepEqual(trainTestSplit(100, 0.3, 8).test, a.test);
});

// Two clear groups of customers: recent big spenders who stay, long-gone small ones who churn.
const X = Array.from({ length: 60 }, (_, i) => (i < 30 ? [5 + (i % 7), 10 + (i % 3), 900 + i] : [200 + (i % 11), 1 + (i % 2), 40 + i]));
const y = X.map((_, i) => (i < 30 ? 0 : 1));

test("k-means finds the two groups, prefers k=2, and names the high-value segment first", () => {
  const sweep = sweepK(X, [2, 3, 4], 1);
  assert.equal(sweep.reduce((b, p) => (p.silhouette > b.silhouette ? p : b)).k, 2);
  assert.ok(sweep[0]!.inertia > sweep[2]!.inertia, "inertia falls with k");
  const seg = trainSegments(X, ["recency_days", "frequency", "monetary"], 2, 1);
  const s = score(seg, X);
  assert.deepEqual(new Set(s.slice(0, 30)), new Set([0]), "big spenders are segment 0");
  assert.deepEqual(new Set(s.slice(30)), new Set([1]));
  assert.equal(seg.segmentNames[0], "top spenders");
});

test("the forest separates churners, importance points at the informative feature, and training errors are clear", () => {
  const noisy = X.map((r, i) => [...r, (i * 7919) % 13]);
  const forest = trainChurnForest(noisy, y, ["recency_days", "frequency", "monetary", "noise"], { seed: 3, trees: 30 });
  assert.ok(rocAuc(y, score(forest, noisy)) > 0.95);
  const imp = permutationImportance(forest, noisy, y, 3);
  assert.ok(imp.find((f) => f.feature === "noise")!.importance <= Math.max(...imp.map((f) => f.importance)));
  assert.throws(() => trainChurnForest([], [], ["a"], { seed: 1 }), MlError);
  assert.throws(() => trainChurnForest(X, X.map(() => 0), ["a", "b", "c"], { seed: 1 }), /only one class/);
  assert.throws(() => score(forest, [[1, 2]]), /expects 4 features/);
});

async function featureTable(lab: Lab): Promise<void> {
  await lab.sql(`CREATE TABLE gold.ml_features AS SELECT i AS customer_id, (CASE WHEN i <= 30 THEN 5 ELSE 200 END + i % 7)::INTEGER AS recency_days,
    (CASE WHEN i <= 30 THEN 10 ELSE 1 END)::BIGINT AS frequency, (CASE WHEN i <= 30 THEN 900.0 ELSE 40.0 END + i) AS monetary, i > 30 AS churned
    FROM range(1, 61) t(i)`);
}

test("features load column-wise from gold; a missing table, column or empty table says what to run", async () => {
  await withLab(async (lab) => {
    await assert.rejects(loadFeatures(lab, { table: "gold.ml_features", id: "customer_id", features: ["monetary"] }),
      (e: Error) => e instanceof MlError && /does not exist/.test(e.message) && /04_gold_aggregations/.test(e.message));
    await featureTable(lab);
    const f = await loadFeatures(lab, { table: "gold.ml_features", id: "customer_id", features: ["recency_days", "monetary"], label: "churned" });
    assert.equal(f.X.length, 60);
    assert.deepEqual(f.X[0], [6, 901]);
    assert.equal(f.y.filter((v) => v === 1).length, 30);
    await assert.rejects(loadFeatures(lab, { table: "gold.ml_features", id: "customer_id", features: ["tenure_days"] }), /no column\(s\) tenure_days/);
    await lab.sql("DELETE FROM gold.ml_features");
    await assert.rejects(loadFeatures(lab, { table: "gold.ml_features", id: "customer_id", features: ["monetary"] }), /is empty/);
  });
});

test("a model logged as an MLflow model directory loads back through models:/name@champion", async () => {
  await withLab(async (lab) => {
    const tracking = openTracking(lab.settings);
    const forest = trainChurnForest(X, y, ["recency_days", "frequency", "monetary"], { seed: 3, trees: 10 });
    const exp = await tracking.getOrCreateExperiment("t");
    const run = await tracking.createRun(exp.experimentId);
    await logModel(tracking, run.runId, "model", forest, X);
    await tracking.endRun(run.runId);
    await tracking.createRegisteredModel("churn");
    const v = await tracking.createModelVersion("churn", run.runId, "model");
    await tracking.setAlias("churn", "champion", v.version);
    const mlmodel = new TextDecoder().decode(await tracking.downloadArtifact(run.runId, "model/MLmodel"));
    assert.match(mlmodel, /flavors:\n  dataflow_lab:\n    model_kind: random_forest_classifier/);
    assert.match(mlmodel, /inputs: '\[\{"type":"double","name":"recency_days","required":true\}/);
    const loaded = await loadModel(tracking, "models:/churn@champion");
    assert.equal(loaded.version.version, v.version);
    assert.deepEqual(loaded.score(X), score(forest, X));
    await assert.rejects(loadModel(tracking, "models:/churn@nobody"));
  });
});

test("scores land in gold; recommendations come from the segment's purchases, minus the user's own; the route answers 400/404/503", async () => {
  await withLab(async (lab) => {
    const app = createApi({ settings: lab.settings, lab });
    try {
      assert.equal((await app.inject({ method: "GET", url: "/api/v1/recommendations/1" })).statusCode, 503, "no scores yet");
      await lab.sql(`CREATE TABLE gold.customer_orders AS SELECT * FROM (VALUES
        (1, 10, 'Pen', 'Office'), (2, 10, 'Pen', 'Office'), (2, 11, 'Ink', 'Office'), (3, 12, 'Lamp', 'Home'), (3, 11, 'Ink', 'Office'), (4, 13, 'Sofa', 'Home'))
        t(customer_id, product_id, product_name, category)`);
      const n = await writeCustomerScores(lab, { customerIds: [1, 2, 3, 4], segments: [0, 0, 0, 1], segmentNames: ["top spenders", "regulars"], churnProbabilities: [0.1, 0.2, 0.3, 0.9], modelVersion: "t" });
      assert.equal(n, 4);
      // Whole probabilities first (a forest can say exactly 0 or 1): the list is still one of doubles.
      assert.equal(await writeCustomerScores(lab, { customerIds: [1, 2, 3, 4], segments: [0, 0, 0, 1], segmentNames: ["top spenders", "regulars"], churnProbabilities: [0, 1, 0.3, 0.9], modelVersion: "t" }), 4, "re-runs replace");
      assert.deepEqual((await lab.sql("SELECT churn_probability FROM gold.customer_scores ORDER BY customer_id")).column("churn_probability"), [0, 1, 0.3, 0.9]);
      assert.equal(await writeCustomerScores(lab, { customerIds: [1, 2, 3, 4], segments: [0, 0, 0, 1], segmentNames: ["top spenders", "regulars"], churnProbabilities: [0.1, 0.2, 0.3, 0.9], modelVersion: "t" }), 4);
      const r = await recommendationsFor(lab, 1);
      assert.equal(r!.segmentName, "top spenders");
      assert.deepEqual(r!.products.map((p) => [Number(p.product_id), Number(p.buyers)]), [[11, 2], [12, 1]], "Ink (2 peers) before Lamp; not Pen (bought), not Sofa (other segment)");
      assert.equal(await recommendationsFor(lab, 99), null);
      const ok = await app.inject({ method: "GET", url: "/api/v1/recommendations/1?limit=1" });
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.json().products.length, 1);
      assert.equal((await app.inject({ method: "GET", url: "/api/v1/recommendations/99" })).statusCode, 404);
      assert.equal((await app.inject({ method: "GET", url: "/api/v1/recommendations/abc" })).statusCode, 400);
    } finally {
      await app.close();
    }
  });
});
