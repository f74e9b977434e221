import assert from 'node:assert/strict';
import { ConflictError, ValidationError, VersionIncompatibilityError } from '../core/errors.js';
import type { PluginStateStorage } from '../core/storage.js';
import type { PluginId } from '../core/types.js';
import { newId, rejectsWith, type Suite, stateOf } from './harness.js';

/** Checks that `pluginId` holds `data` at `revision`. */
export async function assertStored(
  store: PluginStateStorage,
  pluginId: PluginId,
  data: unknown,
  revision: number,
  what: string,
): Promise<void> {
  const loaded = await store.loadState(pluginId);
  assert.ok(loaded, `${what}: the state is still stored`);
  assert.deepStrictEqual(loaded.data, data, `${what}: the stored data is unchanged`);
  assert.equal(loaded.revision, revision, `${what}: the stored revision`);
}

/** Revisions and compare-and-set with `expectedRevision`. */
export function revisionTests(suite: Suite): void {
  suite.describe('revisions', () => {
    suite.test('the first save stores revision 1 and each save adds 1', async (store) => {
      const id = newId();
      for (let expected = 1; expected <= 5; expected++) {
        const saved = await store.saveState(stateOf(id, { n: expected }));
        assert.equal(saved.revision, expected, `save #${expected}: returned revision`);
        assert.equal((await store.loadState(id))?.revision, expected, `save #${expected}: stored revision`);
      }
      const [listed] = await store.listStates();
      assert.equal(listed?.revision, 5, 'listStates shows the stored revision');
    });

    suite.test('revisions count per id', async (store) => {
      const a = newId();
      const b = newId();
      await store.saveState(stateOf(a, 1));
      await store.saveState(stateOf(a, 2));
      assert.equal((await store.saveState(stateOf(b, 1))).revision, 1, 'another id starts at 1');
      assert.equal((await store.saveState(stateOf(a, 3))).revision, 3);
    });

    // With history the deleted revisions are kept, and numbering goes on from them (so a client
    // holding revision 2 from before the delete cannot overwrite the new state by mistake).
    const afterDelete = suite.capabilities.history ? 3 : 1;
    suite.test(`after a delete, the next save stores revision ${afterDelete}`, async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, 1));
      await store.saveState(stateOf(id, 2));
      await store.deleteState(id);
      assert.equal((await store.saveState(stateOf(id, 3))).revision, afterDelete);
      assert.equal((await store.loadState(id))?.revision, afterDelete);
    });

    suite.test('a revision given in the state is ignored: the store assigns it', async (store) => {
      const id = newId();
      const saved = await store.saveState(stateOf(id, 1, { revision: 42 }));
      assert.equal(saved.revision, 1);
      assert.equal((await store.loadState(id))?.revision, 1);
    });
  });

  suite.describe('maxStoredVersion', () => {
    suite.test('a state stored at a newer version is not overwritten', async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, { by: 'v3 plugin' }, { version: 3 }));
      const error = await rejectsWith(
        'saveState(version 2, maxStoredVersion 2)',
        VersionIncompatibilityError,
        'VERSION_INCOMPATIBLE',
        () => store.saveState(stateOf(id, { by: 'v2 plugin' }, { version: 2 }), { maxStoredVersion: 2 }),
      );
      assert.equal(error.storedVersion, 3, 'storedVersion');
      assert.equal(error.supportedVersion, 2, 'supportedVersion');
      assert.ok(error.message.includes(id), 'the message names the plugin id');
      await assertStored(store, id, { by: 'v3 plugin' }, 1, 'after the refusal');
      assert.equal((await store.loadState(id))?.version, 3, 'the stored version is unchanged');
      const next = await store.saveState(stateOf(id, 'v3 again', { version: 3 }), { maxStoredVersion: 3 });
      assert.equal(next.revision, 2, 'an equal version saves, and the refusal used up no revision');
    });

    suite.test('an older or missing stored version passes, with expectedRevision too', async (store) => {
      const id = newId();
      const first = await store.saveState(stateOf(id, 'v1', { version: 1 }), { maxStoredVersion: 1 });
      assert.equal(first.revision, 1, 'nothing stored passes');
      const second = await store.saveState(stateOf(id, 'v2', { version: 2 }), {
        maxStoredVersion: 2,
        expectedRevision: 1,
      });
      assert.equal(second.revision, 2);
      await rejectsWith('a stale revision with a good version', ConflictError, 'CONFLICT', () =>
        store.saveState(stateOf(id, 'x', { version: 2 }), { maxStoredVersion: 5, expectedRevision: 1 }),
      );
      await assertStored(store, id, 'v2', 2, 'after the conflict');
    });

    suite.test('an invalid maxStoredVersion is a ValidationError and changes nothing', async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, 'kept'));
      for (const bad of [0, -1, 1.5, Number.NaN, '2']) {
        await rejectsWith(`maxStoredVersion ${String(bad)}`, ValidationError, 'VALIDATION', () =>
          store.saveState(stateOf(id, 'changed'), { maxStoredVersion: bad as number }),
        );
      }
      await assertStored(store, id, 'kept', 1, 'after the refusals');
    });
  });

  suite.describe('compare-and-set', () => {
    suite.test('expectedRevision 0 saves when nothing is stored', async (store) => {
      const id = newId();
      const saved = await store.saveState(stateOf(id, 'first'), { expectedRevision: 0 });
      assert.equal(saved.revision, 1);
      await assertStored(store, id, 'first', 1, 'after the save');
    });

    suite.test('expectedRevision 0 is a ConflictError when a state is stored', async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, 'one'));
      await store.saveState(stateOf(id, 'two'));
      const error = await rejectsWith('saveState(expectedRevision 0)', ConflictError, 'CONFLICT', () =>
        store.saveState(stateOf(id, 'three'), { expectedRevision: 0 }),
      );
      assert.equal(error.storedRevision, 2, 'storedRevision');
      assert.equal(error.expectedRevision, 0, 'expectedRevision');
      assert.ok(error.message.includes(id), 'the message names the plugin id');
      await assertStored(store, id, 'two', 2, 'after the conflict');
    });

    suite.test('a matching expectedRevision saves', async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, 'one'));
      const saved = await store.saveState(stateOf(id, 'two'), { expectedRevision: 1 });
      assert.equal(saved.revision, 2);
      const third = await store.saveState(stateOf(id, 'three'), { expectedRevision: 2 });
      assert.equal(third.revision, 3);
      await assertStored(store, id, 'three', 3, 'after the saves');
    });

    suite.test('a stale expectedRevision is a ConflictError and changes nothing', async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, { v: 'one' }));
      await store.saveState(stateOf(id, { v: 'two' }));
      await store.saveState(stateOf(id, { v: 'three' }));
      for (const stale of [1, 2, 4, 100]) {
        const error = await rejectsWith(
          `saveState(expectedRevision ${stale})`,
          ConflictError,
          'CONFLICT',
          () => store.saveState(stateOf(id, { v: 'lost' }), { expectedRevision: stale }),
        );
        assert.equal(error.storedRevision, 3, 'storedRevision');
        assert.equal(error.expectedRevision, stale, 'expectedRevision');
        assert.ok(error.message.includes(id), 'the message names the plugin id');
        await assertStored(store, id, { v: 'three' }, 3, `after expectedRevision ${stale}`);
      }
      const next = await store.saveState(stateOf(id, { v: 'four' }));
      assert.equal(next.revision, 4, 'a refused save uses up no revision');
    });

    suite.test('expectedRevision on a missing id is a ConflictError with storedRevision 0', async (store) => {
      const id = newId();
      const error = await rejectsWith('saveState(expectedRevision 1)', ConflictError, 'CONFLICT', () =>
        store.saveState(stateOf(id, 1), { expectedRevision: 1 }),
      );
      assert.equal(error.storedRevision, 0);
      assert.equal(error.expectedRevision, 1);
      assert.equal(await store.loadState(id), undefined, 'nothing stored');
    });

    suite.test('an invalid expectedRevision is a ValidationError and changes nothing', async (store) => {
      const id = newId();
      await store.saveState(stateOf(id, 'kept'));
      for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '1']) {
        await rejectsWith(`saveState(expectedRevision ${String(bad)})`, ValidationError, 'VALIDATION', () =>
          store.saveState(stateOf(id, 'changed'), { expectedRevision: bad as number }),
        );
        await assertStored(store, id, 'kept', 1, `after expectedRevision ${String(bad)}`);
      }
      const fresh = newId();
      await rejectsWith('saveState(expectedRevision -1) on a missing id', ValidationError, 'VALIDATION', () =>
        store.saveState(stateOf(fresh, 'x'), { expectedRevision: -1 }),
      );
      assert.equal(await store.loadState(fresh), undefined, 'nothing stored');
    });
  });
}
