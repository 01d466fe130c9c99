import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { resolveSettings, type LabSettings } from "../config/settings.js";
import { messageOf } from "../errors.js";
import { EVENT_ID, eventJsonSchema, eventShapeProblem, KEY_FIELD, TOPICS, type MarketplaceTopic } from "../stream/events.js";
import type { Lab } from "../lab.js";
import { recommendationRoutes } from "./recommendations.js";
import { defaultPublisher, PublishRefusedError, PublishUnavailableError, type EventPublisher } from "./publisher.js";

export interface ApiOptions {
  /** Defaults to the environment's settings: Kafka when KAFKA_BOOTSTRAP_SERVERS is set, else the landing folder. */
  readonly settings?: LabSettings;
  /** Overrides where events go (tests, or a custom store). */
  readonly publisher?: EventPublisher;
  /** Most events in one POST; default 5000. */
  readonly maxBatch?: number;
  /**
   * Kafka topic (or landing sub-folder) per event type; default TOPICS. Tests and benchmarks publish
   * to topics of their own so they never mix with the lab's shared `transactions` stream.
   */
  readonly topicNames?: Partial<Record<MarketplaceTopic, string>>;
  /** Fastify's request log; off by default so notebooks stay readable. */
  readonly logger?: boolean;
  /** The lab whose gold tables the recommendations endpoint reads; without one it answers 503. */
  readonly lab?: Lab;
}

export interface ListenOptions extends ApiOptions {
  /** Default 127.0.0.1: the API is for the lab's own producers, not the network. */
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
}

/** Per topic: events answered 202, events in 400 requests, events in 503 requests. */
export type ApiStats = Record<MarketplaceTopic, { accepted: number; rejected: number; unavailable: number }>;

export interface RunningApi {
  readonly url: string;
  readonly publisher: EventPublisher;
  stats(): ApiStats;
  close(): Promise<void>;
}

export interface EventError {
  /** Position in a batch (0 for a single event). */
  readonly index: number;
  readonly field: string;
  readonly message: string;
}

const ROUTES: Record<MarketplaceTopic, string> = {
  [TOPICS.transactions]: "/api/v1/transactions",
  [TOPICS.interactions]: "/api/v1/user-interactions",
};

/**
 * The marketplace ingestion API. Each POST is stored durably before it is answered: 202 lists
 * where every event went (topic/partition/offset, the same numbers bronze keeps in `_offset`),
 * 400 names every failing field and stores nothing, 503 means the store did not acknowledge —
 * so a 2xx is never given for an event that was not stored.
 */
export function createApi(options: ApiOptions = {}): FastifyInstance & { publisher: EventPublisher; stats(): ApiStats } {
  const settings = options.settings ?? options.lab?.settings ?? resolveSettings();
  const topicName = (t: MarketplaceTopic): string => options.topicNames?.[t] ?? t;
  const publisher = options.publisher ?? defaultPublisher(settings, Object.values(TOPICS).map(topicName));
  const maxBatch = options.maxBatch ?? 5000;
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 16 * 1024 * 1024 });
  const stats = Object.fromEntries(Object.values(TOPICS).map((t) => [t, { accepted: 0, rejected: 0, unavailable: 0 }])) as ApiStats;
  // Our own ajv rather than Fastify's route schemas: Fastify coerces types ("12" → 12) by default,
  // and a batch wants per-item errors with their index.
  // multipleOfPrecision: 0.07 is a multiple of 0.01 although 0.07 / 0.01 is not an integer in floating point.
  const ajv = new Ajv({ allErrors: true, strict: true, multipleOfPrecision: 9 });
  addFormats.default(ajv);
  const validators = Object.fromEntries(Object.values(TOPICS).map((t) => [t, ajv.compile(eventJsonSchema(t))])) as Record<MarketplaceTopic, ValidateFunction>;

  for (const topic of Object.values(TOPICS)) {
    app.post(ROUTES[topic], async (request, reply) => {
      const body = request.body;
      const events = Array.isArray(body) ? body : [body];
      if (events.length === 0 || events.length > maxBatch) {
        return badRequest(reply, `A batch must hold 1 to ${maxBatch} events, got ${events.length}.`, [], "Send one event object, or an array of them.");
      }
      const errors = events.flatMap((event, index) => {
        const shape = eventShapeProblem(event);
        // Too deep to validate safely; too large is said beside the fields that make it so.
        if (shape?.deep) return [{ index, field: "(event)", message: shape.problem }];
        const fields = validators[topic](event) ? [] : describeErrors(index, validators[topic].errors ?? []);
        return shape ? [...fields, { index, field: "(event)", message: shape.problem }] : fields;
      });
      if (errors.length) {
        stats[topic].rejected += events.length;
        const where = Array.isArray(body) ? ` (${new Set(errors.map((e) => e.index)).size} of ${events.length} invalid)` : "";
        return badRequest(reply, `Invalid ${topic} event${Array.isArray(body) ? "s" : ""}${where}: ${errors.slice(0, 3).map((e) => `${e.field} ${e.message}`).join("; ")}${errors.length > 3 ? "; …" : ""}.`,
          errors, "Fix the listed fields; nothing in this request was stored (a batch is accepted or rejected whole).");
      }
      const idField = EVENT_ID[topic];
      try {
        const acks = await publisher.publish(topicName(topic), events.map((e: Record<string, unknown>) => ({ key: String(e[KEY_FIELD]), value: JSON.stringify(e) })));
        stats[topic].accepted += events.length;
        return reply.code(202).send({
          accepted: events.length,
          topic: topicName(topic),
          events: acks.map((a, i) => ({ id: (events[i] as Record<string, unknown>)[idField], partition: a.partition, offset: a.offset })),
        });
      } catch (e) {
        if (e instanceof PublishRefusedError) {
          // Not a 503: a client that retries what the store refuses would retry forever.
          stats[topic].rejected += events.length;
          const status = Number(e.context["status"] ?? 502);
          return reply.code(status).send({ error: status === 413 ? "payload_too_large" : "store_refused", message: e.message.split("\n")[0], fix: e.fix });
        }
        if (!(e instanceof PublishUnavailableError)) throw e;
        stats[topic].unavailable += events.length;
        return reply.code(503).header("retry-after", "1").send({ error: "unavailable", message: e.message.split("\n")[0], fix: e.fix });
      }
    });
  }

  recommendationRoutes(app, options.lab);
  app.get("/health", async () => ({ status: "ok" }));
  app.get("/ready", async (_request, reply) => {
    const r = await publisher.ready();
    return reply.code(r.ready ? 200 : 503).send({ ready: r.ready, publisher: publisher.description, detail: r.detail });
  });
  app.get("/api/v1/stats", async () => stats);

  // One envelope for every status, Fastify's own refusals included. A 500 never echoes the error's text (it can
  // quote SQL or paths): the log has it, the client gets a reference to find it there.
  app.setErrorHandler((error: { statusCode?: number; message: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) {
      request.log.error({ err: error, reqId: request.id }, "unhandled error");
      return reply.code(500).send({
        error: "internal", message: `The API failed on ${request.method} ${request.routeOptions.url ?? request.url} (reference ${request.id}).`,
        fix: `Retry later; if it persists, start the API with a logger (startApi({ logger: true }) or npm run api) and look for reference ${request.id}.`,
      });
    }
    const [code, fix] = REFUSALS[status] ?? ["bad_request", "Check the request against the API's documentation."];
    return reply.code(status).send({ error: code, message: messageOf(error), fix });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({
    error: "not_found", message: `No route ${request.method} ${request.url.split("?")[0]}.`,
    fix: `Routes: ${Object.values(ROUTES).map((r) => `POST ${r}`).join(", ")}, GET /api/v1/recommendations/{user_id}, GET /health, GET /ready, GET /api/v1/stats.`,
  }));
  app.addHook("onClose", async () => publisher.close());
  return Object.assign(app, { publisher, stats: () => structuredClone(stats) });
}

// What Fastify itself refuses before a route runs, as the API's own error codes and fixes.
const REFUSALS: Record<number, [string, string]> = {
  400: ["bad_request", 'Send a well-formed JSON body with "Content-Type: application/json".'],
  404: ["not_found", "Check the path."],
  405: ["method_not_allowed", "Use the method the route documents (POST for events, GET for the rest)."],
  413: ["payload_too_large", "Send the events in smaller batches (the body limit is 16 MB)."],
  415: ["unsupported_media_type", 'Send JSON with "Content-Type: application/json".'],
  431: ["headers_too_large", "Send fewer or smaller headers."],
};

/** Start the API on a port (0 = a free one) and say where. */
export async function startApi(options: ListenOptions = {}): Promise<RunningApi> {
  const app = createApi(options);
  const address = await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 });
  return { url: address, publisher: app.publisher, stats: app.stats, close: () => app.close() };
}

function badRequest(reply: FastifyReply, message: string, errors: EventError[], fix: string): FastifyReply {
  return reply.code(400).send({ error: "invalid_event", message, errors, fix });
}

function describeErrors(index: number, errors: ErrorObject[]): EventError[] {
  return errors.map((e) => {
    const path = e.instancePath.replace(/^\//, "").replaceAll("/", ".");
    const missing = e.keyword === "required" ? String((e.params as { missingProperty: string }).missingProperty) : "";
    const field = missing || path || "(body)";
    const message = e.keyword === "required" ? "is required"
      : e.keyword === "enum" ? `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(", ")}`
      : (e.message ?? "is invalid");
    return { index, field, message };
  });
}
