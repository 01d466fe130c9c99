import { createReadStream } from "node:fs";
import {
  DeleteObjectsCommand, GetBucketVersioningCommand, GetObjectCommand, HeadObjectCommand, ListBucketsCommand,
  ListObjectsV2Command, ListObjectVersionsCommand, S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { StorageError, messageOf } from "../errors.js";
import { BUCKETS, ENV, LAYERS, type Bucket } from "../config/settings.js";
import { isConnectionError, retry } from "../retry.js";
import { checkKey } from "./local-storage.js";
import type { BucketInfo, ObjectInfo, ObjectStore } from "./object-store.js";

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Set for temporary (STS) credentials, as JupyterHub hands each trainee. */
  readonly sessionToken?: string;
}

export interface ObjectVersion {
  readonly versionId: string;
  readonly isLatest: boolean;
  readonly size: number;
  readonly lastModified: string;
}

/** Objects larger than this go up in parts (S3's minimum part size is 5 MiB). */
const PART_SIZE = 8 * 1024 * 1024;

/**
 * Object storage through the S3 API (MinIO in the lab): path-style addressing against a custom
 * endpoint, as MinIO needs. The SDK client stays private; errors come out as StorageError naming
 * the endpoint, bucket and key, with the fix.
 */
export class S3Storage implements ObjectStore {
  readonly kind = "s3" as const;
  private readonly client: S3Client;

  /**
   * `keyPrefix` (e.g. "users/alice/") puts every key of this store under a user's namespace: notebooks keep
   * saying `raw/orders.csv`, the object is `users/alice/raw/orders.csv`, and list() returns keys without it.
   */
  constructor(readonly endpoint: string, readonly region: string, credentials: S3Credentials, readonly keyPrefix = "") {
    // The SDK warns on stderr that releases after January 2027 need Node 22. The lab pins its SDK
    // (package-lock) and its Node (20, the JupyterHub image's), and a stderr line in a notebook reads
    // as a failure to a trainee who can do nothing about it. Moving to Node 22 is a project decision.
    process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
    this.client = new S3Client({ endpoint, region, credentials, forcePathStyle: true });
  }

  uri(bucket: Bucket, key: string): string {
    checkKey(bucket, key);
    return `s3://${bucket}/${this.keyPrefix}${key}`;
  }

  async exists(bucket: Bucket, key: string): Promise<boolean> {
    checkKey(bucket, key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: this.keyPrefix + key }));
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      throw this.error(e, "check", bucket, key);
    }
  }

  async putFile(bucket: Bucket, key: string, sourcePath: string): Promise<ObjectInfo> {
    checkKey(bucket, key);
    try {
      // Multipart for large files; S3 makes the object visible only once every part is in.
      const upload = new Upload({ client: this.client, params: { Bucket: bucket, Key: this.keyPrefix + key, Body: createReadStream(sourcePath) }, partSize: PART_SIZE });
      await upload.done();
      const head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: this.keyPrefix + key }));
      return { bucket, key, size: Number(head.ContentLength ?? 0), uri: this.uri(bucket, key) };
    } catch (e) {
      throw this.error(e, `upload ${sourcePath} to`, bucket, key);
    }
  }

  async getText(bucket: Bucket, key: string): Promise<string> {
    checkKey(bucket, key);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: this.keyPrefix + key }));
      return (await r.Body?.transformToString("utf-8")) ?? "";
    } catch (e) {
      throw this.error(e, "read", bucket, key);
    }
  }

  async getBytes(bucket: Bucket, key: string): Promise<Uint8Array> {
    checkKey(bucket, key);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: this.keyPrefix + key }));
      return (await r.Body?.transformToByteArray()) ?? new Uint8Array();
    } catch (e) {
      throw this.error(e, "read", bucket, key);
    }
  }

  async deleteOldVersions(bucket: Bucket, prefix = ""): Promise<number> {
    let deleted = 0;
    try {
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      do {
        const page = await this.client.send(new ListObjectVersionsCommand({
          Bucket: bucket, Prefix: this.keyPrefix + prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker,
        }));
        // An unversioned bucket lists each object once, as its latest ("null") version: nothing to delete.
        const old = [...(page.Versions ?? []).filter((v) => !v.IsLatest), ...(page.DeleteMarkers ?? [])]
          .map((v) => ({ Key: v.Key!, VersionId: v.VersionId! }));
        for (let i = 0; i < old.length; i += 1000) {
          const r = await this.client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: old.slice(i, i + 1000), Quiet: true } }));
          if (r.Errors?.length) {
            const first = r.Errors[0]!;
            throw Object.assign(new Error(`${first.Code ?? "error"}: ${first.Message ?? ""} (${first.Key} version ${first.VersionId})`), { name: first.Code ?? "Error" });
          }
          deleted += Math.min(1000, old.length - i);
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
      } while (keyMarker !== undefined);
    } catch (e) {
      throw this.error(e, "delete old versions in", bucket, prefix || undefined);
    }
    return deleted;
  }

  async list(bucket: Bucket, prefix = ""): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    try {
      let token: string | undefined;
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: this.keyPrefix + prefix, ContinuationToken: token }));
        for (const o of page.Contents ?? []) out.push({ bucket, key: o.Key!.slice(this.keyPrefix.length), size: Number(o.Size ?? 0), uri: `s3://${bucket}/${o.Key}` });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (e) {
      throw this.error(e, "list", bucket);
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  /** Every stored version of an object, newest first (the bronze bucket keeps versions). */
  async versions(bucket: Bucket, key: string): Promise<ObjectVersion[]> {
    checkKey(bucket, key);
    try {
      const r = await this.client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: this.keyPrefix + key }));
      return (r.Versions ?? [])
        .filter((v) => v.Key === this.keyPrefix + key)
        .map((v) => ({ versionId: v.VersionId ?? "null", isLatest: v.IsLatest ?? false, size: Number(v.Size ?? 0), lastModified: v.LastModified?.toISOString() ?? "" }));
    } catch (e) {
      throw this.error(e, "list versions of", bucket, key);
    }
  }

  /** A URL anyone can GET for `seconds`, without credentials. */
  async presignGet(bucket: Bucket, key: string, seconds = 3600): Promise<string> {
    checkKey(bucket, key);
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: bucket, Key: this.keyPrefix + key }), { expiresIn: seconds });
  }

  async buckets(): Promise<BucketInfo[]> {
    try {
      const existing = new Set(((await this.client.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name));
      return await Promise.all(
        BUCKETS.map(async (bucket) => {
          const exists = existing.has(bucket);
          const versioning = exists && (await this.client.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status === "Enabled";
          return { bucket, location: `s3://${bucket} at ${this.endpoint}`, exists, versioning };
        }),
      );
    } catch (e) {
      throw this.error(e, "list buckets at");
    }
  }

  async ensureBuckets(): Promise<void> {
    // A workshop user's keys do not reach the mlflow bucket (artifacts go through the MLflow server).
    const needed: readonly Bucket[] = this.keyPrefix ? LAYERS : BUCKETS;
    for (const bucket of needed) {
      try {
        // A service that is still starting refuses connections for a few seconds: wait for it, boundedly.
        // Probed by listing our own prefix rather than HeadBucket: a trainee's scoped keys may list only
        // users/<name>/, and HeadBucket counts as listing the whole bucket.
        await retry(() => this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: this.keyPrefix, MaxKeys: 1 })), {
          timeoutMs: 20_000,
          isTransient: (e) => isConnectionError(e) || statusOf(e) === 503,
        });
      } catch (e) {
        throw this.error(e, "open", bucket);
      }
    }
  }

  close(): void {
    this.client.destroy();
  }

  private error(e: unknown, action: string, bucket?: Bucket, key?: string): StorageError {
    const where = bucket ? `${bucket}${key ? `/${key}` : ""}` : "";
    const context = { endpoint: this.endpoint, bucket, key };
    const status = statusOf(e);
    const name = (e as { name?: string }).name ?? "";
    if (isConnectionError(e)) {
      return new StorageError(`Cannot reach object storage at ${this.endpoint} (to ${action} ${where}): ${messageOf(e)}`, {
        fix: `Start the services (npm run services:up, or docker compose up), or correct ${ENV.s3Endpoint} / ${ENV.endpoint}.`,
        context, cause: e,
      });
    }
    if (name === "ExpiredToken") {
      return new StorageError(`Your temporary object-storage keys expired (asked to ${action} ${where} at ${this.endpoint}).`, {
        fix: "In JupyterHub: File > Hub Control Panel > Stop My Server, then Start My Server; the hub issues new keys. Your files and tables are kept.",
        context, cause: e,
      });
    }
    if (["InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"].includes(name) || status === 401 || (status === 403 && name !== "AccessDenied")) {
      return new StorageError(`Object storage at ${this.endpoint} refused the credentials (${name || status}) when asked to ${action} ${where}.`, {
        fix: "Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (for the native services: source .lab-env/services/services.env; for compose: docker/.env).",
        context, cause: e,
      });
    }
    if (name === "AccessDenied" || status === 403) {
      return new StorageError(`Access denied to ${where || "the buckets"} at ${this.endpoint} (to ${action}).`, {
        fix: this.keyPrefix
          ? `In a workshop your keys reach only your own objects (${this.keyPrefix} in each bucket), and lab.storage adds that prefix for you; use lab.storage rather than raw keys, or ask the trainer.`
          : "These credentials are valid but not allowed here; use the lab's own credentials or ask the trainer for access.",
        context, cause: e,
      });
    }
    if (name === "NoSuchBucket" || (status === 404 && !key)) {
      return new StorageError(`Bucket "${bucket}" does not exist at ${this.endpoint}.`, {
        fix: `Create the lab's buckets (${BUCKETS.join(", ")}): scripts/services/up.sh or compose's init service does it.`,
        context, cause: e,
      });
    }
    if (name === "NoSuchKey" || status === 404) {
      return new StorageError(`No object ${where} at ${this.endpoint}.`, { fix: `List what is there with lab.storage.list("${bucket}").`, context, cause: e });
    }
    return new StorageError(`Could not ${action} ${where} at ${this.endpoint}: ${messageOf(e)}`, { context, cause: e });
  }
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}
