import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { StorageError, ValidationError } from '../../../src/index.js';
import { SqliteStateStorage } from '../../../src/storage/sqlite/index.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { connectionOf, rawConnection, stateOf, storeAt, tempDatabase } from './helpers.js';

const mode = (path: string) => statSync(path).mode & 0o777;

/** Opening `path` must fail with a StorageError whose message matches `pattern`; the file stays byte for byte. */
async function assertRefusedUntouched(t: TestContext, path: string, pattern: RegExp): Promise<StorageError> {
  const before = readFileSync(path);
  const siblings = readdirSync(dirname(path)).sort();
  const store = storeAt(t, path);
  const error = await store.open().then(
    () => assert.fail('open() resolved'),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof StorageError, `expected a StorageError, got ${String(error)}`);
  assert.match(error.message, pattern);
  assert.ok(error.message.includes(path), `the message names the file: ${error.message}`);
  assert.ok(readFileSync(path).equals(before), 'the file is byte for byte what it was');
  assert.deepEqual(readdirSync(dirname(path)).sort(), siblings, 'no -wal, -shm or journal file was created');
  // And it stays refused: a second attempt (open() may be retried) changes nothing either.
  await assert.rejects(store.saveState(stateOf(randomUUID(), 1)), StorageError);
  assert.ok(readFileSync(path).equals(before), 'still unchanged after a save was attempted');
  return error;
}

describe('SqliteStateStorage files', () => {
  it('creates the database file with mode 0600 and missing folders with 0700', async (t) => {
    const path = join(tempDir(t), 'a', 'b', 'states.db');
    const store = storeAt(t, path);
    await store.saveState(stateOf(randomUUID(), { x: 1 }));
    assert.equal(mode(path), 0o600, 'database file');
    assert.equal(mode(`${path}-wal`), 0o600, 'SQLite gives the WAL file the database file’s mode');
    assert.equal(mode(dirname(path)), 0o700, 'created folder');
    assert.equal(mode(dirname(dirname(path))), 0o700, 'created parent folder');
  });

  it('leaves the mode of an existing database file alone', async (t) => {
    const path = tempDatabase(t);
    rawConnection(t, path).close();
    const { chmodSync } = await import('node:fs');
    chmodSync(path, 0o640);
    await storeAt(t, path).saveState(stateOf(randomUUID(), 1));
    assert.equal(mode(path), 0o640);
  });

  it('runs in WAL mode with synchronous=FULL by default, and NORMAL only when asked', async (t) => {
    const path = tempDatabase(t);
    const store = storeAt(t, path);
    await store.open();
    assert.equal(
      rawConnection(t, path).pragma('journal_mode', { simple: true }),
      'wal',
      'seen from another connection',
    );
    const own = connectionOf(store);
    assert.equal(own.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(
      own.pragma('synchronous', { simple: true }),
      2,
      'synchronous=FULL (2) on the store’s connection',
    );
    assert.equal(own.pragma('busy_timeout', { simple: true }), 10, 'a short busy timeout per attempt');

    // better-sqlite3 builds SQLite with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1: a connection opening a
    // database already in WAL mode gets NORMAL unless the store sets FULL itself.
    const reopened = storeAt(t, path);
    await reopened.open();
    assert.equal(connectionOf(reopened).pragma('synchronous', { simple: true }), 2, 'FULL again on reopen');

    const weaker = storeAt(t, path, { synchronous: 'normal' });
    await weaker.open();
    assert.equal(connectionOf(weaker).pragma('synchronous', { simple: true }), 1, 'synchronous=NORMAL (1)');
  });

  it('creates its tables once, with a schema version, and reopens without changing them', async (t) => {
    const path = tempDatabase(t);
    const id = randomUUID();
    const first = storeAt(t, path);
    await first.saveState(stateOf(id, { kept: true }));
    await first.close();
    const second = storeAt(t, path);
    assert.deepEqual((await second.loadState(id))?.data, { kept: true });

    const db = rawConnection(t, path);
    assert.deepEqual(db.prepare('SELECT key, value FROM plugin_state_meta').all(), [
      { key: 'plugin_states.schema_version', value: '2' },
    ]);
    assert.deepEqual(
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all(),
      ['plugin_state_meta', 'plugin_states', 'plugin_states_history'],
    );
    const columns = db
      .prepare('SELECT name, type, "notnull", pk FROM pragma_table_info(\'plugin_states\')')
      .all();
    assert.deepEqual(columns, [
      { name: 'plugin_id', type: 'TEXT', notnull: 1, pk: 1 },
      { name: 'version', type: 'INTEGER', notnull: 1, pk: 0 },
      { name: 'revision', type: 'INTEGER', notnull: 1, pk: 0 },
      { name: 'last_modified', type: 'INTEGER', notnull: 1, pk: 0 },
      { name: 'data', type: 'TEXT', notnull: 1, pk: 0 },
    ]);
  });

  it('stores the exact JSON text of the data, and times in milliseconds', async (t) => {
    const path = tempDatabase(t);
    const id = randomUUID();
    const data = { z: 1, a: 'NUL \u0000 and é', nested: { b: [1, 2], a: null } };
    await storeAt(t, path).saveState({ ...stateOf(id, data), version: 3 });
    const row = rawConnection(t, path).prepare('SELECT * FROM plugin_states').get();
    assert.deepEqual(row, {
      plugin_id: id,
      version: 3,
      revision: 1,
      last_modified: 1_700_000_000_123,
      data: JSON.stringify(data),
    });
  });

  it('keeps tables of different names apart in one database', async (t) => {
    const path = tempDatabase(t);
    const id = randomUUID();
    const a = storeAt(t, path, { table: 'states_a' });
    const b = storeAt(t, path, { table: 'states_b' });
    await a.saveState(stateOf(id, 'in a'));
    assert.equal(await b.loadState(id), undefined);
    assert.equal((await b.saveState(stateOf(id, 'in b'))).revision, 1);
    assert.equal((await a.loadState(id))?.data, 'in a');
    const keys = rawConnection(t, path)
      .prepare('SELECT key FROM plugin_state_meta ORDER BY key')
      .pluck()
      .all();
    assert.deepEqual(keys, ['states_a.schema_version', 'states_b.schema_version']);
  });

  it('refuses a file that is not an SQLite database, leaving it untouched', async (t) => {
    const path = tempDatabase(t, 'notes.txt');
    writeFileSync(path, 'These are my notes, not a database.\n'.repeat(200));
    const error = await assertRefusedUntouched(t, path, /not an SQLite database/);
    assert.match(error.message, /untouched/);
  });

  it('refuses a file with the SQLite header but garbage after it, leaving it untouched', async (t) => {
    const path = tempDatabase(t);
    writeFileSync(path, Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), randomBytes(8192)]));
    await assertRefusedUntouched(t, path, /not an SQLite database|malformed|not a database/i);
  });

  it('refuses a table of the wrong shape, naming what is wrong, and changes nothing', async (t) => {
    const path = tempDatabase(t);
    const db = rawConnection(t, path);
    db.exec(
      "CREATE TABLE plugin_states (plugin_id TEXT PRIMARY KEY, data TEXT); INSERT INTO plugin_states VALUES ('x', 'y')",
    );
    db.close();
    const error = await assertRefusedUntouched(t, path, /table "plugin_states"/);
    for (const missing of ['version', 'revision', 'last_modified']) {
      assert.match(error.message, new RegExp(`column ${missing} is missing`));
    }
    assert.equal(
      rawConnection(t, path).pragma('journal_mode', { simple: true }),
      'delete',
      'not even switched to WAL',
    );
  });

  for (const [what, sql, pattern] of [
    ['a view', 'CREATE VIEW plugin_states AS SELECT 1 AS plugin_id', /it is a view/],
    [
      'a data column declared BLOB',
      'CREATE TABLE plugin_states (plugin_id TEXT PRIMARY KEY, version INTEGER, revision INTEGER, last_modified INTEGER, data BLOB)',
      /column data is declared BLOB, expected TEXT/,
    ],
    [
      'another primary key',
      'CREATE TABLE plugin_states (id INTEGER PRIMARY KEY, plugin_id TEXT, version INTEGER, revision INTEGER, last_modified INTEGER, data TEXT)',
      /primary key is \(id\)/,
    ],
    [
      'an extra NOT NULL column without a default',
      'CREATE TABLE plugin_states (plugin_id TEXT PRIMARY KEY, version INTEGER, revision INTEGER, last_modified INTEGER, data TEXT, owner TEXT NOT NULL)',
      /extra column owner/,
    ],
    [
      'a meta table of another shape',
      'CREATE TABLE plugin_state_meta (k INTEGER)',
      /table "plugin_state_meta"/,
    ],
    [
      'a schema version from a newer release',
      "CREATE TABLE plugin_state_meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO plugin_state_meta VALUES ('plugin_states.schema_version', '3')",
      /schema version 3.*newer release/,
    ],
  ] as const) {
    it(`refuses ${what}, and changes nothing`, async (t) => {
      const path = tempDatabase(t);
      const db = rawConnection(t, path);
      db.exec(sql);
      db.close();
      await assertRefusedUntouched(t, path, pattern);
    });
  }

  it('refuses a database that stores text as UTF-16, and changes nothing', async (t) => {
    const path = tempDatabase(t);
    const db = rawConnection(t, path);
    db.pragma("encoding = 'UTF-16le'");
    db.exec('CREATE TABLE host_table (x)');
    db.close();
    await assertRefusedUntouched(t, path, /UTF-16le.*needs UTF-8/);
  });

  it('adopts an existing table of the right shape (e.g. created by hand) and records its version', async (t) => {
    const path = tempDatabase(t);
    const id = randomUUID();
    const db = rawConnection(t, path);
    db.exec(
      'CREATE TABLE plugin_states (plugin_id text primary key not null, version int not null, revision bigint not null, ' +
        'last_modified integer not null, data varchar(100) not null, note TEXT)',
    );
    await storeAt(t, path).saveState(stateOf(id, 'adopted'));
    assert.equal(db.prepare('SELECT data FROM plugin_states').pluck().get(), '"adopted"');
    assert.equal(db.prepare('SELECT value FROM plugin_state_meta').pluck().get(), '2');
  });

  it('refuses a folder where the database file should be', async (t) => {
    const path = tempDatabase(t);
    mkdirSync(path);
    const error = await storeAt(t, path)
      .open()
      .then(
        () => assert.fail('open() resolved'),
        (reason: unknown) => reason as Error,
      );
    assert.ok(error instanceof StorageError);
    assert.match(error.message, /is not a file/);
  });

  it('refuses bad options when constructed, before any I/O', (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'never.db');
    for (const [options, pattern] of [
      [{ table: 'states; DROP TABLE x' }, /table must be/],
      [{ table: 'sqlite_master' }, /table must be/],
      [{ table: 'plugin_state_meta' }, /table must be/],
      [{ table: '1states' }, /table must be/],
      [{ synchronous: 'off' }, /synchronous must be/],
      [{ busyTimeoutMs: -1 }, /busyTimeoutMs must be/],
      [{ busyTimeoutMs: 1.5 }, /busyTimeoutMs must be/],
    ] as const) {
      assert.throws(
        () => new SqliteStateStorage(path, options as never),
        (error: unknown) => error instanceof ValidationError && pattern.test(error.message),
        JSON.stringify(options),
      );
    }
    assert.throws(() => new SqliteStateStorage('  '), ValidationError);
    assert.throws(() => new SqliteStateStorage(42 as never), ValidationError);
    assert.equal(existsSync(path), false, 'nothing was created');
  });

  it('works on an in-memory database', async (t) => {
    const store = storeAt(t, ':memory:');
    const id = randomUUID();
    await store.saveState(stateOf(id, 'in memory'));
    assert.equal((await store.loadState(id))?.data, 'in memory');
    assert.equal((await store.listStates()).length, 1);
  });
});
