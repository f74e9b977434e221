// Shared by the SQLite tests: child processes running test/helpers/sqlite-worker.ts, raw
// better-sqlite3 connections to look at what is on disk, and states to save.
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import type { JsonValue, PluginState } from '../../../src/index.js';
import { SqliteStateStorage, type SqliteStorageOptions } from '../../../src/storage/sqlite/index.js';
import { Child, SQLITE_WORKER } from '../../helpers/processes.js';
import { tempDir } from '../../helpers/temp-dir.js';

/** A fresh database path in a temp folder removed after the test. */
export function tempDatabase(t: TestContext, name = 'states.db'): string {
  return join(tempDir(t), name);
}

/** A store on `path`, closed after the test. */
export function storeAt(t: TestContext, path: string, options?: SqliteStorageOptions): SqliteStateStorage {
  const store = new SqliteStateStorage(path, options);
  t.after(() => store.close());
  return store;
}

/** A raw better-sqlite3 connection (another connection than the store's), closed after the test. */
export function rawConnection(t: TestContext, path: string, options?: Database.Options): Database.Database {
  const db = new Database(path, options);
  t.after(() => {
    if (db.open) db.close();
  });
  return db;
}

/**
 * The store's own connection. Only tests use this, to query settings (such as `PRAGMA synchronous`)
 * that SQLite keeps per connection and that no other connection can observe.
 */
export function connectionOf(store: SqliteStateStorage): Database.Database {
  const connection = (store as unknown as { connection?: { db: Database.Database } }).connection;
  if (!connection) throw new Error('the store is not open');
  return connection.db;
}

export function stateOf(
  pluginId: string,
  data: JsonValue,
  lastModified = new Date(1_700_000_000_123),
): PluginState {
  return { pluginId, data, lastModified };
}

/** Starts a child and kills it after the test if it is still running. */
export function child(t: TestContext, args: string[]): Child {
  const started = new Child(args, { script: SQLITE_WORKER, lineTimeoutMs: 30_000, label: 'sqlite-worker' });
  t.after(() => started.kill());
  return started;
}
