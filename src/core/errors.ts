import type { PluginId } from './types.js';

/** Stable codes of the error classes; match on these (or `instanceof`), never on messages. */
export type PluginStateErrorCode =
  | 'STORAGE'
  | 'SERIALIZATION'
  | 'VALIDATION'
  | 'PERMISSION'
  | 'VERSION_INCOMPATIBLE'
  | 'CONFLICT'
  | 'INTEGRITY'
  | 'BATCH';

/** Where and in what an error happened; every field is optional, the message already names them. */
export interface ErrorContext {
  pluginId?: PluginId;
  operation?: string;
  /** The file, table or key involved. */
  location?: string;
  cause?: unknown;
}

/** Base class of every error the library throws. */
export class PluginStateError extends Error {
  readonly code: PluginStateErrorCode;
  readonly pluginId: PluginId | undefined;
  readonly operation: string | undefined;
  readonly location: string | undefined;

  constructor(code: PluginStateErrorCode, message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.code = code;
    this.pluginId = context.pluginId;
    this.operation = context.operation;
    this.location = context.location;
  }
}

/** The medium failed: I/O, connection, disk full, or the store is closed. */
export class StorageError extends PluginStateError {
  constructor(message: string, context?: ErrorContext) {
    super('STORAGE', message, context);
  }
}

/** Stored bytes do not parse or do not hold a valid record (corrupt, truncated). */
export class SerializationError extends PluginStateError {
  constructor(message: string, context?: ErrorContext) {
    super('SERIALIZATION', message, context);
  }
}

/** One thing wrong with a value, at a JSON path such as `data.items[3].when`. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** Bad id, a value that is not plain JSON, a limit exceeded, a dangerous key, a schema violation. */
export class ValidationError extends PluginStateError {
  readonly issues: readonly ValidationIssue[];

  constructor(message: string, context?: ErrorContext & { issues?: ValidationIssue[] }) {
    super('VALIDATION', message, context);
    this.issues = context?.issues ?? [];
  }
}

/** The operating system denied access, or access control refused a plugin. */
export class PermissionError extends PluginStateError {
  constructor(message: string, context?: ErrorContext) {
    super('PERMISSION', message, context);
  }
}

/** Versions involved in a `VersionIncompatibilityError`; each is set when it is known. */
export interface VersionContext {
  /** The version of the stored state. */
  storedVersion?: number;
  /** The version the plugin's contract (or the save) supports. */
  supportedVersion?: number;
  /** The migration step that is missing or failed: the version it migrates to. */
  step?: number;
}

/** The stored version is newer than the plugin's, or no migration path exists. */
export class VersionIncompatibilityError extends PluginStateError {
  readonly storedVersion: number | undefined;
  readonly supportedVersion: number | undefined;
  readonly step: number | undefined;

  constructor(message: string, context?: ErrorContext & VersionContext) {
    super('VERSION_INCOMPATIBLE', message, context);
    this.storedVersion = context?.storedVersion;
    this.supportedVersion = context?.supportedVersion;
    this.step = context?.step;
  }
}

/** `expectedRevision` did not match what is stored. */
export class ConflictError extends PluginStateError {
  /** The revision stored when the save was refused; 0 when nothing was stored. */
  readonly storedRevision: number;
  readonly expectedRevision: number;

  constructor(message: string, context: ErrorContext & { storedRevision: number; expectedRevision: number }) {
    super('CONFLICT', message, context);
    this.storedRevision = context.storedRevision;
    this.expectedRevision = context.expectedRevision;
  }
}

/** Encrypted or checksummed bytes failed authentication (tampered, wrong key). */
export class IntegrityError extends PluginStateError {
  constructor(message: string, context?: ErrorContext) {
    super('INTEGRITY', message, context);
  }
}

/** One plugin's failure inside a call over many plugins. */
export interface BatchFailure {
  pluginId: PluginId;
  error: unknown;
}

/** A call over many plugins had failures; every other plugin was still done. */
export class BatchError extends PluginStateError {
  readonly failures: readonly BatchFailure[];

  constructor(operation: string, failures: BatchFailure[], total: number) {
    const list = failures.map((f) => `${f.pluginId} (${describeError(f.error)})`).join('; ');
    super(
      'BATCH',
      `${operation}: ${failures.length} of ${total} plugins failed: ${list}. The other plugins were done; see each failure's error.`,
      { operation },
    );
    this.failures = failures;
  }
}

/** A short description of any thrown value, for messages. */
export function describeError(error: unknown): string {
  if (error instanceof PluginStateError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return error.message;
  return String(error);
}
