import assert from 'node:assert/strict';
import { ConflictError, ValidationError, VersionIncompatibilityError } from '../core/errors.js';
import type { PluginStateStorage } from '../core/storage.js';
import type { PluginId, RevisionInfo } from '../core/types.js';
import { newId, rejectsWith, SOME_TIME, type Suite, stateOf } from './harness.js';

type HistoryStorage = PluginStateStorage &
  Required<Pick<PluginStateStorage, 'listRevisions' | 'loadRevision' | 'restoreRevision' | 'purgeState'>>;

function withHistory(store: PluginStateStorage): HistoryStorage {
  for (const method of ['listRevisions', 'loadRevision', 'restoreRevision', 'purgeState'] as const) {
    assert.equal(typeof store[method], 'function', `history: true needs a ${method} method`);
  }
  return store as HistoryStorage;
}

/** The revision numbers listed, newest first, with the current one marked by a `*`. */
async function revisionsOf(store: HistoryStorage, pluginId: PluginId): Promise<string[]> {
  const listed = await store.listRevisions(pluginId);
  return listed.map((info) => `${info.revision}${info.current ? '*' : ''}`);
}

/** Saves `count` revisions `{ n: 1 }` … `{ n: count }` of `pluginId`. */
async function saveRevisions(store: PluginStateStorage, pluginId: PluginId, count: number): Promise<void> {
  for (let n = 1; n <= count; n++) await store.saveState(stateOf(pluginId, { n }));
}

/** History, restore and purge (declared with `capabilities.history`). */
export function historyTests(suite: Suite): void {
  suite.describe('history', () => {
    if (!suite.capabilities.history) {
      suite.test('no history (declared): the storage has no listRevisions', async (store) => {
        assert.equal(typeof store.listRevisions, 'undefined', 'a storage that declares no history has none');
      });
      return;
    }

    suite.test('each save keeps the revision it replaced, newest first', async (plain) => {
      const store = withHistory(plain);
      const id = newId();
      await store.saveState(stateOf(id, { n: 1 }, { version: 1 }));
      await store.saveState(stateOf(id, { n: 'two' }, { version: 2 }));
      await store.saveState(stateOf(id, { n: 3, é: '😀' }, { version: 2 }));
      const listed = await store.listRevisions(id);
      assert.deepEqual(
        listed.map(({ revision, version, current }) => ({ revision, version, current })),
        [
          { revision: 3, version: 2, current: true },
          { revision: 2, version: 2, current: false },
          { revision: 1, version: 1, current: false },
        ],
      );
      const sizes = [
        JSON.stringify({ n: 3, é: '😀' }),
        JSON.stringify({ n: 'two' }),
        JSON.stringify({ n: 1 }),
      ];
      assert.deepEqual(
        listed.map((info: RevisionInfo) => info.size),
        sizes.map((json) => Buffer.byteLength(json)),
        'size is the UTF-8 length of the data JSON',
      );
      for (const info of listed) {
        assert.ok(info.lastModified instanceof Date, 'lastModified is a Date');
        assert.equal(info.lastModified.getTime(), SOME_TIME.getTime(), 'lastModified as saved');
      }
      const second = await store.loadRevision(id, 2);
      assert.deepStrictEqual(second, {
        pluginId: id,
        data: { n: 'two' },
        lastModified: SOME_TIME,
        version: 2,
        revision: 2,
      });
      assert.deepStrictEqual(await store.loadRevision(id, 3), await store.loadState(id), 'the current one');
      assert.equal(await store.loadRevision(id, 4), undefined, 'a revision never saved');
      assert.deepEqual(await store.listRevisions(newId()), [], 'nothing stored: no revisions');
    });

    suite.testScoped('at most `history` replaced revisions are kept', async (scope) => {
      const store = withHistory(await scope.open({ history: 3 }));
      const id = newId();
      await saveRevisions(store, id, 7);
      assert.deepEqual(await revisionsOf(store, id), ['7*', '6', '5', '4']);
      assert.equal(await store.loadRevision(id, 3), undefined, 'dropped from history');
      assert.deepEqual((await store.loadRevision(id, 4))?.data, { n: 4 });
    });

    suite.testScoped('history 0 keeps none, and a delete then starts again at revision 1', async (scope) => {
      const store = withHistory(await scope.open({ history: 0 }));
      const id = newId();
      await saveRevisions(store, id, 3);
      assert.deepEqual(await revisionsOf(store, id), ['3*']);
      assert.equal(await store.loadRevision(id, 2), undefined);
      await store.deleteState(id);
      assert.deepEqual(await store.listRevisions(id), []);
      assert.equal((await store.saveState(stateOf(id, 'again'))).revision, 1);
    });

    suite.testScoped(
      'keepReplaced keeps the replaced revision even with history 0, until the next save',
      async (scope) => {
        const store = withHistory(await scope.open({ history: 0 }));
        const id = newId();
        await saveRevisions(store, id, 2);
        await store.saveState(stateOf(id, { n: 'migrated' }, { version: 2 }), { keepReplaced: true });
        assert.deepEqual(await revisionsOf(store, id), ['3*', '2']);
        assert.deepEqual((await store.loadRevision(id, 2))?.data, { n: 2 });
        await store.saveState(stateOf(id, { n: 4 }, { version: 2 }));
        assert.deepEqual(await revisionsOf(store, id), ['4*']);
      },
    );

    suite.test('a refused save adds nothing to history', async (plain) => {
      const store = withHistory(plain);
      const id = newId();
      await store.saveState(stateOf(id, { n: 1 }, { version: 3 }));
      await rejectsWith('stale expectedRevision', ConflictError, 'CONFLICT', () =>
        store.saveState(stateOf(id, 'x'), { expectedRevision: 7 }),
      );
      await rejectsWith(
        'maxStoredVersion below the stored one',
        VersionIncompatibilityError,
        'VERSION_INCOMPATIBLE',
        () => store.saveState(stateOf(id, 'x'), { maxStoredVersion: 2 }),
      );
      assert.deepEqual(await revisionsOf(store, id), ['1*']);
    });

    suite.test(
      'restoreRevision saves a kept revision again as a new one; history is not rewritten',
      async (plain) => {
        const store = withHistory(plain);
        const id = newId();
        await store.saveState(stateOf(id, { n: 1 }, { version: 1 }));
        await store.saveState(stateOf(id, { n: 2 }, { version: 2 }));
        await store.saveState(stateOf(id, { n: 3 }, { version: 2 }));
        const before = Date.now();
        const restored = await store.restoreRevision(id, 1);
        assert.equal(restored.revision, 4);
        assert.equal(restored.version, 1, 'the restored revision keeps its own version');
        assert.deepEqual(restored.data, { n: 1 });
        assert.ok(restored.lastModified.getTime() >= before - 1000, 'a restore is a new save, stamped now');
        assert.deepEqual((await store.loadState(id))?.data, { n: 1 });
        assert.deepEqual(await revisionsOf(store, id), ['4*', '3', '2', '1']);
        assert.deepEqual(
          (await store.loadRevision(id, 1))?.data,
          { n: 1 },
          'the old revision stays as it was',
        );
      },
    );

    suite.test('restoreRevision checks expectedRevision and refuses a revision not kept', async (plain) => {
      const store = withHistory(plain);
      const id = newId();
      await saveRevisions(store, id, 2);
      const conflict = await rejectsWith('restore with a stale revision', ConflictError, 'CONFLICT', () =>
        store.restoreRevision(id, 1, { expectedRevision: 1 }),
      );
      assert.equal(conflict.storedRevision, 2);
      const missing = await rejectsWith(
        'restore of a revision never kept',
        ValidationError,
        'VALIDATION',
        () => store.restoreRevision(id, 9),
      );
      assert.ok(missing.message.includes(id) && missing.message.includes('9'), missing.message);
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        await rejectsWith(`loadRevision(${bad})`, ValidationError, 'VALIDATION', () =>
          store.loadRevision(id, bad),
        );
      }
      assert.deepEqual(await revisionsOf(store, id), ['2*', '1'], 'nothing changed');
      const restored = await store.restoreRevision(id, 1, { expectedRevision: 2 });
      assert.equal(restored.revision, 3);
    });

    suite.test('a delete keeps the history, so it can be undone; revisions keep counting', async (plain) => {
      const store = withHistory(plain);
      const id = newId();
      await saveRevisions(store, id, 3);
      await store.deleteState(id);
      assert.equal(await store.loadState(id), undefined);
      assert.deepEqual(await store.listStates(), [], 'a deleted state is not listed');
      assert.deepEqual(await revisionsOf(store, id), ['3', '2', '1']);
      const undone = await store.restoreRevision(id, 3);
      assert.equal(undone.revision, 4, 'revision numbers continue after a delete');
      assert.deepEqual((await store.loadState(id))?.data, { n: 3 });
      await store.deleteState(id);
      const fresh = await store.saveState(stateOf(id, 'new'), { expectedRevision: 0 });
      assert.equal(fresh.revision, 5, 'expectedRevision 0 means nothing is stored now');
    });

    suite.test('purgeState removes the state and its history; numbering starts again', async (plain) => {
      const store = withHistory(plain);
      const id = newId();
      const other = newId();
      await saveRevisions(store, id, 3);
      await saveRevisions(store, other, 2);
      await store.purgeState(id);
      await store.purgeState(newId()); // purging nothing is not an error
      assert.equal(await store.loadState(id), undefined);
      assert.deepEqual(await store.listRevisions(id), []);
      assert.equal((await store.saveState(stateOf(id, 'again'))).revision, 1);
      assert.deepEqual(await revisionsOf(store, other), ['2*', '1'], 'other states keep theirs');
      await store.deleteState(other);
      await store.purgeState(other);
      assert.deepEqual(await store.listRevisions(other), [], 'a deleted state can be purged');
    });

    if (suite.capabilities.persistent) {
      suite.testScoped('history survives a reopen', async (scope) => {
        const first = withHistory(await scope.open({ history: 4 }));
        const kept = newId();
        const deleted = newId();
        await saveRevisions(first, kept, 6);
        await saveRevisions(first, deleted, 2);
        await first.deleteState(deleted);
        await first.close?.();
        const second = withHistory(await scope.reopen(first, { history: 4 }));
        assert.deepEqual(await revisionsOf(second, kept), ['6*', '5', '4', '3', '2']);
        assert.deepEqual((await second.loadRevision(kept, 3))?.data, { n: 3 });
        assert.deepEqual(await revisionsOf(second, deleted), ['2', '1']);
        assert.equal((await second.saveState(stateOf(deleted, 'back'))).revision, 3);
      });
    }
  });
}
