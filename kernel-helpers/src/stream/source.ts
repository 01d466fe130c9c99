// Defined with every other error class; re-exported where the stream's modules import it from.
export { StreamError } from "../errors.js";

/** One message as the sink sees it, whichever source it came from. */
export interface StreamMessage {
  readonly topic: string;
  readonly partition: number;
  /** Position within (topic, partition); the next position to read is `offset + 1`. */
  readonly offset: number;
  /** Milliseconds since the epoch: Kafka's message timestamp, or when a landing-folder line was read. */
  readonly timestamp: number;
  readonly key: string | null;
  /** The payload as text; null for a Kafka tombstone. */
  readonly value: string | null;
}

/** Where a (topic, partition) continues: the offset of the next message to consume. */
export interface Position {
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: number;
  /** A human-readable anchor the source can check on restart (the folder source stores "file:line"). */
  readonly anchor?: string | null;
}

export function positionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * A source of messages the sink drains in micro-batches. The lake, not the source, owns the
 * positions: `start` receives what bronze.stream_offsets holds, and `committed` is called after
 * every batch the lake has committed.
 */
export interface StreamSource {
  /** Names the source in bronze.stream_offsets; keep it stable or the sink starts over. */
  readonly name: string;
  readonly topics: readonly string[];
  start(positions: readonly Position[]): Promise<void>;
  /** Up to `max` messages, waiting at most `maxWaitMs` for the first one(s); may return fewer. */
  poll(max: number, maxWaitMs: number, signal?: AbortSignal): Promise<StreamMessage[]>;
  /** The anchor to store with a message's next position (folder sources name file and line). */
  anchorAfter?(message: StreamMessage): string | null;
  committed(positions: readonly Position[]): void;
  close(): Promise<void>;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
