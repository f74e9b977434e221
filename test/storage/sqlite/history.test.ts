import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { SerializationError, StorageError } from '../../../src/index.js';
import type { SqliteStateStorage } from '../../../src/storage/sqlite/index.js';
import { child, rawConnection, stateOf, storeAt, tempDatabase } from './helpers.js';

/** The rows of `plugin_states_history` for `id`, oldest first, as stored. */
function historyRows(t: TestContext, path: string, id: string, table = 'plugin_states'): unknown[] {
  return rawConnection(t, path)
    .prepare(
      `SELECT revision, version, last_modified, data FROM ${table}_history WHERE plugin_id = ? ORDER BY revision`,
    )
    .all(id);
}

async function revisionsOf(store: SqliteStateStorage, id: string): Promise<string[]> {
  return (await store.listRevisions(id)).map((info) => `${info.revision}${info.current ? '*' : ''}`);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => assert.fail('expected a rejection'),
    (reason: unknown) => reason as Error,
  );
}

/** The tables (and their DDL) a release without history created: version 1 of the schema. */
const PREVIOUS_RELEASE = `
  CREATE TABLE "plugin_state_meta" (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
  CREATE TABLE "plugin_states" (plugin_id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL,
    revision INTEGER NOT NULL, last_modified INTEGER NOT NULL, data TEXT NOT NULL);
  INSERT INTO plugin_state_meta (key, value) VALUES ('plugin_states.schema_version', '1');
`;

describe('SqliteStateStorage history', () => {
  it('keeps each replaced row in <table>_history as stored; a delete moves the last one in; purge empties both', async (t) => {
    const path = tempDatabase(t);
    const store = storeAt(t, path);
    const id = randomUUID();
    const other = randomUUID();
    await store.saveState({ ...stateOf(id, { n: 1 }, new Date(1000)), version: 1 });
    await store.saveState({ ...stateOf(id, { n: 'two', é: '😀' }, new Date(2000)), version: 2 });
    await store.saveState({ ...stateOf(id, { n: 3 }, new Date(3000)), version: 2 });
    await store.saveState(stateOf(other, 'other'));
    assert.deepEqual(historyRows(t, path, id), [
      { revision: 1, version: 1, last_modified: 1000, data: '{"n":1}' },
      { revision: 2, version: 2, last_modified: 2000, data: '{"n":"two","é":"😀"}' },
    ]);
    assert.deepEqual(historyRows(t, path, other), [], 'a first save replaces nothing');
    const sizes = (await store.listRevisions(id)).map((info) => info.size);
    assert.deepEqual(sizes, [7, Buffer.byteLength('{"n":"two","é":"😀"}'), 7], 'sizes are UTF-8 bytes');

    await store.deleteState(id);
    const db = rawConnection(t, path);
    assert.equal(db.prepare('SELECT count(*) FROM plugin_states WHERE plugin_id = ?').pluck().get(id), 0);
    assert.deepEqual(
      historyRows(t, path, id).map((row) => (row as { revision: number }).revision),
      [1, 2, 3],
      'the deleted revision is in history',
    );
    assert.equal((await store.saveState(stateOf(id, 'back'))).revision, 4);
    assert.deepEqual(await revisionsOf(store, id), ['4*', '3', '2', '1']);

    await store.purgeState(id);
    assert.equal(db.prepare('SELECT count(*) FROM plugin_states WHERE plugin_id = ?').pluck().get(id), 0);
    assert.deepEqual(historyRows(t, path, id), []);
    assert.deepEqual(await revisionsOf(store, other), ['1*'], 'other states are untouched');
    assert.equal((await store.saveState(stateOf(id, 'fresh'))).revision, 1);
  });

  it('prunes to `history` per state in the save; a store with a smaller limit prunes on its next write', async (t) => {
    const path = tempDatabase(t);
    const wide = storeAt(t, path, { history: 3 });
    const id = randomUUID();
    for (let n = 1; n <= 6; n++) await wide.saveState(stateOf(id, { n }));
    const kept = () => historyRows(t, path, id).map((row) => (row as { revision: number }).revision);
    assert.deepEqual(kept(), [3, 4, 5]);

    const narrow = storeAt(t, path, { history: 1 });
    assert.deepEqual(await revisionsOf(narrow, id), ['6*', '5', '4', '3'], 'reading prunes nothing');
    await narrow.saveState(stateOf(id, { n: 7 }));
    assert.deepEqual(kept(), [6]);
    await narrow.deleteState(id);
    assert.deepEqual(kept(), [7], 'a delete prunes too');

    const none = storeAt(t, path, { history: 0 });
    await none.saveState(stateOf(id, { n: 8 }));
    assert.deepEqual(kept(), [], 'history 0 keeps none');
    await none.saveState(stateOf(id, { n: 9 }), { keepReplaced: true });
    assert.deepEqual(kept(), [8], 'keepReplaced keeps the replaced one even so');
    await wide.saveState(stateOf(id, { n: 10 }));
    assert.deepEqual(kept(), [8, 9], 'a store keeping more lets history grow again');
  });

  it('a save is one transaction: when keeping the replaced row fails, nothing is written', async (t) => {
    const path = tempDatabase(t);
    const store = storeAt(t, path);
    const id = randomUUID();
    await store.saveState(stateOf(id, 'one'));
    assert.equal((await store.listStates()).length, 1, 'the list cache is warm');
    const db = rawConnection(t, path);
    db.exec(
      "CREATE TRIGGER refuse_history BEFORE INSERT ON plugin_states_history BEGIN SELECT RAISE(ABORT, 'history is full'); END",
    );
    const error = await rejection(store.saveState(stateOf(id, 'two')));
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, /history is full/);
    const deleteError = await rejection(store.deleteState(id));
    assert.ok(deleteError instanceof StorageError, String(deleteError));
    assert.deepEqual(db.prepare('SELECT revision, data FROM plugin_states').all(), [
      { revision: 1, data: '"one"' },
    ]);
    assert.deepEqual(
      (await store.listStates()).map((s) => [s.revision, s.data]),
      [[1, 'one']],
    );
    assert.equal((await store.loadState(id))?.data, 'one');
    db.exec('DROP TRIGGER refuse_history');
    assert.equal((await store.saveState(stateOf(id, 'two'))).revision, 2, 'the failed save used no revision');
    assert.deepEqual(await revisionsOf(store, id), ['2*', '1']);
  });

  it('the list cache stays exact through restores, deletes and purges, by this store or another', async (t) => {
    const path = tempDatabase(t);
    const a = storeAt(t, path);
    const b = storeAt(t, path);
    const x = randomUUID();
    const y = randomUUID();
    await a.saveState(stateOf(x, 'x1'));
    await a.saveState(stateOf(x, 'x2'));
    await a.saveState(stateOf(y, 'y1'));
    const listed = async () =>
      Object.fromEntries((await a.listStates()).map((s) => [s.pluginId, `${String(s.data)}@${s.revision}`]));
    assert.deepEqual(await listed(), { [x]: 'x2@2', [y]: 'y1@1' });
    await b.deleteState(x);
    assert.deepEqual(await listed(), { [y]: 'y1@1' }, 'another instance deleted x');
    await b.restoreRevision(x, 1);
    assert.deepEqual(await listed(), { [x]: 'x1@3', [y]: 'y1@1' }, 'another instance restored x');
    assert.equal((await a.loadState(x))?.data, 'x1');
    await a.restoreRevision(x, 2);
    assert.deepEqual(await listed(), { [x]: 'x2@4', [y]: 'y1@1' }, 'this instance restored x');
    await a.purgeState(y);
    assert.deepEqual(await listed(), { [x]: 'x2@4' }, 'this instance purged y');
    assert.equal(await a.loadState(y), undefined);
    await b.purgeState(x);
    assert.deepEqual(await listed(), {}, 'another instance purged x');
    assert.deepEqual(await b.listStates(), []);
  });

  it('maxStoredVersion holds across processes: once a newer version is stored, no older plugin overwrites it', async (t) => {
    const path = tempDatabase(t);
    const seed = storeAt(t, path, { history: 10_000 });
    const id = randomUUID();
    await seed.saveState({ ...stateOf(id, { by: 1, n: -1 }), version: 1 });
    await seed.close();
    const newer = child(t, ['versioned', path, id, '2', '-', '100']);
    const older = child(t, ['versioned', path, id, '1', '1', 'until-refused:20']);
    assert.equal(await newer.nextLine(), 'ready');
    assert.equal(await older.nextLine(), 'ready');
    older.send('go');
    newer.send('go');
    type Result = { acked: number[]; refused: number; storedVersions: number[] };
    const [fromNewer, fromOlder] = [
      await newer.nextJson<Result>(60_000),
      await older.nextJson<Result>(60_000),
    ];
    await Promise.all([newer.finish(), older.finish()]);
    t.diagnostic(`older plugin: ${fromOlder.acked.length} saves acknowledged, ${fromOlder.refused} refused`);
    assert.equal(fromNewer.acked.length, 100);
    assert.equal(fromOlder.refused, 20);
    assert.deepEqual(fromOlder.storedVersions, [2], 'every refusal saw version 2 stored');
    const firstNewer = Math.min(...fromNewer.acked);
    assert.ok(
      fromOlder.acked.every((revision) => revision < firstNewer),
      'no save of the older plugin was acknowledged after the newer one stored version 2',
    );

    const check = storeAt(t, path, { history: 10_000 });
    const revisions = (await check.listRevisions(id)).reverse();
    const total = 1 + fromNewer.acked.length + fromOlder.acked.length;
    assert.deepEqual(
      revisions.map((info) => info.revision),
      Array.from({ length: total }, (_, i) => i + 1),
      'every acknowledged save is one revision, none lost',
    );
    const firstV2 = revisions.findIndex((info) => info.version === 2);
    assert.ok(
      revisions.slice(firstV2).every((info) => info.version === 2),
      'no version 1 after version 2',
    );
  });

  it('opens a database of the previous release in place: states readable, history from the next save', async (t) => {
    const path = tempDatabase(t);
    const db = rawConnection(t, path);
    const a = randomUUID();
    const b = randomUUID();
    db.exec(PREVIOUS_RELEASE);
    db.exec(`CREATE TABLE other_states (plugin_id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL,
      revision INTEGER NOT NULL, last_modified INTEGER NOT NULL, data TEXT NOT NULL);
      INSERT INTO plugin_state_meta (key, value) VALUES ('other_states.schema_version', '1')`);
    const insert = db.prepare('INSERT INTO plugin_states VALUES (?, ?, ?, ?, ?)');
    insert.run(a, 2, 7, 1_700_000_000_000, '{"theme":"dark"}');
    insert.run(b, 1, 1, 1_700_000_000_001, '[1,2]');

    // Two stores open it at once: the upgrade happens once, under SQLite's write lock.
    const first = storeAt(t, path);
    const second = storeAt(t, path);
    await Promise.all([first.open(), second.open()]);
    assert.deepEqual(await first.loadState(a), {
      pluginId: a,
      data: { theme: 'dark' },
      lastModified: new Date(1_700_000_000_000),
      version: 2,
      revision: 7,
    });
    assert.equal((await second.listStates()).length, 2);
    assert.deepEqual(
      db.prepare('SELECT key, value FROM plugin_state_meta ORDER BY key').all(),
      [
        { key: 'other_states.schema_version', value: '1' },
        { key: 'plugin_states.schema_version', value: '2' },
      ],
      'only the opened table is upgraded',
    );
    assert.deepEqual(
      db.prepare("SELECT name FROM sqlite_master WHERE name LIKE '%history' ORDER BY name").pluck().all(),
      ['plugin_states_history'],
    );
    assert.deepEqual(await revisionsOf(first, a), ['7*'], 'history starts empty');
    assert.equal(
      (await second.saveState(stateOf(a, { theme: 'light' }), { expectedRevision: 7 })).revision,
      8,
    );
    await first.deleteState(b);
    assert.deepEqual(await revisionsOf(first, a), ['8*', '7']);
    assert.deepEqual((await first.loadRevision(a, 7))?.data, { theme: 'dark' });
    assert.deepEqual(await revisionsOf(second, b), ['1']);
    assert.equal((await second.restoreRevision(b, 1)).revision, 2);
  });

  it('refuses a history table of the wrong shape, and changes nothing', async (t) => {
    const path = tempDatabase(t);
    const db = rawConnection(t, path);
    db.exec(PREVIOUS_RELEASE);
    db.exec('CREATE TABLE plugin_states_history (plugin_id TEXT PRIMARY KEY, data TEXT)');
    db.close();
    const before = readFileSync(path);
    const store = storeAt(t, path);
    const error = await rejection(store.open());
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, /table "plugin_states_history" .* is not a plugin-state table/);
    assert.match(error.message, /column revision is missing/);
    assert.match(error.message, /primary key is \(plugin_id\), expected \(plugin_id, revision\)/);
    assert.ok(readFileSync(path).equals(before), 'the file is unchanged');
  });

  describe('a corrupt history row is a SerializationError naming file, table and id', () => {
    async function setup(t: TestContext) {
      const path = tempDatabase(t);
      const store = storeAt(t, path);
      const id = randomUUID();
      for (let n = 1; n <= 3; n++) await store.saveState(stateOf(id, { n }));
      const db = rawConnection(t, path);
      const spoil = (sql: string) => db.prepare(sql).run(id);
      return { path, store, id, db, spoil };
    }

    function assertNames(error: Error, path: string, id: string, pattern: RegExp): void {
      assert.ok(error instanceof SerializationError, `expected a SerializationError, got ${String(error)}`);
      for (const part of [path, 'table plugin_states_history', id]) {
        assert.ok(error.message.includes(part), `the message names ${part}: ${error.message}`);
      }
      assert.match(error.message, pattern);
      assert.equal((error as SerializationError).pluginId, id);
    }

    it('metadata that is not a number: listRevisions and loadRevision refuse; load and save go on', async (t) => {
      const { path, store, id, db, spoil } = await setup(t);
      spoil("UPDATE plugin_states_history SET version = 'new' WHERE plugin_id = ? AND revision = 2");
      assertNames(await rejection(store.listRevisions(id)), path, id, /column version/);
      assertNames(await rejection(store.loadRevision(id, 2)), path, id, /column version/);
      assertNames(await rejection(store.restoreRevision(id, 2)), path, id, /column version/);
      assert.deepEqual((await store.loadRevision(id, 1))?.data, { n: 1 }, 'the other revisions read');
      assert.deepEqual((await store.loadState(id))?.data, { n: 3 });
      assert.equal((await store.saveState(stateOf(id, { n: 4 }))).revision, 4);
      assert.equal(
        db.prepare('SELECT version FROM plugin_states_history WHERE revision = 2').pluck().get(),
        'new',
        'the row is kept as it was',
      );
    });

    it('data that does not parse: loadRevision and restoreRevision refuse, and change nothing', async (t) => {
      const { path, store, id, spoil } = await setup(t);
      spoil(`UPDATE plugin_states_history SET data = '{"n": 1' WHERE plugin_id = ? AND revision = 1`);
      assert.deepEqual(await revisionsOf(store, id), ['3*', '2', '1'], 'listRevisions reads metadata only');
      assertNames(
        await rejection(store.loadRevision(id, 1)),
        path,
        id,
        /column data does not hold valid JSON/,
      );
      assertNames(await rejection(store.restoreRevision(id, 1)), path, id, /valid JSON/);
      assert.deepEqual(await revisionsOf(store, id), ['3*', '2', '1'], 'nothing was saved');
    });

    it('a revision that is not a number is left out of the numbering, and never pruned', async (t) => {
      const { path, store, id, db, spoil } = await setup(t);
      spoil("UPDATE plugin_states_history SET revision = 'x' WHERE plugin_id = ? AND revision = 2");
      assertNames(await rejection(store.listRevisions(id)), path, id, /column revision/);
      const narrow = storeAt(t, path, { history: 1 });
      assert.equal((await narrow.saveState(stateOf(id, { n: 4 }))).revision, 4);
      assert.deepEqual(
        db
          .prepare('SELECT revision FROM plugin_states_history WHERE plugin_id = ? ORDER BY revision')
          .pluck()
          .all(id),
        [3, 'x'],
        'pruned to one sound revision; the corrupt row stays for inspection',
      );
      await narrow.purgeState(id);
      assert.deepEqual(await store.listRevisions(id), [], 'purgeState removes it with the rest');
    });
  });
});
