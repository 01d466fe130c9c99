import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStorage, StorageError } from "../../../kernel-helpers/src/index.js";

test("put, list and read back objects by key", async () => {
  const dir = await mkdtemp(join(tmpdir(), "storage-"));
  try {
    const s = new LocalStorage(dir);
    await s.ensureBuckets();
    const src = join(dir, "src.txt");
    await writeFile(src, "hello");
    const o = await s.putFile("bronze", "raw/a/src.txt", src);
    assert.equal(o.size, 5);
    assert.equal(await readFile(s.uri("bronze", "raw/a/src.txt"), "utf8"), "hello");
    assert.deepEqual((await s.list("bronze", "raw/")).map((x) => x.key), ["raw/a/src.txt"]);
    assert.deepEqual(await s.list("silver"), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("unknown buckets and escaping keys are refused", () => {
  const s = new LocalStorage("/tmp/nowhere");
  assert.throws(() => s.uri("platinum" as "gold", "x"), StorageError);
  assert.throws(() => s.uri("gold", "../etc/passwd"), /Invalid object key/);
  assert.throws(() => s.uri("gold", "/abs"), StorageError);
});
