/**
 * The workshop as shipped: the compose stack's JupyterHub (built from docker/jupyterhub/Dockerfile), two
 * trainees created by the trainer and logged in through the hub's REST API, each running the whole
 * walkthrough at the same time in their own server's tslab kernels on the stack's MinIO, PostgreSQL, Kafka and
 * MLflow, holding only the credentials the hub scoped to them. Then what must hold between them: private
 * homes, no hub secret in a trainee's kernel, each one's objects, schema and MLflow models in their own place.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { psql } from "../integration/services.js";
import { RemoteKernel, api, login, runNotebookAs, startServer, traineeRole } from "../hub/hub-support.js";
import { STACK, containerHub, hostServices } from "./stack.js";

const hub = containerHub();
const services = hostServices();
export const TRAINEES = ["ana", "bruno"];
const tokens: Record<string, string> = {};

function rootS3(): S3Client {
  return new S3Client({
    endpoint: services["AWS_ENDPOINT_URL_S3"], region: "us-east-1", forcePathStyle: true,
    credentials: { accessKeyId: services["AWS_ACCESS_KEY_ID"]!, secretAccessKey: services["AWS_SECRET_ACCESS_KEY"]! },
  });
}

before(async () => {
  const admin = await login(hub, STACK["DATAFLOW_HUB_ADMIN_USER"]!, hub.adminPassword);
  // The trainer's guide: create the trainees on the hub (a stack kept from an earlier run already has them).
  const r = await api(hub, admin, "/hub/api/users", { method: "POST", body: JSON.stringify({ usernames: TRAINEES }) });
  assert.ok([201, 409].includes(r.status), `create trainees: HTTP ${r.status} ${await r.text()}`);
  for (const user of TRAINEES) tokens[user] = await login(hub, user, hub.workshopPassword);
});

after(async () => {
  // Stop the servers (their kernels hold the trainees' catalog connections); files and tables stay.
  for (const user of TRAINEES) if (tokens[user]) await api(hub, tokens[user]!, `/hub/api/users/${user}/server`, { method: "DELETE" });
});

test("two trainees run every walkthrough notebook at once through the containerised hub, on the stack's services", { timeout: 45 * 60_000 }, async () => {
  await Promise.all(TRAINEES.map((user) => startServer(hub, user, tokens[user]!, 240_000)));
  const listing = await api(hub, tokens["ana"]!, "/user/ana/api/contents/notebooks");
  assert.equal(listing.status, 200, "ana's server lists her notebooks");
  const notebooks = ((await listing.json()) as { content: { name: string; path: string }[] }).content
    .filter((f) => /^\d\d_.*\.ipynb$/.test(f.name)).map((f) => f.path).sort();
  assert.ok(notebooks.length >= 6, `the seeded walkthrough notebooks: ${notebooks.join(", ")}`);
  const started = Date.now();
  await Promise.all(TRAINEES.map(async (user) => {
    for (const notebook of notebooks) {
      const t = Date.now();
      const cells = await runNotebookAs(hub, user, tokens[user]!, notebook);
      console.log(`${user}: ${notebook}: ${cells} cells in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
  }));
  console.log(`both trainees' walkthroughs: ${((Date.now() - started) / 1000).toFixed(0)} s`);

  // Where it all went: each trainee's prefix in the buckets and schema in the catalog, owned by their role.
  const s3 = rootS3();
  try {
    for (const user of TRAINEES) for (const bucket of ["bronze", "silver"]) {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `users/${user}/`, MaxKeys: 1 }));
      assert.ok((page.KeyCount ?? 0) > 0, `objects under s3://${bucket}/users/${user}/`);
    }
  } finally {
    s3.destroy();
  }
  for (const user of TRAINEES) {
    const owners = psql(services["DATAFLOW_CATALOG_URL"]!, `SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'ducklake_${user}'`);
    assert.equal(owners, traineeRole(user), `the catalog tables of ${user} belong to ${traineeRole(user)}`);
  }
  // MLflow is shared, so the hub gives each trainee their own model names: one champion per trainee.
  for (const user of TRAINEES) {
    const r = await fetch(`${services["MLFLOW_TRACKING_URI"]}/api/2.0/mlflow/registered-models/alias?name=dataflow-lab-${user}-churn&alias=champion`);
    assert.equal(r.status, 200, `${user}'s champion churn model in MLflow: ${await r.text()}`);
  }
});

test("a trainee's kernel holds no hub secret and cannot read another trainee's home", { timeout: 300_000 }, async () => {
  await startServer(hub, "ana", tokens["ana"]!, 240_000);
  const kernel = await RemoteKernel.start(hub, "ana", tokens["ana"]!);
  try {
    const out = await kernel.execute([
      'import * as fs from "node:fs";',
      'const tryRead = (p: string) => { try { fs.readdirSync(p); return "readable"; } catch (e) { return (e as NodeJS.ErrnoException).code; } };',
      'console.log(JSON.stringify({ own: tryRead("/home/ana/notebooks"), other: tryRead("/home/bruno"), otherNotebooks: tryRead("/home/bruno/notebooks"),',
      '  env: process.env, uid: process.getuid?.() }));',
    ].join("\n"));
    assert.equal(out.stderr, "", out.stderr);
    const seen = JSON.parse(out.stdout.trim().split("\n").pop()!) as { own: string; other: string; otherNotebooks: string; env: Record<string, string>; uid: number };
    assert.equal(seen.own, "readable");
    assert.equal(seen.other, "EACCES", "bruno's home is closed to ana");
    assert.equal(seen.otherNotebooks, "EACCES", "bruno's notebooks are closed to ana");
    assert.notEqual(seen.uid, 0, "trainee servers do not run as root");
    const values = Object.values(seen.env).join("\n");
    for (const secret of ["AWS_SECRET_ACCESS_KEY", "POSTGRES_PASSWORD", "DATAFLOW_HUB_ADMIN_PASSWORD", "DATAFLOW_HUB_WORKSHOP_PASSWORD"]) {
      assert.ok(!values.includes(STACK[secret]!), `the hub's ${secret} is not in ana's kernel environment`);
    }
    assert.notEqual(seen.env["AWS_ACCESS_KEY_ID"], STACK["AWS_ACCESS_KEY_ID"], "ana holds scoped keys, not MinIO's root keys");
  } finally {
    await kernel.close();
  }
});
