/**
 * What goes wrong in a workshop room, on the compose stack as shipped: the object storage container dies in the
 * middle of a notebook, and the trainer stops the stack at lunch (`docker compose down`, without -v) and starts it
 * again. The first must fail the next cell with an error naming the storage endpoint, and succeed when re-run once
 * the container is back, with nothing lost; the second must keep every table, object, MLflow run and home folder.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { psql } from "../integration/services.js";
import { RemoteKernel, api, login, startServer } from "../hub/hub-support.js";
import { STACK, composeOk, containerHub, hostServices, hubShell, waitHealthy } from "./stack.js";

const hub = containerHub();
const services = hostServices();
const USER = "carla";
let token = "";

before(async () => {
  const admin = await login(hub, STACK["DATAFLOW_HUB_ADMIN_USER"]!, hub.adminPassword);
  const r = await api(hub, admin, "/hub/api/users", { method: "POST", body: JSON.stringify({ usernames: [USER] }) });
  assert.ok([201, 409].includes(r.status), `create ${USER}: HTTP ${r.status} ${await r.text()}`);
  token = await login(hub, USER, hub.workshopPassword);
});

async function kernelOf(user: string): Promise<RemoteKernel> {
  await startServer(hub, user, token, 240_000);
  return RemoteKernel.start(hub, user, token, "tslab", "notebooks");
}

const OPEN = [
  'import { openLab, ingestFile } from "@dataflow-lab/kernel-helpers";',
  'const lab = await openLab();',
].join("\n");
const INGEST = (file: string, table: string) => `(await ingestFile(lab, { file: "../data/samples/${file}", table: "${table}" })).rows`;
const COUNT = (table: string) => `console.log("rows", (await lab.sql("SELECT count(*) FROM bronze.${table}")).number())`;

test("the S3 container killed mid-notebook: the next cell names the endpoint; re-run after a restart, it succeeds with nothing lost", { timeout: 600_000 }, async () => {
  const kernel = await kernelOf(USER);
  try {
    let out = await kernel.execute(OPEN);
    assert.equal(out.stderr, "", out.stderr);
    out = await kernel.execute(`${INGEST("customers.csv", "fault_customers")}; ${COUNT("fault_customers")}`);
    assert.equal(out.stderr, "", out.stderr);
    const before = /rows (\d+)/.exec(out.stdout)?.[1];
    assert.ok(Number(before) > 0, out.stdout);

    composeOk(["kill", "minio"]);
    const failed = await kernel.execute(INGEST("orders.csv", "fault_orders"), 180_000);
    assert.match(failed.stderr, /Cannot reach object storage at http:\/\/minio:9000/, `the cell names the endpoint:\n${failed.stderr}`);

    composeOk(["start", "minio"]);
    await waitHealthy("minio");
    out = await kernel.execute(`${INGEST("orders.csv", "fault_orders")}; ${COUNT("fault_orders")}; ${COUNT("fault_customers")}`, 180_000);
    assert.equal(out.stderr, "", `the re-run succeeds:\n${out.stderr}`);
    const counts = [...out.stdout.matchAll(/rows (\d+)/g)].map((m) => Number(m[1]));
    assert.ok(counts[0]! > 0, `orders landed: ${out.stdout}`);
    assert.equal(counts[1], Number(before), "the table written before the crash is intact");
  } finally {
    await kernel.close();
  }
});

// What a trainer would look at after lunch, through the published ports with the stack's own credentials.
async function inventory(): Promise<Record<string, number>> {
  const s3 = new S3Client({
    endpoint: services["AWS_ENDPOINT_URL_S3"], region: "us-east-1", forcePathStyle: true,
    credentials: { accessKeyId: services["AWS_ACCESS_KEY_ID"]!, secretAccessKey: services["AWS_SECRET_ACCESS_KEY"]! },
  });
  const counts: Record<string, number> = {};
  try {
    for (const bucket of ["bronze", "silver", "gold", "mlflow"]) {
      let n = 0;
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        n += page.KeyCount ?? 0;
        token = page.NextContinuationToken;
      } while (token);
      counts[`s3://${bucket}`] = n;
    }
  } finally {
    s3.destroy();
  }
  counts["catalog tables"] = Number(psql(services["DATAFLOW_CATALOG_URL"]!, "SELECT count(*) FROM pg_tables WHERE schemaname LIKE 'ducklake%'"));
  counts["catalog snapshots"] = Number(psql(services["DATAFLOW_CATALOG_URL"]!, `SELECT count(*) FROM "ducklake_${USER}".ducklake_snapshot`));
  const experiments = (await (await fetch(`${services["MLFLOW_TRACKING_URI"]}/api/2.0/mlflow/experiments/search`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ max_results: 1000 }),
  })).json()) as { experiments?: { experiment_id: string }[] };
  const runs = (await (await fetch(`${services["MLFLOW_TRACKING_URI"]}/api/2.0/mlflow/runs/search`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ experiment_ids: (experiments.experiments ?? []).map((e) => e.experiment_id), max_results: 1000 }),
  })).json()) as { runs?: unknown[] };
  counts["mlflow runs"] = runs.runs?.length ?? 0;
  const homes = hubShell("find /home -type f | wc -l");
  assert.equal(homes.status, 0, homes.stderr);
  counts["files in /home"] = Number(homes.stdout.trim());
  return counts;
}

test("docker compose down (without -v) and up keeps every table, object, MLflow run and home folder", { timeout: 900_000 }, async () => {
  // At least one MLflow run of our own, so the count below is not trivially zero when run alone.
  const experiment = await fetch(`${services["MLFLOW_TRACKING_URI"]}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default`);
  const { experiment: { experiment_id } } = (await experiment.json()) as { experiment: { experiment_id: string } };
  const created = await fetch(`${services["MLFLOW_TRACKING_URI"]}/api/2.0/mlflow/runs/create`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ experiment_id, run_name: "lunch-break" }),
  });
  assert.equal(created.status, 200, await created.text());

  const beforeDown = await inventory();
  // (Trainees' lake files all live in the silver bucket, under users/<name>/lake/: gold may well be empty.)
  for (const what of ["s3://bronze", "s3://silver", "catalog tables", "catalog snapshots", "mlflow runs", "files in /home"]) {
    assert.ok(beforeDown[what]! > 0, `${what} is empty before the restart: the check would prove nothing`);
  }
  composeOk(["down", "--timeout", "30"], { timeoutMs: 5 * 60_000 });
  composeOk(["up", "-d", "--wait", "--wait-timeout", "300"], { timeoutMs: 10 * 60_000 });
  assert.deepEqual(await inventory(), beforeDown);

  // The trainee comes back to a new container: same home, same tables, readable by her again.
  token = await login(hub, USER, hub.workshopPassword);
  const kernel = await kernelOf(USER);
  try {
    const out = await kernel.execute(`${OPEN}\n${COUNT("fault_customers")}\nconsole.log(require("node:fs").readdirSync(".").length > 0 ? "notebooks here" : "empty")`);
    assert.equal(out.stderr, "", out.stderr);
    assert.match(out.stdout, /rows [1-9]\d*/);
    assert.match(out.stdout, /notebooks here/);
  } finally {
    await kernel.close();
    await api(hub, token, `/hub/api/users/${USER}/server`, { method: "DELETE" });
  }
});
