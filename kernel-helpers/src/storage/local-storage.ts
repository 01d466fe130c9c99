import { copyFile, mkdir, readdir, readFile, rename, stat } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { StorageError, messageOf } from "../errors.js";
import { BUCKETS, type Bucket } from "../config/settings.js";
import type { BucketInfo, ObjectInfo, ObjectStore } from "./object-store.js";

/**
 * The embedded object store: one folder per bucket under the lab home.
 * Keys use `/` like S3 keys, so code written against it moves to MinIO unchanged.
 */
export class LocalStorage implements ObjectStore {
  readonly kind = "local" as const;

  constructor(readonly root: string) {}

  async buckets(): Promise<BucketInfo[]> {
    return BUCKETS.map((bucket) => {
      const location = join(this.root, bucket);
      return { bucket, location, exists: existsSync(location), versioning: false };
    });
  }

  async getText(bucket: Bucket, key: string): Promise<string> {
    try {
      return await readFile(this.uri(bucket, key), "utf8");
    } catch (e) {
      throw new StorageError(`No object ${bucket}/${key} in ${this.root}: ${messageOf(e)}`, {
        fix: `List what is there with lab.storage.list("${bucket}").`,
        context: { bucket, key },
        cause: e,
      });
    }
  }

  async getBytes(bucket: Bucket, key: string): Promise<Uint8Array> {
    try {
      return await readFile(this.uri(bucket, key));
    } catch (e) {
      throw new StorageError(`No object ${bucket}/${key} in ${this.root}: ${messageOf(e)}`, {
        fix: `List what is there with lab.storage.list("${bucket}").`,
        context: { bucket, key },
        cause: e,
      });
    }
  }

  /** Folders keep no versions: an overwritten or deleted file has no older copy here. */
  async deleteOldVersions(): Promise<number> {
    return 0;
  }

  async ensureBuckets(): Promise<void> {
    for (const b of BUCKETS) await mkdir(join(this.root, b), { recursive: true });
  }

  /** Where an object lives on disk (and the URI DuckDB reads). */
  uri(bucket: Bucket, key: string): string {
    checkKey(bucket, key);
    return join(this.root, bucket, ...key.split("/"));
  }

  async exists(bucket: Bucket, key: string): Promise<boolean> {
    return existsSync(this.uri(bucket, key));
  }

  /**
   * Copy a local file into a bucket unchanged. The copy goes to a temporary name first and is
   * renamed into place, so a crash never leaves a half-written object under the real key.
   */
  async putFile(bucket: Bucket, key: string, sourcePath: string): Promise<ObjectInfo> {
    const target = this.uri(bucket, key);
    try {
      await mkdir(dirname(target), { recursive: true });
      const tmp = `${target}.tmp-${process.pid}`;
      await copyFile(sourcePath, tmp);
      await rename(tmp, target);
      return { bucket, key, size: (await stat(target)).size, uri: target };
    } catch (e) {
      throw new StorageError(`Could not store ${sourcePath} as ${bucket}/${key}: ${messageOf(e)}`, {
        fix: `Check that ${this.root} is writable and has free space.`,
        context: { bucket, key, file: sourcePath },
        cause: e,
      });
    }
  }

  /** Objects under a prefix, sorted by key. */
  async list(bucket: Bucket, prefix = ""): Promise<ObjectInfo[]> {
    const base = join(this.root, bucket);
    if (!existsSync(base)) return [];
    const entries = await readdir(base, { recursive: true, withFileTypes: true });
    const out: ObjectInfo[] = [];
    for (const e of entries) {
      if (!e.isFile() || e.name.includes(".tmp-")) continue;
      const full = join(e.parentPath, e.name);
      const key = relative(base, full).split(sep).join("/");
      if (key.startsWith(prefix)) out.push({ bucket, key, size: (await stat(full)).size, uri: full });
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }
}

export function checkKey(bucket: string, key: string): void {
  if (!(BUCKETS as readonly string[]).includes(bucket)) {
    throw new StorageError(`Unknown bucket "${bucket}".`, { fix: `Use one of: ${BUCKETS.join(", ")}.`, context: { bucket } });
  }
  if (key === "" || key.startsWith("/") || key.split("/").some((p) => p === ".." || p === "")) {
    throw new StorageError(`Invalid object key "${key}" in bucket ${bucket}.`, {
      fix: 'Use a relative key like "raw/orders/file.csv" without "..", leading "/" or empty parts.',
      context: { bucket, key },
    });
  }
}
