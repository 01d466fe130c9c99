/**
 * The whole walkthrough, unchanged, as a workshop trainee holding ONLY the credentials the hub issues
 * (docker/jupyterhub/scoped_credentials.py, the code the hub's pre-spawn hook runs): temporary S3 keys limited
 * to users/<user>/ and a PostgreSQL role owning only ducklake_<user>. Proves the scoping leaves the course
 * working; test/hub/hub.test.ts proves it keeps trainees apart. Needs the native services (npm test starts them).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { userNamespace } from "../../kernel-helpers/src/config/settings.js";
import { freshCatalogDatabase, psql, rawS3, removeUserObjects, requireEnv } from "../integration/services.js";
import { HUB_VENV, ROOT, dropTraineeRoles, traineeRole } from "./hub-support.js";

test("every walkthrough notebook runs as a trainee with only the hub's scoped credentials", { timeout: 20 * 60_000 }, async () => {
  const db = freshCatalogDatabase();
  const user = `trainee-${randomBytes(3).toString("hex")}`;
  const dir = await mkdtemp(join(tmpdir(), "trainee-walkthrough-"));
  const s3 = rawS3();
  try {
    const issued = spawnSync(join(HUB_VENV, "bin", "python"), [join(ROOT, "docker", "jupyterhub", "scoped_credentials.py"), user], {
      env: { ...process.env, DATAFLOW_CATALOG_URL: db.url }, encoding: "utf8",
    });
    assert.equal(issued.status, 0, issued.stderr);
    const scoped = JSON.parse(issued.stdout) as Record<string, string>;
    assert.notEqual(scoped["AWS_ACCESS_KEY_ID"], requireEnv("AWS_ACCESS_KEY_ID"));

    // The hub's own keys are replaced, not added to: the notebooks see only what a trainee's server sees.
    const notebooks = (await readdir(join(ROOT, "notebooks"))).filter((f) => /^\d\d_.*\.ipynb$/.test(f)).sort().map((f) => join("notebooks", f));
    const r = spawnSync(join(ROOT, ".lab-env", "venv", "bin", "python"), ["scripts/run_notebooks.py", "--out", join(dir, "out"), ...notebooks], {
      cwd: ROOT, encoding: "utf8",
      env: { ...process.env, ...scoped, DATAFLOW_LAB_HOME: join(dir, "lab"), ML_NAME: `${user}-ml` },
    });
    assert.equal(r.status, 0, `notebooks failed with ${user}'s scoped credentials:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`${notebooks.length} passed, 0 failed`));

    // Where it all went: the trainee's prefix and schema, owned by the trainee's role.
    for (const bucket of ["bronze", "silver"]) {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `users/${user}/`, MaxKeys: 1 }));
      assert.ok((page.KeyCount ?? 0) > 0, `objects under s3://${bucket}/users/${user}/`);
    }
    const schema = userNamespace(user).metadataSchema;
    const owners = psql(db.url, `SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = '${schema}'`);
    assert.equal(owners, traineeRole(user), `the catalog tables in ${schema} belong to the trainee's role`);
  } finally {
    s3.destroy();
    await removeUserObjects([user]);
    db.drop();
    dropTraineeRoles([user]);
    await rm(dir, { recursive: true, force: true });
  }
});
