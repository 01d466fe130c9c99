import { test } from "node:test";
import assert from "node:assert/strict";
import { isConnectionError, retry } from "../../kernel-helpers/src/retry.js";

test("transient failures are retried with backoff until they pass", async () => {
  let calls = 0;
  const delays: number[] = [];
  const out = await retry(async () => {
    if (++calls < 4) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    return "up";
  }, { isTransient: isConnectionError, initialDelayMs: 5, onRetry: (_e, _n, d) => delays.push(d) });
  assert.equal(out, "up");
  assert.equal(calls, 4);
  assert.deepEqual(delays, [5, 10, 20]);
});

test("a permanent failure is not retried, and the time bound is kept", async () => {
  let calls = 0;
  await assert.rejects(retry(async () => { calls++; throw new Error("password authentication failed"); }, { isTransient: isConnectionError }), /password/);
  assert.equal(calls, 1);
  const t0 = Date.now();
  await assert.rejects(retry(async () => { throw new Error("Connection refused"); }, { isTransient: isConnectionError, timeoutMs: 300, initialDelayMs: 50 }), /refused/);
  assert.ok(Date.now() - t0 < 1000);
});

test("connection errors are recognised through causes; auth errors are not", () => {
  assert.equal(isConnectionError(new Error("outer", { cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }) })), true);
  assert.equal(isConnectionError(new Error('connection to server at "127.0.0.1", port 1 failed: Connection refused')), true);
  assert.equal(isConnectionError(new Error('connection to server at "127.0.0.1" failed: FATAL:  password authentication failed')), false);
});
