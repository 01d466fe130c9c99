/**
 * The synthetic marketplace: reproducible for a seed, ids scoped to the run, and every event it
 * calls valid passes the API's schema while the ones it calls invalid do not.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { eventJsonSchema, marketplaceEvents, TOPICS, type MarketplaceEvent } from "../../../kernel-helpers/src/index.js";

const take = (n: number, gen: Iterator<MarketplaceEvent>) => Array.from({ length: n }, () => gen.next().value as MarketplaceEvent);
const withoutTime = (e: MarketplaceEvent) => ({ ...e, event: { ...e.event, event_time: undefined } });

test("the same seed gives the same events; ids carry the run id and never repeat", () => {
  const a = take(400, marketplaceEvents({ runId: "r1", seed: 9 }));
  const b = take(400, marketplaceEvents({ runId: "r1", seed: 9 }));
  assert.deepEqual(a.map(withoutTime), b.map(withoutTime));
  const c = take(400, marketplaceEvents({ runId: "r1", seed: 10 }));
  assert.notDeepEqual(a.map(withoutTime), c.map(withoutTime));
  const ids = a.map((e) => String((e.event as Record<string, unknown>)[e.topic === TOPICS.transactions ? "transaction_id" : "interaction_id"]));
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(ids.every((id) => id.startsWith("r1-")));
  // Default mix: 3 interactions per transaction.
  assert.equal(a.filter((e) => e.topic === TOPICS.transactions).length, 100);
});

test("valid events pass the API's schema, invalid ones (about invalidShare of transactions) do not", () => {
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats.default(ajv);
  const validate = { [TOPICS.transactions]: ajv.compile(eventJsonSchema(TOPICS.transactions)), [TOPICS.interactions]: ajv.compile(eventJsonSchema(TOPICS.interactions)) };
  const events = take(4000, marketplaceEvents({ runId: "r2", seed: 1, invalidShare: 0.2, userIds: [11, 12, 13] }));
  for (const e of events) assert.equal(validate[e.topic](e.event), e.valid, JSON.stringify(e));
  const invalid = events.filter((e) => !e.valid);
  assert.ok(invalid.every((e) => e.topic === TOPICS.transactions));
  const share = invalid.length / events.filter((e) => e.topic === TOPICS.transactions).length;
  assert.ok(share > 0.15 && share < 0.25, `invalid share ${share}`);
  assert.deepEqual([...new Set(events.map((e) => (e.event as { user_id: number }).user_id))].sort(), [11, 12, 13]);
});
