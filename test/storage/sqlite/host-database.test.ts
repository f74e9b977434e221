import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { StorageError } from '../../../src/index.js';
import { type SqliteDatabase, SqliteStateStorage } from '../../../src/storage/sqlite/index.js';
import { rawConnection, stateOf, tempDatabase } from './helpers.js';

describe('SqliteStateStorage on a Database the host owns', () => {
  it('accepts a better-sqlite3 Database as its declared SqliteDatabase shape', () => {
    // A compile-time check as much as a runtime one: tsc refuses this file if the shape drifts.
    const db: SqliteDatabase = new Database(':memory:');
    assert.equal(db.open, true);
    db.close();
  });

  it('close() does not close the host’s Database, which stays usable', async (t) => {
    const db = rawConnection(t, tempDatabase(t));
    const store = new SqliteStateStorage(db);
    const id = randomUUID();
    await store.saveState(stateOf(id, 'saved through the store'));
    await store.close();
    await store.close();
    assert.equal(db.open, true, 'the Database is still open');
    assert.equal(
      db.prepare('SELECT data FROM plugin_states WHERE plugin_id = ?').pluck().get(id),
      '"saved through the store"',
    );
    await assert.rejects(
      store.loadState(id),
      (error: unknown) => error instanceof StorageError && /closed/.test(error.message),
    );
    db.exec('CREATE TABLE host_table (x)');
    assert.equal(db.prepare('SELECT count(*) FROM host_table').pluck().get(), 0);
  });

  it('puts the host’s busy timeout and synchronous level back after each call, applying its own during it', async (t) => {
    const statements: string[] = [];
    const db = rawConnection(t, tempDatabase(t), {
      timeout: 1234,
      verbose: (sql) => statements.push(String(sql)),
    });
    db.pragma('synchronous = NORMAL');
    const store = new SqliteStateStorage(db);
    const id = randomUUID();
    await store.saveState(stateOf(id, 1));
    statements.length = 0;
    await store.saveState(stateOf(id, 2));
    const begin = statements.indexOf('BEGIN IMMEDIATE');
    const commit = statements.indexOf('COMMIT');
    assert.ok(begin > 0 && commit > begin, `a transaction ran: ${statements.join(' | ')}`);
    const before = statements.slice(0, begin);
    const afterwards = statements.slice(commit + 1);
    assert.ok(
      before.includes('PRAGMA synchronous = 2'),
      `FULL before the transaction: ${before.join(' | ')}`,
    );
    assert.ok(before.includes('PRAGMA busy_timeout = 10'), `a short busy timeout: ${before.join(' | ')}`);
    assert.ok(afterwards.includes('PRAGMA synchronous = 1'), `NORMAL put back: ${afterwards.join(' | ')}`);
    assert.ok(
      afterwards.includes('PRAGMA busy_timeout = 1234'),
      `timeout put back: ${afterwards.join(' | ')}`,
    );

    await store.loadState(id);
    await store.listStates();
    assert.equal(db.pragma('synchronous', { simple: true }), 1, 'the host’s synchronous level');
    assert.equal(db.pragma('busy_timeout', { simple: true }), 1234, 'the host’s busy timeout');
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal', 'the file was switched to WAL');
  });

  it('waits for a transaction the host has open, then fails with a StorageError saying so', async (t) => {
    const db = rawConnection(t, tempDatabase(t));
    const store = new SqliteStateStorage(db, { busyTimeoutMs: 150 });
    t.after(() => store.close());
    const id = randomUUID();
    await store.saveState(stateOf(id, 'before'));
    db.prepare('BEGIN').run();
    const started = performance.now();
    const error = await store.saveState(stateOf(id, 'during')).then(
      () => assert.fail('the save resolved inside the host’s transaction'),
      (reason: unknown) => reason as Error,
    );
    assert.ok(performance.now() - started >= 140, 'it waited for busyTimeoutMs');
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, /has a transaction open/);
    db.prepare('COMMIT').run();
    assert.equal((await store.loadState(id))?.data, 'before', 'nothing was written');

    // A transaction that ends within busyTimeoutMs is simply waited for.
    db.prepare('BEGIN').run();
    const saving = store.saveState(stateOf(id, 'after'));
    setTimeout(() => db.prepare('COMMIT').run(), 40);
    assert.equal((await saving).revision, 2);
  });

  it('reports a Database closed by the host, or opened read-only, as a StorageError', async (t) => {
    const path = tempDatabase(t);
    const closed = new Database(path);
    closed.close();
    await assert.rejects(new SqliteStateStorage(closed).open(), (error: unknown) => {
      return error instanceof StorageError && /is closed/.test(error.message);
    });
    const readonly = rawConnection(t, path, { readonly: true });
    await assert.rejects(new SqliteStateStorage(readonly).open(), (error: unknown) => {
      return error instanceof StorageError && /read-only/.test(error.message);
    });
  });

  it('works on an in-memory Database of the host', async (t) => {
    const db = rawConnection(t, ':memory:');
    const store = new SqliteStateStorage(db);
    const id = randomUUID();
    await store.saveState(stateOf(id, 'kept in memory'));
    assert.equal((await store.loadState(id))?.data, 'kept in memory');
    await store.close();
    assert.equal(db.prepare('SELECT count(*) FROM plugin_states').pluck().get(), 1);
  });
});
