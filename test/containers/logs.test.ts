/**
 * After the stack has served the walkthroughs, two trainees and the browser: no container logged an error.
 * Runs before test/containers/faults.test.ts, whose deliberate crash makes services log connection errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { compose, containers } from "./stack.js";

const ERROR = /\b(ERROR|FATAL|CRITICAL|PANIC|panic:|Traceback \(most recent call last\)|Exception in thread)\b/;
// Lines that say "error" but are not one, each with why.
const EXPECTED: RegExp[] = [];

test("no container of the stack logged an error", () => {
  const problems: string[] = [];
  for (const { Service } of containers()) {
    const r = compose(["logs", "--no-color", "--no-log-prefix", Service]);
    assert.equal(r.status, 0, r.stderr);
    const bad = `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => ERROR.test(l) && !EXPECTED.some((e) => e.test(l)));
    if (bad.length) problems.push(`${Service}:\n  ${bad.slice(0, 15).join("\n  ")}`);
  }
  assert.deepEqual(problems, [], problems.join("\n"));
});
