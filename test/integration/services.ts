/**
 * Shared set-up for integration tests: they run against the real services whose variables are in
 * the environment (scripts/test.sh starts the native ones and sources their env file). Each test
 * makes its own catalog database and lab folder, so tests never see each other's leftovers.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { LAYERS, openLab, type Lab } from "../../kernel-helpers/src/index.js";
import { userNamespace } from "../../kernel-helpers/src/config/settings.js";

export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run integration tests through \`npm test\`, which starts the native services (scripts/services/up.sh) and exports their variables.`);
  return v;
}

/** A plain AWS SDK client, independent of kernel-helpers, to check what really is in MinIO. */
export function rawS3(): S3Client {
  // Same reason as in kernel-helpers' S3Storage: the SDK's Node 22 notice is not a test failure.
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
  return new S3Client({
    endpoint: requireEnv("AWS_ENDPOINT_URL_S3"),
    region: process.env["AWS_REGION"] ?? "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: requireEnv("AWS_ACCESS_KEY_ID"), secretAccessKey: requireEnv("AWS_SECRET_ACCESS_KEY") },
  });
}

/** Test clean-up: delete every object of these workshop users (users/<user>/ in the lab's layer buckets). */
export async function removeUserObjects(users: readonly string[]): Promise<void> {
  const s3 = rawS3();
  try {
    for (const bucket of LAYERS) for (const user of users) {
      for (;;) {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: userNamespace(user).keyPrefix }));
        const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
        if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
        if (!page.IsTruncated) break;
      }
    }
  } finally {
    s3.destroy();
  }
}

/** Run SQL with psql (Debian's client) as the lab's catalog user: an independent view of PostgreSQL. */
export function psql(url: string, sql: string): string {
  const r = spawnSync("psql", ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** A fresh, empty catalog database on the lab's PostgreSQL; returns its URL. */
export function freshCatalogDatabase(): { url: string; drop: () => void } {
  const base = requireEnv("DATAFLOW_CATALOG_URL");
  const name = `ducklake_test_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const admin = base.replace(/\/[^/?]+(\?.*)?$/, "/postgres");
  psql(admin, `CREATE DATABASE ${name}`);
  const url = base.replace(/\/[^/?]+(\?.*)?$/, `/${name}`);
  return { url, drop: () => dropDatabase(admin, name) };
}

// An autovacuum worker busy in the database makes WITH (FORCE) refuse ("must be a member of the role whose
// process is being terminated"): it has no role our lab user could signal. It finishes within moments.
function dropDatabase(admin: string, name: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      psql(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return;
    } catch (e) {
      if (attempt >= 20 || !/must be a member of the role whose process is being terminated/.test(String(e))) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
}

/** A lab on the real services with its own catalog database and lab folder. */
export async function withServicesLab<T>(work: (lab: Lab, ctx: { catalogUrl: string; home: string }) => Promise<T>): Promise<T> {
  const db = freshCatalogDatabase();
  const home = await mkdtemp(join(tmpdir(), "services-lab-"));
  const saved = process.env["DATAFLOW_CATALOG_URL"];
  process.env["DATAFLOW_CATALOG_URL"] = db.url;
  try {
    const lab = await openLab({ home, quiet: true });
    try {
      return await work(lab, { catalogUrl: db.url, home });
    } finally {
      lab.close();
    }
  } finally {
    process.env["DATAFLOW_CATALOG_URL"] = saved;
    db.drop();
    await rm(home, { recursive: true, force: true });
  }
}

/**
 * For the kill -9 tests' children: before every catalog statement matching `pattern`, print `marker` on a line
 * and wait `ms`, so the parent (runChild's onLine) can kill the process at exactly that point of a transaction.
 */
export function stallAt(lab: Lab, pattern: RegExp, marker: string, ms: number): void {
  const run = lab.catalog.run.bind(lab.catalog);
  lab.catalog.run = async (sql, params) => {
    if (pattern.test(sql)) {
      process.stdout.write(`${marker}\n`);
      await new Promise((r) => setTimeout(r, ms));
    }
    return run(sql, params);
  };
}

/**
 * Run a test file again as a child process (its "child mode" is chosen by env), read its stdout line by
 * line, and let `onLine` kill it with SIGKILL at the moment the test wants to crash it.
 */
export function runChild(moduleUrl: string, env: NodeJS.ProcessEnv, onLine: (line: string, kill: () => void) => void) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", fileURLToPath(moduleUrl)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let pending = "";
    p.stdout.on("data", (d: Buffer) => {
      output += d;
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        onLine(pending.slice(0, nl), () => p.kill("SIGKILL"));
        pending = pending.slice(nl + 1);
      }
    });
    p.stderr.on("data", (d: Buffer) => (output += d));
    p.on("exit", (code, signal) => resolve({ code, signal, output }));
  });
}
