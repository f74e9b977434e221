import { resolve } from 'node:path';
import type { PluginStateError, SerializationError } from '../../core/errors.js';
import { StorageError } from '../../core/errors.js';
import { GuardedStorage, type ValidRecord, type WriteConditions } from '../../core/guarded-storage.js';
import type { JsonValue, PluginId, PluginState, RevisionInfo } from '../../core/types.js';
import { ATTEMPT_TIMEOUT_MS, Connection } from './connection.js';
import { notADatabase, prepareDatabaseFile } from './database-file.js';
import { connect, isNotADatabase, loadDriver, type SqliteDatabase } from './driver.js';
import { isCurrent, type KeptRow, newestFirst, type RevisionRow, toRevisionInfo } from './history.js';
import { ListCache, listWithoutCache, type RowSource, toState } from './list-cache.js';
import { configError, resolveOptions, type SqliteStorageOptions } from './options.js';
import { corruptRowError, uncomparableError } from './row-errors.js';
import { bytesOf, checkMeta, parseData, type StoredRow } from './rows.js';
import { createSchema, historyTable, inspectSchema, isSchemaComplete } from './schema.js';
import { asideTable, copyAside, prepareStatements, type Statements } from './statements.js';

/**
 * Stores each plugin's state as one row of an SQLite table, through better-sqlite3 (an optional
 * peer dependency: `npm install better-sqlite3@12.11.1`; it is loaded only when a store opens a
 * database file).
 *
 * The database runs in WAL mode with `synchronous=FULL` by default: a save resolves once it is
 * committed and fsynced. Compare-and-set holds across processes: a save reads and replaces the
 * row's revision inside one `BEGIN IMMEDIATE` transaction. When another process holds the write
 * lock, the call waits (asynchronously, with backoff) up to `busyTimeoutMs`; it never fails with a
 * bare SQLITE_BUSY. Rows are `plugin_id, version, revision, last_modified (ms), data` (the exact
 * JSON text of the data).
 *
 * History: the same transaction that replaces (or deletes) a row copies it into `<table>_history`
 * (primary key `plugin_id, revision`) and drops the revisions beyond `history` (default 10), so a
 * save is still one durable commit. A table written by the previous release (schema version 1) is
 * upgraded in place on open: its history table is created, the states are left as they are.
 *
 * A corrupt row is never deleted: loading it is a `SerializationError` naming the file, table and
 * plugin id; `listStates` skips it and reports it through `onReport`; a save that replaces it
 * first copies it into the table `<table>_corrupt`.
 *
 * Pass a path (the file is created with mode 0600, its folder with 0700, when missing) or a
 * better-sqlite3 `Database` you already have. A `Database` you pass stays yours: `close()` does not
 * close it. The store switches its file to WAL mode (a lasting property of the file), and around
 * each of its own calls applies its short busy timeout and synchronous level, restoring yours after.
 *
 * @example
 * import { SqliteStateStorage } from 'plugin-state/sqlite';
 *
 * const storage = new SqliteStateStorage('./data/plugin-states.db');
 * const saved = await storage.saveState({ pluginId, data: { theme: 'dark' }, lastModified: new Date() });
 * await storage.saveState({ ...saved, data: { theme: 'light' } }, { expectedRevision: saved.revision });
 * await storage.close();
 *
 * @example
 * // A database the host already has (and keeps owning):
 * import Database from 'better-sqlite3';
 *
 * const db = new Database('./app.db');
 * const storage = new SqliteStateStorage(db, { table: 'plugin_states' });
 */
export class SqliteStateStorage extends GuardedStorage {
  /** The database file: an absolute path, or the name of the `Database` given (`:memory:` …). */
  readonly filename: string;
  /** The table holding the states. */
  readonly table: string;
  private readonly host: SqliteDatabase | undefined;
  private readonly synchronous: 'full' | 'normal';
  private readonly busyTimeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly cache: ListCache | undefined;
  private connection: Connection | undefined;
  private sql: Statements | undefined;

  constructor(database: string | SqliteDatabase, options: SqliteStorageOptions = {}) {
    super(options);
    if (typeof database === 'string') {
      if (database.trim() === '') throw configError('database must be a path to a database file');
      this.filename = database === ':memory:' ? database : resolve(database);
    } else if (database !== null && typeof database === 'object' && typeof database.prepare === 'function') {
      this.host = database;
      this.filename = String(database.name);
    } else {
      throw configError(`database must be a file path or a better-sqlite3 Database, got ${String(database)}`);
    }
    const resolved = resolveOptions(options);
    this.table = resolved.table;
    this.synchronous = resolved.synchronous;
    this.busyTimeoutMs = resolved.busyTimeoutMs;
    this.attemptTimeoutMs = Math.min(ATTEMPT_TIMEOUT_MS, this.busyTimeoutMs);
    this.cache = resolved.listCache && new ListCache(resolved.listCache);
  }

  protected describeLocation(pluginId?: PluginId): string {
    return this.locationIn(this.table, pluginId);
  }

  /** The file, `table` and row, for messages. */
  private locationIn(table: string, pluginId?: PluginId): string {
    const file =
      this.filename === ':memory:' || this.filename === '' ? 'an in-memory SQLite database' : this.filename;
    return pluginId ? `${file} (table ${table}, plugin_id ${pluginId})` : `${file} (table ${table})`;
  }

  protected async openStore(): Promise<void> {
    const db = this.host ?? (await this.openFile());
    try {
      if (this.host && !this.host.open) throw new StorageError('the Database given is closed');
      if (this.host?.readonly) throw new StorageError('the Database given was opened read-only');
      const connection = new Connection(db, !this.host, {
        synchronous: this.synchronous === 'full' ? 2 : 1,
        busyTimeoutMs: this.busyTimeoutMs,
        attemptTimeoutMs: this.attemptTimeoutMs,
        filename: this.filename,
      });
      const location = this.describeLocation();
      // Refuse what this store cannot use before changing anything, even the journal mode.
      const found = await connection.run('open', undefined, false, () => {
        const encoding = connection.pragma('encoding');
        if (encoding !== 'UTF-8') {
          throw new StorageError(
            `open: ${location} uses ${String(encoding)} text; SqliteStateStorage needs UTF-8 (SQLite's default). Nothing was changed.`,
            { operation: 'open', location },
          );
        }
        return inspectSchema(db, this.table, location);
      });
      await connection.run('open', undefined, true, () => {
        const mode = connection.pragma('journal_mode = WAL');
        if (mode !== 'wal' && !db.memory) {
          throw new StorageError(`SQLite kept journal_mode ${String(mode)} instead of switching to WAL`);
        }
        if (!this.host) connection.pragma(`synchronous = ${this.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      });
      if (!isSchemaComplete(found)) {
        await connection.run('open', undefined, true, () =>
          connection.transaction(() => createSchema(db, this.table, location)),
        );
      }
      this.sql = prepareStatements(db, this.table);
      this.connection = connection;
    } catch (error) {
      if (!this.host) closeQuietly(db);
      if (isNotADatabase(error)) throw notADatabase(this.filename, error);
      throw error;
    }
  }

  protected async writeRecord(record: ValidRecord, conditions: WriteConditions): Promise<number> {
    const { connection, sql } = this.opened();
    const id = record.pluginId;
    const { expectedRevision, maxStoredVersion, keepRevisions } = conditions;
    const outcome = await connection.run('saveState', id, true, () => {
      const saved = connection.transaction(() => {
        const before = this.cache && this.stamp(sql);
        const found = sql.selectForWrite.get(id) as [unknown, unknown, number] | undefined;
        let stored = 0;
        let corrupt = false;
        if (found) {
          const [revision, , intact] = found;
          const readable = isWhole(revision);
          if (readable) stored = revision;
          if (!intact) {
            if (!readable && expectedRevision !== undefined)
              throw this.uncomparable(id, 'revision', 'expectedRevision', expectedRevision);
            corrupt = true;
          }
        }
        if (expectedRevision !== undefined && expectedRevision !== stored) {
          throw this.conflict(id, expectedRevision, stored);
        }
        if (found && maxStoredVersion !== undefined) {
          const version = found[1];
          if (!isWhole(version)) throw this.uncomparable(id, 'version', 'maxStoredVersion', maxStoredVersion);
          if (version > maxStoredVersion) throw this.versionTooNew(id, version, maxStoredVersion);
        }
        // One more than any revision stored or kept, so that numbers go on after a delete.
        const revision = Math.max(stored, (sql.historyTop.get(id) as number | undefined) ?? 0) + 1;
        // A corrupt row goes aside for inspection, not into history, whose rows must read back.
        if (corrupt) copyAside(connection.db, this.table, id);
        else if (found && keepRevisions >= 1) sql.keep.run(id);
        sql.prune.run(id, id, keepRevisions);
        const meta = { version: record.version, revision, lastModified: record.lastModified.getTime() };
        sql.upsert.run(id, meta.version, meta.revision, meta.lastModified, record.dataJson);
        return { meta, corrupt, before };
      });
      const { before } = saved;
      if (before) {
        this.afterCommit(() =>
          this.cache!.recordSave(before.key, this.stampAfter(before, sql), id, saved.meta, record.dataJson),
        );
      }
      return saved;
    });
    if (outcome.corrupt) {
      this.report({
        operation: 'saveState',
        pluginId: id,
        code: 'SERIALIZATION',
        recovered: true,
        message:
          `saveState found the stored row of plugin ${id} in ${this.describeLocation()} corrupt; it was copied to table ` +
          `${asideTable(this.table)} and the new state saved as revision ${outcome.meta.revision}.`,
      });
    }
    return outcome.meta.revision;
  }

  protected async readRecord(pluginId: PluginId): Promise<PluginState | undefined> {
    const { connection, sql } = this.opened();
    return connection.run('loadState', pluginId, false, () => {
      // A current cache answers without reading the row (the stamp is one cheap statement).
      const cached = this.cache?.isCurrent(this.stamp(sql).key) ? this.cache.lookup(pluginId) : undefined;
      if (cached !== undefined) return cached ?? undefined;
      const row = sql.selectOne.get(pluginId) as StoredRow | undefined;
      if (row === undefined) return undefined;
      try {
        const meta = checkMeta(row);
        const bytes = bytesOf(row);
        return toState(pluginId, meta, this.cache?.copyOf(pluginId, bytes) ?? this.parse(bytes));
      } catch (error) {
        throw this.corruptRow('loadState', pluginId, error);
      }
    });
  }

  protected async removeRecord(pluginId: PluginId, keepRevisions: number): Promise<void> {
    const { sql } = this.opened();
    await this.removeInTransaction('deleteState', pluginId, () => {
      const found = sql.selectForWrite.get(pluginId) as [unknown, unknown, number] | undefined;
      if (!found) return;
      // A corrupt row the user deletes is removed, as before history: only sound rows are kept.
      if (keepRevisions >= 1 && found[2]) sql.keep.run(pluginId);
      sql.prune.run(pluginId, pluginId, keepRevisions);
      sql.remove.run(pluginId);
    });
  }

  protected async purgeRecord(pluginId: PluginId): Promise<void> {
    const { sql } = this.opened();
    await this.removeInTransaction('purgeState', pluginId, () => {
      sql.remove.run(pluginId);
      sql.forget.run(pluginId);
    });
  }

  protected async listRecordRevisions(pluginId: PluginId): Promise<RevisionInfo[]> {
    const { connection, sql } = this.opened();
    // One statement: the current row and history are read from one snapshot of the database.
    const rows = await connection.run(
      'listRevisions',
      pluginId,
      false,
      () => sql.revisions.all(pluginId, pluginId) as RevisionRow[],
    );
    const revisions = rows.map((row) => {
      try {
        return toRevisionInfo(row);
      } catch (error) {
        throw this.corruptRow('listRevisions', pluginId, error, !isCurrent(row));
      }
    });
    return revisions.sort(newestFirst);
  }

  protected async readRecordRevision(pluginId: PluginId, revision: number): Promise<PluginState | undefined> {
    const { connection, sql } = this.opened();
    return connection.run('loadRevision', pluginId, false, () => {
      const row = sql.selectRevision.get(pluginId, revision, pluginId, revision) as KeptRow | undefined;
      if (row === undefined) return undefined;
      const [, ...stored] = row;
      try {
        const meta = checkMeta(stored);
        const bytes = bytesOf(stored);
        const data = (isCurrent(row) ? this.cache?.copyOf(pluginId, bytes) : undefined) ?? this.parse(bytes);
        return toState(pluginId, meta, data);
      } catch (error) {
        throw this.corruptRow('loadRevision', pluginId, error, !isCurrent(row));
      }
    });
  }

  protected async readAllRecords(): Promise<PluginState[]> {
    const { connection, sql } = this.opened();
    const source: RowSource = {
      all: () => sql.selectAll.all() as StoredRow[],
      one: (pluginId) => sql.selectOne.get(pluginId) as StoredRow | undefined,
      parse: (bytes) => this.parse(bytes),
      fail: (pluginId, error) => this.corruptRow('listStates', pluginId, error),
    };
    const { states, corrupt } = await connection.run('listStates', undefined, false, () =>
      this.cache ? this.cache.list(this.stamp(sql).key, source) : listWithoutCache(source),
    );
    this.reportSkipped(corrupt);
    return states;
  }

  protected async closeStore(): Promise<void> {
    this.cache?.clear();
    this.sql = undefined;
    const connection = this.connection;
    this.connection = undefined;
    try {
      connection?.close();
    } catch (error) {
      throw new StorageError(`close: closing ${this.filename} failed: ${String(error)}`, {
        operation: 'close',
        location: this.filename,
        cause: error,
      });
    }
  }

  private async openFile(): Promise<SqliteDatabase> {
    // The driver first: without it, nothing is created on disk.
    const Driver = await loadDriver(this.filename);
    if (this.filename !== ':memory:') prepareDatabaseFile(this.filename);
    return connect(Driver, this.filename, this.attemptTimeoutMs);
  }

  private opened(): { connection: Connection; sql: Statements } {
    if (!this.connection || !this.sql) {
      throw new StorageError(`the store at ${this.describeLocation()} is not open`);
    }
    return { connection: this.connection, sql: this.sql };
  }

  /** The cache's stamp of the database contents as this connection sees them now (see ListCache). */
  private stamp(sql: Statements): { dataVersion: number; key: string } {
    const dataVersion = sql.dataVersion.get() as number;
    return { dataVersion, key: `${dataVersion}:${sql.changes.get() as number}` };
  }

  /**
   * The stamp right after this connection committed a write whose transaction read `before`: its
   * own commits leave data_version as it was (https://sqlite.org/pragma.html#pragma_data_version),
   * and total_changes() counts only this connection, so no other process's commit can slip in.
   */
  private stampAfter(before: { dataVersion: number }, sql: Statements): string {
    return `${before.dataVersion}:${sql.changes.get() as number}`;
  }

  /** Runs `remove` (which takes the current row of `pluginId` away) in one transaction, and tells the cache. */
  private async removeInTransaction(
    operation: string,
    pluginId: PluginId,
    remove: () => void,
  ): Promise<void> {
    const { connection, sql } = this.opened();
    await connection.run(operation, pluginId, true, () => {
      const before = connection.transaction(() => {
        const stamp = this.cache && this.stamp(sql);
        remove();
        return stamp;
      });
      if (before) {
        this.afterCommit(() => this.cache!.recordDelete(before.key, this.stampAfter(before, sql), pluginId));
      }
    });
  }

  /** Cache bookkeeping after a commit: it must never turn a finished write into a failure. */
  private afterCommit(update: () => void): void {
    try {
      update();
    } catch {
      this.cache?.clear(); // the next list reads every row again
    }
  }

  private parse(bytes: Buffer): JsonValue {
    return parseData(bytes, this.limits);
  }

  private corruptRow(
    operation: string,
    pluginId: string,
    error: unknown,
    inHistory = false,
  ): PluginStateError {
    const table = inHistory ? historyTable(this.table) : this.table;
    return corruptRowError(operation, pluginId, error, this.locationIn(table, pluginId), inHistory);
  }

  /** A save's condition on a `column` of the stored row that does not hold a whole number. */
  private uncomparable(
    pluginId: PluginId,
    column: 'revision' | 'version',
    option: 'expectedRevision' | 'maxStoredVersion',
    value: number,
  ): SerializationError {
    const location = this.describeLocation(pluginId);
    return uncomparableError(pluginId, location, column, option, value, asideTable(this.table));
  }
}

/** A revision or version as this library writes them: a whole number >= 1. */
function isWhole(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

function closeQuietly(db: SqliteDatabase): void {
  try {
    db.close();
  } catch {
    // the open failure is the one to report
  }
}
