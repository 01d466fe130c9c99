import type { Bucket } from "../config/settings.js";

export interface ObjectInfo {
  readonly bucket: Bucket;
  readonly key: string;
  readonly size: number;
  /** A URI DuckDB can read directly: a local path, or s3://bucket/key. */
  readonly uri: string;
}

export interface BucketInfo {
  readonly bucket: Bucket;
  /** Where it lives: a folder, or s3://bucket at an endpoint. */
  readonly location: string;
  readonly exists: boolean;
  /** S3 versioning; always false for folders. */
  readonly versioning: boolean;
}

/**
 * What the lab needs from object storage. The embedded folders and S3 (MinIO) both provide it,
 * with the same keys, so notebook code does not change between the two.
 */
export interface ObjectStore {
  readonly kind: "local" | "s3";
  uri(bucket: Bucket, key: string): string;
  exists(bucket: Bucket, key: string): Promise<boolean>;
  /** Store a local file unchanged under `key`; never leaves a half-written object under that key. */
  putFile(bucket: Bucket, key: string, sourcePath: string): Promise<ObjectInfo>;
  getText(bucket: Bucket, key: string): Promise<string>;
  /** The object's bytes as stored (a landed file may be gzip, UTF-16 or Windows-1252). */
  getBytes(bucket: Bucket, key: string): Promise<Uint8Array>;
  /**
   * Delete every noncurrent version and delete marker under `prefix`, so the bytes of objects that were overwritten
   * or deleted are really gone (an erasure must not leave them in a versioned bucket); current versions stay.
   * Returns how many were deleted: always 0 where nothing keeps versions (folders, unversioned buckets).
   */
  deleteOldVersions(bucket: Bucket, prefix?: string): Promise<number>;
  list(bucket: Bucket, prefix?: string): Promise<ObjectInfo[]>;
  buckets(): Promise<BucketInfo[]>;
  /** Fail with a clear error when a bucket is missing or the store is unreachable. */
  ensureBuckets(): Promise<void>;
}
