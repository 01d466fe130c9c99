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

const ID = { type: "string", required: true, extra: { minLength: 1, maxLength: 128 } } as const;
const USER = { type: "integer", required: true, extra: { minimum: 1 } } as const;
const TIME = { type: "string", required: true, extra: { format: "date-time" } } as const;

const FIELDS: Record<MarketplaceTopic, Record<string, Field>> = {
  [TOPICS.transactions]: {
    transaction_id: ID,
    user_id: USER,
    product_id: { type: "integer", required: true, extra: { minimum: 1 } },
    category: { type: "string", required: true, extra: { minLength: 1 } },
    quantity: { type: "integer", required: true, extra: { minimum: 1 } },
    amount: { type: "number", required: true, extra: { minimum: 0 } },
    currency: { type: "string", required: true, extra: { pattern: "^[A-Z]{3}$" } },
    event_time: TIME,
  },
  [TOPICS.interactions]: {
    interaction_id: ID,
    user_id: USER,
    product_id: { type: "integer", required: false, extra: { minimum: 1 } },
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
