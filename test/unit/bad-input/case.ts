/**
 * One kind of bad input and what the lab must answer: a named error, or a row kept with its reason,
 * and nothing lost. Each area lists its kinds in `<area>.cases.ts`; bad-input.test.ts runs them all
 * and reports how many kinds were tried.
 */
export interface BadInputCase {
  /** The area it enters by: "ingest", "refine", "gold", "stream", "api", "settings", "catalog". */
  readonly area: string;
  /** The bad input, in a few words: "Latin-1 CSV without a declared encoding". */
  readonly kind: string;
  /** What the lab answers: an error class (`IngestError`) or a reason (`rejected: line longer than …`, `quarantine: parse(…)`). */
  readonly answer: string;
  /** Feeds the input and asserts the answer, and that nothing was lost; throws when the lab answers otherwise. */
  run(): Promise<void>;
}
