// History in PostgresStateStorage beyond the conformance suite: the rows of <table>_history, the
// upgrade of tables made by the previous release, corrupt history rows, and what must hold when
// several instances write one state at once (numbering, pruning, maxStoredVersion, lock waits).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import {
  type PluginState,
  SerializationError,
  StorageError,
  VersionIncompatibilityError,
} from '../../../src/index.js';
import type { PostgresStateStorage, PostgresStorageOptions } from '../../../src/storage/postgres/index.js';
import { PostgresFixture } from '../../helpers/postgres-server.js';

const fixture = new PostgresFixture();
after(() => fixture.cleanup());

const stateOf = (
  pluginId: string,
  data: PluginState['data'],
  extra: Partial<PluginState> = {},
): PluginState => ({
  pluginId,
  data,
  lastModified: new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789)),
  ...extra,
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  assert.fail('expected a rejection');
}

async function admin() {
  return (await fixture.server()).admin;
}

let tables = 0;
/** A new table name, and a way to open stores on it (all closed after the file). */
function newTable(prefix = 'history') {
  const table = `${prefix}_${++tables}`;
  const stores: PostgresStateStorage[] = [];
  after(() => Promise.all(stores.map((store) => store.close())));
  return {
    table,
    qualified: `"${fixture.schema}"."${table}"`,
    history: `"${fixture.schema}"."${table}_history"`,
    open: async (options: PostgresStorageOptions = {}) => {
      const store = await fixture.storage(options, table);
      stores.push(store);
      return store;
    },
  };
}

async function revisionsOf(store: PostgresStateStorage, id: string): Promise<string[]> {
  return (await store.listRevisions(id)).map((info) => `${info.revision}${info.current ? '*' : ''}`);
}

describe(`PostgresStateStorage history on ${fixture.title}`, () => {
  it('keeps each replaced row in <table>_history as stored; a delete moves the last one in; purge empties both', async () => {
    const { open, qualified, history } = newTable();
    const store = await open();
    const db = await admin();
    const id = randomUUID();
    const other = randomUUID();
    await store.saveState({ ...stateOf(id, { n: 1 }), lastModified: new Date(1000), version: 1 });
    await store.saveState({
      ...stateOf(id, { n: 'two', é: '😀' }),
      lastModified: new Date(2000),
      version: 2,
    });
    await store.saveState({ ...stateOf(id, { n: 3 }), lastModified: new Date(3000), version: 2 });
    await store.saveState(stateOf(other, 'other'));
    const kept = async (pluginId: string) =>
      (
        await db.query(
          `SELECT revision::int, version::int, last_modified::float8 AS last_modified, data FROM ${history}
            WHERE plugin_id = $1 ORDER BY revision`,
          [pluginId],
        )
      ).rows;
    assert.deepEqual(await kept(id), [
      { revision: 1, version: 1, last_modified: 1000, data: '{"n":1}' },
      { revision: 2, version: 2, last_modified: 2000, data: '{"n":"two","é":"😀"}' },
    ]);
    assert.deepEqual(await kept(other), [], 'a first save replaces nothing');
    assert.deepEqual(
      (await store.listRevisions(id)).map((info) => info.size),
      [7, Buffer.byteLength('{"n":"two","é":"😀"}'), 7],
      'sizes are UTF-8 bytes',
    );

    await store.deleteState(id);
    const current = await db.query(`SELECT count(*)::int AS n FROM ${qualified} WHERE plugin_id = $1`, [id]);
    assert.equal(current.rows[0].n, 0);
    assert.deepEqual(
      (await kept(id)).map((row) => row.revision),
      [1, 2, 3],
      'the deleted revision is in history',
    );
    assert.equal((await store.saveState(stateOf(id, 'back'))).revision, 4);
    assert.deepEqual(await revisionsOf(store, id), ['4*', '3', '2', '1']);

    await store.purgeState(id);
    assert.deepEqual(await kept(id), []);
    assert.equal(await store.loadState(id), undefined);
    assert.deepEqual(await revisionsOf(store, other), ['1*'], 'other states are untouched');
    assert.equal((await store.saveState(stateOf(id, 'fresh'))).revision, 1);
  });

  it('prunes to `history` per state in the save; a store with a smaller limit prunes on its next write', async () => {
    const { open, history } = newTable();
    const db = await admin();
    const wide = await open({ history: 3 });
    const id = randomUUID();
    for (let n = 1; n <= 6; n++) await wide.saveState(stateOf(id, { n }));
    const kept = async () =>
      (
        await db.query(`SELECT revision::int FROM ${history} WHERE plugin_id = $1 ORDER BY revision`, [id])
      ).rows.map((row) => row.revision);
    assert.deepEqual(await kept(), [3, 4, 5]);
    const narrow = await open({ history: 1 });
    assert.deepEqual(await revisionsOf(narrow, id), ['6*', '5', '4', '3'], 'reading prunes nothing');
    await narrow.saveState(stateOf(id, { n: 7 }));
    assert.deepEqual(await kept(), [6]);
    await narrow.deleteState(id);
    assert.deepEqual(await kept(), [7], 'a delete prunes too');
    const none = await open({ history: 0 });
    await none.saveState(stateOf(id, { n: 8 }));
    assert.deepEqual(await kept(), [], 'history 0 keeps none');
    await none.saveState(stateOf(id, { n: 9 }), { keepReplaced: true });
    assert.deepEqual(await kept(), [8], 'keepReplaced keeps the replaced one even so');
    await wide.saveState(stateOf(id, { n: 10 }));
    assert.deepEqual(await kept(), [8, 9], 'a store keeping more lets history grow again');
  });

  it('instances saving and deleting one state at once: every save its own revision, none lost, no key clash', async () => {
    const { open } = newTable();
    const stores = await Promise.all(Array.from({ length: 4 }, () => open({ history: 10_000 })));
    const id = randomUUID();
    const acked: number[] = [];
    await Promise.all(
      stores.map(async (store, n) => {
        for (let i = 0; i < 40; i++) {
          if ((i + n) % 5 === 4) await store.deleteState(id);
          else acked.push((await store.saveState(stateOf(id, { n, i }))).revision!);
        }
      }),
    );
    acked.sort((a, b) => a - b);
    assert.deepEqual(
      acked,
      Array.from({ length: acked.length }, (_, i) => i + 1),
      'the acknowledged saves got revisions 1..n, each once',
    );
    const kept = (await stores[0]!.listRevisions(id)).map((info) => info.revision).sort((a, b) => a - b);
    assert.deepEqual(kept, acked, 'history and the current row hold every revision once');

    // The same race with a small history: it never holds more than asked.
    const small = await Promise.all(Array.from({ length: 4 }, () => open({ history: 2 })));
    const other = randomUUID();
    await Promise.all(
      small.map(async (store, n) => {
        for (let i = 0; i < 30; i++) {
          if ((i + n) % 7 === 6) await store.deleteState(other);
          else await store.saveState(stateOf(other, { n, i }));
        }
      }),
    );
    const listed = await small[0]!.listRevisions(other);
    assert.ok(
      listed.filter((info) => !info.current).length <= 2,
      `at most 2 kept: ${JSON.stringify(listed)}`,
    );
  });

  it('maxStoredVersion holds between instances: once a newer version is stored, no older plugin overwrites it', async (t) => {
    const { open } = newTable();
    const newer = await open({ history: 10_000 });
    const older = await open({ history: 10_000 });
    const id = randomUUID();
    await older.saveState(stateOf(id, { by: 1 }, { version: 1 }));
    const olderAcked: number[] = [];
    const newerAcked: number[] = [];
    const storedVersions = new Set<number>();
    let refused = 0;
    await Promise.all([
      (async () => {
        for (let n = 0; n < 60; n++) {
          newerAcked.push((await newer.saveState(stateOf(id, { by: 2, n }, { version: 2 }))).revision!);
        }
      })(),
      (async () => {
        while (refused < 20) {
          try {
            const saved = await older.saveState(stateOf(id, { by: 1 }, { version: 1 }), {
              maxStoredVersion: 1,
            });
            olderAcked.push(saved.revision!);
          } catch (error) {
            assert.ok(error instanceof VersionIncompatibilityError, String(error));
            storedVersions.add(error.storedVersion!);
            refused++;
          }
        }
      })(),
    ]);
    t.diagnostic(`older plugin: ${olderAcked.length} saves acknowledged, ${refused} refused`);
    assert.deepEqual([...storedVersions], [2]);
    const firstNewer = Math.min(...newerAcked);
    assert.ok(
      olderAcked.every((revision) => revision < firstNewer),
      'no older save acknowledged after version 2',
    );
    const revisions = (await newer.listRevisions(id)).reverse();
    assert.deepEqual(
      revisions.map((info) => info.revision),
      Array.from({ length: 1 + olderAcked.length + newerAcked.length }, (_, i) => i + 1),
      'every acknowledged save is one revision, none lost',
    );
    const firstV2 = revisions.findIndex((info) => info.version === 2);
    assert.ok(
      revisions.slice(firstV2).every((info) => info.version === 2),
      'no version 1 after version 2',
    );
  });

  it('a writer that holds the state too long makes a save fail within the timeout, having changed nothing', {
    skip:
      fixture.kind === 'pglite'
        ? 'PGlite runs one backend: a transaction left open blocks every connection'
        : false,
  }, async () => {
    const { open, qualified } = newTable();
    const store = await open({ queryTimeoutMs: 1_000 });
    const id = randomUUID();
    await store.saveState(stateOf(id, 'one'));
    const client = await (await admin()).connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT 1 FROM ${qualified} WHERE plugin_id = $1 FOR UPDATE`, [id]);
      const started = Date.now();
      const error = await rejection(store.saveState(stateOf(id, 'two')));
      assert.ok(error instanceof StorageError, String(error));
      assert.match(error.message, /another writer held the state.*nothing was changed/);
      assert.ok(Date.now() - started < 2_000, 'within the query timeout');
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    assert.equal((await store.loadState(id))?.data, 'one');
    assert.equal((await store.saveState(stateOf(id, 'two'))).revision, 2, 'the failed save used no revision');
  });

  it('opens tables of the previous release in place: states readable, history from the next save', async () => {
    const { open, table, qualified, history } = newTable('previous');
    const db = await admin();
    const a = randomUUID();
    const b = randomUUID();
    // What the previous release created (layout 1): the table and its meta table, nothing else.
    await db.query(`CREATE SCHEMA IF NOT EXISTS "${fixture.schema}"`);
    await db.query(`CREATE TABLE ${qualified} (
      plugin_id uuid PRIMARY KEY, version bigint NOT NULL CHECK (version >= 1),
      revision bigint NOT NULL CHECK (revision >= 1), last_modified bigint NOT NULL, data text NOT NULL)`);
    await db.query(
      `CREATE TABLE "${fixture.schema}"."${table}_meta" (key text PRIMARY KEY, value text NOT NULL)`,
    );
    await db.query(`INSERT INTO "${fixture.schema}"."${table}_meta" VALUES ('schema_version', '1')`);
    await db.query(
      `INSERT INTO ${qualified} VALUES ($1, 2, 7, 1700000000000, '{"theme":"dark"}'), ($2, 1, 1, 1, '[1,2]')`,
      [a, b],
    );

    // Several instances open them at once: the upgrade happens once, under the creation lock.
    const stores = await Promise.all(Array.from({ length: 4 }, () => open()));
    await Promise.all(stores.map((store) => store.open()));
    const [first, second] = stores as [PostgresStateStorage, PostgresStateStorage];
    assert.deepEqual(await first.loadState(a), {
      pluginId: a,
      data: { theme: 'dark' },
      lastModified: new Date(1_700_000_000_000),
      version: 2,
      revision: 7,
    });
    assert.equal((await second.listStates()).length, 2);
    const meta = await db.query(`SELECT key, value FROM "${fixture.schema}"."${table}_meta"`);
    assert.deepEqual(meta.rows, [{ key: 'schema_version', value: '2' }]);
    const exists = await db.query('SELECT to_regclass($1) IS NOT NULL AS found', [history]);
    assert.equal(exists.rows[0].found, true, 'the history table was created');
    assert.deepEqual(await revisionsOf(first, a), ['7*'], 'history starts empty');
    assert.equal(
      (await second.saveState(stateOf(a, { theme: 'light' }), { expectedRevision: 7 })).revision,
      8,
    );
    await first.deleteState(b);
    assert.deepEqual(await revisionsOf(first, a), ['8*', '7']);
    assert.deepEqual((await first.loadRevision(a, 7))?.data, { theme: 'dark' });
    assert.equal((await second.restoreRevision(b, 1)).revision, 2);
  });

  it('adopts a table keyed by text (made by hand) and keeps its history keyed the same way', async () => {
    const { open, table, qualified, history } = newTable('by_hand');
    const db = await admin();
    const id = randomUUID();
    await db.query(`CREATE SCHEMA IF NOT EXISTS "${fixture.schema}"`);
    await db.query(`CREATE TABLE ${qualified} (plugin_id text PRIMARY KEY, version integer NOT NULL,
      revision bigint NOT NULL, last_modified bigint NOT NULL, data text NOT NULL)`);
    await db.query(`INSERT INTO ${qualified} VALUES ($1, 1, 3, 0, '"by hand"')`, [id]);
    const store = await open();
    assert.equal((await store.saveState(stateOf(id, 'by us'), { expectedRevision: 3 })).revision, 4);
    assert.deepEqual(await revisionsOf(store, id), ['4*', '3']);
    assert.equal((await store.loadRevision(id, 3))?.data, 'by hand');
    const type = await db.query(
      `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'plugin_id'`,
      [history],
    );
    assert.equal(type.rows[0].type, 'text');
    const meta = await db.query(`SELECT value FROM "${fixture.schema}"."${table}_meta"`);
    assert.deepEqual(meta.rows, [{ value: '2' }]);
  });

  it('refuses a history table of the wrong shape, and changes nothing', async () => {
    const { open, table, history } = newTable('wrong_history');
    const db = await admin();
    await db.query(`CREATE SCHEMA IF NOT EXISTS "${fixture.schema}"`);
    await db.query(`CREATE TABLE ${history} (plugin_id uuid PRIMARY KEY, data text)`);
    const store = await open();
    const error = await rejection(store.open());
    assert.ok(error instanceof StorageError, String(error));
    for (const part of [
      history,
      'column revision is missing',
      '(plugin_id, revision) is not its primary key',
    ]) {
      assert.ok(error.message.includes(part), `the message says ${part}: ${error.message}`);
    }
    const made = await db.query('SELECT to_regclass($1) AS t, to_regclass($2) AS m', [
      `"${fixture.schema}"."${table}"`,
      `"${fixture.schema}"."${table}_meta"`,
    ]);
    assert.deepEqual(made.rows, [{ t: null, m: null }], 'nothing was created');
  });

  describe('a corrupt history row is a SerializationError naming server, table and id', () => {
    async function setup() {
      const { open, history } = newTable('corrupt_history');
      const store = await open();
      const id = randomUUID();
      for (let n = 1; n <= 3; n++) await store.saveState(stateOf(id, { n }));
      const server = await fixture.server();
      return { store, id, db: server.admin, history, place: `${server.host}:${server.port}` };
    }

    function assertNames(place: string, error: Error, history: string, id: string, pattern: RegExp): void {
      assert.ok(error instanceof SerializationError, `expected a SerializationError, got ${String(error)}`);
      for (const part of [place, history, id]) {
        assert.ok(error.message.includes(part), `the message names ${part}: ${error.message}`);
      }
      assert.match(error.message, pattern);
      assert.equal((error as SerializationError).pluginId, id);
    }

    it('data that does not parse: loadRevision and restoreRevision refuse; the rest goes on', async () => {
      const { store, id, db, history, place } = await setup();
      await db.query(`UPDATE ${history} SET data = '{"n": 1' WHERE plugin_id = $1 AND revision = 1`, [id]);
      assert.deepEqual(await revisionsOf(store, id), ['3*', '2', '1'], 'listRevisions reads metadata only');
      assertNames(
        place,
        await rejection(store.loadRevision(id, 1)),
        history,
        id,
        /data column is not valid JSON/,
      );
      assertNames(place, await rejection(store.restoreRevision(id, 1)), history, id, /not valid JSON/);
      assert.deepEqual((await store.loadRevision(id, 2))?.data, { n: 2 });
      assert.equal((await store.saveState(stateOf(id, { n: 4 }))).revision, 4);
      const { rows } = await db.query(`SELECT data FROM ${history} WHERE plugin_id = $1 AND revision = 1`, [
        id,
      ]);
      assert.deepEqual(rows, [{ data: '{"n": 1' }], 'the row is kept as it was');
    });

    it('a version that is not a version: listRevisions and loadRevision refuse', async () => {
      const { store, id, db, history, place } = await setup();
      await db.query(`UPDATE ${history} SET version = 0 WHERE plugin_id = $1 AND revision = 2`, [id]);
      assertNames(place, await rejection(store.listRevisions(id)), history, id, /version column holds "0"/);
      assertNames(place, await rejection(store.loadRevision(id, 2)), history, id, /version column/);
      assert.deepEqual((await store.loadState(id))?.data, { n: 3 }, 'the current state still loads');
    });
  });
});
