import { SerializationError } from '../../core/errors.js';
import { GuardedStorage, type ValidRecord } from '../../core/guarded-storage.js';
import type { PluginId, PluginState } from '../../core/types.js';
import { Database } from './database.js';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_QUERY_TIMEOUT_MS,
  describeServer,
  type PostgresConnection,
  type PostgresStorageOptions,
  resolveConnection,
  resolveTableNames,
  resolveTimeout,
  type ServerAddress,
  type TableNames,
} from './options.js';
import { decodeRow, type StoredRow } from './rows.js';
import { ensureTables } from './schema.js';
import { type Statement, statements } from './statements.js';

/** Attempts of a compare-and-set whose miss cannot be explained by the revision read after it. */
const CAS_ATTEMPTS = 3;

/**
 * Stores each plugin's state as one row of a PostgreSQL table, through node-postgres (`pg`, an
 * optional peer dependency: `npm install pg`). Several application instances may share the table:
 * every save is one statement that checks and increments the revision atomically, so
 * compare-and-set holds across instances and no acknowledged write is lost.
 *
 * - **Connection**: a connection string, a `pg` `PoolConfig`, or a `pg.Pool` the host already has.
 *   A pool the host passed in stays the host's: `close()` never ends it.
 * - **Tables**: on first use the storage creates `schema` (default `public`), the table (default
 *   `plugin_states`) and `<table>_meta` (the layout version, for later migrations) when missing,
 *   safely when many instances start at once; an existing table of another shape is refused, untouched.
 *   Columns: `plugin_id uuid` (primary key), `version bigint`, `revision bigint`, `last_modified
 *   bigint` (milliseconds since 1970 UTC: exact for every JavaScript date), `data text` — the JSON
 *   text exactly as saved (`jsonb` would refuse `\u0000` and reorder keys).
 * - **Durability**: a save resolves once its transaction committed, as durable as the server's
 *   `synchronous_commit` (on by default) makes it.
 * - **Failures**: an unreachable or lost server is a `StorageError` naming host and port within
 *   `connectTimeoutMs` + `queryTimeoutMs`; the pool reconnects by itself once the server is back.
 *   A row whose data does not parse is a `SerializationError` naming server, table and plugin id,
 *   and is left as it is; `listStates` skips it and reports it through `onReport`.
 *
 * @example
 * import { PostgresStateStorage } from 'plugin-state/postgres';
 *
 * const storage = new PostgresStateStorage('postgres://app@db.internal:5432/app', {
 *   schema: 'plugins',
 *   queryTimeoutMs: 5_000,
 * });
 * const saved = await storage.saveState({ pluginId, data: { theme: 'dark' }, lastModified: new Date() });
 * // Only if nobody saved in between (any instance, any process):
 * await storage.saveState({ ...saved, data: { theme: 'light' } }, { expectedRevision: saved.revision });
 * await storage.close(); // ends the pool it created
 *
 * @example
 * // With the application's own pool, which stays open after close():
 * import pg from 'pg';
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
 * const storage = new PostgresStateStorage(pool, { table: 'plugin_states' });
 */
export class PostgresStateStorage extends GuardedStorage {
  /** The schema holding the table. */
  readonly schema: string;
  /** The table holding one row per plugin. */
  readonly table: string;
  private readonly names: TableNames;
  private readonly server: ServerAddress;
  private readonly sql: ReturnType<typeof statements>;
  private readonly db: Database;

  /**
   * @param connection A connection string (`postgres://user:password@host:5432/database`), a `pg`
   *   `PoolConfig`, or a `pg.Pool` (or a pool with the same `query`/`connect` methods) the host owns.
   * @param options Schema, table, timeouts, limits and the report hook.
   */
  constructor(connection: PostgresConnection, options: PostgresStorageOptions = {}) {
    super(options);
    const source = resolveConnection(connection);
    this.names = resolveTableNames(options);
    this.schema = this.names.schema;
    this.table = this.names.table;
    this.server = describeServer(source.config ?? source.pool.options);
    this.sql = statements(this.names.qualified, options.prepareStatements ?? true);
    this.db = new Database({
      source,
      server: this.server,
      connectTimeoutMs: resolveTimeout(
        'connectTimeoutMs',
        options.connectTimeoutMs,
        source.config?.connectionTimeoutMillis || DEFAULT_CONNECT_TIMEOUT_MS,
      ),
      queryTimeoutMs: resolveTimeout(
        'queryTimeoutMs',
        options.queryTimeoutMs,
        source.config?.query_timeout || DEFAULT_QUERY_TIMEOUT_MS,
      ),
      location: (pluginId) => this.describeLocation(pluginId),
      report: (report) => this.report(report),
    });
  }

  protected describeLocation(pluginId?: PluginId): string {
    const { host, port, database } = this.server;
    const place = `PostgreSQL ${host}:${port}/${database}, table ${this.names.qualified}`;
    return pluginId ? `${place}, row ${pluginId}` : place;
  }

  protected async openStore(): Promise<void> {
    await this.db.start();
    try {
      await ensureTables(this.db.session(), this.names);
    } catch (error) {
      // Nothing stays open behind a failed start; a later operation starts again.
      await this.db.stop();
      throw this.db.failure(error, 'open', undefined, false);
    }
  }

  protected async writeRecord(record: ValidRecord, expectedRevision: number | undefined): Promise<number> {
    const { pluginId } = record;
    const values = [pluginId, record.version, record.lastModified.getTime(), record.dataJson];
    if (expectedRevision === undefined) {
      return revisionOf(await this.write(pluginId, this.sql.upsert, values));
    }
    for (let attempt = 1; ; attempt++) {
      const rows =
        expectedRevision === 0
          ? await this.write(pluginId, this.sql.insertNew, values)
          : await this.write(pluginId, this.sql.updateAt, [...values, expectedRevision]);
      if (rows.length > 0) return revisionOf(rows);
      const stored = await this.storedRevision(pluginId);
      // Equal only if the row changed between the two statements (deleted, then saved back up to
      // the same revision): the save may still apply, so it is tried again.
      if (stored !== expectedRevision || attempt >= CAS_ATTEMPTS) {
        throw this.conflict(pluginId, expectedRevision, stored);
      }
    }
  }

  protected async readRecord(pluginId: PluginId): Promise<PluginState | undefined> {
    const [row] = await this.read<StoredRow>('loadState', pluginId, this.sql.load, [pluginId]);
    return row && this.decode('loadState', pluginId, row);
  }

  protected async removeRecord(pluginId: PluginId): Promise<void> {
    await this.db.query('deleteState', pluginId, true, { ...this.sql.remove, values: [pluginId] });
  }

  protected async readAllRecords(): Promise<PluginState[]> {
    const rows = await this.read<[string, ...StoredRow]>('listStates', undefined, this.sql.list, []);
    const states: PluginState[] = [];
    const corrupt: Array<{ pluginId: PluginId; error: Error }> = [];
    for (const [pluginId, ...row] of rows) {
      try {
        states.push(this.decode('listStates', pluginId, row));
      } catch (error) {
        if (!(error instanceof SerializationError)) throw error;
        corrupt.push({ pluginId, error });
      }
    }
    this.reportSkipped(corrupt);
    return states;
  }

  protected async closeStore(): Promise<void> {
    await this.db.stop();
  }

  private write(pluginId: PluginId, statement: Statement, values: unknown[]): Promise<unknown[]> {
    return this.db.query('saveState', pluginId, true, { ...statement, values, rowMode: 'array' });
  }

  private async read<R>(
    operation: string,
    pluginId: PluginId | undefined,
    statement: Statement,
    values: unknown[],
  ): Promise<R[]> {
    const query = { ...statement, values, rowMode: 'array' as const };
    return (await this.db.query(operation, pluginId, false, query)) as R[];
  }

  private async storedRevision(pluginId: PluginId): Promise<number> {
    const rows = await this.read<[string]>('saveState', pluginId, this.sql.revision, [pluginId]);
    return rows.length === 0 ? 0 : revisionOf(rows);
  }

  private decode(operation: string, pluginId: PluginId, row: StoredRow): PluginState {
    return decodeRow(pluginId, row, this.limits, (problem, cause) => {
      const location = this.describeLocation(pluginId);
      return new SerializationError(
        `${operation}: the state of plugin ${pluginId} in ${location} is corrupt: ${problem}. ` +
          'The row was left as it is: repair it, or delete the state (deleteState) to start over.',
        { pluginId, operation, location, cause },
      );
    });
  }
}

function revisionOf(rows: unknown[]): number {
  return Number((rows[0] as [string])[0]);
}
