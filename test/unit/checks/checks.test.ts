import { test } from "node:test";
import assert from "node:assert/strict";
import { check, checkClose, checkEqual, CheckFailedError } from "../../../kernel-helpers/src/index.js";

test("checks pass silently-ish and fail with a plain sentence", () => {
  assert.doesNotThrow(() => checkEqual([1, 2], [1, 2], "lists match"));
  assert.throws(() => checkEqual(3, 4, "counts match"), (e: Error) => e instanceof CheckFailedError && e.message === "Check failed: counts match (expected 4, got 3)");
  assert.throws(() => checkClose(1.0, 1.5, "sums match"), /expected 1.5, got 1/);
  assert.doesNotThrow(() => checkClose(1.004, 1.0, "close enough"));
  assert.throws(() => check(false, "it holds"), /Check failed: it holds/);
});
