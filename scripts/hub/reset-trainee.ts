/**
 * Restore one trainee to the starting point: their objects (s3://<bucket>/users/<user>/…), their DuckLake
 * catalog (metadata schema ducklake_<user>) and their notebooks and data (re-copied from the seed on their
 * next server start). Other trainees are untouched. Stop the trainee's server first (hub admin page).
 *
 *   npx tsx scripts/hub/reset-trainee.ts <user> --home-root /home
 *   (in the image: docker compose exec jupyterhub reset-trainee <user>)
 *
 * Uses the hub's own environment: root S3 keys, DATAFLOW_CATALOG_URL of the catalog's owner. The trainee's
 * catalog role stays; their next server start re-creates the schema for it and gives it a new password.
 */
import { spawnSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { BUCKETS, USER_PATTERN, userNamespace } from "../../kernel-helpers/src/config/settings.js";

function fail(message: string): never {
  console.error(`reset-trainee: ${message}`);
  process.exit(1);
}

const [user, ...rest] = process.argv.slice(2);
if (!user || !USER_PATTERN.test(user)) fail(`usage: reset-trainee <user> [--home-root DIR]  (user must match ${USER_PATTERN})`);
const homeRoot = rest[0] === "--home-root" && rest[1] ? rest[1] : "/home";
const ns = userNamespace(user);

const endpoint = process.env["AWS_ENDPOINT_URL_S3"] ?? process.env["AWS_ENDPOINT_URL"];
if (endpoint) {
  const accessKeyId = process.env["AWS_ACCESS_KEY_ID"];
  const secretAccessKey = process.env["AWS_SECRET_ACCESS_KEY"];
  if (!accessKeyId || !secretAccessKey) fail("AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set (run this with the hub's environment)");
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
  const s3 = new S3Client({ endpoint, region: process.env["AWS_REGION"] ?? "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  let removed = 0;
  for (const bucket of BUCKETS) {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: ns.keyPrefix, ContinuationToken: token }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      removed += keys.length;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
  s3.destroy();
  console.log(`reset-trainee: removed ${removed} objects under users/${user}/ in ${BUCKETS.join(", ")}`);
}

const catalog = process.env["DATAFLOW_CATALOG_URL"];
if (catalog && ns.metadataSchema) {
  const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", catalog, "-c", `DROP SCHEMA IF EXISTS "${ns.metadataSchema}" CASCADE`], { encoding: "utf8" });
  if (r.status !== 0) fail(`could not drop catalog schema ${ns.metadataSchema}: ${r.stderr || r.error?.message}`);
  console.log(`reset-trainee: dropped catalog schema ${ns.metadataSchema}`);
}

// The hub re-seeds a home that has no marker: drop the marker, the notebooks, the data and the lab folder.
const home = join(homeRoot, user);
for (const name of [".dataflow-lab-seeded", "notebooks", "data", "dataflow-lab"]) await rm(join(home, name), { recursive: true, force: true });
console.log(`reset-trainee: ${home} will get fresh notebooks and data at ${user}'s next server start`);
