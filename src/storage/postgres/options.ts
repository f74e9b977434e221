import type { PoolConfig } from 'pg';
import { ValidationError } from '../../core/errors.js';
import type { StorageOptions } from '../../core/storage.js';

/**
 * Options of {@link PostgresStateStorage}; every field has a default.
 *
 * @example
 * const storage = new PostgresStateStorage(process.env.DATABASE_URL!, {
 *   schema: 'my_app',          // created if missing (default 'public')
 *   table: 'plugin_states',    // created if missing (the default)
 *   connectTimeoutMs: 2_000,   // connecting, or waiting for a free pooled connection
 *   queryTimeoutMs: 5_000,     // one statement's answer
 *   onReport: (report) => log.warn(report.message),
 * });
 */
export interface PostgresStorageOptions extends StorageOptions {
  /**
   * The schema holding the table, created if missing (default `'public'`). A plain identifier:
   * letters, digits and `_`, not starting with a digit or `pg_`, at most 63 characters. It is
   * quoted in SQL, so upper-case letters are kept as given.
   */
  schema?: string;
  /**
   * The table holding one row per plugin, created if missing (default `'plugin_states'`). A plain
   * identifier of at most 55 characters: its companions are `<table>_history` (the replaced
   * revisions of each state) and `<table>_meta` (the version of the tables' layout, so that later
   * versions of this library can migrate them).
   */
  table?: string;
  /**
   * How long an operation may wait to connect, or for a free connection of the pool, before it
   * fails with a `StorageError` (default 5,000 ms; for a `PoolConfig`, its `connectionTimeoutMillis`
   * when set).
   */
  connectTimeoutMs?: number;
  /**
   * How long one statement may wait for the server's answer before it fails with a `StorageError`
   * (default 10,000 ms; for a `PoolConfig`, its `query_timeout` when set). A save that times out may
   * or may not have been applied: the message says so, and loading the state tells.
   *
   * Both timeouts also hold with a pool the host passed in, whatever its own settings: each
   * statement carries its own timeout, and each operation a deadline of both timeouts plus 1 s.
   */
  queryTimeoutMs?: number;
  /**
   * Prepare the storage's statements once per connection (default true), which takes about a
   * quarter off each operation's latency. Set it to false behind a pooler that does not carry
   * prepared statements across its server connections (PgBouncer in transaction mode before 1.21).
   */
  prepareStatements?: boolean;
}

/**
 * The part of a node-postgres `Pool` this storage uses: pass your own `pg.Pool` (or any pool with
 * the same methods) and it is used as is, and never ended by `close()`.
 */
export interface PostgresPool {
  query(config: PostgresQuery): Promise<{ rows: unknown[] }>;
  connect(): Promise<PostgresPoolClient>;
  end(): Promise<void>;
  /** Present on a `pg.Pool`: where it connects, for messages. */
  readonly options?: Partial<Pick<PoolConfig, 'host' | 'port' | 'database' | 'connectionString'>>;
}

/** A connection borrowed from a {@link PostgresPool}, used to create the table in a transaction. */
export interface PostgresPoolClient {
  query(config: PostgresQuery): Promise<{ rows: unknown[] }>;
  /** Gives the connection back; with an error, the pool closes it instead of reusing it. */
  release(error?: Error | boolean): void;
}

/** One statement, in the form node-postgres takes it. */
export interface PostgresQuery {
  text: string;
  /** Prepares the statement under this name on each connection, once. */
  name?: string;
  values?: unknown[];
  rowMode?: 'array';
  /** node-postgres' own per-statement timeout, honoured by `pg.Client#query`. */
  query_timeout?: number;
}

/** What a storage was given to reach its server. */
export type PostgresConnection = string | PoolConfig | PostgresPool;

export const DEFAULT_SCHEMA = 'public';
export const DEFAULT_TABLE = 'plugin_states';
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 10_000;
/** PostgreSQL truncates longer identifiers silently (NAMEDATALEN - 1). */
const MAX_IDENTIFIER = 63;
export const META_SUFFIX = '_meta';
export const HISTORY_SUFFIX = '_history';
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The checked, quoted names of a storage's tables. */
export interface TableNames {
  schema: string;
  table: string;
  /** `"schema"."table"`, ready for SQL text. */
  qualified: string;
  /** `"schema"."table_meta"`, ready for SQL text. */
  meta: string;
  /** `"schema"."table_history"`, ready for SQL text. */
  history: string;
}

function refuse(message: string): ValidationError {
  return new ValidationError(`PostgresStateStorage: ${message}`, { operation: 'configure' });
}

/** Quotes an identifier for SQL text; the names reaching it are already checked. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function resolveTableNames(options: PostgresStorageOptions): TableNames {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const table = options.table ?? DEFAULT_TABLE;
  const check = (what: string, name: unknown, max: number) => {
    if (typeof name !== 'string' || !IDENTIFIER.test(name) || name.length > max) {
      throw refuse(
        `options.${what} must be a plain identifier (letters, digits and _, not starting with a digit, at most ${max} characters), got ${JSON.stringify(name)}.`,
      );
    }
  };
  check('schema', schema, MAX_IDENTIFIER);
  if (/^pg_/i.test(schema)) {
    throw refuse(
      `options.schema ${JSON.stringify(schema)} is refused: names starting with pg_ are reserved.`,
    );
  }
  // The longest companion name must fit too: PostgreSQL would cut it short, silently.
  check('table', table, MAX_IDENTIFIER - Math.max(META_SUFFIX.length, HISTORY_SUFFIX.length));
  return {
    schema,
    table,
    qualified: `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`,
    meta: `${quoteIdentifier(schema)}.${quoteIdentifier(table + META_SUFFIX)}`,
    history: `${quoteIdentifier(schema)}.${quoteIdentifier(table + HISTORY_SUFFIX)}`,
  };
}

export function resolveTimeout(what: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw refuse(`options.${what} must be a whole number of milliseconds >= 1, got ${String(value)}.`);
  }
  return value;
}

/** Whether `connection` is a pool the host already has, rather than a way to make one. */
export function isPool(connection: unknown): connection is PostgresPool {
  const candidate = connection as Partial<PostgresPool> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.query === 'function' &&
    typeof candidate.connect === 'function'
  );
}

/** Checks what the constructor was given and turns it into a pool config or the host's pool. */
export function resolveConnection(
  connection: unknown,
): { pool: PostgresPool; config?: undefined } | { pool?: undefined; config: PoolConfig } {
  if (typeof connection === 'string') {
    if (connection.trim() === '') throw refuse('the connection string is empty.');
    return { config: { connectionString: connection } };
  }
  if (isPool(connection)) return { pool: connection };
  if (typeof connection === 'object' && connection !== null && !Array.isArray(connection)) {
    return { config: { ...(connection as PoolConfig) } };
  }
  throw refuse(
    `expected a connection string (postgres://user@host:5432/db), a pg PoolConfig or a pg Pool, got ${connection === null ? 'null' : typeof connection}.`,
  );
}

/** Where a storage connects, for messages: never the password. */
export interface ServerAddress {
  host: string;
  port: number;
  database: string;
}

/**
 * Works out host, port and database the way node-postgres does (config, then connection string,
 * then the PG* environment variables, then its defaults), without loading it: messages must name
 * the server even when the driver is missing.
 */
export function describeServer(config: Partial<PoolConfig> | undefined): ServerAddress {
  const env = process.env;
  let host = config?.host;
  let port = config?.port === undefined ? undefined : Number(config.port);
  let database = config?.database;
  const text = config?.connectionString;
  if (text) {
    try {
      const url = new URL(text);
      const queryHost = url.searchParams.get('host');
      host = queryHost || decodeURIComponent(url.hostname).replace(/^\[|\]$/g, '') || host;
      port = url.port ? Number(url.port) : (port ?? undefined);
      const path = decodeURIComponent(url.pathname.slice(1));
      database = path || database;
    } catch {
      // Not a URL (a socket folder, say): the configured or default parts are the best guess.
    }
  }
  host ||= env.PGHOST || 'localhost';
  port ||= Number(env.PGPORT) || 5432;
  database ||= env.PGDATABASE || config?.user || env.PGUSER || 'postgres';
  return { host, port, database };
}
