import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { MlflowServerTracking, TrackingError } from "../../../kernel-helpers/src/tracking/index.js";

/** A stand-in server answering from `handle`; the real one is tested in test/integration/mlflow.test.ts. */
async function withServer(handle: (req: IncomingMessage, res: ServerResponse) => void, work: (uri: string) => Promise<void>): Promise<void> {
  const server = createServer(handle);
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  try {
    await work(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  } finally {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
}

const experiment = { experiment_id: "7", name: "churn", artifact_location: "mlflow-artifacts:/7", lifecycle_stage: "active" };

test("503 while the server starts is retried; then the call goes through", async () => {
  let calls = 0;
  await withServer((req, res) => {
    calls++;
    if (calls < 3) return void res.writeHead(503).end("starting");
    assert.equal(req.url, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=churn");
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ experiment }));
  }, async (uri) => {
    const tracking = new MlflowServerTracking(uri, { retryTimeoutMs: 5_000 });
    assert.deepEqual(await tracking.getOrCreateExperiment("churn"), { experimentId: "7", name: "churn", artifactLocation: "mlflow-artifacts:/7", lifecycleStage: "active" });
    assert.equal(calls, 3);
  });
});

test("a server that stays unavailable gives up in bounded time with the URL, the endpoint and the fix", async () => {
  await withServer((_req, res) => void res.writeHead(503).end(), async (uri) => {
    const tracking = new MlflowServerTracking(uri, { retryTimeoutMs: 300 });
    await assert.rejects(tracking.getRun("abc"), (e: unknown) =>
      e instanceof TrackingError && e.message.includes(`server at ${uri.replace(/\/$/, "")} answered 503 (unavailable) on GET /api/2.0/mlflow/runs/get`) && /→ Start it/.test(e.message));
  });
});

test("a server without the artifact proxy is named as such, not as a failed upload", async () => {
  await withServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ run: { info: { run_id: "r", experiment_id: "7", status: "RUNNING", artifact_uri: "s3://mlflow/7/r/artifacts" } } }));
  }, async (uri) => {
    await assert.rejects(new MlflowServerTracking(uri).logArtifact("r", "a.txt", "x"), /does not proxy artifacts: run r stores them at s3:\/\/mlflow.*--serve-artifacts/s);
  });
});

test("metrics are sent in batches within MLflow's limits; NaN survives JSON", async () => {
  const batches: { metrics: { value: unknown }[]; params: unknown[] }[] = [];
  await withServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c)).on("end", () => {
      batches.push(JSON.parse(body));
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  }, async (uri) => {
    const metrics = Array.from({ length: 2500 }, (_, step) => ({ key: "loss", value: step === 0 ? NaN : 1 / step, step }));
    await new MlflowServerTracking(uri).logBatch("r", { metrics, params: { a: 1 } });
  });
  assert.deepEqual(batches.map((b) => b.metrics.length), [1000, 1000, 500]);
  assert.equal(batches[0]!.metrics[0]!.value, "NaN");
  assert.deepEqual(batches.map((b) => b.params.length), [1, 0, 0]);
});

test("a server behind authentication gets MLflow's own credential variables, read from the environment", async () => {
  const seen: (string | undefined)[] = [];
  const saved = { ...process.env };
  try {
    await withServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ experiment }));
    }, async (uri) => {
      const tracking = new MlflowServerTracking(uri);
      delete process.env["MLFLOW_TRACKING_TOKEN"];
      delete process.env["MLFLOW_TRACKING_USERNAME"];
      await tracking.getOrCreateExperiment("churn");
      process.env["MLFLOW_TRACKING_USERNAME"] = "ana";
      process.env["MLFLOW_TRACKING_PASSWORD"] = "s3cret";
      await tracking.getOrCreateExperiment("churn");
      process.env["MLFLOW_TRACKING_TOKEN"] = "tok";
      await tracking.getOrCreateExperiment("churn");
    });
  } finally {
    for (const k of ["MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
  assert.deepEqual(seen, [undefined, `Basic ${Buffer.from("ana:s3cret").toString("base64")}`, "Bearer tok"]);
});
