import { ValidationError } from '../../core/errors.js';
import type { StorageOptions } from '../../core/storage.js';
import type { ListCacheLimits } from './list-cache.js';
import { checkTableName, DEFAULT_TABLE } from './schema.js';

/**
 * Options of {@link SqliteStateStorage}; every field has a safe default.
 *
 * @example
 * const storage = new SqliteStateStorage('./data/plugin-states.db', {
 *   table: 'plugin_states', // the default
 *   synchronous: 'full', // the default: a save resolves once it would survive a power cut
 *   busyTimeoutMs: 5000, // how long a call waits for other processes' locks
 * });
 */
export interface SqliteStorageOptions extends StorageOptions {
  /**
   * The table holding the states (default `plugin_states`), created when missing: a name of
   * letters, digits and underscores. Beside it, `<table>_history` keeps the replaced revisions of
   * each state (see `history`). An existing table must have the store's shape, or opening fails
   * and nothing is changed. Its schema version is kept in the table `plugin_state_meta`.
   */
  table?: string;
  /**
   * `'full'` (default, durable): every save and delete resolves only after SQLite has fsynced the
   * write-ahead log, so it survives a power cut. `'normal'` is WEAKER and faster: commits are
   * fsynced only at checkpoints, so a power cut (not a crash of the process) may lose the last
   * acknowledged saves; the database itself stays consistent.
   */
  synchronous?: 'full' | 'normal';
  /**
   * How long one call waits in total while other processes hold the database's write lock, before
   * it fails with a `StorageError` saying the file is locked (default 5000 ms). The wait is spent
   * asynchronously between short attempts, so the event loop is not blocked for its length.
   */
  busyTimeoutMs?: number;
  /**
   * Keep parsed states in memory so that `listStates` parses only rows whose bytes changed (default
   * true). Rows over `maxEntryBytes` (default 64 KiB) or past `maxTotalBytes` (default 32 MiB) are
   * parsed on every list.
   */
  listCache?: boolean | { maxEntryBytes?: number; maxTotalBytes?: number };
}

/** The options with their defaults filled in, checked. */
export interface ResolvedOptions {
  table: string;
  synchronous: 'full' | 'normal';
  busyTimeoutMs: number;
  /** Undefined when the list cache is turned off. */
  listCache: ListCacheLimits | undefined;
}

export function resolveOptions(options: SqliteStorageOptions): ResolvedOptions {
  const table = checkTableName(options.table ?? DEFAULT_TABLE);
  const synchronous = options.synchronous ?? 'full';
  if (synchronous !== 'full' && synchronous !== 'normal') {
    throw configError(`synchronous must be 'full' or 'normal', got ${JSON.stringify(options.synchronous)}`);
  }
  const busyTimeoutMs = wholeNumber('busyTimeoutMs', options.busyTimeoutMs, 5000);
  const cache = options.listCache ?? true;
  let listCache: ListCacheLimits | undefined;
  if (cache !== false) {
    const limits = typeof cache === 'object' && cache !== null ? cache : {};
    listCache = {
      maxEntryBytes: wholeNumber('listCache.maxEntryBytes', limits.maxEntryBytes, 64 * 1024),
      maxTotalBytes: wholeNumber('listCache.maxTotalBytes', limits.maxTotalBytes, 32 * 1024 * 1024),
    };
  }
  return { table, synchronous, busyTimeoutMs, listCache };
}

export function configError(message: string): ValidationError {
  return new ValidationError(`SqliteStateStorage: ${message}.`, { operation: 'configure' });
}

function wholeNumber(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 0) {
    throw configError(`${name} must be a whole number >= 0, got ${String(value)}`);
  }
  return resolved;
}
