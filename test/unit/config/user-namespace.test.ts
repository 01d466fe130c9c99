import { test } from "node:test";
import assert from "node:assert/strict";
import { describeSettings, resolveSettings } from "../../../kernel-helpers/src/index.js";
import { userNamespace } from "../../../kernel-helpers/src/config/settings.js";
import { ConfigError } from "../../../kernel-helpers/src/errors.js";

test("without a user the lab has no namespace: each layer in its bucket, default metadata schema, unchanged description", () => {
  const s = resolveSettings({ DATAFLOW_LAB_HOME: "/tmp/lab-x", AWS_ENDPOINT_URL: "http://127.0.0.1:9000" });
  assert.equal(s.user, undefined);
  assert.deepEqual(userNamespace(s.user), {
    keyPrefix: "", metadataSchema: undefined, dataPath: "s3://silver/lake/", consumerGroupPrefix: "dataflow-lab",
    layerPaths: { bronze: "s3://bronze/", silver: "s3://silver/", gold: "s3://gold/" },
  });
  assert.equal(describeSettings(s).length, 4, "a single-user lab prints exactly the four component lines");
});

test("JUPYTERHUB_USER selects the user's namespace; DATAFLOW_LAB_USER wins over it", () => {
  assert.equal(resolveSettings({ JUPYTERHUB_USER: "alice" }).user, "alice");
  assert.equal(resolveSettings({ JUPYTERHUB_USER: "alice", DATAFLOW_LAB_USER: "bob" }).user, "bob");
  assert.equal(resolveSettings({ JUPYTERHUB_USER: "  " }).user, undefined, "blank counts as unset");
  const ns = userNamespace("trainee-07");
  assert.deepEqual(ns, {
    keyPrefix: "users/trainee-07/", metadataSchema: "ducklake_trainee_07", dataPath: "s3://silver/users/trainee-07/lake/", layerPaths: undefined,
    consumerGroupPrefix: "dataflow-lab-trainee-07",
  });
  assert.match(describeSettings(resolveSettings({ JUPYTERHUB_USER: "alice" })).at(-1)!, /^user\s+alice/);
});

test("a user name that could escape its prefix or schema is refused with the variable and the fix", () => {
  for (const bad of ["../bob", "Alice", "a/b", "a_b", "1abc", "x".repeat(33), "a'; drop"]) {
    assert.throws(
      () => resolveSettings({ JUPYTERHUB_USER: bad }),
      (e: unknown) => e instanceof ConfigError && e.message.includes("JUPYTERHUB_USER") && /lower-case/.test(e.fix ?? ""),
      bad,
    );
  }
});
