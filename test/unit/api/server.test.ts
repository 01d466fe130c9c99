/**
 * The ingestion API on the embedded landing folder: what it answers, and that what it accepted is
 * exactly what the stream sink loads into bronze, at the offsets it reported.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createApi, FolderPublisher, marketplaceEvents, MARKETPLACE_SCHEMAS, produceToApi, PublishUnavailableError, runStreamSink, startApi, TOPICS,
  type EventPublisher,
} from "../../../kernel-helpers/src/index.js";
import type { InjectOptions } from "fastify";
import { withLab } from "../helpers.js";

const tx = (id: string, extra: Record<string, unknown> = {}) => ({
  transaction_id: id, user_id: 7, product_id: 3, category: "Books", quantity: 2, amount: 19.9, currency: "EUR", event_time: "2026-11-21T10:00:00Z", ...extra,
});

test("202 names where each event went; a batch is stored in order", async () => {
  await withLab(async (lab) => {
    const app = createApi({ settings: lab.settings });
    try {
      const one = await app.inject({ method: "POST", url: "/api/v1/transactions", payload: tx("a") });
      assert.equal(one.statusCode, 202);
      assert.deepEqual(one.json(), { accepted: 1, topic: "transactions", events: [{ id: "a", partition: 0, offset: 0 }] });
      const batch = await app.inject({ method: "POST", url: "/api/v1/transactions", payload: [tx("b"), tx("c")] });
      assert.equal(batch.statusCode, 202);
      assert.deepEqual(batch.json().events.map((e: { offset: number }) => e.offset), [1, 2]);
      const interaction = await app.inject({ method: "POST", url: "/api/v1/user-interactions", payload: { interaction_id: "i1", user_id: 7, interaction_type: "view", event_time: "2026-11-21T10:00:00Z" } });
      assert.equal(interaction.statusCode, 202);
      assert.equal(interaction.json().topic, "user-interactions");
      assert.deepEqual(app.stats()[TOPICS.transactions], { accepted: 3, rejected: 0, unavailable: 0 });
    } finally {
      await app.close();
    }
  });
});

test("400 lists every failing field with its index, and nothing of the request is stored", async () => {
  await withLab(async (lab) => {
    const app = createApi({ settings: lab.settings });
    try {
      const r = await app.inject({ method: "POST", url: "/api/v1/transactions", payload: [tx("ok"), tx("bad", { user_id: "7", quantity: 0, currency: "eur" }), { transaction_id: "x" }] });
      assert.equal(r.statusCode, 400);
      const body = r.json() as { errors: { index: number; field: string; message: string }[]; fix: string; message: string };
      assert.deepEqual(body.errors.filter((e) => e.index === 1).map((e) => e.field).sort(), ["currency", "quantity", "user_id"]);
      assert.ok(body.errors.some((e) => e.index === 2 && e.field === "event_time" && e.message === "is required"));
      assert.match(body.message, /2 of 3 invalid/);
      assert.match(body.fix, /nothing in this request was stored/);
      const kinds = await app.inject({ method: "POST", url: "/api/v1/user-interactions", payload: { interaction_id: "i", user_id: 1, interaction_type: "purchase", event_time: "yesterday" } });
      assert.equal(kinds.statusCode, 400);
      assert.deepEqual(kinds.json().errors.map((e: { field: string }) => e.field).sort(), ["event_time", "interaction_type"]);
      const notJson = await app.inject({ method: "POST", url: "/api/v1/transactions", headers: { "content-type": "application/json" }, payload: "{nope" });
      assert.equal(notJson.statusCode, 400);
      const empty = await app.inject({ method: "POST", url: "/api/v1/transactions", payload: [] });
      assert.equal(empty.statusCode, 400);
      // The only thing stored is what a later valid request sends: it gets the first offset.
      const later = await app.inject({ method: "POST", url: "/api/v1/transactions", payload: tx("first") });
      assert.equal(later.json().events[0].offset, 0);
    } finally {
      await app.close();
    }
  });
});

test("503 with Retry-After when the store does not acknowledge; /ready says so too", async () => {
  await withLab(async (lab) => {
    const down: EventPublisher = {
      description: "a broker that is down",
      ready: async () => ({ ready: false, detail: "unreachable" }),
      publish: async () => { throw new PublishUnavailableError("no ack", { fix: "retry" }); },
      close: async () => undefined,
    };
    const app = createApi({ settings: lab.settings, publisher: down });
    try {
      const r = await app.inject({ method: "POST", url: "/api/v1/transactions", payload: tx("a") });
      assert.equal(r.statusCode, 503);
      assert.equal(r.headers["retry-after"], "1");
      assert.equal(app.stats()[TOPICS.transactions].unavailable, 1);
      assert.equal((await app.inject({ method: "GET", url: "/ready" })).statusCode, 503);
      assert.equal((await app.inject({ method: "GET", url: "/health" })).statusCode, 200);
    } finally {
      await app.close();
    }
  });
});

test("a landing folder that cannot be written answers 502 with a fix, not 202, and not a 503 that invites endless retries", async () => {
  await withLab(async (lab) => {
    // A file where the landing folder should be: mkdir fails.
    const blocked = join(lab.settings.home, "catalog-file-not-a-folder");
    await (await import("node:fs/promises")).writeFile(blocked, "x");
    const app = createApi({ settings: lab.settings, publisher: new FolderPublisher({ path: blocked }) });
    try {
      const r = await app.inject({ method: "POST", url: "/api/v1/transactions", payload: tx("a") });
      assert.equal(r.statusCode, 502);
      assert.equal(r.headers["retry-after"], undefined);
      assert.equal(r.json().error, "store_refused");
      assert.match(r.json().message, /cannot be written \(topic "transactions", ENOTDIR\)/);
      assert.match(r.json().fix, /Retrying will not help/);
    } finally {
      await app.close();
    }
  });
});

test("what the API accepted is exactly what the sink loads, at the offsets the API reported", async () => {
  await withLab(async (lab) => {
    const api = await startApi({ settings: lab.settings });
    try {
      const events = marketplaceEvents({ runId: "u1", seed: 7, invalidShare: 0.1 });
      const produced = await produceToApi({ url: api.url, events, count: 400, ratePerSecond: 100_000, batchSize: 25 });
      assert.ok(produced.rejected > 0, "some invalid transactions were sent");
      assert.equal(produced.unavailable.length, 0);
      const accepted = produced.accepted[TOPICS.transactions].length + produced.accepted[TOPICS.interactions].length;
      assert.equal(accepted + produced.rejected, 400);
      const sunk = await runStreamSink(lab, { topics: Object.values(TOPICS), schemas: MARKETPLACE_SCHEMAS, keyField: "user_id", batchSize: 100, maxWaitMs: 20, idleStopMs: 100 });
      assert.equal(sunk.rows, accepted);
      assert.equal(sunk.deadLetters, 0);
      const ids = (await lab.sql(`SELECT list(transaction_id ORDER BY transaction_id) AS ids, count(DISTINCT _offset) AS offsets, count(*) FILTER (_key = user_id::VARCHAR) AS keyed, count(*) AS n FROM bronze.transactions`)).rows()[0]!;
      assert.deepEqual(ids["ids"], [...produced.accepted[TOPICS.transactions]].sort());
      assert.equal(Number(ids["offsets"]), Number(ids["n"]));
      assert.equal(Number(ids["keyed"]), Number(ids["n"]));
    } finally {
      await api.close();
    }
  });
});

test("concurrent requests never interleave: offsets are unique and each line holds the event its 202 named", async () => {
  await withLab(async (lab) => {
    const app = createApi({ settings: lab.settings, maxBatch: 10, topicNames: { [TOPICS.transactions]: "tx-own" } });
    try {
      const replies = await Promise.all(Array.from({ length: 30 }, (_, r) =>
        app.inject({ method: "POST", url: "/api/v1/transactions", payload: Array.from({ length: 10 }, (_, i) => tx(`c${r}-${i}`)) })));
      assert.ok(replies.every((r) => r.statusCode === 202 && r.json().topic === "tx-own"));
      const acks = replies.flatMap((r) => r.json().events as { id: string; offset: number }[]);
      assert.deepEqual(acks.map((a) => a.offset).sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i));
      // Within one request the events keep their order and are contiguous.
      for (const r of replies) {
        const offsets = (r.json().events as { offset: number }[]).map((e) => e.offset);
        assert.deepEqual(offsets, offsets.map((_, i) => offsets[0]! + i));
      }
      const { readdir, readFile } = await import("node:fs/promises");
      const dir = join(lab.settings.home, "landing", "tx-own");
      const files = await readdir(dir);
      assert.equal(files.length, 1);
      const lines = (await readFile(join(dir, files[0]!), "utf8")).split("\n").filter(Boolean);
      assert.equal(lines.length, 300);
      for (const a of acks) assert.equal(JSON.parse(lines[a.offset]!).transaction_id, a.id);
      const tooMany = await app.inject({ method: "POST", url: "/api/v1/transactions", payload: Array.from({ length: 11 }, (_, i) => tx(`m${i}`)) });
      assert.equal(tooMany.statusCode, 400);
      assert.match(tooMany.json().message, /1 to 10 events, got 11/);
    } finally {
      await app.close();
    }
  });
});

test("every refusal has the API's one envelope; query parameters are checked; a 500 never echoes internals", async () => {
  await withLab(async (lab) => {
    const failing: EventPublisher = {
      description: "a publisher that breaks", ready: async () => ({ ready: true, detail: "" }), close: async () => undefined,
      publish: async () => { throw new Error('duckdb: Binder Error near "SELECT secret FROM bronze.x"'); },
    };
    const app = createApi({ settings: lab.settings, publisher: failing });
    try {
      const cases: [InjectOptions, number, string][] = [
        [{ method: "GET", url: "/api/v1/recommendations/1?limit=abc" }, 400, "bad_request"],
        [{ method: "GET", url: "/api/v1/recommendations/1?limit=0" }, 400, "bad_request"],
        [{ method: "GET", url: "/api/v1/recommendations/1?limit=5000" }, 400, "bad_request"],
        [{ method: "GET", url: "/api/v1/recommendations/99999999999999999999" }, 400, "bad_request"],
        [{ method: "GET", url: "/api/v1/nowhere" }, 404, "not_found"],
        [{ method: "POST", url: "/api/v1/transactions", headers: { "content-type": "application/xml" }, payload: "<tx/>" }, 415, "unsupported_media_type"],
        [{ method: "POST", url: "/api/v1/transactions", headers: { "content-type": "application/json" }, payload: "{not json" }, 400, "bad_request"],
        [{ method: "POST", url: "/api/v1/transactions", headers: { "content-type": "application/json" }, payload: `[${"1,".repeat(9_000_000)}1]` }, 413, "payload_too_large"],
        [{ method: "POST", url: "/api/v1/transactions", payload: tx("boom") }, 500, "internal"],
      ];
      for (const [request, status, error] of cases) {
        const r = await app.inject(request);
        const what = `${request.method} ${String(request.url).slice(0, 60)} (${status} expected)`;
        assert.equal(r.statusCode, status, `${what}: ${r.body.slice(0, 300)}`);
        const body = r.json() as Record<string, unknown>;
        assert.deepEqual(Object.keys(body).filter((k) => k !== "errors").sort(), ["error", "fix", "message"], `${what}: the envelope`);
        assert.equal(body["error"], error, what);
        assert.doesNotMatch(String(body["message"]), /SELECT|NaN|Binder/, `${what}: no internals in the answer`);
        assert.doesNotMatch(String(body["fix"]), /See the API's log/, `${what}: a fix the client can act on`);
      }
    } finally {
      await app.close();
    }
  });
});

test("only values the lake keeps exactly are accepted: safe integers, bounded strings and amounts, shallow small events", async () => {
  await withLab(async (lab) => {
    const app = createApi({ settings: lab.settings });
    try {
      const post = (payload: string) => app.inject({ method: "POST", url: "/api/v1/transactions", headers: { "content-type": "application/json" }, payload });
      const refused = async (payload: string, field: string, message: RegExp) => {
        const r = await post(payload);
        assert.equal(r.statusCode, 400, payload.slice(0, 80));
        const body = r.json();
        assert.equal(body.error, "invalid_event");
        assert.ok(body.errors.some((e: { field: string; message: string }) => e.field === field && message.test(e.message)), JSON.stringify(body.errors));
      };
      // JSON.parse reads 9007199254740993 as …992: refused, not stored rounded.
      await refused(JSON.stringify(tx("a")).replace('"user_id":7', '"user_id":9007199254740993'), "user_id", /<= 9007199254740991/);
      await refused(JSON.stringify(tx("a", { user_id: 1e20 })), "user_id", /<= 9007199254740991/);
      await refused(JSON.stringify(tx("a", { product_id: 2 ** 53 })), "product_id", /<=/);
      await refused(JSON.stringify(tx("a", { quantity: 2 ** 31 })), "quantity", /<= 2147483647/);
      await refused(JSON.stringify(tx("a", { amount: 1.234 })), "amount", /multiple of 0.01/);
      await refused(JSON.stringify(tx("a", { amount: 1e12 })), "amount", /<= 9999999999.99/);
      await refused(JSON.stringify(tx("a", { category: "x".repeat(10 * 1024 * 1024) })), "category", /must NOT have more than 128 characters/);
      await refused(JSON.stringify(tx("a", { note: "x".repeat(70 * 1024) })), "(event)", /over the 64 KiB/);
      const deep = "[".repeat(200_000) + "]".repeat(200_000);
      await refused(JSON.stringify(tx("a")).slice(0, -1) + `,"extra":${deep}}`, "(event)", /nested deeper than 32 levels/);
      assert.equal((await post(JSON.stringify(tx("ok", { amount: 0.07 })))).statusCode, 202, "0.07 is a multiple of 0.01");
      assert.deepEqual(app.stats()[TOPICS.transactions], { accepted: 1, rejected: 9, unavailable: 0 });
    } finally {
      await app.close();
    }
  });
});
