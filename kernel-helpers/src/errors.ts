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

/** The environment or lab folder is not usable. */
export class ConfigError extends LabError {}
/** DuckDB/DuckLake could not open, load an extension, or run a statement. */
export class CatalogError extends LabError {}
/** A bucket or object could not be read or written. */
export class StorageError extends LabError {}
/** A source file could not be landed or loaded into bronze. */
export class IngestError extends LabError {}
/** A quality rule set does not fit the data it is applied to. */
export class QualityError extends LabError {}
/** A notebook check found a wrong result. */
export class CheckFailedError extends LabError {}

/** The message of anything thrown, for wrapping vendor errors into ours. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
