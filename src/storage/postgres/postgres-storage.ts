import { createHash } from 'node:crypto';
import { SerializationError } from '../../core/errors.js';
import { GuardedStorage, type ValidRecord, type WriteConditions } from '../../core/guarded-storage.js';
import type { PluginId, PluginState, RevisionInfo } from '../../core/types.js';
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
import { decodeRevisionInfo, decodeRow, type RevisionRow, type StoredRow } from './rows.js';
import { ensureTables } from './schema.js';
import { type Statement, statements } from './statements.js';

/**
 * Stores each plugin's state as one row of a PostgreSQL table, through node-postgres (`pg`, an
 * optional peer dependency: `npm install pg`). Several application instances may share the table:
 * every save is one statement (a call of the table's save function) that, under an advisory lock
 * of the plugin id, checks and increments the revision, keeps the replaced row in history and
 * prunes it, in one transaction; so compare-and-set and `maxStoredVersion` hold across instances
 * and no acknowledged write (or kept revision) is lost.
 *
 * - **Connection**: a connection string, a `pg` `PoolConfig`, or a `pg.Pool` the host already has.
 *   A pool the host passed in stays the host's: `close()` never ends it.
 * - **Tables**: on first use the storage creates `schema` (default `public`), the table (default
 *   `plugin_states`), `<table>_history` (the replaced revisions: primary key `plugin_id, revision`,
 *   the same columns), `<table>_meta` (the layout version, for later migrations) and the write
 *   functions `<table>_save`, `<table>_delete`, `<table>_purge` when missing, safely when many
 *   instances start at once; an existing table of another shape is refused, untouched. Tables of
 *   the previous layout (no history) are upgraded in place.
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
  /** The first half of each plugin id's advisory lock key: this table's. */
  private readonly lockClass: number;
  private readonly lockTimeoutMs: number;

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
    this.sql = statements(this.names, options.prepareStatements ?? true);
    this.lockClass = hash32(`plugin-state ${this.names.qualified}`);
    const queryTimeoutMs = resolveTimeout(
      'queryTimeoutMs',
      options.queryTimeoutMs,
      source.config?.query_timeout || DEFAULT_QUERY_TIMEOUT_MS,
    );
    // PostgreSQL's lock_timeout is an integer of milliseconds, at most 2^31 - 1; 0 would mean no limit.
    this.lockTimeoutMs = Math.max(1, Math.min(Math.floor(queryTimeoutMs * 0.8), 2 ** 31 - 1));
    this.db = new Database({
      source,
      server: this.server,
      connectTimeoutMs: resolveTimeout(
        'connectTimeoutMs',
        options.connectTimeoutMs,
        source.config?.connectionTimeoutMillis || DEFAULT_CONNECT_TIMEOUT_MS,
      ),
      queryTimeoutMs,
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

  protected async writeRecord(record: ValidRecord, conditions: WriteConditions): Promise<number> {
    const { pluginId } = record;
    const { expectedRevision, maxStoredVersion, keepRevisions } = conditions;
    const values = [
      pluginId,
      record.version,
      record.lastModified.getTime(),
      record.dataJson,
      expectedRevision ?? null,
      maxStoredVersion ?? null,
      keepRevisions,
      ...this.lockOf(pluginId),
    ];
    const rows = await this.db.query('saveState', pluginId, true, {
      ...this.sql.save,
      values,
      rowMode: 'array',
    });
    const [storedRevision, storedVersion, revision] = rows[0] as [
      string | null,
      string | null,
      string | null,
    ];
    if (revision !== null) return Number(revision);
    const stored = storedRevision === null ? 0 : Number(storedRevision);
    if (expectedRevision !== undefined && expectedRevision !== stored) {
      throw this.conflict(pluginId, expectedRevision, stored);
    }
    // The revision matched, so the version refused it (a refused save writes nothing at all).
    throw this.versionTooNew(pluginId, Number(storedVersion), maxStoredVersion!);
  }

  protected async readRecord(pluginId: PluginId): Promise<PluginState | undefined> {
    const [row] = await this.read<StoredRow>('loadState', pluginId, this.sql.load, [pluginId]);
    return row && this.decode('loadState', pluginId, row);
  }

  protected async removeRecord(pluginId: PluginId, keepRevisions: number): Promise<void> {
    const values = [pluginId, keepRevisions, ...this.lockOf(pluginId)];
    await this.db.query('deleteState', pluginId, true, { ...this.sql.remove, values });
  }

  protected async purgeRecord(pluginId: PluginId): Promise<void> {
    const values = [pluginId, ...this.lockOf(pluginId)];
    await this.db.query('purgeState', pluginId, true, { ...this.sql.purge, values });
  }

  protected async listRecordRevisions(pluginId: PluginId): Promise<RevisionInfo[]> {
    // One statement: the current row and history come from one snapshot.
    const rows = await this.read<RevisionRow>('listRevisions', pluginId, this.sql.revisions, [pluginId]);
    const revisions = rows.map((row) =>
      decodeRevisionInfo(row, (problem) => this.corrupt('listRevisions', pluginId, problem, !row[0])),
    );
    return revisions.sort((a, b) =>
      a.current !== b.current ? (a.current ? -1 : 1) : b.revision - a.revision,
    );
  }

  protected async readRecordRevision(pluginId: PluginId, revision: number): Promise<PluginState | undefined> {
    const [row] = await this.read<[boolean, ...StoredRow]>('loadRevision', pluginId, this.sql.revision, [
      pluginId,
      revision,
    ]);
    if (!row) return undefined;
    const [current, ...stored] = row;
    return decodeRow(pluginId, stored, this.limits, (problem, cause) =>
      this.corrupt('loadRevision', pluginId, problem, !current, cause),
    );
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

  private async read<R>(
    operation: string,
    pluginId: PluginId | undefined,
    statement: Statement,
    values: unknown[],
  ): Promise<R[]> {
    const query = { ...statement, values, rowMode: 'array' as const };
    return (await this.db.query(operation, pluginId, false, query)) as R[];
  }

  private decode(operation: string, pluginId: PluginId, row: StoredRow): PluginState {
    return decodeRow(pluginId, row, this.limits, (problem, cause) =>
      this.corrupt(operation, pluginId, problem, false, cause),
    );
  }

  /** A corrupt row of the state table, or (`inHistory`) of its history table. */
  private corrupt(
    operation: string,
    pluginId: PluginId,
    problem: string,
    inHistory: boolean,
    cause?: unknown,
  ): SerializationError {
    if (!inHistory) {
      const location = this.describeLocation(pluginId);
      return new SerializationError(
        `${operation}: the state of plugin ${pluginId} in ${location} is corrupt: ${problem}. ` +
          'The row was left as it is: repair it, or delete the state (deleteState) to start over.',
        { pluginId, operation, location, cause },
      );
    }
    const { host, port, database } = this.server;
    const location = `PostgreSQL ${host}:${port}/${database}, table ${this.names.history}, row ${pluginId}`;
    return new SerializationError(
      `${operation}: a kept revision of plugin ${pluginId} in ${location} is corrupt: ${problem}. ` +
        'The row was left as it is: repair it, or remove the history of the state (purgeState) to start over.',
      { pluginId, operation, location, cause },
    );
  }

  /**
   * The advisory lock every write of `pluginId` takes first (see functions.ts), and the longest
   * wait for it: four fifths of the query timeout, so that the server gives up (changing nothing)
   * before the client stops waiting for its answer (when the outcome would be unknown).
   */
  private lockOf(pluginId: PluginId): [number, number, number] {
    return [this.lockClass, hash32(pluginId), this.lockTimeoutMs];
  }
}

/** 32 bits of SHA-256, as a signed integer (what `pg_advisory_xact_lock(int, int)` takes). */
function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readInt32BE(0);
}
