/**
 * Bad input at the lab's edges: the ingestion API, the environment, the stream sink and the catalog.
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { InjectOptions } from "fastify";
import {
  buildGoldTable, CatalogError, ConfigError, createApi, describeSettings, FolderPublisher, QualityError, resolveSettings, runStreamSink, StreamError,
} from "../../../kernel-helpers/src/index.js";
import { bronzeTableFor } from "../../../kernel-helpers/src/stream/sink.js";
import { count, withLab } from "../helpers.js";
import type { BadInputCase } from "./case.js";

const tx = (extra: Record<string, unknown> = {}) => ({
  transaction_id: "t1", user_id: 7, product_id: 3, category: "Books", quantity: 2, amount: 19.9, currency: "BRL", event_time: "2026-12-01T10:00:00Z", ...extra,
});
const json = { "content-type": "application/json" };

/** The API answers `status` in its one envelope with `error`, stores nothing, and names `field` when given. */
function api(kind: string, request: InjectOptions, status: number, error: string, field?: string): BadInputCase {
  return {
    area: "api", kind, answer: `${status} ${error}${field ? ` naming ${field}` : ""}`,
    run: () => withLab(async (lab) => {
      const app = createApi({ settings: lab.settings });
      try {
        const r = await app.inject(request);
        assert.equal(r.statusCode, status, r.body.slice(0, 300));
        const body = r.json() as { error: string; message: string; fix: string; errors?: { field: string }[] };
        assert.equal(body.error, error);
        assert.ok(body.message && body.fix, "message and fix");
        assert.doesNotMatch(body.message, /SELECT|NaN|Binder|at .*\.ts:\d+/, "no internals");
        if (field) assert.ok(body.errors?.some((e) => e.field === field), JSON.stringify(body.errors));
        const stats = app.stats();
        assert.equal(stats.transactions.accepted + stats["user-interactions"].accepted, 0, "nothing stored");
      } finally {
        await app.close();
      }
    }),
  };
}

const post = (payload: string, headers: Record<string, string> = json): InjectOptions => ({ method: "POST", url: "/api/v1/transactions", headers, payload });

/** resolveSettings refuses `env` with a ConfigError matching `message`, and never echoes `secret`. */
function settings(kind: string, env: Record<string, string>, message: RegExp, secret?: string): BadInputCase {
  return {
    area: "settings", kind, answer: `ConfigError${secret ? ", secret not printed" : ""}`,
    run: async () => {
      assert.throws(() => resolveSettings(env), (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.match(e.message, message);
        if (secret) assert.ok(!`${e.message} ${JSON.stringify(e)}`.includes(secret), e.message);
        return true;
      });
    },
  };
}

export const cases: BadInputCase[] = [
  api("limit that is not a number", { method: "GET", url: "/api/v1/recommendations/1?limit=abc" }, 400, "bad_request"),
  api("limit out of range", { method: "GET", url: "/api/v1/recommendations/1?limit=100000" }, 400, "bad_request"),
  api("user id beyond 15 digits", { method: "GET", url: "/api/v1/recommendations/99999999999999999999" }, 400, "bad_request"),
  api("unknown route", { method: "GET", url: "/api/v1/orders" }, 404, "not_found"),
  api("wrong method", { method: "DELETE", url: "/api/v1/transactions" }, 404, "not_found"),
  api("XML body", post("<tx/>", { "content-type": "application/xml" }), 415, "unsupported_media_type"),
  api("malformed JSON", post("{not json"), 400, "bad_request"),
  api("body over 16 MB", post(`[${"1,".repeat(9_000_000)}1]`), 413, "payload_too_large"),
  api("empty batch", post("[]"), 400, "invalid_event"),
  api("user_id 1e20 (the sink would dead-letter it)", post(JSON.stringify(tx({ user_id: 1e20 }))), 400, "invalid_event", "user_id"),
  api("user_id 2^53+1 (JSON.parse rounds it)", post(JSON.stringify(tx()).replace('"user_id":7', '"user_id":9007199254740993')), 400, "invalid_event", "user_id"),
  api("quantity beyond INTEGER", post(JSON.stringify(tx({ quantity: 2 ** 31 }))), 400, "invalid_event", "quantity"),
  api("amount with a third decimal (silver would round it)", post(JSON.stringify(tx({ amount: 1.234 }))), 400, "invalid_event", "amount"),
  api("10 MB string field", post(JSON.stringify(tx({ category: "x".repeat(10 * 1024 * 1024) }))), 400, "invalid_event", "category"),
  api("200,000-deep JSON value", post(JSON.stringify(tx()).slice(0, -1) + `,"x":${"[".repeat(200_000)}${"]".repeat(200_000)}}`), 400, "invalid_event", "(event)"),
  api("event over 64 KiB in unknown fields", post(JSON.stringify(tx({ note: "x".repeat(70_000) }))), 400, "invalid_event", "(event)"),
  api("string where a number belongs", post(JSON.stringify(tx({ amount: "19.90" }))), 400, "invalid_event", "amount"),
  api("invented currency code", post(JSON.stringify(tx({ currency: "reais" }))), 400, "invalid_event", "currency"),
  api("event time that is not a date-time", post(JSON.stringify(tx({ event_time: "31/02/2025" }))), 400, "invalid_event", "event_time"),
  {
    area: "api", kind: "landing folder that cannot be written", answer: "502 store_refused, no Retry-After",
    run: () => withLab(async (lab) => {
      const blocked = join(lab.settings.home, "not-a-folder");
      await writeFile(blocked, "x");
      const app = createApi({ settings: lab.settings, publisher: new FolderPublisher({ path: blocked }) });
      try {
        const r = await app.inject(post(JSON.stringify(tx())));
        assert.equal(r.statusCode, 502);
        assert.equal(r.headers["retry-after"], undefined);
        assert.equal(r.json().error, "store_refused");
      } finally {
        await app.close();
      }
    }),
  },

  settings("S3 endpoint with KEY:SECRET inside", { AWS_ENDPOINT_URL_S3: "http://KEY:SECRETVALUE@127.0.0.1:9000" }, /carries credentials/, "SECRETVALUE"),
  settings("S3 endpoint with a token in the query", { AWS_ENDPOINT_URL: "http://127.0.0.1:9000/?X-Amz-Security-Token=SECRETVALUE" }, /carries credentials/, "SECRETVALUE"),
  settings("S3 endpoint without a scheme", { AWS_ENDPOINT_URL_S3: "minio:9000" }, /not an http:\/\/ or https:\/\/ address/),
  settings("MLflow URI with user:password", { MLFLOW_TRACKING_URI: "http://ana:SECRETVALUE@127.0.0.1:5000" }, /MLFLOW_TRACKING_USERNAME/, "SECRETVALUE"),
  settings("MLflow server without its scheme", { MLFLOW_TRACKING_URI: "127.0.0.1:5000" }, /without its scheme/),
  settings("Kafka brokers with credentials", { KAFKA_BOOTSTRAP_SERVERS: "lab:SECRETVALUE@kafka:9092" }, /carries credentials/, "SECRETVALUE"),
  settings("Kafka brokers as a URL", { KAFKA_BOOTSTRAP_SERVERS: "PLAINTEXT://kafka:9092" }, /host:port/),
  {
    area: "settings", kind: "catalog URL with a password (URI, key=value, query)", answer: "printed as ***",
    run: async () => {
      for (const url of ["postgresql://lab:SECRETVALUE@db/lake", "postgres:dbname=lake password=SECRETVALUE host=db", "postgresql://db/lake?password=SECRETVALUE"]) {
        const lines = describeSettings(resolveSettings({ DATAFLOW_LAB_HOME: "/tmp/l", DATAFLOW_CATALOG_URL: url }));
        assert.ok(lines.every((l) => !l.includes("SECRETVALUE")), lines.join("\n"));
      }
    },
  },

  ...["dead_letter", "Stream-Offsets", "INGESTION_LOG", "rejected-records", "raw"].map((topic): BadInputCase => ({
    area: "stream", kind: `topic "${topic}" that maps onto a bookkeeping table`, answer: "StreamError",
    run: async () => assert.throws(() => bronzeTableFor(topic), (e: unknown) => e instanceof StreamError && /cannot be mapped to a bronze table/.test(e.message)),
  })),
  {
    area: "stream", kind: "schema field named like stream metadata", answer: "StreamError naming the field",
    run: () => withLab(async (lab) => {
      await assert.rejects(runStreamSink(lab, { topics: ["t"], schemas: { t: { _offset: "integer" } }, idleStopMs: 10 }), (e: unknown) => e instanceof StreamError && /_offset/.test(e.message));
    }),
  },
  {
    area: "stream", kind: "messages that are not JSON, not objects, or of the wrong type", answer: "dead_letter with the reason, nothing lost",
    run: () => withLab(async (lab) => {
      const dir = join(lab.settings.home, "landing", "orders");
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, "0001.jsonl"), ['{"id":"a","n":1}', "{broken", "[1,2]", '{"id":"b","n":"one"}', '{"n":2}', '{"id":"c","n":3}'].join("\n") + "\n");
      const r = await runStreamSink(lab, { topics: ["orders"], schemas: { orders: { id: "string", n: "integer" } }, maxWaitMs: 5, idleStopMs: 50 });
      assert.equal(r.rows + r.deadLetters, 6, "every message is a row or a dead letter");
      const reasons = (await lab.sql("SELECT error FROM bronze.dead_letter ORDER BY \"offset\"")).column("error");
      assert.deepEqual(reasons, ["not valid JSON", "valid JSON but not an object", "n must be an integer, got string", "id is required"]);
      assert.equal(await count(lab, "bronze.orders"), 2);
    }),
  },

  {
    area: "catalog", kind: "two rebuilds of the same gold table at once", answer: "both commit, one after the other",
    run: () => withLab(async (lab) => {
      await lab.catalog.run("CREATE TABLE silver.n AS SELECT range AS i FROM range(100)");
      const [a, b] = await Promise.all([buildGoldTable(lab, "same", "SELECT i FROM silver.n"), buildGoldTable(lab, "same", "SELECT i FROM silver.n WHERE i < 10")]);
      assert.deepEqual([a.rows, b.rows], [100, 10]);
      assert.ok(b.snapshotId > a.snapshotId, "the second build committed after the first");
      assert.equal(await count(lab, "gold.same"), 10);
    }),
  },
  {
    area: "catalog", kind: "negative or fractional snapshot id", answer: "CatalogError",
    run: () => withLab(async (lab) => {
      await lab.catalog.run("CREATE TABLE silver.t AS SELECT 1 AS v");
      for (const id of [-1, 1.5, Number.NaN]) await assert.rejects(lab.catalog.readAsOf("silver.t", id), CatalogError);
    }),
  },
  {
    area: "catalog", kind: "table name with SQL in it", answer: "QualityError, nothing run",
    run: () => withLab(async (lab) => {
      await lab.catalog.run("CREATE TABLE silver.t AS SELECT 1 AS v");
      await assert.rejects(lab.catalog.preview("silver.t; DROP TABLE silver.t"), QualityError);
      assert.equal(await count(lab, "silver.t"), 1);
    }),
  },
];
