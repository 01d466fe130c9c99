/**
 * The hub's credential issuer (docker/jupyterhub/scoped_credentials.py) on its own, through its command line,
 * against the real MinIO and PostgreSQL: concurrent first logins, password rotation, catalogs made before
 * scoped credentials, and the errors a trainer sees when the hub's own credentials are wrong.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { freshCatalogDatabase, psql, requireEnv } from "../integration/services.js";
import { userNamespace } from "../../kernel-helpers/src/config/settings.js";
import { HUB_VENV, ROOT, dropTraineeRoles, traineeRole } from "./hub-support.js";

const ISSUER = join(ROOT, "docker", "jupyterhub", "scoped_credentials.py");
const PYTHON = join(HUB_VENV, "bin", "python");
const trainees: string[] = [];
let db: ReturnType<typeof freshCatalogDatabase>;

before(() => {
  requireEnv("AWS_ENDPOINT_URL_S3");
  db = freshCatalogDatabase();
});

after(() => {
  db?.drop();
  if (trainees.length) dropTraineeRoles(trainees);
});

function newTrainee(): { user: string; role: string; schema: string } {
  const user = `t-${randomBytes(3).toString("hex")}`;
  trainees.push(user);
  return { user, role: traineeRole(user), schema: userNamespace(user).metadataSchema! };
}

interface Issued { status: number | null; stdout: string; stderr: string }

function issue(user: string, env: Record<string, string> = {}): Promise<Issued> {
  return new Promise((ok) => {
    const child = spawn(PYTHON, [ISSUER, user], { env: { ...process.env, DATAFLOW_CATALOG_URL: db.url, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => ok({ status, stdout, stderr }));
  });
}

function canConnect(url: string): string {
  const r = spawnSync("psql", ["-X", "-A", "-t", url, "-c", "SELECT 1"], { encoding: "utf8" });
  return r.status === 0 ? "ok" : r.stderr.trim();
}

test("two servers of one new trainee starting at once both get credentials, and only the newest catalog password works", async () => {
  const { user } = newTrainee();
  const both = await Promise.all([issue(user), issue(user)]);
  for (const r of both) assert.equal(r.status, 0, r.stderr);
  const urls = both.map((r) => (JSON.parse(r.stdout) as Record<string, string>)["DATAFLOW_CATALOG_URL"]!);
  const outcomes = urls.map(canConnect);
  assert.equal(outcomes.filter((o) => o === "ok").length, 1, `exactly one password is current: ${outcomes.join(" | ")}`);
  assert.match(outcomes.find((o) => o !== "ok")!, /password authentication failed/);
});

test("a catalog schema made before scoped credentials is handed to the trainee's role, with its tables", () => {
  const { user, role, schema } = newTrainee();
  psql(db.url, `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.ducklake_snapshot (id int); INSERT INTO ${schema}.ducklake_snapshot VALUES (7)`);
  const r = spawnSync(PYTHON, [ISSUER, user], { env: { ...process.env, DATAFLOW_CATALOG_URL: db.url }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const url = (JSON.parse(r.stdout) as Record<string, string>)["DATAFLOW_CATALOG_URL"]!;
  assert.equal(psql(db.url, `SELECT nspowner::regrole FROM pg_namespace WHERE nspname = '${schema}'`), role);
  assert.equal(psql(db.url, `SELECT tableowner FROM pg_tables WHERE schemaname = '${schema}'`), role);
  assert.equal(psql(url, `SELECT id FROM ${schema}.ducklake_snapshot`), "7", "the trainee reads and owns what was there");
});

test("wrong MinIO root keys in the hub's environment: the spawn fails with an error naming MinIO and the fix", async () => {
  const { user } = newTrainee();
  const r = await issue(user, { AWS_SECRET_ACCESS_KEY: "not-the-root-secret" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`MinIO at ${requireEnv("AWS_ENDPOINT_URL_S3").replace(/[.]/g, "\\.")} did not issue scoped credentials for ${user}`));
  assert.match(r.stderr, /MinIO's root keys/);
  assert.doesNotMatch(r.stderr, new RegExp(requireEnv("AWS_SECRET_ACCESS_KEY")), "the real secret is not printed");
});

test("a hub catalog URL without CREATEROLE: the error names the database, the role and the fix", async () => {
  const first = newTrainee();
  const issued = await issue(first.user);
  assert.equal(issued.status, 0, issued.stderr);
  // A trainee's own URL is a login without CREATEROLE: exactly what a misconfigured hub would have.
  const traineeUrl = (JSON.parse(issued.stdout) as Record<string, string>)["DATAFLOW_CATALOG_URL"]!;
  const second = newTrainee();
  const r = await issue(second.user, { DATAFLOW_CATALOG_URL: traineeUrl });
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`did not set up the catalog role ${second.role} for ${second.user}`));
  assert.match(r.stderr, /CREATEROLE/);
  assert.doesNotMatch(r.stderr, /password=/, "no password in the error");
});

test("a name that is not a lab user name is refused before anything is created", async () => {
  const r = await issue("Bob; DROP ROLE x");
  assert.equal(r.status, 2);
  assert.match(r.stderr, /usage: scoped_credentials\.py <user>/);
});
