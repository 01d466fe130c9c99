/**
 * The event contract is declared once: the API's JSON Schema and the sink's TopicSchema agree
 * field by field, and both say what the streaming contract says.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { eventJsonSchema, EVENT_ID, MARKETPLACE_SCHEMAS, TOPICS } from "../../../kernel-helpers/src/index.js";

test("the sink's schemas are the contract's fields, optional ones marked", () => {
  assert.deepEqual(TOPICS, { transactions: "transactions", interactions: "user-interactions" });
  assert.deepEqual(MARKETPLACE_SCHEMAS.transactions, {
    transaction_id: "string", user_id: "integer", product_id: "integer", category: "string", quantity: "integer", amount: "number", currency: "string", event_time: "string",
  });
  assert.deepEqual(MARKETPLACE_SCHEMAS["user-interactions"], {
    interaction_id: "string", user_id: "integer", product_id: "integer?", interaction_type: "string", event_time: "string",
  });
  assert.deepEqual(EVENT_ID, { transactions: "transaction_id", "user-interactions": "interaction_id" });
});

test("the API's JSON Schema has the same fields, required exactly where the sink's are not optional", () => {
  for (const topic of Object.values(TOPICS)) {
    const schema = eventJsonSchema(topic) as { required: string[]; properties: Record<string, { type: string }> };
    const sink = MARKETPLACE_SCHEMAS[topic];
    assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(sink).sort(), topic);
    for (const [field, type] of Object.entries(sink)) {
      assert.equal(schema.properties[field]!.type, type.replace(/\?$/, ""), `${topic}.${field}`);
      assert.equal(schema.required.includes(field), !type.endsWith("?"), `${topic}.${field} required`);
    }
  }
});

test("the JSON Schema enforces the contract's rules", () => {
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats.default(ajv);
  const tx = ajv.compile(eventJsonSchema(TOPICS.transactions));
  const ok = { transaction_id: "t1", user_id: 1, product_id: 2, category: "Books", quantity: 1, amount: 0, currency: "EUR", event_time: "2026-11-21T10:00:00Z" };
  assert.ok(tx(ok), JSON.stringify(tx.errors));
  assert.ok(tx({ ...ok, coupon: "X" }), "unknown fields are allowed (kept in bronze _value)");
  for (const bad of [{ quantity: 0 }, { amount: -1 }, { currency: "eur" }, { currency: "EURO" }, { user_id: 1.5 }, { user_id: "1" }, { event_time: "21/11/2026" }, { transaction_id: "" }]) {
    assert.equal(tx({ ...ok, ...bad }), false, JSON.stringify(bad));
  }
  const ix = ajv.compile(eventJsonSchema(TOPICS.interactions));
  const view = { interaction_id: "i1", user_id: 1, interaction_type: "view", event_time: "2026-11-21T10:00:00.123Z" };
  assert.ok(ix(view), "product_id is optional");
  for (const kind of ["view", "click", "add_to_cart", "wishlist", "search"]) assert.ok(ix({ ...view, interaction_type: kind }), kind);
  assert.equal(ix({ ...view, interaction_type: "purchase" }), false);
});
