import { mulberry32 } from "../random.js";
import { StreamError } from "./source.js";
import { INTERACTION_TYPES, TOPICS, type MarketplaceTopic, type Transaction, type UserInteraction } from "./events.js";

/**
 * A synthetic marketplace: seeded users browsing and buying, posted to the ingestion API at a
 * chosen rate. Ids carry the run id, so re-running a notebook never collides with earlier events
 * and checks can be scoped to one run.
 */
export interface MarketplaceOptions {
  /** Prefix of every event id, e.g. "run-20261121T1800". */
  readonly runId: string;
  readonly seed?: number;
  /** Customer ids to act as users (e.g. from silver.customers); default 1..500. */
  readonly userIds?: readonly number[];
  /** Products with their category and unit price (e.g. from silver.products); default 50 synthetic ones. */
  readonly products?: readonly { product_id: number; category: string; price: number }[];
  /** Share of transactions that break a rule the API checks (they get 400 and never reach Kafka); default 0. */
  readonly invalidShare?: number;
  /** Interactions per transaction; default 3. */
  readonly interactionsPerTransaction?: number;
}

export interface MarketplaceEvent {
  readonly topic: MarketplaceTopic;
  readonly event: Transaction | UserInteraction | Record<string, unknown>;
  readonly valid: boolean;
}

/** An endless, reproducible stream of marketplace events. */
export function* marketplaceEvents(options: MarketplaceOptions): Generator<MarketplaceEvent> {
  const random = mulberry32(options.seed ?? 42);
  const users = options.userIds?.length ? options.userIds : Array.from({ length: 500 }, (_, i) => i + 1);
  const products = options.products?.length ? options.products : Array.from({ length: 50 }, (_, i) => ({
    product_id: i + 1, category: ["Books", "Electronics", "Garden", "Toys", "Fashion"][i % 5]!, price: 5 + ((i * 37) % 200),
  }));
  const perTx = options.interactionsPerTransaction ?? 3;
  const invalidShare = options.invalidShare ?? 0;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  for (let n = 0; ; n++) {
    const user_id = pick(users);
    const product = pick(products);
    const event_time = new Date().toISOString();
    if (n % (perTx + 1) < perTx) {
      yield {
        topic: TOPICS.interactions, valid: true,
        event: { interaction_id: `${options.runId}-i${n}`, user_id, product_id: product.product_id, interaction_type: pick(INTERACTION_TYPES), event_time },
      };
      continue;
    }
    const quantity = 1 + Math.floor(random() * 3);
    const tx: Transaction = {
      transaction_id: `${options.runId}-t${n}`, user_id, product_id: product.product_id, category: product.category,
      quantity, amount: Math.round(product.price * quantity * 100) / 100, currency: "EUR", event_time,
    };
    if (random() < invalidShare) yield { topic: TOPICS.transactions, valid: false, event: { ...tx, quantity: 0 } };
    else yield { topic: TOPICS.transactions, valid: true, event: tx };
  }
}

export interface ProduceOptions {
  /** The ingestion API's base URL, e.g. `api.url` from startApi(). */
  readonly url: string;
  readonly events: Iterator<MarketplaceEvent>;
  /** Events to send in all. */
  readonly count: number;
  /** Events per second across both topics; default 200. */
  readonly ratePerSecond?: number;
  /** Events per POST; default 50. */
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
  /** Called after every POST. */
  readonly onProgress?: (report: ProduceReport) => void;
}

export interface ProduceReport {
  readonly sent: number;
  /** Ids answered 202, per topic: the events the lake must end up with. */
  readonly accepted: Record<MarketplaceTopic, string[]>;
  /** Events in requests answered 400 (invalid; never stored). */
  readonly rejected: number;
  /** Ids in requests answered 503 (the store did not acknowledge; never reported as stored). */
  readonly unavailable: string[];
  /** Milliseconds from sending a POST to its 202, one entry per accepted POST. */
  readonly latenciesMs: number[];
  readonly seconds: number;
}

/**
 * Post `count` events to the API at about `ratePerSecond`, in batches per topic. Invalid events are
 * posted on their own so one bad event does not take a batch of good ones down with it.
 */
export async function produceToApi(options: ProduceOptions): Promise<ProduceReport> {
  const started = performance.now();
  const rate = options.ratePerSecond ?? 200;
  const batchSize = Math.max(1, options.batchSize ?? 50);
  const report = {
    sent: 0, rejected: 0, unavailable: [] as string[], latenciesMs: [] as number[],
    accepted: { [TOPICS.transactions]: [] as string[], [TOPICS.interactions]: [] as string[] } as Record<MarketplaceTopic, string[]>,
  };
  const snapshot = (): ProduceReport => ({ ...report, seconds: (performance.now() - started) / 1000 });
  while (report.sent < options.count && !options.signal?.aborted) {
    const n = Math.min(batchSize, options.count - report.sent);
    const pending: Record<string, MarketplaceEvent[]> = {};
    const singles: MarketplaceEvent[] = [];
    for (let i = 0; i < n; i++) {
      const e = options.events.next().value as MarketplaceEvent;
      if (e.valid) (pending[e.topic] ??= []).push(e);
      else singles.push(e);
    }
    for (const group of [...Object.values(pending), ...singles.map((e) => [e])]) {
      await post(options.url, group, report);
    }
    report.sent += n;
    options.onProgress?.(snapshot());
    // Pace to the rate: sleep until the time these events were due.
    const due = (report.sent / rate) * 1000 - (performance.now() - started);
    if (due > 0) await new Promise((r) => setTimeout(r, due));
  }
  return snapshot();
}

async function post(url: string, group: MarketplaceEvent[], report: { rejected: number; unavailable: string[]; latenciesMs: number[]; accepted: Record<MarketplaceTopic, string[]> }): Promise<void> {
  const topic = group[0]!.topic;
  const path = topic === TOPICS.transactions ? "/api/v1/transactions" : "/api/v1/user-interactions";
  const ids = group.map((e) => String((e.event as Record<string, unknown>)[topic === TOPICS.transactions ? "transaction_id" : "interaction_id"]));
  const t0 = performance.now();
  let response: Response;
  try {
    response = await fetch(new URL(path, url), {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify(group.length === 1 ? group[0]!.event : group.map((e) => e.event)),
    });
  } catch (e) {
    throw new StreamError(`The ingestion API at ${url} did not answer: ${(e as Error).message}`, {
      fix: "Start it first (startApi() in the notebook, or npm run api) and pass its url.", context: { url }, cause: e,
    });
  }
  await response.arrayBuffer();
  if (response.status === 202) {
    report.accepted[topic].push(...ids);
    report.latenciesMs.push(performance.now() - t0);
  } else if (response.status === 400) report.rejected += group.length;
  else if (response.status === 503) report.unavailable.push(...ids);
  else throw new StreamError(`The ingestion API answered ${response.status} to POST ${path}.`, { fix: "See the API's log.", context: { url, path } });
}
