/**
 * The workshop hub, natively: the same jupyterhub_config.py as the image, two trainees log in through the
 * REST API, their servers spawn, TypeScript code runs in each one's tslab kernel against the real services,
 * and each sees only their own tables and objects — and, holding only the credentials the hub scoped to them,
 * cannot reach another's with the raw AWS SDK or raw SQL either. Needs the native services (npm test starts them).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from "@aws-sdk/client-s3";
import { freshCatalogDatabase, psql, rawS3, removeUserObjects, requireEnv } from "../integration/services.js";
import { HUB_CONFIG, HUB_VENV, ROOT, RemoteKernel, api, dropTraineeRoles, login, startHub, startServer, type Hub } from "./hub-support.js";

const USERS = ["alice", "bob"];
let hub: Hub;
let db: ReturnType<typeof freshCatalogDatabase>;
let admin = "";
let tokens: string[] = [];

before(async () => {
  requireEnv("AWS_ENDPOINT_URL_S3");
  db = freshCatalogDatabase();
  hub = await startHub(18100, { DATAFLOW_CATALOG_URL: db.url });
});

after(async () => {
  await hub?.stop();
  await removeUserObjects(USERS);
  db?.drop();
  dropTraineeRoles(["trainer", ...USERS]);
});

test("the hub refuses to start without an admin password, with services but no catalog, or with keys meant to last months", () => {
  const base = { ...process.env, DATAFLOW_HUB_ADMIN_PASSWORD: "a", DATAFLOW_HUB_WORKSHOP_PASSWORD: "x", DATAFLOW_HUB_STATE_DIR: "/tmp/dataflow-hub-refuse" } as Record<string, string>;
  const cases: [Record<string, string | undefined>, RegExp][] = [
    [{ DATAFLOW_HUB_ADMIN_PASSWORD: undefined }, /DATAFLOW_HUB_ADMIN_PASSWORD is not set/],
    [{ DATAFLOW_CATALOG_URL: undefined }, /set both AWS_ENDPOINT_URL_S3 and DATAFLOW_CATALOG_URL/],
    [{ DATAFLOW_HUB_CREDENTIAL_HOURS: "2000" }, /DATAFLOW_HUB_CREDENTIAL_HOURS=2000 is outside 0\.25 to 168 hours/],
  ];
  for (const [change, refusal] of cases) {
    const env = { ...base, ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete env[k];
    const r = spawnSync(join(HUB_VENV, "bin", "jupyterhub"), ["-f", HUB_CONFIG], { env: env as Record<string, string>, encoding: "utf8", timeout: 60_000 });
    assert.notEqual(r.status, 0, `started with ${JSON.stringify(change)}`);
    assert.match(r.stderr + r.stdout, refusal);
  }
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
  tokens = await Promise.all(USERS.map((u) => login(hub, u, hub.workshopPassword)));
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
      const write = await k.execute(`await lab.sql("CREATE OR REPLACE TABLE silver.orders AS SELECT '${user}' AS owner, range AS n FROM range(${(i + 1) * 5})");\nawait lab.sql("CREATE OR REPLACE TABLE silver.only_${user} AS SELECT 1 AS x");\nawait lab.sql("CALL ducklake_flush_inlined_data('lake')");`);
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

/** Runs `sql` as whoever `url` names; resolves with psql's error text, or "" when it succeeded. */
function psqlError(url: string, sql: string): string {
  try {
    psql(url, sql);
    return "";
  } catch (e) {
    return (e as Error).message;
  }
}

/** The S3 error name of `send` (e.g. "AccessDenied"), or "ok" when it succeeded. */
async function s3Outcome(send: () => Promise<unknown>): Promise<string> {
  try {
    await send();
    return "ok";
  } catch (e) {
    return (e as { name?: string }).name ?? String(e);
  }
}

test("a trainee's server holds only credentials scoped to them: raw SDK and raw SQL cannot read or overwrite another trainee's data", { timeout: 180_000 }, async () => {
  assert.ok(tokens.length === 2, "runs after the two-trainee test, which created both trainees' data");
  // What a trainee can get at from a notebook: the kernel's whole environment.
  const kernel = await RemoteKernel.start(hub, "alice", tokens[0]!);
  let env: Record<string, string>;
  try {
    const r = await kernel.execute(`console.log(JSON.stringify(process.env));`);
    assert.equal(r.status, "ok", `${r.error} ${r.stderr}`);
    env = JSON.parse(r.stdout.trim()) as Record<string, string>;
    // Same keys through DuckDB inside the kernel: bob's lake file is refused to alice's session too.
    const bobFile = await anyKey("silver", "users/bob/");
    const duck = await kernel.execute(`import { openLab } from "@dataflow-lab/kernel-helpers";\nconst lab = await openLab({ quiet: true });\nawait lab.sql("SELECT count(*) FROM read_parquet('s3://silver/${bobFile}')");`);
    assert.equal(duck.status, "error", "DuckDB in alice's kernel must not read bob's Parquet file");
    assert.match(duck.error + duck.stderr, /403|Forbidden|Access ?Denied/i);
  } finally {
    await kernel.close().catch(() => undefined);
  }

  // The hub's own keys and catalog password never reach a trainee.
  const rootSecret = requireEnv("AWS_SECRET_ACCESS_KEY");
  const ownerPassword = decodeURIComponent(new URL(db.url).password);
  for (const [name, value] of Object.entries(env)) {
    assert.ok(!value.includes(rootSecret) && !value.includes(ownerPassword), `${name} in alice's kernel carries one of the hub's secrets`);
  }
  assert.notEqual(env["AWS_ACCESS_KEY_ID"], requireEnv("AWS_ACCESS_KEY_ID"), "alice has temporary keys, not MinIO's root keys");
  assert.ok(env["AWS_SESSION_TOKEN"], "temporary STS keys come with a session token");
  assert.match(env["DATAFLOW_CATALOG_URL"] ?? "", /user=dataflow_user_alice\b/, "alice connects to the catalog as her own role");

  // Raw AWS SDK with alice's keys.
  const s3 = new S3Client({
    endpoint: requireEnv("AWS_ENDPOINT_URL_S3"), region: "us-east-1", forcePathStyle: true,
    credentials: { accessKeyId: env["AWS_ACCESS_KEY_ID"]!, secretAccessKey: env["AWS_SECRET_ACCESS_KEY"]!, sessionToken: env["AWS_SESSION_TOKEN"]! },
  });
  const bobKey = await anyKey("silver", "users/bob/");
  const bobBefore = await headEtag("silver", bobKey);
  try {
    // Her own prefix works (so the refusals below are about whose data it is, not broken keys).
    assert.equal(await s3Outcome(() => s3.send(new PutObjectCommand({ Bucket: "bronze", Key: "users/alice/probe.txt", Body: "mine" }))), "ok");
    assert.equal(await s3Outcome(() => s3.send(new GetObjectCommand({ Bucket: "bronze", Key: "users/alice/probe.txt" }))), "ok");
    assert.equal(await s3Outcome(() => s3.send(new ListObjectsV2Command({ Bucket: "silver", Prefix: "users/alice/" }))), "ok");
    assert.equal(await s3Outcome(() => s3.send(new DeleteObjectCommand({ Bucket: "bronze", Key: "users/alice/probe.txt" }))), "ok");
    // Bob's objects: not readable, not listable, not overwritable, not deletable; nor the bucket root or MLflow's bucket.
    const attempts: Record<string, () => Promise<unknown>> = {
      "read bob's lake file": () => s3.send(new GetObjectCommand({ Bucket: "silver", Key: bobKey })),
      "overwrite bob's lake file": () => s3.send(new PutObjectCommand({ Bucket: "silver", Key: bobKey, Body: "clobbered" })),
      "delete bob's lake file": () => s3.send(new DeleteObjectCommand({ Bucket: "silver", Key: bobKey })),
      "list bob's prefix": () => s3.send(new ListObjectsV2Command({ Bucket: "silver", Prefix: "users/bob/" })),
      "list the whole bucket": () => s3.send(new ListObjectsV2Command({ Bucket: "silver" })),
      "write outside any user prefix": () => s3.send(new PutObjectCommand({ Bucket: "gold", Key: "shared.txt", Body: "x" })),
      "list MLflow's artifacts": () => s3.send(new ListObjectsV2Command({ Bucket: "mlflow" })),
    };
    for (const [what, send] of Object.entries(attempts)) assert.equal(await s3Outcome(send), "AccessDenied", `alice could ${what}`);
  } finally {
    s3.destroy();
  }
  assert.equal(await headEtag("silver", bobKey), bobBefore, "bob's file is unchanged");

  // Raw SQL with alice's catalog URL.
  const aliceUrl = env["DATAFLOW_CATALOG_URL"]!;
  assert.ok(Number(psql(aliceUrl, "SELECT count(*) FROM ducklake_alice.ducklake_table")) > 0, "alice reads her own catalog");
  const bobTables = psql(db.url, "SELECT count(*) FROM ducklake_bob.ducklake_table");
  const refusals: Record<string, [string, RegExp]> = {
    "read bob's catalog": ["SELECT count(*) FROM ducklake_bob.ducklake_table", /permission denied for schema ducklake_bob/],
    "overwrite bob's file list": ["UPDATE ducklake_bob.ducklake_data_file SET path = 'x'", /permission denied for schema ducklake_bob/],
    "drop bob's catalog": ["DROP SCHEMA ducklake_bob CASCADE", /must be owner of schema ducklake_bob/],
    "become bob": ["SET ROLE dataflow_user_bob", /permission denied to set role/],
    "change bob's password": ["ALTER ROLE dataflow_user_bob PASSWORD 'x'", /permission denied|must have CREATEROLE/],
    "squat a future trainee's schema": ["CREATE SCHEMA ducklake_carol", /permission denied for database/],
  };
  for (const [what, [sql, refused]] of Object.entries(refusals)) assert.match(psqlError(aliceUrl, sql), refused, `alice could ${what}`);
  assert.equal(psql(db.url, "SELECT count(*) FROM ducklake_bob.ducklake_table"), bobTables, "bob's catalog is unchanged");
});

async function anyKey(bucket: string, prefix: string): Promise<string> {
  const s3 = rawS3();
  try {
    const key = (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents?.find((o) => o.Key?.endsWith(".parquet"))?.Key;
    assert.ok(key, `a Parquet file under s3://${bucket}/${prefix}`);
    return key;
  } finally {
    s3.destroy();
  }
}

async function headEtag(bucket: string, key: string): Promise<string | undefined> {
  const s3 = rawS3();
  try {
    return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag;
  } finally {
    s3.destroy();
  }
}

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
