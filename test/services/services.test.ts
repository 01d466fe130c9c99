// Integration tests against the real native services: starts them with scripts/services/up.sh
// (idempotent; the first run on a machine installs everything, about 10 minutes), then checks each
// one through its own protocol with the credentials from .lab-env/services/services.env. Every
// test uses names of its own, so none depends on another's leftovers. Services that were already
// running are left running; services this file started are stopped at the end, unless
// DATAFLOW_KEEP_SERVICES=1.
//
//   node --import tsx --test test/services/services.test.ts
//
// S3 calls go through boto3 in the MLflow venv (a Python subprocess) until @aws-sdk/client-s3 is a
// dev dependency of the project.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const scripts = path.join(root, "scripts/services");
const home = path.join(root, ".lab-env/services");
const envFile = path.join(home, "services.env");
const python = path.join(home, "mlflow-venv/bin/python");
const serviceNames = ["postgres", "minio", "kafka", "mlflow"] as const;

// A name no other test run uses: tests never see each other's objects, rows or experiments.
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;

function run(cmd: string, args: string[], options: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 5 * 60_000, ...options });
  return { status: r.status, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? ""), error: r.error };
}

function script(name: string, args: string[] = [], timeoutMs = 5 * 60_000) {
  return run("bash", [path.join(scripts, name), ...args], { timeout: timeoutMs });
}

function readEnvFile(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(envFile, "utf8").split("\n")) {
    const m = /^export ([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1] !== undefined) env[m[1]] = m[2] ?? "";
  }
  return env;
}

// A zombie (exited, not yet reaped by its parent) counts as stopped.
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return false;
  }
  return /^State:\s+(\S)/m.exec(status)?.[1] !== "Z";
}

function pids(): Record<string, string> {
  return Object.fromEntries(serviceNames.map((s) => [s, readFileSync(path.join(home, `${s}.pid`), "utf8").trim()]));
}

let env: Record<string, string> = {};
let startedHere = false;

// Runs a Python snippet with boto3 (S3 client `s3` preset) in the MLflow venv; it prints JSON.
function s3(code: string, extraEnv: Record<string, string> = {}): unknown {
  const prelude = [
    "import json, os, sys, boto3",
    "from botocore.config import Config",
    "s3 = boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL_S3'], region_name=os.environ['AWS_REGION'],",
    "                  config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))",
  ].join("\n");
  const r = run(python, ["-c", `${prelude}\n${code}`], { env: { ...process.env, ...env, ...extraEnv } });
  assert.equal(r.status, 0, `boto3 snippet failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

function psql(url: string, sql: string) {
  return run("psql", ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", sql], {
    env: { ...process.env, PGCONNECT_TIMEOUT: "5" },
  });
}

// fetch keeps connections alive: after down.sh/up.sh its pooled socket to the previous MLflow
// process is dead and the first request on it fails, so a connection-level failure is tried once more.
async function request(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    return await fetch(url, init);
  }
}

async function mlflowApi<T>(method: "GET" | "POST", endpoint: string, body?: unknown): Promise<T> {
  const res = await request(`${env.MLFLOW_TRACKING_URI}/api/2.0/mlflow/${endpoint}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `MLflow ${method} ${endpoint} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

before(() => {
  const wasRunning = existsSync(envFile) && script("status.sh").status === 0;
  const up = script("up.sh", [], 40 * 60_000);
  assert.equal(up.status, 0, `scripts/services/up.sh failed:\n${up.stdout}\n${up.stderr}`);
  startedHere = !wasRunning;
  env = readEnvFile();
});

after(() => {
  if (startedHere && process.env.DATAFLOW_KEEP_SERVICES !== "1") script("down.sh");
});

test("services.env holds the standard variables and only its owner can read it", () => {
  assert.equal(statSync(envFile).mode & 0o777, 0o600);
  assert.equal(env.AWS_ENDPOINT_URL_S3, "http://127.0.0.1:19000");
  assert.equal(env.AWS_ENDPOINT_URL, "http://127.0.0.1:19000");
  assert.equal(env.AWS_REGION, "us-east-1");
  assert.equal(env.KAFKA_BOOTSTRAP_SERVERS, "127.0.0.1:19092");
  assert.equal(env.MLFLOW_TRACKING_URI, "http://127.0.0.1:15000");
  assert.match(env.AWS_ACCESS_KEY_ID ?? "", /^[A-Za-z0-9]{8,}$/);
  assert.match(env.AWS_SECRET_ACCESS_KEY ?? "", /^[A-Za-z0-9]{32,}$/);
  assert.match(env.DATAFLOW_CATALOG_URL ?? "", /^postgresql:\/\/[a-z]+:[A-Za-z0-9]{16,}@127\.0\.0\.1:15432\/ducklake$/);
});

test("up.sh on a running stack restarts nothing", () => {
  const pidsBefore = pids();
  const up = script("up.sh");
  assert.equal(up.status, 0, up.stderr);
  assert.deepEqual(pids(), pidsBefore);
  assert.doesNotMatch(up.stdout, /starting/);
  assert.equal(script("status.sh").status, 0);
});

test("S3: the four buckets exist and bronze keeps every version of an object", () => {
  const key = `${unique("services-test")}/versioned.txt`;
  const result = s3(
    `
key = os.environ['TEST_KEY']
names = sorted(b['Name'] for b in s3.list_buckets()['Buckets'])
status = {b: s3.get_bucket_versioning(Bucket=b).get('Status') for b in ['bronze', 'silver', 'gold', 'mlflow']}
for body in (b'first', b'second'):
    s3.put_object(Bucket='bronze', Key=key, Body=body)
versions = s3.list_object_versions(Bucket='bronze', Prefix=key).get('Versions', [])
latest = s3.get_object(Bucket='bronze', Key=key)['Body'].read().decode()
for v in versions:
    s3.delete_object(Bucket='bronze', Key=key, VersionId=v['VersionId'])
print(json.dumps({'names': names, 'status': status, 'versions': len(versions), 'latest': latest}))
`,
    { TEST_KEY: key },
  ) as { names: string[]; status: Record<string, string | null>; versions: number; latest: string };
  for (const bucket of ["bronze", "silver", "gold", "mlflow"]) assert.ok(result.names.includes(bucket), `bucket ${bucket} is missing`);
  assert.equal(result.status.bronze, "Enabled");
  assert.equal(result.versions, 2, "bronze should keep both versions of an overwritten object");
  assert.equal(result.latest, "second");
});

test("S3: a wrong secret key is refused", () => {
  const result = s3(
    `
try:
    s3.list_buckets()
    print(json.dumps({'refused': False}))
except Exception as e:
    print(json.dumps({'refused': True, 'error': str(e)}))
`,
    { AWS_SECRET_ACCESS_KEY: "not-the-secret-key-0000000000000000" },
  ) as { refused: boolean; error?: string };
  assert.ok(result.refused, "MinIO accepted a wrong secret key");
  assert.match(result.error ?? "", /SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied/);
});

test("PostgreSQL: the role signs in to ducklake and mlflow with its password, and not without it", () => {
  const catalogUrl = env.DATAFLOW_CATALOG_URL ?? "";
  const table = unique("t").replaceAll("-", "_");
  const ducklake = psql(catalogUrl, `CREATE TABLE ${table} (x int); INSERT INTO ${table} VALUES (7); SELECT current_database() || ' ' || current_user || ' ' || sum(x) FROM ${table}; DROP TABLE ${table};`);
  assert.equal(ducklake.status, 0, ducklake.stderr);
  const user = new URL(catalogUrl).username;
  assert.equal(ducklake.stdout.trim(), `ducklake ${user} 7`);

  const mlflowDb = psql(catalogUrl.replace(/\/ducklake$/, "/mlflow"), "SELECT current_database()");
  assert.equal(mlflowDb.status, 0, mlflowDb.stderr);
  assert.equal(mlflowDb.stdout.trim(), "mlflow");

  const wrong = new URL(catalogUrl);
  wrong.password = "wrong-password";
  const refused = psql(wrong.toString(), "SELECT 1");
  assert.notEqual(refused.status, 0, "PostgreSQL accepted a wrong password");
  assert.match(refused.stderr, /password authentication failed/);
});

test("Kafka: transactions and user-interactions exist with 3 partitions each", () => {
  for (const topic of ["transactions", "user-interactions"]) {
    const r = script("kafka-topics.sh", ["--describe", "--topic", topic]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Topic: ${topic}\\s.*PartitionCount: 3\\b`), r.stdout);
    assert.equal(r.stdout.match(/\tPartition: \d+\tLeader: 1\b/g)?.length, 3, `every partition of ${topic} should have a leader:\n${r.stdout}`);
  }
});

test("MLflow: healthy; an experiment made through the REST API; an artifact logged through the proxy lands in the mlflow bucket", async () => {
  const health = await request(`${env.MLFLOW_TRACKING_URI}/health`);
  assert.equal(health.status, 200);
  assert.equal((await health.text()).trim(), "OK");

  const name = unique("services-test");
  const { experiment_id: experimentId } = await mlflowApi<{ experiment_id: string }>("POST", "experiments/create", { name });
  const { run: created } = await mlflowApi<{ run: { info: { run_id: string; artifact_uri: string } } }>("POST", "runs/create", {
    experiment_id: experimentId,
    start_time: Date.now(),
  });
  const runId = created.info.run_id;
  assert.equal(created.info.artifact_uri, `mlflow-artifacts:/${experimentId}/${runId}/artifacts`, "artifacts should go through the server's proxy");

  const body = `artifact of ${name}\n`;
  const artifactPath = `${experimentId}/${runId}/artifacts/notes/hello.txt`;
  const put = await request(`${env.MLFLOW_TRACKING_URI}/api/2.0/mlflow-artifacts/artifacts/${artifactPath}`, { method: "PUT", body });
  assert.equal(put.status, 200, await put.text());
  const got = await request(`${env.MLFLOW_TRACKING_URI}/api/2.0/mlflow-artifacts/artifacts/${artifactPath}`);
  assert.equal(await got.text(), body);

  const stored = s3(`print(json.dumps(s3.get_object(Bucket='mlflow', Key=${JSON.stringify(artifactPath)})['Body'].read().decode()))`);
  assert.equal(stored, body, "the artifact is not in the mlflow bucket under <experiment>/<run>/artifacts/");

  await mlflowApi("POST", "runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
  const fetched = await mlflowApi<{ experiment: { name: string } }>("GET", `experiments/get?experiment_id=${experimentId}`);
  assert.equal(fetched.experiment.name, name);
});

test("down.sh stops everything by pid; up.sh brings it back with the data kept", async (t) => {
  // npm test says when the stack is its own (it started it and stops it at the end); then restarting is safe.
  if (!startedHere && process.env["DATAFLOW_SERVICES_OWNED_BY_TEST_RUN"] !== "1") {
    t.skip("the services were already running before this file started them: not restarting what others may be using");
    return;
  }
  const key = `${unique("services-test")}/kept.txt`;
  s3(`s3.put_object(Bucket='silver', Key=${JSON.stringify(key)}, Body=b'kept'); print('null')`);
  const name = unique("services-test-kept");
  await mlflowApi("POST", "experiments/create", { name });
  const oldPids = pids();

  const down = script("down.sh");
  assert.equal(down.status, 0, down.stderr);
  for (const service of serviceNames) {
    assert.ok(!existsSync(path.join(home, `${service}.pid`)), `${service}.pid is still there after down.sh`);
    const pid = Number(oldPids[service]);
    assert.ok(!alive(pid), `${service} (pid ${pid}) still runs after down.sh`);
  }
  assert.notEqual(script("status.sh").status, 0);

  const up = script("up.sh", [], 10 * 60_000);
  assert.equal(up.status, 0, `${up.stdout}\n${up.stderr}`);
  assert.equal(s3(`print(json.dumps(s3.get_object(Bucket='silver', Key=${JSON.stringify(key)})['Body'].read().decode()))`), "kept");
  const found = await mlflowApi<{ experiment: { name: string } }>("GET", `experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`);
  assert.equal(found.experiment.name, name);
  s3(`s3.delete_object(Bucket='silver', Key=${JSON.stringify(key)}); print('null')`);
});
