import assert from 'node:assert/strict';
import type { JsonValue } from '../core/types.js';
import { assertRecord, byId, newId, SOME_TIME, type Suite, stateOf } from './harness.js';

const SAMPLE: JsonValue = {
  theme: 'dark',
  fontSize: 14,
  ratio: 0.75,
  enabled: true,
  nothing: null,
  recent: ['a.txt', 'b/c.md'],
  nested: { deeper: { list: [1, [2, [3]], { x: 'y' }] } },
};

/** Save, load, delete and list: the basic contract. */
export function roundTripTests(suite: Suite): void {
  suite.describe('round trip', () => {
    suite.test(
      'a saved state loads back with its data, version 1 by default and lastModified',
      async (store) => {
        const id = newId();
        const saved = await store.saveState(stateOf(id, SAMPLE));
        assertRecord(saved, 'saveState result');
        assert.equal(saved.pluginId, id);
        assert.deepEqual(saved.data, SAMPLE);
        assert.equal(saved.version, 1, 'version defaults to 1');
        assert.equal(saved.revision, 1);
        assert.equal(
          saved.lastModified.getTime(),
          SOME_TIME.getTime(),
          'lastModified kept to the millisecond',
        );

        const loaded = await store.loadState(id);
        assertRecord(loaded, 'loadState result');
        assert.equal(loaded.pluginId, id);
        assert.deepStrictEqual(loaded.data, SAMPLE);
        assert.equal(loaded.version, 1);
        assert.equal(loaded.revision, 1);
        assert.equal(
          loaded.lastModified.getTime(),
          SOME_TIME.getTime(),
          'lastModified kept to the millisecond',
        );
      },
    );

    suite.test('an explicit version is kept', async (store) => {
      const id = newId();
      const saved = await store.saveState(stateOf(id, { v: 7 }, { version: 7 }));
      assert.equal(saved.version, 7);
      assert.equal((await store.loadState(id))?.version, 7);
      await store.saveState(stateOf(id, { v: 2 }, { version: 2 }));
      assert.equal((await store.loadState(id))?.version, 2, 'a later save sets the version it carries');
    });

    suite.test(
      'lastModified survives to the millisecond, including before 1970 and in year 9999',
      async (store) => {
        for (const time of [0, -1, 1, Date.UTC(9999, 11, 31, 23, 59, 59, 999), SOME_TIME.getTime() + 1]) {
          const id = newId();
          const saved = await store.saveState(stateOf(id, time, { lastModified: new Date(time) }));
          assert.equal(
            saved.lastModified.getTime(),
            time,
            `saveState result for ${new Date(time).toISOString()}`,
          );
          const loaded = await store.loadState(id);
          assert.equal(loaded?.lastModified.getTime(), time, `loadState for ${new Date(time).toISOString()}`);
        }
      },
    );

    suite.test('an upper-case id is stored and returned lower-case, and found in any case', async (store) => {
      const id = newId();
      const upper = id.toUpperCase();
      const saved = await store.saveState(stateOf(upper, { hello: 'world' }));
      assert.equal(saved.pluginId, id, 'saveState returns the lower-case id');
      assert.equal((await store.loadState(id))?.pluginId, id, 'found by the lower-case id');
      assert.equal((await store.loadState(upper))?.pluginId, id, 'found by the upper-case id');
      const mixed = id.slice(0, 18).toUpperCase() + id.slice(18);
      assert.deepEqual((await store.loadState(mixed))?.data, { hello: 'world' }, 'found by a mixed-case id');
      const listed = await store.listStates();
      assert.deepEqual(
        listed.map((state) => state.pluginId),
        [id],
        'listed once, lower-case',
      );
      const again = await store.saveState(stateOf(id, { hello: 'again' }));
      assert.equal(again.revision, 2, 'the lower-case and upper-case ids are the same state');
      await store.deleteState(upper);
      assert.equal(await store.loadState(id), undefined, 'deleted by the upper-case id');
    });

    suite.test('a missing id loads as undefined', async (store) => {
      assert.equal(await store.loadState(newId()), undefined);
      await store.saveState(stateOf(newId(), 1));
      assert.equal(await store.loadState(newId()), undefined, 'also when other states exist');
    });

    suite.test('a later save replaces the data', async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, { a: 1, b: [1, 2, 3] }));
      await store.saveState(stateOf(id, { c: 'x' }));
      assert.deepStrictEqual((await store.loadState(id))?.data, { c: 'x' }, 'no merge with the old data');
    });
  });

  suite.describe('delete', () => {
    suite.test('deleting a missing state is not an error', async (store) => {
      await store.deleteState(newId());
      assert.deepEqual(await store.listStates(), [], 'deleting created nothing');
    });

    suite.test('a deleted state loads as undefined and is left out of listStates', async (store) => {
      const gone = newId();
      const kept = newId();
      await store.saveState(stateOf(gone, { bye: true }));
      await store.saveState(stateOf(kept, { stay: true }));
      await store.deleteState(gone);
      assert.equal(await store.loadState(gone), undefined);
      const listed = await store.listStates();
      assert.deepEqual(
        listed.map((state) => state.pluginId),
        [kept],
      );
      assert.deepEqual((await store.loadState(kept))?.data, { stay: true }, 'other states untouched');
    });

    suite.test('deleting twice is not an error', async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, 1));
      await store.deleteState(id);
      await store.deleteState(id);
      assert.equal(await store.loadState(id), undefined);
    });
  });

  suite.describe('list', () => {
    suite.test('a fresh store lists nothing', async (store) => {
      const listed = await store.listStates();
      assert.ok(Array.isArray(listed), 'listStates returns an array');
      assert.equal(listed.length, 0);
    });

    suite.test('listStates returns every saved state with all its fields', async (store) => {
      const expected = [];
      for (let i = 0; i < 5; i++) {
        const id = newId();
        const lastModified = new Date(SOME_TIME.getTime() + i * 1001);
        const data = { index: i, name: `plugin ${i}` };
        await store.saveState({ pluginId: id, data, lastModified, version: i + 1 });
        const saves = i % 2 === 0 ? 1 : 2;
        if (saves === 2) await store.saveState({ pluginId: id, data, lastModified, version: i + 1 });
        expected.push({ pluginId: id, data, lastModified, version: i + 1, revision: saves });
      }
      const listed = byId(await store.listStates());
      assert.equal(listed.length, 5, 'one entry per id');
      for (const [index, state] of listed.entries()) assertRecord(state, `listStates()[${index}]`);
      assert.deepStrictEqual(
        listed.map((state) => ({
          pluginId: state.pluginId,
          data: state.data,
          lastModified: state.lastModified,
          version: state.version,
          revision: state.revision,
        })),
        byId(expected),
      );
    });
  });
}
