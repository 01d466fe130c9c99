/** S3 object storage against the real MinIO: what the seed labs show with boto3, and its errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { S3Storage, StorageError, type Bucket } from "../../kernel-helpers/src/index.js";
import { rawS3, requireEnv } from "./services.js";

const endpoint = () => requireEnv("AWS_ENDPOINT_URL_S3");
const creds = () => ({ accessKeyId: requireEnv("AWS_ACCESS_KEY_ID"), secretAccessKey: requireEnv("AWS_SECRET_ACCESS_KEY") });

async function withTemp<T>(work: (dir: string, prefix: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "minio-test-"));
  try {
    return await work(dir, `test-${randomUUID().slice(0, 8)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("the four buckets exist and bronze keeps versions", async () => {
  const s = new S3Storage(endpoint(), "us-east-1", creds());
  try {
    const buckets = await s.buckets();
    assert.deepEqual(buckets.map((b) => [b.bucket, b.exists]), [["bronze", true], ["silver", true], ["gold", true], ["mlflow", true]]);
    assert.equal(buckets.find((b) => b.bucket === "bronze")!.versioning, true);
  } finally {
    s.close();
  }
});

test("put, list, read back, version history and a presigned URL", async () => {
  await withTemp(async (dir, prefix) => {
    const s = new S3Storage(endpoint(), "us-east-1", creds());
    try {
      const file = join(dir, "a.txt");
      await writeFile(file, "first");
      await s.putFile("bronze", `${prefix}/a.txt`, file);
      await writeFile(file, "second!");
      const o = await s.putFile("bronze", `${prefix}/a.txt`, file);
      assert.equal(o.size, 7);
      assert.equal(o.uri, `s3://bronze/${prefix}/a.txt`);
      assert.equal(await s.getText("bronze", `${prefix}/a.txt`), "second!");
      assert.deepEqual((await s.list("bronze", `${prefix}/`)).map((x) => x.key), [`${prefix}/a.txt`]);
      const versions = await s.versions("bronze", `${prefix}/a.txt`);
      assert.equal(versions.length, 2, "overwriting in the bronze bucket keeps the old version");
      assert.deepEqual(versions.map((v) => v.size).sort(), [5, 7]);
      const url = await s.presignGet("bronze", `${prefix}/a.txt`, 60);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "second!", "a presigned URL reads the object without credentials");
      assert.equal((await fetch(url.replace(/X-Amz-Signature=[0-9a-f]+/, "X-Amz-Signature=00"))).status, 403);
    } finally {
      s.close();
    }
  });
});

test("a large file goes up in parts and arrives byte for byte", async () => {
  await withTemp(async (dir, prefix) => {
    const s = new S3Storage(endpoint(), "us-east-1", creds());
    try {
      const big = Buffer.alloc(20 * 1024 * 1024 + 17);
      for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
      const file = join(dir, "big.bin");
      await writeFile(file, big);
      const o = await s.putFile("silver", `${prefix}/big.bin`, file);
      assert.equal(o.size, big.length);
      const got = await rawS3().send(new GetObjectCommand({ Bucket: "silver", Key: `${prefix}/big.bin` }));
      assert.match(String(got.ETag), /-3"$/, "uploaded as 3 parts of 8 MiB");
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(big));
    } finally {
      s.close();
    }
  });
});

test("a wrong endpoint, wrong credentials and a missing bucket each give one clear error", async () => {
  const closed = new S3Storage("http://127.0.0.1:1", "us-east-1", creds());
  await assert.rejects(closed.list("gold"), (e: Error) => e instanceof StorageError && /Cannot reach object storage at http:\/\/127\.0\.0\.1:1/.test(e.message) && /AWS_ENDPOINT_URL_S3/.test(e.message));
  closed.close();

  const wrong = new S3Storage(endpoint(), "us-east-1", { accessKeyId: "nobody", secretAccessKey: "wrong-secret-123" });
  await assert.rejects(wrong.list("gold"), (e: Error) => e instanceof StorageError && /refused the credentials/.test(e.message) && e.message.includes(endpoint()));
  wrong.close();

  const s = new S3Storage(endpoint(), "us-east-1", creds());
  await assert.rejects(s.list("platinum" as Bucket), (e: Error) => e instanceof StorageError && /Bucket "platinum" does not exist/.test(e.message));
  await assert.rejects(s.getText("gold", `missing-${randomUUID()}.txt`), /No object gold\/missing-/);
  s.close();
});
