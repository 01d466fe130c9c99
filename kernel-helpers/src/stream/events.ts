import type { TopicSchema } from "./schema.js";

/**
 * The marketplace's two event types, declared once. The ingestion API validates request bodies
 * against the JSON Schemas derived here, and the stream sink checks what reaches bronze against
 * the TopicSchemas derived from the same fields, so the two can never drift apart.
 */
export const TOPICS = { transactions: "transactions", interactions: "user-interactions" } as const;
export type MarketplaceTopic = (typeof TOPICS)[keyof typeof TOPICS];

export const INTERACTION_TYPES = ["view", "click", "add_to_cart", "wishlist", "search"] as const;

export interface Transaction {
  transaction_id: string;
  user_id: number;
  product_id: number;
  category: string;
  quantity: number;
  amount: number;
  currency: string;
  event_time: string;
}

export interface UserInteraction {
  interaction_id: string;
  user_id: number;
  product_id?: number;
  interaction_type: (typeof INTERACTION_TYPES)[number];
  event_time: string;
}

interface Field {
  readonly type: "string" | "integer" | "number";
  readonly required: boolean;
  readonly extra?: Record<string, unknown>;
}

// Bounds are those of the silver columns the events end in (BIGINT ids read exactly by JavaScript, INTEGER
// quantity, DECIMAL(12,2) amount), so the API never answers 202 for a value the lake would refuse or round.
const ID = { type: "string", required: true, extra: { minLength: 1, maxLength: 128 } } as const;
const ENTITY = { minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const;
const USER = { type: "integer", required: true, extra: ENTITY } as const;
const TIME = { type: "string", required: true, extra: { format: "date-time", maxLength: 64 } } as const;

/** Limits of one event as a whole: unknown fields are kept in bronze `_value`, so they are bounded too. */
export const EVENT_LIMITS = { maxDepth: 32, maxBytes: 64 * 1024 } as const;

const FIELDS: Record<MarketplaceTopic, Record<string, Field>> = {
  [TOPICS.transactions]: {
    transaction_id: ID,
    user_id: USER,
    product_id: { type: "integer", required: true, extra: ENTITY },
    category: { type: "string", required: true, extra: { minLength: 1, maxLength: 128 } },
    quantity: { type: "integer", required: true, extra: { minimum: 1, maximum: 2_147_483_647 } },
    amount: { type: "number", required: true, extra: { minimum: 0, maximum: 9_999_999_999.99, multipleOf: 0.01 } },
    currency: { type: "string", required: true, extra: { pattern: "^[A-Z]{3}$" } },
    event_time: TIME,
  },
  [TOPICS.interactions]: {
    interaction_id: ID,
    user_id: USER,
    product_id: { type: "integer", required: false, extra: ENTITY },
    interaction_type: { type: "string", required: true, extra: { enum: [...INTERACTION_TYPES] } },
    event_time: TIME,
  },
};

/** The field that identifies an event of each topic (the API answers with it; silver dedupes on it). */
export const EVENT_ID: Record<MarketplaceTopic, string> = {
  [TOPICS.transactions]: "transaction_id",
  [TOPICS.interactions]: "interaction_id",
};

/** Kafka key: the user, so one user's events stay in order on one partition. */
export const KEY_FIELD = "user_id";

/**
 * Why an event is too deep or too large to keep, or undefined. Checked before anything recurses into it: a
 * 200,000-deep value would overflow the stack of JSON.stringify (and of the validator).
 */
export function eventShapeProblem(event: unknown): { problem: string; deep: boolean } | undefined {
  const stack: [unknown, number][] = [[event, 1]];
  while (stack.length) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    if (depth > EVENT_LIMITS.maxDepth) return { problem: `is nested deeper than ${EVENT_LIMITS.maxDepth} levels`, deep: true };
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  const bytes = Buffer.byteLength(JSON.stringify(event));
  return bytes > EVENT_LIMITS.maxBytes
    ? { problem: `is ${bytes.toLocaleString("en-US")} bytes as JSON, over the ${EVENT_LIMITS.maxBytes / 1024} KiB an event may have`, deep: false }
    : undefined;
}

/** JSON Schema (draft-07, for ajv) of one event of a topic. Unknown fields are allowed and kept in bronze `_value`. */
export function eventJsonSchema(topic: MarketplaceTopic): Record<string, unknown> {
  const fields = FIELDS[topic];
  return {
    type: "object",
    required: Object.entries(fields).filter(([, f]) => f.required).map(([name]) => name),
    properties: Object.fromEntries(Object.entries(fields).map(([name, f]) => [name, { type: f.type, ...f.extra }])),
  };
}

/** What the stream sink checks per topic: `runStreamSink(lab, { schemas: MARKETPLACE_SCHEMAS, … })`. */
export const MARKETPLACE_SCHEMAS: Readonly<Record<MarketplaceTopic, TopicSchema>> = Object.fromEntries(
  Object.entries(FIELDS).map(([topic, fields]) => [
    topic,
    Object.fromEntries(Object.entries(fields).map(([name, f]) => [name, f.required ? f.type : `${f.type}?`])),
  ]),
) as Record<MarketplaceTopic, TopicSchema>;
