import { PermissionError, PluginStateError, StorageError } from '../../core/errors.js';
import type { PluginId } from '../../core/types.js';

/** What a failed statement was doing, for the message. */
export interface FailureContext {
  operation: string;
  pluginId?: PluginId | undefined;
  /** The storage's location (server, table, row). */
  location: string;
  /** `host:port`, named in every connection failure. */
  server: string;
  /** Whether the statement changes data: a write cut short may or may not have been applied. */
  write: boolean;
  /** The configured timeouts, named when one of them ran out. */
  timeouts: string;
}

/** Raised by this backend when neither node-postgres nor the server answered in time. */
export class DeadlineError extends Error {}

/** System error codes that mean the server cannot be reached, or the connection was lost. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ENOENT', // a Unix socket that is not there
]);

/** node-postgres' own messages for a lost connection or a timeout; it gives them no code. */
const LOST_CONNECTION =
  /Connection terminated|Query read timeout|timeout exceeded when trying to connect|connection timeout|Client has encountered a connection error|Client was closed|not queryable/i;

/** SQLSTATE classes and codes meaning the server is unavailable right now (retry later). */
function isUnavailable(sqlState: string): boolean {
  return (
    sqlState.startsWith('08') || // connection exception
    sqlState === '57P01' || // admin_shutdown
    sqlState === '57P02' || // crash_shutdown
    sqlState === '57P03' || // cannot_connect_now (starting up, recovering)
    sqlState === '53300' // too_many_connections
  );
}

function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    // Node's happy-eyeballs connect reports one error per address tried.
    return error.errors.map(reasonOf).join('; ');
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return error.message || (typeof code === 'string' ? code : error.name);
  }
  return String(error);
}

/** Turns whatever node-postgres threw into the library's typed error, naming server and table. */
export function postgresError(error: unknown, context: FailureContext): PluginStateError {
  if (error instanceof PluginStateError) return error;
  const { operation, pluginId, location, server, write, timeouts } = context;
  const subject = pluginId ? ` of plugin ${pluginId}` : '';
  const details = { pluginId, operation, location, cause: error };
  const reason = reasonOf(error);
  const code = (error as { code?: unknown } | null)?.code;
  const sqlState = sqlStateOf(error);
  const unknownOutcome = write
    ? ' The change may or may not have been applied: load the state to see what is stored.'
    : '';

  if (
    error instanceof DeadlineError ||
    (typeof code === 'string' && NETWORK_CODES.has(code)) ||
    (error instanceof AggregateError && !sqlState) ||
    (!sqlState && LOST_CONNECTION.test(reason)) ||
    (sqlState !== undefined && isUnavailable(sqlState))
  ) {
    const refused = code === 'ECONNREFUSED' || sqlState === '57P03';
    const timedOut = error instanceof DeadlineError || /timeout/i.test(reason) ? `, with ${timeouts}` : '';
    return new StorageError(
      `${operation}${subject}: cannot reach PostgreSQL at ${server} (${reason}${timedOut}). ` +
        'Check that the server is running and reachable from here, and the connection settings; ' +
        `the storage reconnects by itself on a later operation.${refused ? '' : unknownOutcome}`,
      details,
    );
  }
  if (/Cannot use a pool after calling end|pool is ending|Called end on pool/i.test(reason)) {
    return new StorageError(
      `${operation}${subject}: the pg Pool given to PostgresStateStorage for ${server} has been ended by its owner. ` +
        'Close the storage before ending the pool, or give it a pool that is still open.',
      details,
    );
  }
  switch (sqlState) {
    case '42501': // insufficient_privilege
      return new PermissionError(
        `${operation}${subject}: PostgreSQL at ${server} refused access to ${location} (${reason}). ` +
          'Grant the role USAGE on the schema and SELECT, INSERT, UPDATE, DELETE on the table (and CREATE, for the first start).',
        details,
      );
    case '28P01': // invalid_password
    case '28000': // invalid_authorization_specification
      return new StorageError(
        `${operation}${subject}: PostgreSQL at ${server} refused the login (${reason}). Check the user and password of the connection.`,
        details,
      );
    case '3D000': // invalid_catalog_name
      return new StorageError(
        `${operation}${subject}: PostgreSQL at ${server} has no such database (${reason}). Create it, or fix the database in the connection settings.`,
        details,
      );
    case '42P01': // undefined_table
    case '3F000': // invalid_schema_name
      return new StorageError(
        `${operation}${subject}: ${location} is gone (${reason}); it was dropped after the storage opened it. ` +
          'Open a new storage instance: it creates the table again.',
        details,
      );
    case '55P03': // lock_not_available: lock_timeout ran out waiting for another writer of this state
      return new StorageError(
        `${operation}${subject}: another writer held the state in ${location} for longer than this call may wait (four fifths of queryTimeoutMs: ${reason}); nothing was changed. Try again.`,
        details,
      );
    case '57014': // query_canceled (statement_timeout, or a cancel from an administrator): rolled back
      return new StorageError(
        `${operation}${subject}: PostgreSQL at ${server} cancelled the statement on ${location} (${reason}); nothing was changed. Try again.`,
        details,
      );
    default:
      return new StorageError(
        `${operation}${subject} failed on ${location}: ${sqlState ? `PostgreSQL error ${sqlState}: ` : ''}${reason}`,
        details,
      );
  }
}
