import {
  ConflictError,
  IntegrityError,
  PermissionError,
  SerializationError,
  ValidationError,
  VersionIncompatibilityError,
} from '../../core/errors.js';

/** Errno codes of a resource that is busy or exhausted for a moment. */
const BUSY_ERRNO = new Set(['EBUSY', 'EAGAIN', 'EMFILE', 'ENFILE']);
/** Errno codes of a connection refused, reset or cut, which a reconnect may cure. */
const NETWORK_ERRNO = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ECONNABORTED',
  'ENOTCONN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
]);
/** PostgreSQL: serialization failure, deadlock, server starting or shutting down, too many connections. */
const TRANSIENT_SQLSTATE = new Set(['40001', '40P01', '57P01', '57P02', '57P03', '53300']);
/** node-postgres reports a dropped connection in words, without a code. */
const LOST_CONNECTION =
  /Connection terminated|connection to server was lost|Client has encountered a connection error/i;

/** The same error and its causes, outermost first (bounded: a cause cycle must not hang). */
function chain(error: unknown): unknown[] {
  const errors: unknown[] = [];
  for (let current = error; current !== undefined && current !== null && errors.length < 8; ) {
    errors.push(current);
    if (current instanceof AggregateError) errors.push(...current.errors);
    current = (current as { cause?: unknown }).cause;
  }
  return errors;
}

/**
 * True for a failure that trying again may cure: a busy or exhausted resource (EBUSY, EAGAIN,
 * EMFILE, ENFILE, SQLITE_BUSY), a connection refused or reset, a PostgreSQL serialization failure
 * (40001) or deadlock (40P01), a server starting up. Never for what trying again cannot change or
 * must not hide: validation, conflicts, permissions, corrupt or tampered data, a newer version, and
 * above all a failed fsync — the kernel may have dropped the unwritten pages, so a retried fsync
 * can succeed without the data being on disk.
 */
export function isTransientError(error: unknown): boolean {
  if (
    error instanceof ValidationError ||
    error instanceof ConflictError ||
    error instanceof PermissionError ||
    error instanceof SerializationError ||
    error instanceof IntegrityError ||
    error instanceof VersionIncompatibilityError
  ) {
    return false;
  }
  const errors = chain(error);
  if (errors.some((e) => /^f(data)?sync$/.test(String((e as { syscall?: unknown }).syscall)))) return false;
  return errors.some((e) => {
    const code = (e as { code?: unknown } | null)?.code;
    if (typeof code === 'string') {
      if (BUSY_ERRNO.has(code) || NETWORK_ERRNO.has(code) || TRANSIENT_SQLSTATE.has(code)) return true;
      if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED') return true;
      if (/^08[0-9A-Z]{3}$/.test(code)) return true; // PostgreSQL connection exceptions
    }
    return e instanceof Error && LOST_CONNECTION.test(e.message);
  });
}
