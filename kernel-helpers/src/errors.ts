/**
 * One error root for the lab. Every error carries what a trainee needs to act:
 * what went wrong, where (file, table, column, endpoint) and the fix.
 */
export interface LabErrorDetails {
  /** What to do about it, in one sentence a trainee can follow. */
  readonly fix?: string;
  /** The file, table, column, endpoint… the error is about. */
  readonly context?: Readonly<Record<string, string | number | undefined>>;
  readonly cause?: unknown;
}

export class LabError extends Error {
  readonly fix: string | undefined;
  readonly context: Readonly<Record<string, string | number | undefined>>;

  constructor(message: string, details: LabErrorDetails = {}) {
    // The fix goes into the message too: tslab shows only the message text to the trainee.
    super(details.fix ? `${message}\n  → ${details.fix}` : message, { cause: details.cause });
    this.name = new.target.name;
    this.fix = details.fix;
    this.context = details.context ?? {};
  }
}

// Every error class of the lab, grouped by what the caller should do about it. The classes named after a
// part of the lab (IngestError, StreamError…) say where it happened; their parent says what to do.

/** Fix what you passed: a file, a spec, an option, a name, a request. Retrying the same input fails the same way. */
export class InputError extends LabError {}
/** Fix the environment or the lab folder (a variable, a credential, a set-up step). */
export class ConfigError extends LabError {}
/** A service did not answer or acknowledge: nothing was done; retry when it is back. */
export class UnavailableError extends LabError {}
/** Another writer committed a change to the same table first: nothing of this one was written; run it again. */
export class ConflictError extends LabError {}
/** A notebook check found a wrong result: look at the data and the step before. */
export class CheckFailedError extends LabError {}

/** DuckDB/DuckLake could not open, load an extension, or run a statement. */
export class CatalogError extends LabError {}
/** A bucket or object could not be read or written. */
export class StorageError extends LabError {}
/** A source file could not be landed or loaded into bronze. */
export class IngestError extends InputError {}
/** A quality rule set or column spec does not fit the data it is applied to. */
export class QualityError extends InputError {}
/** The stream sink could not read its source or commit a batch. */
export class StreamError extends LabError {}
/** The event store did not acknowledge: the events may be retried, none is reported as stored. */
export class PublishUnavailableError extends UnavailableError {}
/** The event store refused the events for a reason a retry cannot fix (too large, unknown topic, no permission). */
export class PublishRefusedError extends LabError {}
/** MLflow tracking (server or file store) refused or failed a call. */
export class TrackingError extends LabError {}
/** Training data could not be read, or a model could not be trained, saved or loaded. */
export class MlError extends LabError {}

/** The message of anything thrown, for wrapping vendor errors into ours. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
