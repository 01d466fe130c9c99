/**
 * Retry with exponential backoff, for services that may still be starting. Only errors the caller
 * calls transient are retried, and only for a bounded time; the last error is rethrown.
 */
export interface RetryOptions {
  /** Give up after this long, in milliseconds. */
  readonly timeoutMs?: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly isTransient: (error: unknown) => boolean;
  /** Called before each wait, e.g. to print "MinIO not ready yet, retrying". */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

export async function retry<T>(work: () => Promise<T>, options: RetryOptions): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let delay = options.initialDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (e) {
      if (!options.isTransient(e) || Date.now() + delay > deadline) throw e;
      options.onRetry?.(e, attempt, delay);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, options.maxDelayMs ?? 4000);
    }
  }
}

/** Connection-level failures that a service still starting up produces. */
export function isConnectionError(error: unknown): boolean {
  // ENOTFOUND too: on a compose network a stopped container's name stops resolving until it is back.
  const codes = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENOTFOUND", "UND_ERR_SOCKET"]);
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: string }).code;
    if (code && codes.has(code)) return true;
    const msg = e instanceof Error ? e.message : String(e);
    // libpq says "connection to server … failed" for a wrong password too; only these mean "not up (yet)".
    if (/ECONNREFUSED|Connection refused|timeout expired|the database system is starting up|the database system is shutting down/i.test(msg)) return true;
    if (e === (e as { cause?: unknown }).cause) break;
  }
  return false;
}
