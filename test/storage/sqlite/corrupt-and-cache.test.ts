import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { SerializationError, type StateReport } from '../../../src/index.js';
import { SqliteStateStorage, type SqliteStorageOptions } from '../../../src/storage/sqlite/index.js';
import { rawConnection, stateOf, storeAt, tempDatabase } from './helpers.js';

function setup(t: TestContext, options: SqliteStorageOptions = {}) {
  const path = tempDatabase(t);
  const reports: StateReport[] = [];
  const store = storeAt(t, path, { ...options, onReport: (report) => reports.push(report) });
  const other = rawConnection(t, path);
  const row = (id: string) => other.prepare('SELECT * FROM plugin_states WHERE plugin_id = ?').get(id);
  return { path, store, other, reports, row };
}

async function serializationError(promise: Promise<unknown>): Promise<SerializationError> {
  const error = await promise.then(
    () => assert.fail('expected a SerializationError'),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof SerializationError, `expected a SerializationError, got ${String(error)}`);
  return error;
}

describe('SqliteStateStorage corrupt rows', () => {
  it('a corrupt row is a SerializationError naming file, table and id; the row is left as it was', async (t) => {
    const { path, store, other, row } = setup(t);
    const id = randomUUID();
    await store.saveState(stateOf(id, { fine: true }));
    other.prepare('UPDATE plugin_states SET data = ? WHERE plugin_id = ?').run('{"fine": tru', id);
    const stored = row(id);
    const error = await serializationError(store.loadState(id));
    for (const part of [path, 'plugin_states', id]) {
      assert.ok(error.message.includes(part), `the message names ${part}: ${error.message}`);
    }
    assert.equal(error.pluginId, id);
    assert.deepEqual(row(id), stored, 'the row is untouched');
  });

  for (const [what, sql, pattern] of [
    ['invalid UTF-8 bytes', "UPDATE plugin_states SET data = X'22ff22' WHERE plugin_id = ?", /UTF-8/],
    [
      'a __proto__ payload',
      `UPDATE plugin_states SET data = '{"__proto__":{"polluted":1}}' WHERE plugin_id = ?`,
      /valid JSON/,
    ],
    [
      'a revision that is not a number',
      "UPDATE plugin_states SET revision = 'two' WHERE plugin_id = ?",
      /revision/,
    ],
    ['a version of 0', 'UPDATE plugin_states SET version = 0 WHERE plugin_id = ?', /version/],
    [
      'a time that is text',
      "UPDATE plugin_states SET last_modified = 'yesterday' WHERE plugin_id = ?",
      /last_modified/,
    ],
  ] as const) {
    it(`refuses ${what} on load and list`, async (t) => {
      const { store, other, reports } = setup(t);
      const id = randomUUID();
      await store.saveState(stateOf(id, 'fine'));
      other.prepare(sql).run(id);
      const error = await serializationError(store.loadState(id));
      assert.match(error.message, pattern);
      assert.deepEqual(await store.listStates(), []);
      assert.equal(reports.length, 1);
      assert.equal(reports[0]!.pluginId, id);
      assert.equal(reports[0]!.code, 'SERIALIZATION');
    });
  }

  it('a save over a corrupt row first copies it to <table>_corrupt, continues its revisions, and reports it', async (t) => {
    const { store, other, reports } = setup(t);
    const id = randomUUID();
    await store.saveState(stateOf(id, 'one'));
    await store.saveState(stateOf(id, 'two'));
    other.prepare('UPDATE plugin_states SET data = ? WHERE plugin_id = ?').run('{"cut', id);
    const saved = await store.saveState(stateOf(id, 'three'), { expectedRevision: 2 });
    assert.equal(saved.revision, 3, 'the revision column was intact, so revisions continue');
    assert.equal((await store.loadState(id))?.data, 'three');
    const kept = other.prepare('SELECT plugin_id, revision, data FROM plugin_states_corrupt').all();
    assert.deepEqual(kept, [{ plugin_id: id, revision: 2, data: '{"cut' }], 'the corrupt bytes are kept');
    assert.equal(reports.length, 1);
    assert.match(reports[0]!.message, /plugin_states_corrupt/);
    assert.equal(reports[0]!.recovered, true);
  });

  it('rows over 64 KiB are checked by their first and last bytes before a save replaces them', async (t) => {
    const { store, other, reports } = setup(t);
    const big = { text: 'x'.repeat(70 * 1024) };
    const intact = randomUUID();
    const cut = randomUUID();
    for (const id of [intact, cut]) await store.saveState(stateOf(id, big));
    other.prepare('UPDATE plugin_states SET data = substr(data, 1, 68000) WHERE plugin_id = ?').run(cut);
    for (const id of [intact, cut]) assert.equal((await store.saveState(stateOf(id, 'small'))).revision, 2);
    const kept = other.prepare('SELECT plugin_id, length(data) AS length FROM plugin_states_corrupt').all();
    assert.deepEqual(kept, [{ plugin_id: cut, length: 68000 }], 'only the cut row was kept');
    assert.deepEqual(
      reports.map((report) => report.pluginId),
      [cut],
    );
  });

  it('a save with expectedRevision over an unreadable revision is refused; without, it replaces the row from 1', async (t) => {
    const { store, other, row } = setup(t);
    const id = randomUUID();
    await store.saveState(stateOf(id, 'one'));
    other.prepare("UPDATE plugin_states SET revision = 'x' WHERE plugin_id = ?").run(id);
    const stored = row(id);
    const error = await serializationError(store.saveState(stateOf(id, 'two'), { expectedRevision: 1 }));
    assert.match(error.message, /cannot be compared with expectedRevision 1/);
    assert.deepEqual(row(id), stored, 'nothing changed');
    assert.equal((await store.saveState(stateOf(id, 'two'))).revision, 1);
    assert.equal(other.prepare('SELECT revision FROM plugin_states_corrupt').pluck().get(), 'x');
  });

  it('deleteState removes a corrupt row when asked to', async (t) => {
    const { store, other, row } = setup(t);
    const id = randomUUID();
    await store.saveState(stateOf(id, 'one'));
    other.prepare('UPDATE plugin_states SET data = ? WHERE plugin_id = ?').run('garbage', id);
    await store.deleteState(id);
    assert.equal(row(id), undefined);
  });

  it('lists skip a row whose plugin_id is not a lower-case UUID, and report it', async (t) => {
    const { store, other, reports } = setup(t);
    const id = randomUUID();
    await store.saveState(stateOf(id, 'ok'));
    other.prepare("INSERT INTO plugin_states VALUES ('NOT-AN-ID', 1, 1, 0, '1')").run();
    assert.deepEqual(
      (await store.listStates()).map((state) => state.pluginId),
      [id],
    );
    assert.equal(reports[0]?.pluginId, 'NOT-AN-ID');
  });
});

describe('SqliteStateStorage list cache', () => {
  for (const listCache of [true, { maxEntryBytes: 100 }, { maxTotalBytes: 300 }, false] as const) {
    it(`stays exact under foreign writes of every kind (listCache: ${JSON.stringify(listCache)})`, async (t) => {
      const { store, other, reports } = setup(t, { listCache });
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      const expected = new Map<string, unknown>();
      // Loads use the cache too (when its stamp is current), so both are checked, in both orders.
      let round = 0;
      const check = async (what: string) => {
        const loadAll = async () => {
          for (const id of ids) {
            const loaded = await store.loadState(id).then(
              (state) => state && [state.data, state.revision],
              (error: unknown) => error,
            );
            if (expected.has(id)) assert.deepEqual(loaded, expected.get(id), `${what}: load`);
            else if (loaded !== undefined)
              assert.ok(loaded instanceof SerializationError, `${what}: load of ${id}`);
          }
        };
        if (round++ % 2 === 0) await loadAll();
        const listed = await store.listStates();
        assert.deepEqual(
          new Map(listed.map((state) => [state.pluginId, [state.data, state.revision]])),
          expected,
          what,
        );
        await loadAll();
      };
      for (const [index, id] of ids.entries()) {
        await store.saveState(stateOf(id, { index, pad: 'x'.repeat(index * 60) }));
        expected.set(id, [{ index, pad: 'x'.repeat(index * 60) }, 1]);
      }
      await check('after own saves');
      await check('a warm list, nothing changed');

      // Another connection deletes a row and writes it again at the same revision and time.
      other.prepare('DELETE FROM plugin_states WHERE plugin_id = ?').run(ids[0]);
      other
        .prepare('INSERT INTO plugin_states VALUES (?, 1, 1, ?, ?)')
        .run(ids[0], 1_700_000_000_123, JSON.stringify({ index: 'rewritten' }));
      expected.set(ids[0]!, [{ index: 'rewritten' }, 1]);
      await check('a row rewritten at the same revision by another connection');

      // Another connection changes only the data bytes (no revision change).
      other
        .prepare('UPDATE plugin_states SET data = ? WHERE plugin_id = ?')
        .run('"silently changed"', ids[1]);
      expected.set(ids[1]!, ['silently changed', 1]);
      await check('data changed in place');

      // Corruption of a cached row is noticed and reported on every list.
      other.prepare('UPDATE plugin_states SET data = ? WHERE plugin_id = ?').run('{"cut', ids[2]);
      expected.delete(ids[2]!);
      await check('a cached row corrupted');
      await check('still skipped');
      assert.equal(reports.filter((report) => report.pluginId === ids[2]).length, 2);

      // A foreign write, then an own save before anything reads: the own save must not make the
      // cache look current over the foreign change.
      other
        .prepare('UPDATE plugin_states SET data = ? WHERE plugin_id = ?')
        .run('"foreign, then own"', ids[0]);
      expected.set(ids[0]!, ['foreign, then own', 1]);
      const fresh = randomUUID();
      await store.saveState(stateOf(fresh, 'own'));
      expected.set(fresh, ['own', 1]);
      await check('a foreign write followed by an own save');
      await store.deleteState(fresh);
      expected.delete(fresh);

      // Own writes: a save, a delete.
      await store.saveState(stateOf(ids[1]!, 'own save'));
      expected.set(ids[1]!, ['own save', 2]);
      await store.deleteState(ids[0]!);
      expected.delete(ids[0]!);
      await check('after own save and delete');
    });
  }

  it('notices writes the host makes through the very connection it lent the store', async (t) => {
    const path = tempDatabase(t);
    const db = rawConnection(t, path);
    const store = new SqliteStateStorage(db);
    t.after(() => store.close());
    const id = randomUUID();
    await store.saveState(stateOf(id, 'first'));
    assert.equal((await store.listStates())[0]?.data, 'first');
    db.prepare('UPDATE plugin_states SET data = ? WHERE plugin_id = ?').run('"changed by the host"', id);
    assert.equal((await store.listStates())[0]?.data, 'changed by the host');
  });

  it('returns fresh copies: mutating what a list or load returned changes nothing stored or cached', async (t) => {
    const { store } = setup(t);
    const id = randomUUID();
    await store.saveState(stateOf(id, { list: [1, 2], nested: { a: 1 } }));
    const first = await store.listStates();
    (first[0]!.data as { list: number[] }).list.push(3);
    first[0]!.lastModified.setTime(0);
    const loaded = await store.loadState(id);
    (loaded!.data as { nested: { a: number } }).nested.a = 99;
    const second = await store.listStates();
    assert.deepEqual(second[0]!.data, { list: [1, 2], nested: { a: 1 } });
    assert.equal(second[0]!.lastModified.getTime(), 1_700_000_000_123);
    assert.notEqual(second[0]!.data, first[0]!.data);
    assert.deepEqual((await store.loadState(id))!.data, { list: [1, 2], nested: { a: 1 } });
  });
});
