/**
 * The workshop hub, natively: the same jupyterhub_config.py as the image, two trainees log in through the
 * REST API, their servers spawn, TypeScript code runs in each one's tslab kernel against the real services,
 * and each sees only their own tables and objects. Needs the native services (npm test starts them).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DeleteObjectsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { freshCatalogDatabase, psql, rawS3, requireEnv } from "../integration/services.js";
import { HUB_CONFIG, HUB_VENV, ROOT, RemoteKernel, api, login, startHub, startServer, type Hub } from "./hub-support.js";

const USERS = ["alice", "bob"];
let hub: Hub;
let db: ReturnType<typeof freshCatalogDatabase>;
let admin = "";

before(async () => {
  requireEnv("AWS_ENDPOINT_URL_S3");
  db = freshCatalogDatabase();
  hub = await startHub(18100, { DATAFLOW_CATALOG_URL: db.url });
});

after(async () => {
  await hub?.stop();
  const s3 = rawS3();
  for (const bucket of ["bronze", "silver"]) for (const user of USERS) {
    const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `users/${user}/` }))).Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  }
  s3.destroy();
  db?.drop();
});

test("the hub refuses to start without an admin password from the environment", () => {
  const env = { ...process.env, DATAFLOW_HUB_WORKSHOP_PASSWORD: "x", DATAFLOW_HUB_STATE_DIR: "/tmp/dataflow-hub-refuse" } as Record<string, string>;
  delete env["DATAFLOW_HUB_ADMIN_PASSWORD"];
  const r = spawnSync(join(HUB_VENV, "bin", "jupyterhub"), ["-f", HUB_CONFIG], { env, encoding: "utf8", timeout: 60_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr + r.stdout, /DATAFLOW_HUB_ADMIN_PASSWORD is not set/);
});

test("a wrong workshop password and a name that is not a lab user name are refused", async () => {
  await assert.rejects(login(hub, "alice", "wrong"), /HTTP 403/);
  await assert.rejects(login(hub, "../bob", hub.workshopPassword), /HTTP (403|404)/);
  await assert.rejects(login(hub, "trainer", hub.workshopPassword), /HTTP 403/, "the admin needs the admin password");
});

test("two trainees' servers spawn, run TypeScript in their kernels and each sees only their own tables", { timeout: 400_000 }, async () => {
  // The trainer (admin password) creates the trainees, as in the trainer's guide; then each logs in.
  admin = await login(hub, "trainer", hub.adminPassword);
  const created = await api(hub, admin, "/hub/api/users", { method: "POST", body: JSON.stringify({ usernames: USERS }) });
  assert.equal(created.status, 201, await created.text());
  const tokens = await Promise.all(USERS.map((u) => login(hub, u, hub.workshopPassword)));
  // One after the other: two cold starts of tslab + DuckDB at once are slow on a shared 2-core machine.
  for (const [i, user] of USERS.entries()) await startServer(hub, user, tokens[i]!);
  for (const user of USERS) {
    assert.ok(existsSync(join(hub.homes, user, "notebooks", "README.md")), `${user}'s home is seeded with the notebooks`);
  }
  const kernels = await Promise.all(USERS.map((u, i) => RemoteKernel.start(hub, u, tokens[i]!)));
  try {
    for (const [i, user] of USERS.entries()) {
      const k = kernels[i]!;
      const open = await k.execute(`import { openLab } from "@dataflow-lab/kernel-helpers";\nconst lab = await openLab({ quiet: true });\nconsole.log(lab.settings.user);`);
      assert.equal(open.status, "ok", `${user}: ${open.error} ${open.stderr}`);
      assert.equal(open.stdout.trim(), user, "JUPYTERHUB_USER reaches the kernel and selects the namespace");
      const write = await k.execute(`await lab.sql("CREATE OR REPLACE TABLE silver.orders AS SELECT '${user}' AS owner, range AS n FROM range(${(i + 1) * 5})");\nawait lab.sql("CREATE OR REPLACE TABLE silver.only_${user} AS SELECT 1 AS x");`);
      assert.equal(write.status, "ok", `${user}: ${write.error} ${write.stderr}`);
    }
    for (const [i, user] of USERS.entries()) {
      const k = kernels[i]!;
      const read = await k.execute(`const t = await lab.catalog.tables();\nconst o = (await lab.sql("SELECT min(owner) AS owner, count(*) AS n FROM silver.orders")).rows()[0];\nconsole.log(JSON.stringify({ tables: t.map((x) => x.layer + "." + x.table).sort(), owner: o.owner, n: Number(o.n) }));`);
      assert.equal(read.status, "ok", `${user}: ${read.error} ${read.stderr}`);
      const seen = JSON.parse(read.stdout.trim().split("\n").at(-1)!) as { tables: string[]; owner: string; n: number };
      assert.deepEqual(seen, { tables: ["silver.only_" + user, "silver.orders"], owner: user, n: (i + 1) * 5 }, `${user} sees only their own tables`);
    }
  } finally {
    await Promise.all(kernels.map((k) => k.close().catch(() => undefined)));
  }
});

test("the reset command restores one trainee (objects, catalog, notebooks) and leaves the other untouched", { timeout: 120_000 }, async () => {
  assert.ok(admin, "runs after the two-trainee test, which created their data");
  const stop = await api(hub, admin, "/hub/api/users/alice/server", { method: "DELETE" });
  assert.ok([202, 204].includes(stop.status), `stop alice's server: HTTP ${stop.status}`);
  const objects = async (user: string): Promise<number> => {
    const s3 = rawS3();
    try {
      return ((await s3.send(new ListObjectsV2Command({ Bucket: "silver", Prefix: `users/${user}/` }))).Contents ?? []).length;
    } finally {
      s3.destroy();
    }
  };
  assert.ok((await objects("alice")) > 0 && (await objects("bob")) > 0, "both trainees wrote lake files before the reset");
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "hub", "reset-trainee.ts"), "alice", "--home-root", hub.homes], {
    env: { ...process.env, DATAFLOW_CATALOG_URL: db.url }, encoding: "utf8", cwd: ROOT,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(await objects("alice"), 0, "alice's objects are gone");
  assert.ok((await objects("bob")) > 0, "bob's objects are still there");
  const schemas = psql(db.url, "SELECT string_agg(schema_name, ',' ORDER BY schema_name) FROM information_schema.schemata WHERE schema_name LIKE 'ducklake_%'");
  assert.equal(schemas, "ducklake_bob", "alice's catalog schema is dropped, bob's kept");
  assert.ok(!existsSync(join(hub.homes, "alice", "notebooks")) && existsSync(join(hub.homes, "bob", "notebooks")));
  // Her next start re-seeds the home.
  await startServer(hub, "alice", admin);
  assert.ok(existsSync(join(hub.homes, "alice", "notebooks", "README.md")), "alice's notebooks are back after her next start");
});
