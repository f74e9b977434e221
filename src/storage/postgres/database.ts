import type { PoolConfig } from 'pg';
import type { PluginStateError } from '../../core/errors.js';
import type { PluginId, ReportHook } from '../../core/types.js';
import { loadPool, withDeadline } from './driver.js';
import { postgresError } from './errors.js';
import type { PostgresPool, PostgresQuery, ServerAddress } from './options.js';
import type { RunQuery, SchemaSession } from './schema.js';

/** Extra time given to node-postgres' own timeouts before the backstop deadline fires. */
const DEADLINE_MARGIN_MS = 1_000;

export interface DatabaseSettings {
  /** The host's pool, used as is and never ended; or the config of a pool made here. */
  source: { pool: PostgresPool; config?: undefined } | { pool?: undefined; config: PoolConfig };
  server: ServerAddress;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  /** The storage's location for messages: server, table and row. */
  location: (pluginId?: PluginId) => string;
  report: ReportHook;
}

/**
 * The storage's way to its server: the pool (the host's, or one made on first use and ended on
 * close), every statement bounded by the timeouts, and every failure turned into a typed error
 * that names host, port and table.
 */
export class Database {
  /** `host:port`, as every connection failure names it. */
  readonly label: string;
  private pool: PostgresPool | undefined;

  constructor(private readonly settings: DatabaseSettings) {
    this.label = `${settings.server.host}:${settings.server.port}`;
  }

  /** Makes the pool, unless the host gave one or it exists already. */
  async start(): Promise<void> {
    this.pool ??= this.settings.source.pool ?? (await this.createPool());
  }

  /** Ends the pool if it was made here; the host's pool is left open. */
  async stop(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool && !this.settings.source.pool) await pool.end().catch(() => undefined);
  }

  /** Runs one statement on the pool and returns its rows. */
  async query(
    operation: string,
    pluginId: PluginId | undefined,
    write: boolean,
    query: PostgresQuery,
  ): Promise<unknown[]> {
    const { connectTimeoutMs, queryTimeoutMs } = this.settings;
    try {
      const result = await withDeadline(
        this.pool!.query({ ...query, query_timeout: queryTimeoutMs }),
        connectTimeoutMs + queryTimeoutMs + DEADLINE_MARGIN_MS,
        `${operation} on ${this.label}`,
      );
      return result.rows;
    } catch (error) {
      throw this.failure(error, operation, pluginId, write);
    }
  }

  /** Turns what node-postgres threw into the library's typed error. */
  failure(
    error: unknown,
    operation: string,
    pluginId: PluginId | undefined,
    write: boolean,
  ): PluginStateError {
    const { connectTimeoutMs, queryTimeoutMs } = this.settings;
    return postgresError(error, {
      operation,
      pluginId,
      write,
      location: this.settings.location(pluginId),
      server: this.label,
      timeouts: `connectTimeoutMs ${connectTimeoutMs}, queryTimeoutMs ${queryTimeoutMs}`,
    });
  }

  /** What creating the tables needs: statements, and a transaction on one connection. */
  session(): SchemaSession {
    const { connectTimeoutMs, queryTimeoutMs } = this.settings;
    const query: RunQuery = async <R>(text: string, values?: unknown[]) =>
      (await this.query('open', undefined, false, { text, values })) as R[];
    const transaction = async <T>(body: (query: RunQuery) => Promise<T>): Promise<T> => {
      const client = await withDeadline(
        this.pool!.connect(),
        connectTimeoutMs + DEADLINE_MARGIN_MS,
        `open: connecting to ${this.label}`,
        (late) => late.release(),
      );
      const run: RunQuery = async <R>(text: string, values?: unknown[]) => {
        const result = await withDeadline(
          client.query({ text, values, query_timeout: queryTimeoutMs }),
          queryTimeoutMs + DEADLINE_MARGIN_MS,
          `open on ${this.label}`,
        );
        return result.rows as R[];
      };
      try {
        await run('BEGIN');
        const result = await body(run);
        await run('COMMIT');
        client.release();
        return result;
      } catch (error) {
        // Closing the connection rolls the transaction back, whatever state the connection is in.
        client.release(error instanceof Error ? error : true);
        throw error;
      }
    };
    return { query, transaction };
  }

  private async createPool(): Promise<PostgresPool> {
    const { source, connectTimeoutMs, queryTimeoutMs, report } = this.settings;
    const Pool = await loadPool();
    const pool = new Pool({
      application_name: 'plugin-state',
      keepAlive: true,
      // An idle pool must not keep the host's process alive: close() is for releasing, not for exiting.
      allowExitOnIdle: true,
      ...source.config,
      connectionTimeoutMillis: connectTimeoutMs,
      query_timeout: queryTimeoutMs,
    });
    // Without a listener, an idle connection dropped by the server would crash the process.
    pool.on('error', (error) => {
      report({
        operation: 'connection',
        code: 'STORAGE',
        error,
        message: `an idle connection to PostgreSQL at ${this.label} failed (${error.message}); the pool opens a new one when needed.`,
      });
    });
    return pool;
  }
}
