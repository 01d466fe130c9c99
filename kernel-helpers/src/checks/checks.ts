import { CheckFailedError } from "../errors.js";

/**
 * Check cells: they print a ✓ line when right, and throw with a plain sentence when wrong,
 * so an executed notebook is also a test (tslab reports a throw as the cell's error text).
 */
export function check(condition: boolean, what: string, detail = ""): void {
  if (!condition) throw new CheckFailedError(`Check failed: ${what}${detail ? ` (${detail})` : ""}`);
  console.log(`✓ ${what}`);
}

export function checkEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, what, `expected ${e}, got ${a}`);
}

/** Numbers equal within an absolute tolerance (money sums in floating point). */
export function checkClose(actual: number, expected: number, what: string, tolerance = 0.01): void {
  check(Math.abs(actual - expected) <= tolerance, what, `expected ${expected}, got ${actual}, tolerance ${tolerance}`);
}
